//! What Steward adds to a query: `/v1/query`'s whole path in process
//! (identity, analysis, decision, plan, rewrite, budget reserve/settle,
//! execution, audit append) against running the same rewritten SQL on the
//! embedded SQLite warehouse directly.
//!
//! Run with `cargo bench -p steward --bench query` after `make plugins`.
//! Prints p50/p99 in microseconds; asserts nothing.

mod support;

use std::time::Instant;

use steward_gate::{Door, QueryInput};
use steward_identity::{Claims, SigningKeyFile, mint};
use steward_model::Decision;
use steward_sql::Mode;
use support::{repo, report};

const WARMUP: usize = 200;
const SAMPLES: usize = 5_000;

fn main() -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async {
        let data = std::env::temp_dir().join(format!("steward-bench-query-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&data);
        let policies = support::bench_policies(&data)?;
        let config = support::server_config(&data, policies, repo().join("plugins"), "127.0.0.1:0".parse()?);
        let state = steward::build_state(&config).await?;
        let key = SigningKeyFile::read(&repo().join("policies/demo/issuer.key")).map_err(anyhow::Error::msg)?;
        let now = support::unix_seconds();
        let token = mint(&key, "demo-2026", &Claims::new("steward-demo", "bob", "steward", now, 3600));
        let input = QueryInput {
            sql: "SELECT c.customer_id, c.email, o.total FROM sales.customers c JOIN sales.orders o ON o.customer_id = c.customer_id WHERE o.total > 900 ORDER BY o.total DESC LIMIT 10".into(),
            mode: Mode::Full,
            intent: None,
        };
        let first = state.gate.query(&state.gate.authenticate(&token), &input, Door::Http).await;
        anyhow::ensure!(first.outcome.decision == Decision::Allow, "bench query denied: {:?}", first.outcome.reasons);
        let rewritten = first.rewritten_sql.clone().unwrap_or_default();
        println!("rewritten: {rewritten}\nrows: {}", first.row_count);
        for _ in 0..WARMUP {
            state.gate.query(&state.gate.authenticate(&token), &input, Door::Http).await;
            state.gate.warehouse.query(&rewritten).await?;
        }
        let mut through = Vec::with_capacity(SAMPLES);
        let mut direct = Vec::with_capacity(SAMPLES);
        for _ in 0..SAMPLES {
            let started = Instant::now();
            std::hint::black_box(state.gate.query(&state.gate.authenticate(&token), &input, Door::Http).await);
            through.push(started.elapsed());
            let started = Instant::now();
            std::hint::black_box(state.gate.warehouse.query(&rewritten).await?);
            direct.push(started.elapsed());
        }
        let a = report("/v1/query path (audit durability process)", through);
        let b = report("same rewritten SQL on SQLite directly", direct);
        println!("{:<52} p50 {:>8.1} µs", "Steward's overhead", a - b);
        let _ = std::fs::remove_dir_all(&data);
        Ok(())
    })
}
