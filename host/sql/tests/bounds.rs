//! Deep and long statements of every shape class: the deepest one that is
//! accepted goes through the whole path (analyze -> plan -> rewrite ->
//! re-analyze, print, drop) on a thread with the server's worker stack, in
//! this (debug) build; anything deeper or longer is refused with a reason
//! before a tree is built. None of them may overflow the stack.

use std::path::Path;

use steward_model::{IdentityKind, Principal};
use steward_policy::Policy;
use steward_sql::bounds::{self, MAX_IN_LIST, MAX_JOINS, MAX_SELECT_ITEMS, MAX_SET_OPERATIONS, MAX_SQL_BYTES, STACK_BYTES};
use steward_sql::{AnalysisError, Dialect, Mode, NoHooks, Plan, Schema, Viewer, analyze, enforce, parse_rewritten, prepare};

fn load() -> (Policy, Schema) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/policy");
    let policy = Policy::load_dir(&dir).expect("fixture policy loads");
    let schema = Schema::from_policy(&policy);
    (policy, schema)
}

fn analyst() -> Principal {
    Principal { id: "analyst".into(), kind: IdentityKind::Human, on_behalf_of: None, roles: vec!["sales-analyst".into(), "finance-analyst".into()], session_id: None, turn_id: None }
}

/// Generators of one shape class each: `n` is the length of the chain or
/// list, or the nesting depth.
fn shapes() -> Vec<(&'static str, Box<dyn Fn(usize) -> String>)> {
    let chain = |op: &'static str, term: &'static str| move |n: usize| vec![term; n + 1].join(op);
    vec![
        ("binary chain", Box::new(move |n| format!("SELECT {} AS x FROM sales.orders", chain(" + ", "total")(n)))),
        ("AND chain", Box::new(move |n| format!("SELECT region FROM sales.orders WHERE {}", chain(" AND ", "total > 1")(n)))),
        ("OR chain", Box::new(move |n| format!("SELECT region FROM sales.orders WHERE {}", chain(" OR ", "region = 'emea'")(n)))),
        ("concatenation chain", Box::new(move |n| format!("SELECT {} AS x FROM sales.orders", chain(" || ", "region")(n)))),
        ("comparison chain", Box::new(move |n| format!("SELECT region FROM sales.orders WHERE {}", chain(" = ", "total")(n)))),
        ("cast chain", Box::new(move |n| format!("SELECT total{} AS x FROM sales.orders", "::text".repeat(n)))),
        ("NOT chain", Box::new(move |n| format!("SELECT region FROM sales.orders WHERE {}total > 1", "NOT ".repeat(n)))),
        ("unary minus chain", Box::new(move |n| format!("SELECT {}total AS x FROM sales.orders", "- ".repeat(n)))),
        ("set operations", Box::new(move |n| chain(" UNION ", "SELECT region FROM sales.orders")(n))),
        ("nested parentheses", Box::new(move |n| format!("SELECT {}total{} AS x FROM sales.orders", "(".repeat(n), ")".repeat(n)))),
        ("nested subqueries", Box::new(move |n| {
            let mut sql = "SELECT region FROM sales.orders".to_string();
            for i in 0..n {
                sql = format!("SELECT region FROM ({sql}) AS t{i}");
            }
            sql
        })),
        ("nested scalar subqueries", Box::new(move |n| format!("SELECT {}max(total){} AS x FROM sales.orders", "(SELECT ".repeat(n), ")".repeat(n)))),
        ("nested CASE", Box::new(move |n| format!("SELECT {}total{} AS x FROM sales.orders", "CASE WHEN total > 1 THEN ".repeat(n), " END".repeat(n)))),
        ("nested function calls", Box::new(move |n| format!("SELECT {}total{} AS x FROM sales.orders", "abs(".repeat(n), ")".repeat(n)))),
        ("chains inside nested parentheses", Box::new(move |n| {
            let inner = chain(" + ", "total")(16);
            format!("SELECT {}{inner}{} AS x FROM sales.orders", format!("({inner} + ").repeat(n), ")".repeat(n))
        })),
        ("long IN list", Box::new(move |n| format!("SELECT region FROM sales.orders WHERE total IN ({})", vec!["1"; n.max(1)].join(", ")))),
        ("many joins", Box::new(move |n| {
            let mut sql = "SELECT o0.region FROM sales.orders AS o0".to_string();
            for i in 1..n.max(1) {
                sql.push_str(&format!(" JOIN sales.orders AS o{i} ON o{i}.order_id = o0.order_id"));
            }
            sql
        })),
        ("many select items", Box::new(move |n| format!("SELECT {} FROM sales.orders", vec!["region"; n.max(1)].join(", ")))),
    ]
}

/// Whether the statement is refused as too complex, or by sqlparser
/// (which bounds its own recursion, and gives up on some deep shapes).
fn refused_for_size(e: &AnalysisError) -> bool {
    matches!(e, AnalysisError::TooComplex(_) | AnalysisError::Unparsable(_))
}

/// The largest `n` for which `prepare` accepts the statement.
fn deepest_accepted(schema: &Schema, shape: &dyn Fn(usize) -> String) -> usize {
    let (mut ok, mut bad) = (1usize, 200_000usize);
    assert!(prepare(schema, Dialect::Postgres, &shape(ok)).is_ok(), "the smallest statement is accepted: {}", shape(ok));
    while bad - ok > 1 {
        let mid = (ok + bad) / 2;
        match prepare(schema, Dialect::Postgres, &shape(mid)) {
            Ok(_) => ok = mid,
            Err(e) => {
                assert!(refused_for_size(&e), "n={mid} is refused for another reason: {e}");
                bad = mid;
            }
        }
    }
    ok
}

/// Analyze, plan, rewrite, re-analyze the rewrite, print and drop.
fn whole_path(policy: &Policy, schema: &Schema, sql: &str) -> Result<String, String> {
    let viewer = Viewer::new(policy, &analyst()).map_err(|e| e.to_string())?;
    let prepared = prepare(schema, Dialect::Postgres, sql).map_err(|e| e.to_string())?;
    let plan = Plan::build(schema, policy, &viewer, prepared.shape.table_ids(), Mode::Full, Dialect::Postgres).map_err(|v| v.message)?;
    let enforced = enforce(&prepared, schema, policy, &viewer, &plan, Some(100)).map_err(|r| r.to_string())?;
    let mut again = parse_rewritten(Dialect::Postgres, &enforced.sql).map_err(|e| format!("rewrite does not parse: {e}"))?;
    analyze(schema, Dialect::Postgres, &mut again, &NoHooks).map_err(|e| format!("rewrite does not analyze: {e}"))?;
    let printed = again.to_string();
    drop(again);
    Ok(printed)
}

/// Run `f` on a thread with the server's worker stack.
fn on_worker_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new().stack_size(STACK_BYTES).spawn(f).expect("spawn").join().unwrap_or_else(|_| panic!("panicked"))
}

#[test]
fn deepest_accepted_queries_fit_the_stack() {
    let report = on_worker_stack(|| {
        let (policy, schema) = load();
        let mut report = Vec::new();
        for (name, shape) in shapes() {
            let n = deepest_accepted(&schema, &*shape);
            // Refusals by the data rules are fine; what matters is that the
            // whole path ran without overflowing.
            let outcome = whole_path(&policy, &schema, &shape(n)).map(|_| ());
            report.push(format!("{name}: deepest accepted n={n} ({outcome:?})"));
            let e = prepare(&schema, Dialect::Postgres, &shape(n + 1)).err().unwrap_or_else(|| panic!("{name}: n={} is accepted", n + 1));
            assert!(refused_for_size(&e), "{name}: n={} refused for another reason: {e}", n + 1);
        }
        report
    });
    eprintln!("{}", report.join("\n"));
}

#[test]
fn statements_up_to_the_body_limit_are_refused_with_a_reason() {
    let (_, schema) = load();
    // The agent body limit is 256 KiB; every shape at that size.
    for (name, shape) in shapes() {
        let mut n = 1024;
        while shape(n).len() < 250 * 1024 {
            n *= 2;
        }
        let sql = shape(n);
        let schema = schema.clone();
        // On tokio's default worker stack: nothing is walked.
        let e = std::thread::Builder::new()
            .stack_size(2 * 1024 * 1024)
            .spawn(move || prepare(&schema, Dialect::Postgres, &sql).err())
            .expect("spawn")
            .join()
            .unwrap_or_else(|_| panic!("{name}: panicked"))
            .unwrap_or_else(|| panic!("{name}: a {n}-long statement was accepted"));
        assert!(refused_for_size(&e), "{name}: {e}");
        assert!(e.to_string().contains("limit"), "{name}: the reason names the limit: {e}");
    }
}

#[test]
fn the_documented_limits_hold() {
    let (_, schema) = load();
    let ok = |sql: &str| prepare(&schema, Dialect::Postgres, sql).map(|_| ());
    let select_items = |n: usize| format!("SELECT {} FROM sales.orders", vec!["region"; n].join(", "));
    assert!(ok(&select_items(MAX_SELECT_ITEMS)).is_ok());
    assert!(matches!(ok(&select_items(MAX_SELECT_ITEMS + 1)), Err(AnalysisError::TooComplex(m)) if m.contains("SELECT list")));
    // `*` expansion counts too: 5 columns x 201 copies of the table.
    let star = format!("SELECT {} FROM sales.orders", vec!["*"; 201].join(", "));
    assert!(matches!(ok(&star), Err(AnalysisError::TooComplex(m)) if m.contains("SELECT list")), "{:?}", ok(&star));
    let in_list = |n: usize| format!("SELECT region FROM sales.orders WHERE total IN ({})", vec!["1"; n].join(","));
    assert!(ok(&in_list(MAX_IN_LIST)).is_ok());
    assert!(matches!(ok(&in_list(MAX_IN_LIST + 1)), Err(AnalysisError::TooComplex(m)) if m.contains("IN list")));
    let tables = |n: usize| format!("SELECT o0.region FROM {}", (0..n).map(|i| format!("sales.orders AS o{i}")).collect::<Vec<_>>().join(", "));
    assert!(ok(&tables(MAX_JOINS)).is_ok());
    assert!(matches!(ok(&tables(MAX_JOINS + 1)), Err(AnalysisError::TooComplex(m)) if m.contains("FROM")));
    let unions = |n: usize| vec!["SELECT region FROM sales.orders"; n + 1].join(" UNION ALL ");
    assert!(ok(&unions(MAX_SET_OPERATIONS)).is_ok());
    assert!(matches!(ok(&unions(MAX_SET_OPERATIONS + 1)), Err(AnalysisError::TooComplex(m)) if m.contains("set operations")));
    let long = format!("SELECT region FROM sales.orders WHERE region = '{}'", "x".repeat(MAX_SQL_BYTES));
    assert!(matches!(ok(&long), Err(AnalysisError::TooComplex(m)) if m.contains("bytes")));
    // Quoted names that look like operators do not count.
    let quoted = format!("SELECT {} FROM sales.orders", vec!["\"and\""; 400].join(", "));
    assert!(!matches!(ok(&quoted), Err(AnalysisError::TooComplex(_))));
}

#[test]
fn the_estimate_never_undercounts_a_chain() {
    let dialect = Dialect::Postgres.parser_dialect();
    for n in [1usize, 10, 100] {
        let sql = format!("SELECT {} FROM t", vec!["a"; n + 1].join(" + "));
        let tokens = sqlparser::tokenizer::Tokenizer::new(&*dialect, &sql).tokenize().expect("tokens");
        assert!(bounds::estimate(&tokens).depth > n, "{n}");
    }
    // Commas separate items: a long list of short items is shallow.
    let sql = format!("SELECT {} FROM t", vec!["a + 1"; 500].join(", "));
    let tokens = sqlparser::tokenizer::Tokenizer::new(&*dialect, &sql).tokenize().expect("tokens");
    assert!(bounds::estimate(&tokens).depth < 5);
    // ... but not across a set operation.
    let sql = vec!["SELECT a, b FROM t"; 10].join(" UNION ");
    let tokens = sqlparser::tokenizer::Tokenizer::new(&*dialect, &sql).tokenize().expect("tokens");
    assert!(bounds::estimate(&tokens).depth >= 10);
}

#[test]
fn deep_policy_sql_is_refused_at_load_with_a_reason() {
    let (policy, _) = load();
    let schema = Schema::from_policy(&policy);
    let filter = vec!["total > 1"; 5_000].join(" AND ");
    let orders = schema.by_asset("sales/orders").expect("sales/orders is in the fixture catalog");
    let e = steward_sql::compile::check_filter(&schema, Dialect::Postgres, orders, &filter).expect_err("refused");
    assert!(matches!(e, AnalysisError::TooComplex(_)), "{e}");
}

/// Chains the depth estimate counts as flat or as operators: subscripts,
/// field access, IS / COLLATE / AT TIME ZONE chains, JSON arrows. At the
/// statement size limit, none may crash the host, whether it is accepted or
/// not.
#[test]
fn odd_chains_at_the_size_limit_never_crash() {
    let (policy, schema) = load();
    let body = MAX_SQL_BYTES - 16;
    let fill = |head: &str, unit: &str, tail: &str| format!("{head}{}{tail}", unit.repeat((body - head.len() - tail.len()) / unit.len()));
    let shapes = [
        fill("SELECT total", "[1]", " AS x FROM sales.orders"),
        fill("SELECT (total)", ".a", " AS x FROM sales.orders"),
        fill("SELECT sales.orders", ".total", " AS x FROM sales.orders"),
        fill("SELECT region FROM sales.orders WHERE total", " IS NULL", ""),
        fill("SELECT region", " COLLATE \"C\"", " AS x FROM sales.orders"),
        fill("SELECT ordered_at", " AT TIME ZONE 'UTC'", " AS x FROM sales.orders"),
        fill("SELECT region", " -> 'a'", " AS x FROM sales.orders"),
        fill("SELECT region FROM sales.orders WHERE region", " = ANY(ARRAY['a'])", ""),
        fill("SELECT ", "ARRAY[", "1"),
        fill("SELECT region FROM sales.orders ORDER BY ", "region, ", "region"),
        fill("SELECT region FROM sales.orders GROUP BY ", "region, ", "region"),
        fill("SELECT region FROM sales.orders ", "WHERE ", "1"),
        fill("", ";", ""),
        fill("SELECT '", "'' ", "'"),
    ];
    for sql in shapes {
        let (policy, schema) = (policy.clone(), schema.clone());
        let head: String = sql.chars().take(40).collect();
        let outcome = on_worker_stack(move || whole_path(&policy, &schema, &sql).map(|_| ()));
        eprintln!("{head}...: {:?}", outcome.map_err(|e| e.chars().take(120).collect::<String>()));
    }
}

/// The re-cap of an accepted rewrite prints back as itself (what runs is
/// what was proven), and refuses text that would not.
#[test]
fn recap_keeps_what_was_proven() {
    let capped = steward_sql::rewrite::recap("SELECT region FROM sales.orders LIMIT 100", Dialect::Postgres, 7).expect("recap");
    assert!(capped.ends_with("LIMIT 7"), "{capped}");
    let raw = steward_sql::rewrite::recap("SELECT R'x'', c_phone, ''y' FROM t LIMIT 10", Dialect::Generic, 7);
    assert!(raw.is_err(), "{raw:?}");
}

/// Shapes the review found the first estimate scored low: PostgreSQL's
/// right-nested JOIN chain without ON, array types `int[][]...`, casts to
/// `STRUCT<..., ...>` chained, and CTEs multiplying `*` expansion. Each is
/// refused before it can exhaust the stack or memory.
#[test]
fn shapes_that_nest_without_brackets_are_counted() {
    let (_, schema) = load();
    let near_limit = |unit: &str, head: &str, tail: &str| format!("{head}{}{tail}", unit.repeat((MAX_SQL_BYTES - head.len() - tail.len() - 8) / unit.len()));
    let shapes = [
        (Dialect::Postgres, near_limit(" JOIN sales.orders", "SELECT 1 FROM sales.orders", "")),
        (Dialect::Postgres, near_limit(" JOIN\"t\"", "SELECT 1 FROM t", "")),
        (Dialect::Postgres, near_limit("[]", "SELECT total::int", " AS x FROM sales.orders")),
        (Dialect::Postgres, near_limit("[]", "SELECT CAST(total AS int", ") AS x FROM sales.orders")),
        (Dialect::Postgres, near_limit("[1]", "SELECT total", " AS x FROM sales.orders")),
        (Dialect::Generic, near_limit("::STRUCT<a INT, b INT>", "SELECT total", " AS x FROM sales.orders")),
    ];
    for (dialect, sql) in shapes {
        let head: String = sql.chars().take(50).collect();
        let schema = schema.clone();
        // On tokio's default stack: refused before anything is walked.
        let e = std::thread::Builder::new()
            .stack_size(2 * 1024 * 1024)
            .spawn(move || prepare(&schema, dialect, &sql).err())
            .unwrap()
            .join()
            .unwrap_or_else(|_| panic!("{head}: panicked"));
        assert!(matches!(e, Some(AnalysisError::TooComplex(_))), "{head}...: {e:?}");
    }
    // CTEs that each expand `*` over a wide one.
    let wide = (0..1000).map(|i| format!("1 AS a{i}")).collect::<Vec<_>>().join(", ");
    let ctes = (1..60).map(|i| format!("c{i} AS (SELECT * FROM c0)")).collect::<Vec<_>>().join(", ");
    let sql = format!("WITH c0 AS (SELECT {wide} FROM sales.orders), {ctes} SELECT region FROM sales.orders");
    let e = on_worker_stack(move || prepare(&load().1, Dialect::Postgres, &sql).err());
    assert!(matches!(&e, Some(AnalysisError::TooComplex(m)) if m.contains("in one statement")), "{e:?}");
}
