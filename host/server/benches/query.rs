//! What Steward adds to a query: `/v1/query`'s whole path in process
//! (identity, analysis, decision, plan, rewrite, budget reserve/settle,
//! execution, audit append) against running the same rewritten SQL on the
//! embedded SQLite warehouse directly.
//!
//! Then throughput: the same number of concurrent callers, each asking
//! again as soon as it is answered, for a few seconds through the gate and
//! then on SQLite directly, and the ratio of the two, from one run.
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
/// Concurrent callers in the throughput phase, and how long each side runs.
const CALLERS: usize = 8;
const THROUGHPUT_FOR: std::time::Duration = std::time::Duration::from_secs(5);

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

        // Throughput from CALLERS concurrent callers, through the gate and direct.
        let deadline = || Instant::now() + THROUGHPUT_FOR;
        let mut tasks = Vec::new();
        let until = deadline();
        for _ in 0..CALLERS {
            let (state, token, input) = (state.clone(), token.clone(), input.clone());
            tasks.push(tokio::spawn(async move {
                let mut n = 0u64;
                while Instant::now() < until {
                    let answer = state.gate.query(&state.gate.authenticate(&token), &input, Door::Http).await;
                    n += u64::from(answer.outcome.decision == Decision::Allow);
                }
                n
            }));
        }
        let mut gated = 0;
        for t in tasks {
            gated += t.await?;
        }
        let mut tasks = Vec::new();
        let until = deadline();
        for _ in 0..CALLERS {
            let (state, sql) = (state.clone(), rewritten.clone());
            tasks.push(tokio::spawn(async move {
                let mut n = 0u64;
                while Instant::now() < until {
                    n += u64::from(state.gate.warehouse.query(&sql).await.is_ok());
                }
                n
            }));
        }
        let mut plain = 0;
        for t in tasks {
            plain += t.await?;
        }
        let (gated, plain) = (gated as f64 / THROUGHPUT_FOR.as_secs_f64(), plain as f64 / THROUGHPUT_FOR.as_secs_f64());
        println!("throughput, {CALLERS} concurrent callers, {} s each:", THROUGHPUT_FOR.as_secs());
        println!("  through the gate (allowed answers)   {gated:>9.0} queries/s");
        println!("  rewritten SQL on SQLite directly     {plain:>9.0} queries/s");
        println!("  ratio                                {:>9.2}", gated / plain);
        let _ = std::fs::remove_dir_all(&data);
        Ok(())
    })
}
