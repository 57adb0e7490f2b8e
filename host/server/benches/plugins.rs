//! The same SOP in Rust, Python and JavaScript (plugins/finance-sop,
//! finance-sop-py, finance-sop-js): build time, component size, cold load
//! (compile) and warm load (compile cache), the SOP call and the whole
//! decision, p50/p99. Then a warm restart: every shipped plugin loaded and
//! proven from the compile cache, as the server does at start.
//!
//! Run with `make bench` (or `cargo bench -p steward --bench plugins` after
//! `make plugins`). Build times (from clean, in a scratch folder) need
//! `target/release/steward`; without it they are skipped. Prints figures;
//! asserts only that decisions are right.

mod support;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use steward_gate::PolicyGeneration;
use steward_model::Decision;
use steward_pipeline::Context;
use steward_policy::Policy;
use steward_runtime::{PluginSource, Registry, Runtime, RuntimeConfig, Signatures};
use support::{Figures, repo};

const WARMUP: usize = 2_000;
const SAMPLES: usize = 20_000;
const SOPS: [(&str, &str); 3] = [("Rust", "finance-sop"), ("Python", "finance-sop-py"), ("JavaScript", "finance-sop-js")];

/// p50 and p99 of `f`, in µs.
async fn time<F, Fut>(f: F) -> (f64, f64)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let figures = Figures::of(support::samples(WARMUP, SAMPLES, f).await);
    (figures.pct(0.50), figures.pct(0.99))
}

/// Load (compile or deserialize, link, run the cases) one plugin folder
/// into a fresh runtime with `cache`. Returns the registry and the load time.
async fn load(dir: &Path, cache: &Path, policy: &Arc<Policy>) -> (Registry, Duration, bool) {
    let registry = Registry::new(Runtime::new(RuntimeConfig { cache_dir: Some(cache.to_path_buf()), ..RuntimeConfig::default() }).unwrap());
    let mut source = PluginSource::from_dir(dir).unwrap_or_else(|e| panic!("{}: {e} (run `make plugins`)", dir.display()));
    source.manifest.mode = steward_runtime::Mode::Enforce;
    let started = Instant::now();
    let proven = registry.prove_with(source, policy, Signatures::Enforce).await.unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let took = started.elapsed();
    let from_cache = proven.plugin.from_cache;
    registry.activate(proven).await;
    (registry, took, from_cache)
}

/// Build time of the SOP from clean, in a scratch folder (the shipped,
/// signed components are left alone). Rust: the crate with a fresh target
/// dir (dependencies included). Python and JavaScript: the twin's source in
/// a scaffolded folder (helpers beside it), built by `steward plugin build`.
fn build_time(language: &str, name: &str, scratch: &Path) -> Option<f64> {
    let steward = repo().join("target/release/steward");
    if !steward.exists() {
        return None;
    }
    let started = Instant::now();
    let ok = match language {
        "Rust" => Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .current_dir(repo())
            .args(["build", "-q", "-p", name, "--target", "wasm32-wasip2", "--profile", "plugin", "--target-dir"])
            .arg(scratch.join("rust-target"))
            .status()
            .ok()?
            .success(),
        _ => {
            let (lang, file) = if language == "Python" { ("python", "app.py") } else { ("js", "app.js") };
            let folder = scratch.join(format!("build-{name}"));
            let made = Command::new(&steward).args(["plugin", "new", "twin", "--lang", lang, "--world", "sop", "--dir"]).arg(&folder).output().ok()?;
            assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
            let source = std::fs::read_to_string(repo().join("plugins").join(name).join(file)).ok()?;
            std::fs::write(folder.join("twin").join(file), source.replace("../../sdk/js/", "./")).ok()?;
            let started = Instant::now();
            let built = Command::new(&steward)
                .args(["plugin", "build"])
                .arg(folder.join("twin"))
                .env("STEWARD_COMPONENTIZE_JS", repo().join("sdk/js/node_modules/.bin/componentize-js"))
                .output()
                .ok()?;
            assert!(built.status.success(), "{}", String::from_utf8_lossy(&built.stderr));
            return Some(started.elapsed().as_secs_f64());
        }
    };
    ok.then(|| started.elapsed().as_secs_f64())
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let generation = PolicyGeneration::load(&repo().join("policies"), Default::default()).expect("demo policy");
        let policy = generation.policy.clone();
        let now = support::unix_seconds();
        let token = support::copilot_for_alice(now);
        let input = support::ledger_read();
        let scratch = std::env::temp_dir().join(format!("steward-plugin-bench-{}", std::process::id()));

        println!(
            "{:<11} {:>9} {:>10} {:>10} {:>10} {:>17} {:>17} {:>17}",
            "SOP", "build s", "size KB", "cold ms", "warm ms", "call p50/p99 µs", "decide p50/p99", "added p50/p99"
        );
        // The same decision with the SOP's verdict taken from a grant-free
        // no-plugin set: what the pipeline costs without any plugin call.
        let empty = Registry::new(Runtime::new(RuntimeConfig::default()).unwrap());
        let empty_set = empty.current();
        let ctx = Context { policy: &policy, plugins: &*empty_set, grants: steward_access::ActiveGrants::none() };
        let (base50, base99) = time(|| async {
            let outcome = support::decide(&ctx, &generation.verifier, &token, &input, now).await;
            assert_eq!(outcome.decision, Decision::Deny, "no SOP, no grant: denied");
        })
        .await;
        for (language, name) in SOPS {
            let dir = repo().join("plugins").join(name);
            let build = build_time(language, name, &scratch).map(|s| format!("{s:.1}")).unwrap_or_else(|| "-".into());
            let size = std::fs::metadata(dir.join("plugin.wasm")).map(|m| m.len() / 1024).unwrap_or(0);
            let cache = scratch.join(name);
            let (_, cold, cold_cached) = load(&dir, &cache, &policy).await;
            let (registry, warm, warm_cached) = load(&dir, &cache, &policy).await;
            assert!(!cold_cached && warm_cached, "{name}: the first load compiles, the second reads the cache");
            let set = registry.current();
            let plugin = set.slot(name).unwrap().active.clone();
            let request = support::ledger_read_request(&policy);
            let (call50, call99) = time(|| async {
                let v = plugin.evaluate(&request, &policy).await.unwrap();
                assert_eq!(v.decision(), Decision::Allow);
            })
            .await;
            let ctx = Context { policy: &policy, plugins: &*set, grants: steward_access::ActiveGrants::none() };
            let (dec50, dec99) = time(|| async {
                let outcome = support::decide(&ctx, &generation.verifier, &token, &input, now).await;
                assert_eq!(outcome.decision, Decision::Allow);
            })
            .await;
            println!(
                "{language:<11} {build:>9} {size:>10} {:>10.1} {:>10.1} {:>8.1}/{:<8.1} {:>8.1}/{:<8.1} {:>8.1}/{:<8.1}",
                cold.as_secs_f64() * 1e3,
                warm.as_secs_f64() * 1e3,
                call50,
                call99,
                dec50,
                dec99,
                dec50 - base50,
                dec99 - base99,
            );
        }
        println!("(decision without any plugin call: p50 {base50:.1} µs, p99 {base99:.1} µs; load = compile or cache read + link + the plugin's cases)");

        // A warm restart: every shipped plugin folder, loaded one after the
        // other from a warm cache, as the server's watcher does at start.
        let cache = scratch.join("all");
        let dirs: Vec<std::path::PathBuf> = steward::watch::plugin_dirs(&repo().join("plugins"));
        for round in ["cold start", "warm restart"] {
            let registry = Registry::new(Runtime::new(RuntimeConfig { cache_dir: Some(cache.clone()), ..RuntimeConfig::default() }).unwrap());
            let started = Instant::now();
            for dir in &dirs {
                let source = PluginSource::from_dir(dir).unwrap();
                let proven = registry.prove(source, &policy).await.unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
                registry.activate(proven).await;
            }
            println!("{round}: {} shipped plugins loaded and proven in {:.0} ms", dirs.len(), started.elapsed().as_secs_f64() * 1e3);
        }
        let _ = std::fs::remove_dir_all(&scratch);
    });
}
