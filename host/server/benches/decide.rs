//! In-process figures: the cost of one plugin call (reused and fresh
//! instance), and decision latency through the whole pipeline for a request
//! that calls one Rust SOP plugin, with and without the audit append.
//!
//! Run with `cargo bench -p steward --bench decide` after `make plugins`.
//! Prints p50/p99/mean in microseconds; asserts nothing.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use steward::state::PolicyGeneration;
use steward_audit::{AuditWriter, Durability};
use steward_identity::{Actor, Claims, SigningKeyFile, mint};
use steward_model::Decision;
use steward_pipeline::{Context, DecideInput};
use steward_runtime::{Isolation, PluginSource, Registry, Runtime, RuntimeConfig};

const WARMUP: usize = 2_000;
const SAMPLES: usize = 50_000;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn report(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let pct = |p: f64| samples[((samples.len() as f64 * p) as usize).min(samples.len() - 1)].as_secs_f64() * 1e6;
    let mean = samples.iter().map(Duration::as_secs_f64).sum::<f64>() / samples.len() as f64 * 1e6;
    println!("{name:<58} p50 {:>7.2} µs   p99 {:>7.2} µs   mean {:>7.2} µs   (n={})", pct(0.50), pct(0.99), mean, samples.len());
}

async fn time<F, Fut>(n: usize, mut f: F) -> Vec<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for _ in 0..WARMUP {
        f().await;
    }
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        f().await;
        samples.push(started.elapsed());
    }
    samples
}

async fn registry_with_finance_sop(policy: &Arc<steward_policy::Policy>, isolation: Isolation) -> Registry {
    let runtime = Runtime::new(RuntimeConfig::default()).expect("runtime");
    println!("pooling allocator: {}", runtime.pooling);
    let registry = Registry::new(runtime);
    let mut source = PluginSource::from_dir(&repo().join("plugins/finance-sop")).expect("run `make plugins` first");
    source.manifest.limits.isolation = isolation;
    let proven = registry.prove(source, policy).await.expect("finance-sop loads");
    registry.activate(proven).await;
    registry
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let generation = PolicyGeneration::load(&repo().join("policies")).expect("demo policy");
        let policy = generation.policy.clone();
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
        let key = SigningKeyFile::read(&repo().join("policies/demo/issuer.key")).unwrap();
        let mut claims = Claims::new("steward-demo", "alice", "steward", now, 3600);
        claims.act = Some(Actor { sub: "copilot".into(), act: None });
        claims.sid = Some("bench".into());
        claims.turn = Some("1".into());
        let token = mint(&key, "demo-2026", &claims);
        let input = DecideInput { action: "sql.read".into(), assets: vec!["finance/ledger".into()], intent: Some("task: bench".into()), query: None };

        for isolation in [Isolation::Reuse, Isolation::PerCall] {
            let registry = registry_with_finance_sop(&policy, isolation).await;
            let set = registry.current();
            let plugin = set.slot("finance-sop").unwrap().active.clone();
            let request = steward_model::Request {
                request_id: "bench".into(),
                principal: steward_model::Principal {
                    id: "copilot".into(),
                    kind: steward_model::IdentityKind::Agent,
                    on_behalf_of: Some("alice".into()),
                    roles: vec![],
                    session_id: Some("s".into()),
                    turn_id: Some("t".into()),
                },
                action: policy.action("sql.read").unwrap().clone(),
                assets: vec![policy.asset("finance/ledger").unwrap()],
                intent: Some("task: bench".into()),
                context: Default::default(),
            };
            let samples = time(SAMPLES, || async {
                let v = plugin.evaluate(&request, &policy).await.unwrap();
                assert_eq!(v.decision(), Decision::Allow);
            })
            .await;
            report(&format!("one SOP plugin call ({isolation:?} instance)"), samples);

            let ctx = Context { policy: &policy, verifier: &generation.verifier, plugins: &*set };
            let samples = time(SAMPLES, || async {
                let outcome = steward_pipeline::decide(&ctx, &token, &input, "bench".into(), now).await;
                assert_eq!(outcome.decision, Decision::Allow);
            })
            .await;
            report(&format!("decision, pipeline with one SOP call ({isolation:?})"), samples);
        }

        // The same decision followed by its durable audit append, one at a
        // time (no group commit helps a single caller).
        let registry = registry_with_finance_sop(&policy, Isolation::Reuse).await;
        let set = registry.current();
        let ctx = Context { policy: &policy, verifier: &generation.verifier, plugins: &*set };
        let dir = tempfile_dir();
        for (durability, n) in [(Durability::Process, 20_000), (Durability::Full, 2_000)] {
            let audit = AuditWriter::start(&dir.join(format!("audit-{durability:?}.db")), durability).unwrap();
            let samples = time(n, || async {
                let started = Instant::now();
                let outcome = steward_pipeline::decide(&ctx, &token, &input, "bench".into(), now).await;
                let record = steward::decide::audit_record(&outcome, started.elapsed().as_micros() as u64);
                audit.append(record).await.unwrap();
            })
            .await;
            report(&format!("decision + audit append, sequential ({durability:?})"), samples);
        }
        let _ = std::fs::remove_dir_all(&dir);
    });
}

fn tempfile_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("steward-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
