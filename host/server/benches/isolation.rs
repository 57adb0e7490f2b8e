//! The cost of instance isolation: decision latency (whole pipeline, one
//! SOP call) for the same SOP in Rust, Python and JavaScript
//! (plugins/finance-sop, -py, -js), with one caller and with 100 distinct
//! callers taking turns (copilot acting for 100 different humans).
//! Instances are reused only within one caller, so distinct callers cost
//! pool misses (a fresh instance) whenever their instance was evicted or
//! expired.
//!
//! Run with `cargo bench -p steward --bench isolation` after `make plugins`
//! (`-- Rust` to time one language; `STEWARD_PLUGIN_IDLE_MIB` sets the idle
//! pool's memory per version, as `serve --plugin-idle-mib` does). Prints
//! p50/p99 in µs; asserts only that decisions are right.

mod support;


use steward_gate::PolicyGeneration;
use steward_identity::{Actor, Claims, SigningKeyFile, mint};
use steward_model::Decision;
use steward_pipeline::Context;
use steward_runtime::{Mode, PluginSource, Registry, Runtime, RuntimeConfig};
use support::{Figures, repo};

const WARMUP: usize = 1_000;
const SAMPLES: usize = 10_000;
const CALLERS: usize = 100;
const SOPS: [(&str, &str); 3] = [("Rust", "finance-sop"), ("Python", "finance-sop-py"), ("JavaScript", "finance-sop-js")];

/// The demo policies plus `CALLERS` humans with alice's roles.
fn policy_with_callers(dir: &std::path::Path) -> PolicyGeneration {
    std::fs::create_dir_all(dir).unwrap();
    for entry in std::fs::read_dir(repo().join("policies")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            std::fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
        }
    }
    let mut identity = std::fs::read_to_string(dir.join("identity.toml")).unwrap();
    for i in 0..CALLERS {
        identity += &format!("\n[[principal]]\nid = \"human-{i}\"\nkind = \"human\"\nroles = [\"finance-analyst\", \"it-admin\"]\n");
    }
    std::fs::write(dir.join("identity.toml"), identity).unwrap();
    PolicyGeneration::load(dir, Default::default()).expect("the demo policy with more humans")
}

fn agent_token(human: &str, now: u64) -> String {
    let key = SigningKeyFile::read(&repo().join("policies/demo/issuer.key")).unwrap();
    let mut claims = Claims::new("steward-demo", human, "steward", now, 3600);
    claims.act = Some(Actor { sub: "copilot".into(), act: None });
    claims.sid = Some("bench".into());
    claims.turn = Some("1".into());
    mint(&key, "demo-2026", &claims)
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let scratch = std::env::temp_dir().join(format!("steward-isolation-bench-{}", std::process::id()));
        let generation = policy_with_callers(&scratch.join("policies"));
        let policy = generation.policy.clone();
        let now = support::unix_seconds();
        let input = support::ledger_read();
        let tokens: Vec<String> = (0..CALLERS).map(|i| agent_token(&format!("human-{i}"), now)).collect();
        println!("{:<11} {:>22} {:>26}", "SOP", "1 caller p50/p99 µs", "100 callers p50/p99 µs");
        let only: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
        for (language, name) in SOPS.into_iter().filter(|(l, _)| only.is_empty() || only.iter().any(|o| o == l)) {
            let idle_bytes = std::env::var("STEWARD_PLUGIN_IDLE_MIB")
                .ok()
                .and_then(|m| m.parse::<usize>().ok())
                .map_or(steward_runtime::MAX_IDLE_BYTES, |m| m * 1024 * 1024);
            let registry = Registry::new(
                Runtime::new(RuntimeConfig { cache_dir: Some(repo().join("target/bench-compile-cache")), idle_bytes, ..RuntimeConfig::default() })
                    .unwrap(),
            );
            let mut source = PluginSource::from_dir(&repo().join("plugins").join(name)).expect("run `make plugins` first");
            source.manifest.mode = Mode::Enforce;
            registry.activate(registry.prove(source, &policy).await.unwrap_or_else(|e| panic!("{name}: {e}"))).await;
            let set = registry.current();
            let ctx = Context { policy: &policy, plugins: &*set, grants: steward_access::ActiveGrants::none() };
            let mut figures = Vec::new();
            for callers in [1, CALLERS] {
                let mut turn = 0usize;
                let samples = support::samples(WARMUP, SAMPLES, || {
                    turn += 1;
                    let token = &tokens[turn % callers];
                    let ctx = &ctx;
                    let input = &input;
                    let verifier = &generation.verifier;
                    async move {
                        let outcome = support::decide(ctx, verifier, token, input, now).await;
                        assert_eq!(outcome.decision, Decision::Allow, "{outcome:?}");
                    }
                })
                .await;
                let f = Figures::of(samples);
                figures.push((f.pct(0.50), f.pct(0.99)));
            }
            println!(
                "{language:<11} {:>10.1} / {:<10.1} {:>12.1} / {:<12.1}",
                figures[0].0, figures[0].1, figures[1].0, figures[1].1
            );
        }
        let _ = std::fs::remove_dir_all(&scratch);
    });
}
