//! What the in-process benches share: the repository path, timing loops
//! and percentiles, and the demo request they time (agent `copilot` acting
//! for `alice` reads `finance/ledger` during a declared task).

#![allow(dead_code)] // each bench uses its own subset

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use steward_identity::{Actor, Claims, SigningKeyFile, mint};
use steward_pipeline::DecideInput;
use steward_policy::Policy;

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn unix_seconds() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// Run `f` `warmup` times, then time it `n` times.
pub async fn samples<F, Fut>(warmup: usize, n: usize, mut f: F) -> Vec<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for _ in 0..warmup {
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

/// Percentiles of `samples`, in microseconds.
pub struct Figures {
    sorted: Vec<Duration>,
}

impl Figures {
    pub fn of(mut samples: Vec<Duration>) -> Figures {
        samples.sort();
        Figures { sorted: samples }
    }

    /// The `p` quantile (0..1) in µs.
    pub fn pct(&self, p: f64) -> f64 {
        let i = ((self.sorted.len() as f64 * p) as usize).min(self.sorted.len() - 1);
        self.sorted[i].as_secs_f64() * 1e6
    }

    pub fn mean(&self) -> f64 {
        self.sorted.iter().map(Duration::as_secs_f64).sum::<f64>() / self.sorted.len() as f64 * 1e6
    }

    pub fn len(&self) -> usize {
        self.sorted.len()
    }
}

/// Print `name`'s p50 and p99 in µs, one line; returns the p50.
#[allow(dead_code)]
pub fn report(name: &str, samples: Vec<Duration>) -> f64 {
    let f = Figures::of(samples);
    println!("{name:<52} p50 {:>8.1} µs   p99 {:>8.1} µs   (n={})", f.pct(0.50), f.pct(0.99), f.len());
    f.pct(0.50)
}

/// A demo token: `copilot` acting for `alice`.
pub fn copilot_for_alice(now: u64) -> String {
    agent_token_at("alice", "copilot", now)
}

/// A token of `agent` acting for `human`, valid for an hour from now.
#[allow(dead_code)]
pub fn agent_token(human: &str, agent: &str) -> String {
    agent_token_at(human, agent, unix_seconds())
}

fn agent_token_at(human: &str, agent: &str, now: u64) -> String {
    let key = SigningKeyFile::read(&repo().join("policies/demo/issuer.key")).unwrap();
    let mut claims = Claims::new("steward-demo", human, "steward", now, 3600);
    claims.act = Some(Actor { sub: agent.into(), act: None });
    claims.sid = Some("bench".into());
    claims.turn = Some("1".into());
    mint(&key, "demo-2026", &claims)
}

/// What the agent asks: read the ledger during a declared task.
pub fn ledger_read() -> DecideInput {
    DecideInput { action: "sql.read".into(), assets: vec!["finance/ledger".into()], intent: Some("task: bench".into()), query: None }
}

/// The same ask as an SOP sees it, for calling a plugin directly.
pub fn ledger_read_request(policy: &Policy) -> steward_model::Request {
    steward_model::Request {
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
    }
}

/// A whole decision as a door makes it: authenticate the token (a
/// verified-cache hit after the first call), then decide.
pub async fn decide<P: steward_pipeline::Plugins>(
    ctx: &steward_pipeline::Context<'_, P>,
    verifier: &steward_identity::Verifier,
    token: &str,
    input: &DecideInput,
    now: u64,
) -> steward_pipeline::Outcome {
    match steward_pipeline::identity::authenticate(verifier, ctx.policy, token, now) {
        Ok(principal) => steward_pipeline::decide(ctx, &principal, input, "bench".into()).await,
        Err(e) => steward_pipeline::unauthenticated(input, "bench".into(), &e),
    }
}

/// A copy of the demo policies in `data/policies` with the daily budgets
/// raised out of the way (they are still reserved and settled).
pub fn bench_policies(data: &Path) -> std::io::Result<PathBuf> {
    let policies = data.join("policies");
    std::fs::create_dir_all(&policies)?;
    for entry in std::fs::read_dir(repo().join("policies"))? {
        let entry = entry?;
        if entry.path().extension().is_some_and(|e| e == "toml") {
            let text = std::fs::read_to_string(entry.path())?;
            let text = text
                .lines()
                .map(|l| if l.contains("_per_day = ") { l.split('=').next().unwrap_or("").to_string() + "= 1000000000000" } else { l.to_string() })
                .collect::<Vec<_>>()
                .join("\n");
            std::fs::write(policies.join(entry.file_name()), text)?;
        }
    }
    Ok(policies)
}

/// A server configuration for in-process benches: data in `data`, audit
/// durability `process`, no watching, the demo warehouse.
pub fn server_config(data: &Path, policies: PathBuf, plugins: PathBuf, listen: std::net::SocketAddr) -> steward::ServerConfig {
    steward::ServerConfig {
        listen,
        policies,
        plugins,
        cache_dir: data.join("cache"),
        data: data.to_path_buf(),
        admin_token: Some("bench".into()),
        bootstrap_admin_token: true,
        durability: steward_audit::Durability::Process,
        audit_key: data.join("audit.key"),
        witness: data.join("witness"),
        checkpoint_every: Some(Duration::from_secs(2)),
        checkpoint_records: 10_000,
        watch_every: Duration::from_secs(3600),
        warehouse: None,
        query_deadline: Duration::from_secs(5),
        max_rows: 1000,
        plugin_idle_bytes: steward_runtime::MAX_IDLE_BYTES,
        shadow_per_second: steward_gate::DEFAULT_SHADOW_PER_SECOND,
        public_url: None,
    }
}
