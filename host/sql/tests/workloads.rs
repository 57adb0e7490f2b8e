//! The 22 TPC-H and 99 TPC-DS queries, enforced under a policy with masks
//! and row filters: every query is accepted and rewritten, except those in
//! [`REFUSED`], each refused for a stated reason.
//!
//! Where the workloads are and the rules they run under: `support/workload.rs`.
//!
//! Per query: `prepare`, `Plan::build`, `enforce`. A refusal at any step
//! must be listed in [`REFUSED`] with a substring of its message; a listed
//! query that is accepted is a failure too, so the list stays honest. An
//! accepted query's rewritten SQL is parsed and analyzed again from
//! scratch, and must
//! - read no column outside the plan, and no masked column at all (the
//!   mask is `redact`: a constant stands in for the column);
//! - list every masked column of the tables it reads, and carry each mask
//!   expression;
//! - carry each row filter of a table it reads on every reference to that
//!   table (the rewrite turns each into `(SELECT .. FROM t AS a WHERE
//!   (<filter>)) AS a`), and report the filter's rule as applied.
//!
//! Every failure is collected; the test panics once with the full list.

use std::cell::RefCell;
use std::collections::BTreeMap;

use sqlparser::ast::{Ident, TableFactor, TableSampleKind};
use steward_policy::{ColumnEffect, Policy};
use steward_sql::{AnalysisError, Dialect, Hooks, Mode, Plan, Schema, TableId, Viewer, analyze, enforce, mask, parse_rewritten, prepare};

#[path = "support/workload.rs"]
mod workload;
use workload::{Workload, tpch, tpcds};

/// Queries refused today: (query, as `tpch q<n>` / `tpcds q<n>` with `n`
/// unpadded, a substring of the refusal message, why the refusal is
/// deliberate or what it waits for).
const REFUSED: &[(&str, &str, &str)] = &[];

/// As in the TPC-H bench. TPC-DS parses as written too (`cast(.. AS date)
/// + INTERVAL '30' day`, double-quoted aliases).
const DIALECT: Dialect = Dialect::Generic;

/// The one viewer: an analyst.
const ANALYST: &str = "\n[[principal]]\nid = \"analyst\"\nkind = \"human\"\nroles = [\"analyst\"]\n";

/// Analysis as with `NoHooks` (nothing hidden, nothing replaced), counting
/// the references to each base table.
#[derive(Default)]
struct CountReferences(RefCell<BTreeMap<TableId, usize>>);

impl Hooks for CountReferences {
    fn source(&self, table: TableId, _alias: &Ident, _sample: Option<&TableSampleKind>) -> Result<Option<TableFactor>, AnalysisError> {
        *self.0.borrow_mut().entry(table).or_default() += 1;
        Ok(None)
    }
}

/// How many times `sql` reads `table` through a subquery that applies
/// `filter`: `FROM <table> AS <alias> WHERE ..` with `(<filter>)` among
/// the subquery's conditions.
fn filtered_references(sql: &str, table: &str, filter: &str) -> usize {
    let from = format!("FROM {table} AS ");
    let mut count = 0;
    for (at, _) in sql.match_indices(&from) {
        let rest = &sql[at + from.len()..];
        let Some((_alias, after)) = rest.split_once(' ') else { continue };
        let Some(conditions) = after.strip_prefix("WHERE ") else { continue };
        let conditions = conditions.split(") AS ").next().unwrap_or(conditions);
        if conditions.contains(&format!("({filter})")) {
            count += 1;
        }
    }
    count
}

/// What the rewrite says it did.
struct Reported<'a> {
    masked: &'a [String],
    row_filters: &'a [String],
}

/// Hold an accepted query's rewritten SQL against its plan.
fn check_rewrite(schema: &Schema, plan: &Plan, sql: &str, reported: Reported<'_>, problems: &mut Vec<String>) {
    let mut statement = match parse_rewritten(DIALECT, sql) {
        Ok(s) => s,
        Err(e) => {
            problems.push(format!("the rewritten SQL does not parse: {e}"));
            return;
        }
    };
    let references = CountReferences::default();
    let shape = match analyze(schema, DIALECT, &mut statement, &references) {
        Ok(s) => s,
        Err(e) => {
            problems.push(format!("the rewritten SQL does not analyze: {e}"));
            return;
        }
    };
    let references = references.0.into_inner();

    for (c, used) in shape.uses() {
        let name = format!("{}.{}", schema.table(c.table).sql_name(), shape.column_name(schema, c));
        let Some(treatment) = plan.treatment(c.table, c.column) else {
            problems.push(format!("the rewritten SQL reads {name}, outside the plan"));
            continue;
        };
        match &treatment.effect {
            ColumnEffect::Allow => {}
            ColumnEffect::Mask(_) => problems.push(format!("the rewritten SQL reads redacted column {name} ({used:?})")),
            ColumnEffect::PredicateOnly if used.reaches_output() => problems.push(format!("the rewritten SQL returns predicate-only column {name} ({used:?})")),
            ColumnEffect::PredicateOnly => {}
            ColumnEffect::Deny => problems.push(format!("the rewritten SQL uses denied column {name} ({used:?})")),
        }
    }

    for (&t, tp) in &plan.tables {
        let def = schema.table(t);
        let table = def.sql_name();
        for (column, treatment) in def.columns.iter().zip(&tp.treatments) {
            let ColumnEffect::Mask(spec) = &treatment.effect else { continue };
            let name = format!("{table}.{}", column.name);
            if !reported.masked.contains(&name) {
                problems.push(format!("{name} is masked by {} but the rewrite does not list it as masked", treatment.because));
            }
            let expression = format!("{} AS {}", mask::expression(spec, &column.name, DIALECT), column.name);
            if !sql.contains(&expression) {
                problems.push(format!("{name} is masked by {} but the rewritten SQL has no {expression}", treatment.because));
            }
        }
        let read = references.get(&t).copied().unwrap_or(0);
        for (rule, filter) in &tp.filters {
            if !reported.row_filters.contains(rule) {
                problems.push(format!("{table} has row filter {rule} but the rewrite does not report it applied"));
            }
            let filtered = filtered_references(sql, &table, filter);
            if filtered == 0 || filtered != read {
                problems.push(format!("{table} has row filter {rule} ({filter}): the rewritten SQL reads it {read} time(s), {filtered} of them filtered"));
            }
        }
    }
}

/// A query accepted (its rewritten SQL, and what is wrong with it) or
/// refused (the message).
enum Outcome {
    Accepted { sql: String, problems: Vec<String> },
    Refused(String),
}

fn run(schema: &Schema, policy: &Policy, viewer: &Viewer, sql: &str) -> Outcome {
    let prepared = match prepare(schema, DIALECT, sql) {
        Ok(p) => p,
        Err(e) => return Outcome::Refused(e.to_string()),
    };
    let tables: Vec<_> = prepared.shape.table_ids().collect();
    let plan = match Plan::build(schema, policy, viewer, tables, Mode::Full, DIALECT) {
        Ok(p) => p,
        Err(v) => return Outcome::Refused(v.message),
    };
    match enforce(&prepared, schema, policy, viewer, &plan, None) {
        Ok(enforced) => {
            let mut problems = Vec::new();
            check_rewrite(schema, &plan, &enforced.sql, Reported { masked: &enforced.masked, row_filters: &enforced.row_filters }, &mut problems);
            Outcome::Accepted { sql: enforced.sql, problems }
        }
        Err(refusal) => Outcome::Refused(refusal.to_string()),
    }
}

/// Run every query of `workload` against `refused`: the summary line and
/// the failures.
fn run_workload(workload: &Workload, refused: &[(&str, &str, &str)]) -> (String, Vec<String>) {
    let (policy, schema) = workload.load(ANALYST);
    let viewer = Viewer { subjects: vec![policy.principal("analyst").expect("the workload policy has principal analyst")] };
    let mut failures = Vec::new();
    let (mut accepted, mut as_listed) = (0, 0);
    let prefix = format!("{} q", workload.name);

    for (i, (name, _, _)) in refused.iter().enumerate() {
        if !name.starts_with("tpch q") && !name.starts_with("tpcds q") {
            failures.push(format!("{name}: listed in REFUSED, but query names are `tpch q<n>` or `tpcds q<n>`"));
        }
        let Some(number) = name.strip_prefix(&prefix) else { continue };
        if !number.parse::<usize>().is_ok_and(|n| (1..=workload.queries).contains(&n) && number == n.to_string()) {
            failures.push(format!("{name}: listed in REFUSED, but not a query of this workload (1..={}, unpadded)", workload.queries));
        }
        if refused[..i].iter().any(|(other, _, _)| other == name) {
            failures.push(format!("{name}: listed in REFUSED more than once"));
        }
    }

    for n in 1..=workload.queries {
        let name = format!("{prefix}{n}");
        let sql = match workload.query(n) {
            Ok(s) => s,
            Err(e) => {
                failures.push(format!("{name}: {e}"));
                continue;
            }
        };
        let outcome = run(&schema, &policy, &viewer, &sql);
        if std::env::var_os("WORKLOADS_VERBOSE").is_some() {
            match &outcome {
                Outcome::Accepted { sql, .. } => eprintln!("[accepted] {name} :: {sql}"),
                Outcome::Refused(message) => eprintln!("[refused] {name} :: {message}"),
            }
        }
        let listed = refused.iter().find(|(q, _, _)| *q == name);
        match (outcome, listed) {
            (Outcome::Accepted { sql, problems }, None) => {
                accepted += 1;
                if !problems.is_empty() {
                    failures.push(format!("{name}: accepted, but:\n      {}\n    rewritten: {sql}", problems.join("\n      ")));
                }
            }
            (Outcome::Accepted { sql, .. }, Some((_, _, why))) => {
                failures.push(format!("{name}: listed in REFUSED ({why}) but accepted: drop it from the list\n    rewritten: {sql}"));
            }
            (Outcome::Refused(message), None) => failures.push(format!("{name}: refused: {message}")),
            (Outcome::Refused(message), Some((_, expected, _))) => {
                as_listed += 1;
                if !message.contains(expected) {
                    failures.push(format!("{name}: refused, but not for the listed reason {expected:?}: {message}"));
                }
            }
        }
    }

    let summary = format!(
        "{}: {} queries, {accepted} accepted and rewritten, {as_listed} refused as listed in REFUSED, {} failure(s)",
        workload.name,
        workload.queries,
        failures.len()
    );
    (summary, failures)
}

fn assert_enforced(workload: &Workload) {
    let (summary, failures) = run_workload(workload, REFUSED);
    println!("{summary}");
    if !failures.is_empty() {
        panic!("{} of the {} queries failed:\n\n- {}\n", failures.len(), workload.name, failures.join("\n\n- "));
    }
}

#[test]
fn tpch_queries_are_enforced() {
    assert_enforced(&tpch());
}

#[test]
fn tpcds_queries_are_enforced() {
    let workload = tpcds();
    assert!(
        workload.is_fetched(),
        "the TPC-DS workload is missing from {}: run `make workloads` (scripts/fetch-workloads.sh) first",
        workload.dir.display()
    );
    assert_enforced(&workload);
}

/// The checks above must themselves catch a rewrite that leaks, and a
/// REFUSED list that lies: hand them both.
#[test]
fn checks_catch_a_leaking_rewrite_and_a_stale_list() {
    let workload = tpch();
    let (policy, schema) = workload.load(ANALYST);
    let viewer = Viewer { subjects: vec![policy.principal("analyst").expect("the workload policy has principal analyst")] };
    let sql = "select c_name, o_orderkey from customer, orders where c_custkey = o_custkey";
    let prepared = prepare(&schema, DIALECT, sql).expect("the probe query analyzes");
    let plan = Plan::build(&schema, &policy, &viewer, prepared.shape.table_ids().collect::<Vec<_>>(), Mode::Full, DIALECT).expect("the probe query is planned");
    let enforced = enforce(&prepared, &schema, &policy, &viewer, &plan, None).expect("the probe query is enforced");
    let check = |sql: &str, masked: &[String], row_filters: &[String]| {
        let mut problems = Vec::new();
        check_rewrite(&schema, &plan, sql, Reported { masked, row_filters }, &mut problems);
        problems
    };
    let expect = |problems: Vec<String>, needle: &str| {
        assert!(problems.iter().any(|p| p.contains(needle)), "expected a problem with {needle:?}, got {problems:?}");
    };
    let (masked, row_filters) = (&enforced.masked[..], &enforced.row_filters[..]);

    assert_eq!(check(&enforced.sql, masked, row_filters), Vec::<String>::new(), "the real rewrite: {}", enforced.sql);
    let unmasked = enforced.sql.replace("'[redacted]' AS c_name", "c_name");
    assert_ne!(unmasked, enforced.sql, "the rewrite masks c_name: {}", enforced.sql);
    expect(check(&unmasked, masked, row_filters), "reads redacted column tpch.customer.c_name");
    expect(check(&unmasked, masked, row_filters), "has no '[redacted]' AS c_name");
    let unfiltered = enforced.sql.replace(" WHERE (o_orderstatus <> 'X')", "");
    assert_ne!(unfiltered, enforced.sql, "the rewrite filters orders: {}", enforced.sql);
    expect(check(&unfiltered, masked, row_filters), "reads it 1 time(s), 0 of them filtered");
    let read_again = format!("{} AND o_orderkey IN (SELECT o_orderkey FROM tpch.orders)", enforced.sql);
    expect(check(&read_again, masked, row_filters), "reads it 2 time(s), 1 of them filtered");
    expect(check(&enforced.sql, &[], row_filters), "tpch.customer.c_phone is masked by");
    expect(check(&enforced.sql, masked, &[]), "row filter row_filter:tpch-open-orders but the rewrite does not report it");

    let stale: &[(&str, &str, &str)] =
        &[("tpch q1", "ROLLUP", "accepted: the list is stale"), ("tpch q01", "-", "padded"), ("tpch q6", "-", "twice"), ("tpch q6", "-", "twice")];
    let (_, failures) = run_workload(&workload, stale);
    for needle in [
        "tpch q1: listed in REFUSED (accepted: the list is stale) but accepted",
        "tpch q01: listed in REFUSED, but not a query",
        "tpch q6: listed in REFUSED more than once",
    ] {
        assert!(failures.iter().any(|f| f.contains(needle)), "expected a failure with {needle:?}, got {failures:#?}");
    }
}
