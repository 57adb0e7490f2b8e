//! Analysis + rewrite time per query over the 22 TPC-H queries, written
//! against a TPC-H-shaped catalog with a masked column and a row filter.
//!
//! Run with `cargo bench -p steward-sql --bench tpch`. Prints p50/p99 per
//! query and over all queries; asserts nothing.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use steward_policy::Policy;
use steward_sql::{Dialect, Mode, Plan, Schema, Viewer, enforce, prepare};

const ROUNDS: usize = 2_000;

/// Who runs the queries, and the rules that apply: a masked PII column and
/// a row filter, so every query is really rewritten.
const BENCH_POLICY: &str = r#"
[identity]
issuer = "bench"
audience = "bench"
[[key]]
kid = "bench"
public_key = "WO9WT20h9eQLF23X1eV9Q3dH5GtvRDNJaUJkNLTStSM="
[[action]]
name = "sql.read"
category = "read"
risk = 0.3
[[role]]
name = "analyst"
[[role.grant]]
actions = ["sql.read"]
assets = ["tpch/**"]
[[principal]]
id = "analyst"
kind = "human"
roles = ["analyst"]
attributes = { nation = "15" }
[[column_rule]]
id = "pii-masked"
roles = ["analyst"]
assets = ["tpch/**"]
columns = ["tag:pii"]
effect = "mask"
mask = "redact"
[[row_filter]]
id = "open-orders-only"
roles = ["analyst"]
assets = ["tpch/orders"]
filter = "o_orderstatus <> 'X'"
"#;

fn report(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let pct = |p: f64| samples[((samples.len() as f64 * p) as usize).min(samples.len() - 1)].as_secs_f64() * 1e6;
    println!("{name:<10} p50 {:>8.1} µs   p99 {:>8.1} µs   (n={})", pct(0.50), pct(0.99), samples.len());
}

fn main() {
    let dir: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/tpch");
    let catalog = std::fs::read_to_string(dir.join("catalog.toml")).expect("catalog.toml");
    let policy = Policy::load_texts(vec![(dir.join("catalog.toml"), catalog), (PathBuf::from("bench.toml"), BENCH_POLICY.to_string())]).expect("bench policy loads");
    let schema = Schema::from_policy(&policy);
    let principal = steward_model::Principal { id: "analyst".into(), kind: steward_model::IdentityKind::Human, on_behalf_of: None, roles: vec!["analyst".into()], session_id: None, turn_id: None };
    let viewer = Viewer::new(&policy, &principal).expect("viewer");
    let dialect = Dialect::Generic;

    let mut all = Vec::new();
    let mut parse_only = Vec::new();
    for n in 1..=22 {
        let sql = std::fs::read_to_string(dir.join(format!("q{n:02}.sql"))).expect("query file");
        let sql = sql.trim().trim_end_matches(';');
        let once = || {
            let prepared = prepare(&schema, dialect, sql).map_err(|e| e.to_string())?;
            let plan = Plan::build(&schema, &policy, &viewer, prepared.shape.table_ids(), Mode::Full, dialect).map_err(|v| v.message)?;
            enforce(&prepared, &schema, &policy, &viewer, &plan, Some(1000)).map_err(|e| e.to_string())
        };
        match once() {
            Ok(e) if n == 1 => println!("q01 rewritten: {}", e.sql),
            Ok(_) => {}
            Err(e) => {
                println!("q{n:02}       refused: {e}");
                continue;
            }
        }
        let mut samples = Vec::with_capacity(ROUNDS);
        for _ in 0..ROUNDS {
            let started = Instant::now();
            let out = once();
            samples.push(started.elapsed());
            std::hint::black_box(out).ok();
        }
        all.extend(samples.iter().copied());
        for _ in 0..ROUNDS / 4 {
            let started = Instant::now();
            std::hint::black_box(steward_sql::parse(dialect, sql)).ok();
            parse_only.push(started.elapsed());
        }
        report(&format!("q{n:02}"), samples);
    }
    report("all", all);
    report("parse only", parse_only);
}
