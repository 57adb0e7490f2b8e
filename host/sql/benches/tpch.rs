//! Analysis + rewrite time per query over the 22 TPC-H queries (and the 99
//! TPC-DS queries when `make workloads` has fetched them), under a policy
//! with a masked column and row filters, for 100 agents acting for 20
//! humans (each human's filter carries its own attribute).
//!
//! Per workload it prints p50/p99 of:
//! - `parse`: one sqlparser parse of the query;
//! - `cold`: prepare + plan + enforce with nothing cached (what an empty
//!   plan cache costs);
//! - `hit`: the same through a warm [`PlanCache`] (prepare hit, plan built,
//!   enforce hit);
//!
//! and the ratios cold/parse, each from this one run. Asserts nothing.
//!
//! Run with `cargo bench -p steward-sql --bench tpch`.

use std::time::{Duration, Instant};

use steward_model::{IdentityKind, Principal};
use steward_sql::{Dialect, Mode, Plan, PlanCache, Viewer, enforce, prepare};

const HUMANS: usize = 20;
const AGENTS: usize = 100;
/// Timed runs per query (each by the next agent in turn); `BENCH_ROUNDS`
/// overrides it (a profiler run needs few).
fn rounds() -> usize {
    std::env::var("BENCH_ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(400)
}

#[path = "../tests/support/workload.rs"]
mod workload;
use workload::{Workload, tpch, tpcds};

/// Who asks, on top of the workload's rules: 20 analysts, each with a row
/// filter of their own (it reads their `region` attribute), and 100 agents,
/// each acting for one of them.
fn principals_text(attribute_filter: (&str, &str)) -> String {
    let (asset, filter) = attribute_filter;
    let mut text = format!("\n[[row_filter]]\nid = \"own-region\"\nroles = [\"analyst\"]\nkinds = [\"human\"]\nassets = [{asset:?}]\nfilter = {filter:?}\n");
    for h in 0..HUMANS {
        text.push_str(&format!("[[principal]]\nid = \"human-{h:02}\"\nkind = \"human\"\nroles = [\"analyst\"]\nattributes = {{ region = \"{h}\" }}\n"));
    }
    for a in 0..AGENTS {
        text.push_str(&format!("[[principal]]\nid = \"agent-{a:03}\"\nkind = \"agent\"\nroles = [\"analyst\"]\n"));
    }
    text
}

fn principals() -> Vec<Principal> {
    (0..AGENTS)
        .map(|a| Principal {
            id: format!("agent-{a:03}"),
            kind: IdentityKind::Agent,
            on_behalf_of: Some(format!("human-{:02}", a % HUMANS)),
            roles: vec!["analyst".into()],
            session_id: None,
            turn_id: None,
        })
        .collect()
}

fn pct(samples: &mut [Duration], p: f64) -> f64 {
    samples.sort();
    samples[((samples.len() as f64 * p) as usize).min(samples.len() - 1)].as_secs_f64() * 1e6
}

fn run(w: &Workload, attribute_filter: (&str, &str)) {
    let (policy, schema) = w.load(&principals_text(attribute_filter));
    let principals = principals();
    let viewers: Vec<Viewer> = principals.iter().map(|p| Viewer::new(&policy, p).expect("viewer")).collect();
    let dialect = Dialect::Generic;
    let cache = PlanCache::default();
    let (mut parse, mut cold, mut hit) = (Vec::new(), Vec::new(), Vec::new());
    let mut refused = 0;
    for n in 1..=w.queries {
        let name = format!("q{n:02}");
        let sql = &w.query(n).unwrap_or_else(|e| panic!("{e}"));
        let uncached = |viewer: &Viewer| {
            let prepared = prepare(&schema, dialect, sql).map_err(|e| e.to_string())?;
            let plan = Plan::build(&schema, &policy, viewer, prepared.shape.table_ids(), Mode::Full, dialect).map_err(|v| v.message)?;
            enforce(&prepared, &schema, &policy, viewer, &plan, Some(1000)).map(|_| ()).map_err(|e| e.to_string())
        };
        let cached = |viewer: &Viewer| {
            let prepared = cache.prepare(&schema, dialect, sql);
            let prepared = prepared.as_ref().as_ref().map_err(|e| e.to_string())?;
            let plan = Plan::build(&schema, &policy, viewer, prepared.shape.table_ids(), Mode::Full, dialect).map_err(|v| v.message)?;
            cache.enforce(sql, prepared, &schema, &policy, 1, viewer, &plan, Some(1000)).as_ref().as_ref().map(|_| ()).map_err(|e| e.to_string())
        };
        if let Err(e) = uncached(&viewers[0]) {
            println!("{} {name} refused: {e}", w.name);
            refused += 1;
            continue;
        }
        for viewer in &viewers {
            std::hint::black_box(cached(viewer)).ok();
        }
        for round in 0..rounds() {
            let viewer = &viewers[round % viewers.len()];
            let started = Instant::now();
            std::hint::black_box(steward_sql::parse(dialect, sql)).ok();
            parse.push(started.elapsed());
            let started = Instant::now();
            std::hint::black_box(uncached(viewer)).ok();
            cold.push(started.elapsed());
            let started = Instant::now();
            std::hint::black_box(cached(viewer)).ok();
            hit.push(started.elapsed());
        }
    }
    let (p50, p99) = (pct(&mut parse, 0.50), pct(&mut parse, 0.99));
    let (c50, c99) = (pct(&mut cold, 0.50), pct(&mut cold, 0.99));
    let (h50, h99) = (pct(&mut hit, 0.50), pct(&mut hit, 0.99));
    println!(
        "{:<6} {} queries ({refused} refused), {AGENTS} agents for {HUMANS} humans, {} samples each",
        w.name,
        w.queries,
        parse.len()
    );
    println!("  parse         p50 {p50:>8.1} µs   p99 {p99:>8.1} µs");
    println!("  cold          p50 {c50:>8.1} µs   p99 {c99:>8.1} µs   (cold/parse: p50 {:.1}x, p99 {:.1}x)", c50 / p50, c99 / p99);
    println!("  plan-cache hit p50 {h50:>7.1} µs   p99 {h99:>8.1} µs");
    let stats = cache.stats();
    println!("  cache: {} enforced entries, {} KiB estimated", stats.enforced.entries, stats.bytes / 1024);
}

fn main() {
    run(&tpch(), ("tpch/customer", "c_nationkey <> {principal.region}"));
    let tpcds = tpcds();
    if tpcds.is_fetched() {
        run(&tpcds, ("tpcds/date_dim", "d_year >= {principal.region}"));
    } else {
        println!("TPC-DS: not fetched; run `make workloads` first");
    }
}
