//! SQL, the way `/v1/query` handles it: `prepare` (parse + analyze) ->
//! `Plan::build` -> `enforce` (rewrite + its own proof) -> a from-scratch
//! re-analysis of the rewritten SQL here, and again after `recap`.
//!
//! Against three catalogs, each in the dialect it is used with: the demo
//! policy (`policies/`, SQLite like the demo warehouse) for bob, carol,
//! alice and scout acting for bob; the TPC-H bench catalog and policy
//! (generic) for its analyst and a fuzz-only auditor with predicate-only
//! and aggregate-only rules; and the query suite's fixture policy
//! (PostgreSQL) for its four viewers. Each in full and preview mode.
//!
//! Findings: any panic or overflow; an accepted rewrite that does not
//! parse or analyze again; and, in the re-analysis, a column the plan
//! withholds or marks predicate-only reaching the output (or a withheld
//! one used at all), a row filter of the plan missing from the SQL, or an
//! aggregate-only table without its minimum group size.

#![no_main]

use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use libfuzzer_sys::fuzz_target;
use steward_fuzz::{Worker, demo_policy, on_sql_stack, repo};
use steward_model::{IdentityKind, Obligation, Principal};
use steward_policy::{ColumnEffect, Policy};
use steward_sql::{Dialect, Mode, NoHooks, Plan, PlanCache, Schema, StatementKind, Viewer, analyze, enforce, parse_rewritten, prepare};

/// Rows the server caps a query at (`--max-rows` default).
const MAX_ROWS: u64 = 1000;

/// More TPC-H rules for the fuzzer: the analyst's policy masks every PII
/// column, so nothing there is withheld or predicate-only.
const TPCH_AUDITOR: &str = r#"
[[role]]
name = "auditor"
[[role.grant]]
actions = ["sql.read"]
assets = ["tpch/**"]
[[principal]]
id = "auditor"
kind = "human"
roles = ["auditor"]
[[column_rule]]
id = "auditor-phone-for-matching"
roles = ["auditor"]
assets = ["tpch/customer", "tpch/supplier"]
columns = ["tag:phone"]
effect = "predicate-only"
[[column_rule]]
id = "auditor-comments-never"
roles = ["auditor"]
assets = ["tpch/**"]
columns = ["r_comment", "n_comment", "s_comment", "p_comment", "ps_comment", "c_comment", "o_comment", "l_comment"]
effect = "deny"
[[aggregate_only]]
id = "auditor-lineitem-aggregates"
roles = ["auditor"]
assets = ["tpch/lineitem"]
min_group_size = 3
"#;

struct Catalog {
    policy: Policy,
    schema: Schema,
    dialect: Dialect,
    /// (principal, the human it acts for)
    viewers: Vec<(&'static str, Option<&'static str>)>,
}

fn principal(policy: &Policy, id: &str, on_behalf_of: Option<&str>) -> Principal {
    let record = policy.principal(id).unwrap_or_else(|| panic!("{id} is in the policy"));
    Principal {
        id: id.to_string(),
        kind: record.kind,
        on_behalf_of: on_behalf_of.map(str::to_string),
        roles: record.roles.clone(),
        session_id: (record.kind == IdentityKind::Agent).then(|| "fuzz-session".to_string()),
        turn_id: (record.kind == IdentityKind::Agent).then(|| "fuzz-turn".to_string()),
    }
}

/// The TPC-H analyst's rules: every PII column masked, open orders only.
const TPCH_ANALYST: &str = r#"
[identity]
issuer = "fuzz"
audience = "fuzz"
[[key]]
kid = "fuzz"
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

fn catalogs() -> &'static [Catalog] {
    static CATALOGS: OnceLock<Vec<Catalog>> = OnceLock::new();
    CATALOGS.get_or_init(|| {
        let demo = demo_policy().clone();
        let tpch_dir = repo().join("host/sql/benches/tpch");
        let catalog_path = tpch_dir.join("catalog.toml");
        let catalog = std::fs::read_to_string(&catalog_path).unwrap_or_else(|e| panic!("{}: {e}", catalog_path.display()));
        let tpch = Policy::load_texts(vec![(catalog_path, catalog), (PathBuf::from("fuzz-analyst.toml"), TPCH_ANALYST.to_string()), (PathBuf::from("fuzz-auditor.toml"), TPCH_AUDITOR.to_string())])
            .unwrap_or_else(|e| panic!("the TPC-H policy does not load: {e}"));
        let fixture_dir = repo().join("host/sql/tests/fixtures/policy");
        let fixture = Policy::load_dir(&fixture_dir).unwrap_or_else(|e| panic!("the query suite's policy does not load: {e}"));
        let catalog = |policy: Policy, dialect, viewers| {
            let schema = Schema::from_policy(&policy);
            Catalog { policy, schema, dialect, viewers }
        };
        vec![
            catalog(demo, Dialect::Sqlite, vec![("bob", None), ("carol", None), ("alice", None), ("scout", Some("bob"))]),
            catalog(tpch, Dialect::Generic, vec![("analyst", None), ("auditor", None)]),
            catalog(fixture, Dialect::Postgres, vec![("analyst", None), ("hr-analyst", None), ("admin", None), ("bot", Some("analyst"))]),
        ]
    })
}

fn check(data: &[u8]) {
    let Ok(sql) = std::str::from_utf8(data) else { return };
    for catalog in catalogs() {
        let Catalog { policy, schema, dialect, viewers } = catalog;
        // Analysis does not depend on the viewer: once refused, refused.
        let Ok(first) = prepare(schema, *dialect, sql) else { continue };
        if first.shape.kind != StatementKind::Read {
            continue;
        }
        drop(first);
        for (id, human) in viewers {
            let principal = principal(policy, id, *human);
            let viewer = Viewer::new(policy, &principal).expect("the viewer is in the policy");
            for mode in [Mode::Full, Mode::Preview] {
                let prepared = prepare(schema, *dialect, sql).expect("analyzed once already");
                let Ok(mut plan) = Plan::build(schema, policy, &viewer, prepared.shape.table_ids(), mode, *dialect) else { continue };
                if plan.apply(schema, &[Obligation::MaxRows { rows: 250 }]).is_err() {
                    continue;
                }
                let enforced = enforce(&prepared, schema, policy, &viewer, &plan, Some(MAX_ROWS));
                // The plan cache gives what enforcement gives, cold and warm.
                let cache = PlanCache::default();
                for _ in 0..2 {
                    let cached = cache.enforce(sql, &prepared, schema, policy, 1, &viewer, &plan, Some(MAX_ROWS));
                    let same = match (&*cached, &enforced) {
                        (Ok(a), Ok(b)) => a.sql == b.sql,
                        (Err(a), Err(b)) => a.to_string() == b.to_string(),
                        _ => false,
                    };
                    assert!(same, "the plan cache and enforcement disagree on {sql:?}");
                }
                let Ok(enforced) = enforced else { continue };
                let who = format!("{id} ({mode:?}, {dialect:?})");
                reanalyze(schema, &plan, *dialect, &enforced.sql, &who);
                if let Ok(recapped) = steward_sql::rewrite::recap(&enforced.sql, *dialect, 7) {
                    reanalyze(schema, &plan, *dialect, &recapped, &who);
                }
            }
        }
    }
}

/// Analyze an accepted rewrite from scratch and hold it against the plan.
fn reanalyze(schema: &Schema, plan: &Plan, dialect: Dialect, sql: &str, who: &str) {
    // The rewrite wraps what was asked, so it is held to the rewrite's
    // bound (a little deeper than a request's), as enforce's own proof is.
    let mut statement = parse_rewritten(dialect, sql).unwrap_or_else(|e| panic!("for {who}, the accepted rewrite does not parse: {e}\n{sql}"));
    let shape = analyze(schema, dialect, &mut statement, &NoHooks).unwrap_or_else(|e| panic!("for {who}, the accepted rewrite does not analyze: {e}\n{sql}"));
    let name = |table: steward_sql::TableId, column: usize| format!("{}.{}", schema.table(table).sql_name(), schema.table(table).columns[column].name);
    for (c, used) in shape.uses() {
        let treatment = plan.treatment(c.table, c.column).unwrap_or_else(|| panic!("for {who}, the rewrite reads {} outside the plan\n{sql}", name(c.table, c.column)));
        match treatment.effect {
            ColumnEffect::Deny => panic!("for {who}, the rewrite uses withheld {} ({used:?}, {})\n{sql}", name(c.table, c.column), treatment.because),
            ColumnEffect::PredicateOnly if used.reaches_output() => {
                panic!("for {who}, the rewrite returns predicate-only {} ({used:?}, {})\n{sql}", name(c.table, c.column), treatment.because)
            }
            _ => {}
        }
    }
    for refs in shape.output_refs() {
        for (c, via) in refs {
            let effect = plan.treatment(c.table, c.column).map(|t| &t.effect);
            assert!(
                !matches!(effect, Some(ColumnEffect::Deny | ColumnEffect::PredicateOnly)),
                "for {who}, an output column carries {} ({via:?}) which the plan treats as {effect:?}\n{sql}",
                name(c.table, c.column)
            );
        }
    }
    for (&t, tp) in &plan.tables {
        for (rule, filter) in &tp.filters {
            assert!(sql.contains(filter.as_str()), "for {who}, {} has row filter {rule} ({filter}) but the rewrite does not carry it\n{sql}", schema.table(t).sql_name());
        }
        if let Some((rule, k)) = &tp.min_group {
            let floor = format!("count(*) >= {k}");
            assert!(sql.contains(&floor), "for {who}, {} is aggregate-only ({rule}) but the rewrite has no {floor}\n{sql}", schema.table(t).sql_name());
        }
    }
}

static WORKER: OnceLock<Mutex<Worker>> = OnceLock::new();

fuzz_target!(
    init: {
        steward_fuzz::report_stack_overflows();
        catalogs();
    },
    |data: &[u8]| on_sql_stack(&WORKER, "fuzz-sql", check, data)
);
