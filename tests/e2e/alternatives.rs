//! The alternatives the gate offers for a denied statement are each
//! allowed: every statement the SQL query suite (host/sql/tests/
//! queries.toml) expects denied, plus the demo's own denials, asked by
//! each demo caller; every alternative offered is then run as the same
//! caller and must be allowed.

use serde_json::{Value, json};

use crate::harness::{Options, Server, agent_token, decision, token};

/// The statements to ask: the suite's denials, and denials of the demo
/// policy that have somewhere to go (a curated table, readable columns,
/// an aggregate form).
fn statements() -> Vec<String> {
    let text = std::fs::read_to_string(crate::harness::repo().join("host/sql/tests/queries.toml")).unwrap();
    let suite: toml::Value = toml::from_str(&text).unwrap();
    let mut out: Vec<String> = suite["case"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c.get("expect").and_then(|e| e.as_str()) == Some("deny"))
        .filter_map(|c| c.get("sql").and_then(|s| s.as_str()).map(str::to_string))
        .collect();
    assert!(out.len() > 100, "the suite has {} denials", out.len());
    out.extend(
        [
            "SELECT employee_id, salary FROM hr.salaries",
            "SELECT * FROM hr.employees",
            "SELECT name, email, national_id, region FROM sales.customers",
            "SELECT customer_id, card_number FROM sales.customers WHERE region = 'emea'",
            "SELECT * FROM sales.customers",
            "SELECT entry_id, amount FROM finance.ledger",
        ]
        .map(String::from),
    );
    out
}

#[test]
fn no_alternative_offered_for_a_denied_query_is_itself_denied() {
    // Budgets are not what this test is about: running hundreds of
    // alternatives must not spend them.
    let roomy_budgets = |dir: &std::path::Path| {
        let path = dir.join("data.toml");
        let text = std::fs::read_to_string(&path).unwrap().replace("_per_day = ", "_per_day = 1000000");
        std::fs::write(path, text).unwrap();
    };
    let server = Server::start(Options { plugins: &[], edit_policies: Some(&roomy_budgets), ..Default::default() });
    let callers = [
        ("bob", token("bob")),
        ("scout for bob", agent_token("bob", "scout", "t1")),
        ("carol", token("carol")),
        ("copilot for carol", agent_token("carol", "copilot", "t1")),
        ("alice", token("alice")),
        ("copilot for alice", agent_token("alice", "copilot", "t1")),
    ];
    let (mut denied, mut offered) = (0, 0);
    let mut kinds = std::collections::BTreeSet::new();
    for sql in statements() {
        for (who, token) in &callers {
            let (_, answer) = server.query(token, json!({ "sql": sql }));
            if decision(&answer) == "allow" {
                continue;
            }
            denied += 1;
            for alternative in answer["instead"]["alternatives"].as_array().into_iter().flatten() {
                offered += 1;
                kinds.insert(alternative["kind"].as_str().unwrap().to_string());
                let (_, ran) = server.query(token, json!({ "sql": alternative["sql"] }));
                assert_eq!(decision(&ran), "allow", "{who}: for {sql:?} the gate offered {alternative}, which is {ran}");
                assert!(alternative["probe"].as_str().is_some_and(|p| !p.is_empty()), "{alternative}");
            }
        }
    }
    eprintln!("{denied} denied statements, {offered} alternatives offered, each allowed when run");
    assert!(denied > 300 && offered > 50, "{denied} denied, {offered} offered");
    assert_eq!(kinds.into_iter().collect::<Vec<_>>(), ["aggregate", "curated", "readable-columns"]);
}

#[test]
fn a_denied_query_is_answered_with_checked_alternatives_recorded_as_probes() {
    let server = Server::start(Options { plugins: &[], ..Default::default() });
    let carol = token("carol");
    let (_, answer) = server.query(&carol, json!({ "sql": "SELECT employee_id, salary FROM hr.salaries" }));
    assert_eq!(decision(&answer), "deny", "{answer}");
    let alternatives = answer["instead"]["alternatives"].as_array().expect("alternatives");
    let aggregate = alternatives.iter().find(|a| a["kind"] == "aggregate").expect("an aggregate form");
    let sql = aggregate["sql"].as_str().unwrap();
    assert!(sql.contains("GROUP BY department") && sql.contains("avg(salary)"), "grouped by a dimension, not a key: {sql}");
    let (_, ran) = server.query(&carol, json!({ "sql": sql }));
    assert_eq!(decision(&ran), "allow", "{ran}");
    assert!(ran["rewritten_sql"].as_str().unwrap().contains(">= 5"), "minimum group size: {ran}");

    // Each dry run is an audit record of type probe, naming the request
    // it was made for, with nothing returned.
    let conn = rusqlite::Connection::open(server.audit_db()).unwrap();
    let mut statement = conn.prepare("SELECT body FROM audit ORDER BY seq").unwrap();
    let records: Vec<Value> = statement.query_map([], |r| r.get::<_, String>(0)).unwrap().map(|b| serde_json::from_str(&b.unwrap()).unwrap()).collect();
    let probe = records.iter().find(|r| r["request_id"] == aggregate["probe"]).expect("the probe is recorded");
    assert_eq!((&probe["type"], &probe["parent"], &probe["decision"]), (&json!("probe"), &answer["request_id"], &json!("allow")), "{probe}");
    assert!(probe["query"].get("row_count").is_none(), "a probe returns nothing: {probe}");
}
