//! In-process figures: the cost of one plugin call (reused and fresh
//! instance), decision latency through the whole pipeline for a request
//! that calls one Rust SOP plugin, with and without the audit append, and
//! what holding 100,000 revocations adds to each token check, and what
//! 10,000 live time-bounded grants (approved access requests) add to a
//! decision they do not cover and cost one they do.
//!
//! Run with `cargo bench -p steward --bench decide` after `make plugins`.
//! Prints p50/p99/mean in microseconds; asserts nothing.

mod support;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use steward_gate::PolicyGeneration;
use steward_audit::{AuditWriter, Durability};
use steward_model::Decision;
use steward_pipeline::Context;
use steward_runtime::{Isolation, PluginSource, Registry, Runtime, RuntimeConfig};
use support::{Figures, repo};

const WARMUP: usize = 2_000;
const SAMPLES: usize = 50_000;

fn report(name: &str, samples: Vec<Duration>) {
    let f = Figures::of(samples);
    println!("{name:<58} p50 {:>7.2} µs   p99 {:>7.2} µs   mean {:>7.2} µs   (n={})", f.pct(0.50), f.pct(0.99), f.mean(), f.len());
}

async fn time<F, Fut>(n: usize, f: F) -> Vec<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    support::samples(WARMUP, n, f).await
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
        let generation = PolicyGeneration::load(&repo().join("policies"), Default::default()).expect("demo policy");
        let policy = generation.policy.clone();
        let now = support::unix_seconds();
        let token = support::copilot_for_alice(now);
        let input = support::ledger_read();

        for isolation in [Isolation::Reuse, Isolation::PerCall] {
            let registry = registry_with_finance_sop(&policy, isolation).await;
            let set = registry.current();
            let plugin = set.slot("finance-sop").unwrap().active.clone();
            let request = support::ledger_read_request(&policy);
            let samples = time(SAMPLES, || async {
                let v = plugin.evaluate(&request, &policy).await.unwrap();
                assert_eq!(v.decision(), Decision::Allow);
            })
            .await;
            report(&format!("one SOP plugin call ({isolation:?} instance)"), samples);

            let ctx = Context { policy: &policy, plugins: &*set, grants: steward_access::ActiveGrants::none() };
            report(&format!("decision, pipeline with one SOP call ({isolation:?})"), time_allowed(&ctx, &generation, &token, &input, now).await);
        }

        // The rest on one registry with the SOP on reused instances.
        let registry = registry_with_finance_sop(&policy, Isolation::Reuse).await;
        let set = registry.current();
        let ctx = Context { policy: &policy, plugins: &*set, grants: steward_access::ActiveGrants::none() };

        // Revocations are checked on every verification, cache hits too.
        // None of these 100,000 covers the token timed.
        let held = 100_000;
        let revocations = steward_identity::Revocations::new();
        for count in [0, held] {
            let kinds = steward_identity::RevocationKind::ALL;
            let ids: Vec<(steward_identity::RevocationKind, String)> = (0..count).map(|i| (kinds[i % kinds.len()], format!("revoked-{i}"))).collect();
            revocations.replace(steward_identity::RevocationSet::new(ids.iter().map(|(k, id)| (*k, id.as_str()))));
            let generation = PolicyGeneration::load(&repo().join("policies"), revocations.clone()).expect("demo policy");
            let samples = time(SAMPLES, || async {
                steward_pipeline::identity::authenticate(&generation.verifier, &policy, &token, now).unwrap();
            })
            .await;
            report(&format!("token check, cache hit, {count} revocations held"), samples);
            report(&format!("decision with one SOP call, {count} revocations held"), time_allowed(&ctx, &generation, &token, &input, now).await);
        }

        // Time-bounded grants: none, then 10,000 live ones (1,000 agents of
        // 200 humans, and 20 of copilot-for-alice's own on other assets, so
        // its lookup scans its own list), read from a real store.
        let dir = tempfile_dir();
        let store = steward_access::SqliteAccessStore::open(&dir.join("access.db")).unwrap();
        let started = Instant::now();
        for i in 0..10_000 {
            let own = i < 20;
            let (agent, human, asset) =
                if own { ("copilot".to_string(), "alice".to_string(), format!("lab/other-{i}")) } else { (format!("agent-{}", i % 1000), format!("human-{}", i % 200), "finance/ledger".to_string()) };
            steward_access::AccessStore::insert(&store, &bench_grant(i, &agent, &human, &asset)).unwrap();
        }
        println!("10,000 grants written to the store in {:.1} ms", started.elapsed().as_secs_f64() * 1e3);
        let started = Instant::now();
        let live = steward_access::AccessStore::live_grants(&store, support::unix_seconds() * 1000).unwrap();
        let index = steward_access::ActiveGrants::new(live.iter().filter_map(steward_access::ActiveGrant::of));
        println!("{} live grants read and indexed in {:.1} ms", index.len(), started.elapsed().as_secs_f64() * 1e3);
        for (label, grants) in [("no live grants", steward_access::ActiveGrants::none()), ("10,000 live grants", &index)] {
            let ctx = Context { policy: &policy, plugins: &*set, grants };
            report(&format!("decision with one SOP call, {label}"), time_allowed(&ctx, &generation, &token, &input, now).await);
        }
        // A decision a grant covers (no SOP call): copilot for alice on the
        // invoices, among the 10,000.
        let covered = steward_access::ActiveGrants::new(
            live.iter().filter_map(steward_access::ActiveGrant::of).chain(steward_access::ActiveGrant::of(&bench_grant(10_001, "copilot", "alice", "finance/invoices"))),
        );
        let ctx = Context { policy: &policy, plugins: &*set, grants: &covered };
        let invoices = steward_pipeline::DecideInput { action: "sql.read".into(), assets: vec!["finance/invoices".into()], intent: None, query: None };
        report("decision covered by a grant, 10,001 live grants", time_allowed(&ctx, &generation, &token, &invoices, now).await);
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);

        // The same decision followed by its durable audit append, one at a
        // time (no group commit helps a single caller).
        let dir = tempfile_dir();
        for (durability, n) in [(Durability::Process, 20_000), (Durability::Full, 2_000)] {
            let audit = AuditWriter::start(&dir.join(format!("audit-{durability:?}.db")), durability, None).unwrap();
            let samples = time(n, || async {
                let started = Instant::now();
                let outcome = support::decide(&ctx, &generation.verifier, &token, &input, now).await;
                let record = steward_gate::audit_record(&outcome, started.elapsed().as_micros() as u64);
                audit.append(record).await.unwrap();
            })
            .await;
            report(&format!("decision + audit append, sequential ({durability:?})"), samples);
        }
        let _ = std::fs::remove_dir_all(&dir);
    });
}

/// Time the whole decision (token check and pipeline) the bench request
/// gets, asserting it is allowed.
async fn time_allowed<P: steward_pipeline::Plugins>(
    ctx: &Context<'_, P>,
    generation: &PolicyGeneration,
    token: &str,
    input: &steward_pipeline::DecideInput,
    now: u64,
) -> Vec<Duration> {
    time(SAMPLES, || async {
        let outcome = support::decide(ctx, &generation.verifier, token, input, now).await;
        assert_eq!(outcome.decision, Decision::Allow);
    })
    .await
}

/// An approved access request: `agent` for `human` may read `asset` for a day.
fn bench_grant(i: usize, agent: &str, human: &str, asset: &str) -> steward_access::AccessRequest {
    let now_ms = support::unix_seconds() * 1000;
    let mut r = steward_access::AccessRequest {
        id: format!("ar-bench-{i}"),
        team: "finance-team".into(),
        subject: steward_access::Subject { principal: agent.into(), kind: steward_model::IdentityKind::Agent, on_behalf_of: Some(human.into()), session_id: None },
        requested_by: agent.into(),
        action: "sql.read".into(),
        assets: vec![asset.into()],
        columns: Vec::new(),
        purpose: "bench".into(),
        duration_secs: 86_400,
        conditions: Default::default(),
        state: steward_access::State::Pending,
        submitted_at_ms: now_ms,
        decide_by_ms: now_ms + 1000,
        approval: None,
        expires_at_ms: None,
        history: Vec::new(),
    };
    let digest = r.digest();
    r.approve("bench-owner", digest, &Default::default(), now_ms, String::new());
    r
}

fn tempfile_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("steward-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
