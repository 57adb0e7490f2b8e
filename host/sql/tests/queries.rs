//! Table-driven suite: every `[[case]]` of `queries.toml` is analyzed,
//! planned and enforced against the fixture policy in `fixtures/policy/`.
//!
//! Per case:
//! - `prepare` (parse + analyze). An analysis error is outcome `error`.
//! - `reads` / `not_reads` are checked against the prepared shape.
//! - The plan is built for the viewer (`as`, plus the human an agent acts
//!   for) and the statement enforced: Ok is `allow`, Err is `deny`.
//! - For `allow`, the rewritten SQL is analyzed again from scratch: no
//!   column the plan denies may be used, no predicate-only column may reach
//!   the output, every row filter of the plan must be in the SQL, and every
//!   aggregate-only table must carry its minimum group size.
//! - `contains` / `not_contains` are checked against the rewritten SQL
//!   (allow, case-sensitive) or the error / refusal text (deny and error,
//!   case-insensitive).
//!
//! Every failure is collected; the test panics once with the full list.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use steward_policy::{ColumnEffect, Policy};
use steward_sql::{Dialect, Mode, NoHooks, Plan, PlanCache, Schema, Viewer, analyze, parse, prepare};

/// Agents the suite runs on behalf of a human: (agent, human).
const ON_BEHALF_OF: &[(&str, &str)] = &[("bot", "analyst")];

const MIN_CASES: usize = 150;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Suite {
    case: Vec<Case>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Strings {
    One(String),
    Many(Vec<String>),
}

impl Strings {
    fn items(&self) -> Vec<&str> {
        match self {
            Strings::One(s) => vec![s.as_str()],
            Strings::Many(v) => v.iter().map(String::as_str).collect(),
        }
    }
}

#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum Expect {
    Allow,
    Deny,
    Error,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    sql: String,
    #[serde(rename = "as")]
    principal: String,
    #[serde(default)]
    dialect: Option<String>,
    expect: Expect,
    /// `schema.table.column:use`, use in output|predicate|aggregated|group_key|written.
    #[serde(default)]
    reads: Vec<String>,
    /// `schema.table.column` (no use at all) or `schema.table.column:use`.
    #[serde(default)]
    not_reads: Vec<String>,
    #[serde(default)]
    contains: Option<Strings>,
    #[serde(default)]
    not_contains: Option<Strings>,
}

struct Failure {
    case: String,
    expected: String,
    got: String,
    detail: String,
}

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/policy")
}

fn load() -> (Policy, Schema) {
    let policy = Policy::load_dir(&fixture_dir()).unwrap_or_else(|e| panic!("fixture policy does not load: {e}"));
    let schema = Schema::from_policy(&policy);
    (policy, schema)
}

fn load_cases() -> Vec<Case> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/queries.toml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let suite: Suite = toml::from_str(&text).unwrap_or_else(|e| panic!("{} does not parse: {e}", path.display()));
    suite.case
}

/// The flag of a column use by name.
fn use_flag(u: &steward_sql::ColumnUse, name: &str) -> Option<bool> {
    Some(match name {
        "output" => u.output,
        "predicate" => u.predicate,
        "aggregated" => u.aggregated,
        "group_key" => u.group_key,
        "written" => u.written,
        _ => return None,
    })
}

/// Split `schema.table.column[:use]`.
fn split_read(spec: &str) -> Option<(&str, &str, Option<&str>)> {
    let (path, used) = match spec.rsplit_once(':') {
        Some((p, u)) => (p, Some(u)),
        None => (spec, None),
    };
    let (table, column) = path.rsplit_once('.')?;
    Some((table, column, used))
}

/// Check `reads` and `not_reads` against the prepared shape.
fn check_reads(case: &Case, shape: &steward_sql::QueryShape, problems: &mut Vec<String>) {
    let lookup = |table: &str, column: &str| shape.tables.iter().find(|t| t.sql_name == table).and_then(|t| t.columns.get(column)).copied();
    for spec in &case.reads {
        let Some((table, column, Some(used))) = split_read(spec) else {
            problems.push(format!("bad reads entry {spec:?} (want schema.table.column:use)"));
            continue;
        };
        match lookup(table, column) {
            None => problems.push(format!("reads {spec}: the analysis does not report {table}.{column} at all")),
            Some(u) => match use_flag(&u, used) {
                None => problems.push(format!("bad use {used:?} in {spec:?}")),
                Some(false) => problems.push(format!("reads {spec}: reported as {u:?}")),
                Some(true) => {}
            },
        }
    }
    for spec in &case.not_reads {
        let Some((table, column, used)) = split_read(spec) else {
            problems.push(format!("bad not_reads entry {spec:?}"));
            continue;
        };
        let Some(u) = lookup(table, column) else { continue };
        match used {
            None if u != steward_sql::ColumnUse::default() => problems.push(format!("not_reads {spec}: reported as {u:?}")),
            None => {}
            Some(name) => match use_flag(&u, name) {
                None => problems.push(format!("bad use {name:?} in {spec:?}")),
                Some(true) => problems.push(format!("not_reads {spec}: reported as {u:?}")),
                Some(false) => {}
            },
        }
    }
}

/// Analyze the rewritten SQL from scratch and hold it against the plan.
fn verify_rewrite(schema: &Schema, plan: &Plan, dialect: Dialect, sql: &str, problems: &mut Vec<String>) {
    let mut statement = match parse(dialect, sql) {
        Ok(s) => s,
        Err(e) => {
            problems.push(format!("the rewritten SQL does not parse: {e}"));
            return;
        }
    };
    let shape = match analyze(schema, dialect, &mut statement, &NoHooks) {
        Ok(s) => s,
        Err(e) => {
            problems.push(format!("the rewritten SQL does not analyze: {e}"));
            return;
        }
    };
    for (c, used) in shape.uses() {
        let name = format!("{}.{}", schema.table(c.table).sql_name(), shape.column_name(schema, c));
        let Some(treatment) = plan.treatment(c.table, c.column) else {
            problems.push(format!("the rewritten SQL reads {name}, outside the plan"));
            continue;
        };
        match treatment.effect {
            ColumnEffect::Deny if used.reaches_output() || used.predicate => {
                problems.push(format!("the rewritten SQL uses denied column {name} ({used:?}, {})", treatment.because))
            }
            ColumnEffect::PredicateOnly if used.reaches_output() => {
                problems.push(format!("the rewritten SQL returns predicate-only column {name} ({used:?}, {})", treatment.because))
            }
            _ => {}
        }
    }
    for (&t, tp) in &plan.tables {
        for (rule, filter) in &tp.filters {
            if !sql.contains(filter.as_str()) {
                problems.push(format!("{} has row filter {rule} ({filter}) but the rewritten SQL does not carry it", schema.table(t).sql_name()));
            }
        }
        if let Some((rule, k)) = &tp.min_group {
            let floor = format!("count(*) >= {k}");
            if !sql.contains(&floor) {
                problems.push(format!("{} is aggregate-only ({rule}) but the rewritten SQL has no {floor}", schema.table(t).sql_name()));
            }
        }
    }
}

fn check_text(case: &Case, text: &str, sensitive: bool, problems: &mut Vec<String>) {
    let fold = |s: &str| if sensitive { s.to_string() } else { s.to_lowercase() };
    let hay = fold(text);
    if let Some(c) = &case.contains {
        for needle in c.items() {
            if !hay.contains(&fold(needle)) {
                problems.push(format!("expected {needle:?} in: {text}"));
            }
        }
    }
    if let Some(c) = &case.not_contains {
        for needle in c.items() {
            if hay.contains(&fold(needle)) {
                problems.push(format!("did not expect {needle:?} in: {text}"));
            }
        }
    }
}

/// Print what a case did (`QUERIES_VERBOSE=1`), to review why it passes.
fn trace(case: &Case, outcome: &str, text: &str) {
    if std::env::var_os("QUERIES_VERBOSE").is_some() {
        eprintln!("[{outcome}] {} :: {text}", case.name);
    }
}

/// Run one case; Err is a failure (got, detail).
fn run_case(case: &Case, policy: &Policy, schema: &Schema, cache: &PlanCache) -> Result<(), (String, String)> {
    let dialect: Dialect = match case.dialect.as_deref().unwrap_or("postgres").parse() {
        Ok(d) => d,
        Err(e) => return Err(("bad case".into(), e)),
    };
    let Some(record) = policy.principal(&case.principal) else {
        return Err(("bad case".into(), format!("principal {:?} is not in the fixture policy", case.principal)));
    };
    let mut subjects = vec![record];
    for (agent, human) in ON_BEHALF_OF {
        if *agent == case.principal {
            subjects.push(policy.principal(human).expect("the human an agent acts for is in the fixture"));
        }
    }
    let viewer = Viewer { subjects };

    let mut problems = Vec::new();
    let prepared = cache.prepare(schema, dialect, &case.sql);
    let prepared = match prepared.as_ref() {
        Ok(p) => p,
        Err(e) => {
            let message = e.to_string();
            trace(case, "error", &message);
            if case.expect != Expect::Error {
                return Err(("error".into(), message));
            }
            if !case.reads.is_empty() {
                problems.push("reads given for a case expected to be an analysis error".into());
            }
            check_text(case, &message, false, &mut problems);
            return if problems.is_empty() { Ok(()) } else { Err(("error".into(), problems.join("; "))) };
        }
    };
    if case.expect == Expect::Error {
        // Still say what it would have done.
        let read: Vec<String> = prepared.shape.tables.iter().flat_map(|t| t.columns.iter().map(move |(c, u)| format!("{}.{c} {u:?}", t.sql_name))).collect();
        let detail = format!("analyzed fine (kind {:?}), reads [{}]", prepared.shape.kind, read.join(", "));
        return Err(("analyzed".into(), detail));
    }
    check_reads(case, &prepared.shape, &mut problems);

    let tables: Vec<_> = prepared.shape.table_ids().collect();
    let plan = match Plan::build(schema, policy, &viewer, tables, Mode::Full, dialect) {
        Ok(p) => p,
        Err(v) => {
            let message = v.message.clone();
            trace(case, "deny", &message);
            if case.expect != Expect::Deny {
                problems.insert(0, format!("plan refused: {message}"));
                return Err(("deny".into(), problems.join("; ")));
            }
            check_text(case, &message, false, &mut problems);
            return if problems.is_empty() { Ok(()) } else { Err(("deny".into(), problems.join("; "))) };
        }
    };
    match cache.enforce(&case.sql, prepared, schema, policy, 1, &viewer, &plan, None).as_ref() {
        Ok(enforced) => {
            trace(case, "allow", &enforced.sql);
            if case.expect != Expect::Allow {
                problems.insert(0, format!("allowed as: {}", enforced.sql));
                return Err(("allow".into(), problems.join("; ")));
            }
            verify_rewrite(schema, &plan, dialect, &enforced.sql, &mut problems);
            check_text(case, &enforced.sql, true, &mut problems);
            if problems.is_empty() { Ok(()) } else { Err(("allow".into(), problems.join("; "))) }
        }
        Err(refusal) => {
            let message = refusal.to_string();
            trace(case, "deny", &message);
            if case.expect != Expect::Deny {
                problems.insert(0, format!("refused: {message}"));
                return Err(("deny".into(), problems.join("; ")));
            }
            check_text(case, &message, false, &mut problems);
            if problems.is_empty() { Ok(()) } else { Err(("deny".into(), problems.join("; "))) }
        }
    }
}

/// The rewrite check of this runner must itself catch leaks: hand it SQL
/// a broken rewrite could produce.
#[test]
fn runner_catches_a_leaking_rewrite() {
    let (policy, schema) = load();
    let plan_for = |who: &str, sql: &str| {
        let viewer = Viewer { subjects: vec![policy.principal(who).unwrap()] };
        let prepared = prepare(&schema, Dialect::Postgres, sql).unwrap();
        Plan::build(&schema, &policy, &viewer, prepared.shape.table_ids().collect::<Vec<_>>(), Mode::Full, Dialect::Postgres).unwrap()
    };
    let check = |plan: &Plan, sql: &str| {
        let mut problems = Vec::new();
        verify_rewrite(&schema, plan, Dialect::Postgres, sql, &mut problems);
        problems
    };
    let analyst = plan_for("analyst", "select region from customers");
    let problems = check(&analyst, "select phone from sales.customers where region = 'emea'");
    assert!(problems.iter().any(|p| p.contains("predicate-only column sales.customers.phone")), "{problems:?}");
    let problems = check(&analyst, "select region from sales.customers");
    assert!(problems.iter().any(|p| p.contains("row filter row_filter:analyst-region")), "{problems:?}");
    let problems = check(&analyst, "select region from sales.customers where region = 'emea' and customer_id in (select order_id from sales.orders)");
    assert!(problems.iter().any(|p| p.contains("outside the plan")), "{problems:?}");
    let hr = plan_for("hr-analyst", "select count(*) from hr.employees e, sales.customers c");
    let problems = check(&hr, "select count(*) from hr.employees where health_notes is null");
    assert!(problems.iter().any(|p| p.contains("denied column hr.employees.health_notes")), "{problems:?}");
    assert!(problems.iter().any(|p| p.contains("no count(*) >= 5")), "{problems:?}");
    let problems = check(&hr, "select count(*) from hr.employees having count(*) >= 5");
    assert!(problems.is_empty(), "{problems:?}");
}

#[test]
fn fixture_policy_compiles_for_every_dialect() {
    let (policy, schema) = load();
    assert_eq!(schema.tables().len(), 5, "fixture tables: {:?}", schema.tables().iter().map(|t| t.sql_name()).collect::<Vec<_>>());
    for dialect in [Dialect::Postgres, Dialect::Sqlite, Dialect::Generic] {
        steward_sql::compile::check_policy(&policy, &schema, dialect).unwrap_or_else(|e| panic!("{dialect:?}: {e}"));
    }
}

#[test]
fn queries() {
    let (policy, schema) = load();
    let cases = load_cases();
    assert!(cases.len() >= MIN_CASES, "the suite has {} cases; it should have at least {MIN_CASES}", cases.len());
    let mut names = BTreeSet::new();
    let mut failures = Vec::new();
    for case in &cases {
        if !names.insert(case.name.as_str()) {
            failures.push(Failure { case: case.name.clone(), expected: "-".into(), got: "-".into(), detail: "case name used twice".into() });
        }
    }
    // Every case twice through one plan cache: cold, then warm (each
    // statement a hit), with the same checks both times.
    let cache = PlanCache::default();
    for pass in ["cold", "warm"] {
        for case in &cases {
            if let Err((got, detail)) = run_case(case, &policy, &schema, &cache) {
                failures.push(Failure { case: format!("{} ({pass} cache)", case.name), expected: format!("{:?}", case.expect).to_lowercase(), got, detail });
            }
        }
    }
    let stats = cache.stats();
    let distinct: BTreeSet<(&str, Option<&str>)> = cases.iter().map(|c| (c.sql.as_str(), c.dialect.as_deref())).collect();
    if stats.prepared.misses != distinct.len() as u64 || stats.prepared.hits != 2 * cases.len() as u64 - distinct.len() as u64 {
        failures.push(Failure { case: "plan cache".into(), expected: format!("{} misses", distinct.len()), got: format!("{stats:?}"), detail: "each statement is prepared once".into() });
    }
    if stats.enforced.hits < stats.enforced.misses {
        failures.push(Failure { case: "plan cache".into(), expected: "a hit for every enforcement of the warm pass".into(), got: format!("{stats:?}"), detail: String::new() });
    }
    eprintln!("steward-sql query suite: {} cases, {} passed, {} failed", cases.len(), cases.len() - failures.len(), failures.len());
    if !failures.is_empty() {
        let mut report = format!("{} of {} cases failed:\n", failures.len(), cases.len());
        for f in &failures {
            report.push_str(&format!("\n- {}\n    expected: {}\n    got:      {}\n    detail:   {}\n", f.case, f.expected, f.got, f.detail));
        }
        panic!("{report}");
    }
}
