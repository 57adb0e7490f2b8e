//! Tool plugins (steward:guardrail@0.3.0) that call Steward back as their
//! caller: offered per caller, run over HTTP, every call-back a request of
//! the caller's own, recorded with its parent; and a hostile tool's
//! attempts to launder identity, each refused and recorded.

use serde_json::{Value, json};

use crate::harness::{Options, Server, agent_token, decision, token};

const LAUNDERING_MANIFEST: &str = r#"
name = "laundering-tool"
version = "1.0.0"
world = "tool"
scope = []
[limits]
timeout_ms = 200
max_calls = 4
"#;

const QUERY_TOOL_MANIFEST: &str = r#"
name = "query-tool"
version = "1.0.0"
world = "tool"
scope = []
[limits]
timeout_ms = 200
max_calls = 1
"#;

fn invoke(server: &Server, token: &str, tool: &str, arguments: Value) -> (u16, Value) {
    let (status, text) = server.post_raw(&format!("/v1/tools/{tool}"), token, &json!({ "arguments": arguments }).to_string());
    (status, serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}")))
}

fn tool_names(server: &Server, token: &str) -> Vec<String> {
    let (status, text) = server.get_as("/v1/tools", token);
    assert_eq!(status, 200, "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    v["tools"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap().to_string()).collect()
}

/// Every audit record, oldest first (each answer was recorded before it
/// left).
fn children_of<'a>(records: &'a [Value], parent: &str) -> Vec<&'a Value> {
    records.iter().filter(|r| r["parent"] == parent).collect()
}

fn start() -> Server {
    let server = Server::start(Options { plugins: &["finance-sop", "significance-scorer"], ..Default::default() });
    for (name, manifest) in [("laundering-tool", LAUNDERING_MANIFEST), ("query-tool", QUERY_TOOL_MANIFEST)] {
        let (status, body) = server.upload(name, manifest, "", true);
        assert_eq!(status, 200, "{name}: {body}");
    }
    server
}

#[test]
fn a_tool_runs_as_its_caller_and_each_call_back_names_its_parent() {
    let server = start();
    let scout = agent_token("bob", "scout", "t7");
    assert!(tool_names(&server, &scout).contains(&"query-tool".to_string()));

    let (status, body) = invoke(&server, &scout, "query-tool", json!({"sql": "SELECT customer_id, region FROM sales.customers"}));
    assert_eq!(status, 200, "{body}");
    assert_eq!(decision(&body), "allow", "{body}");
    let output = &body["output"];
    assert_eq!(output["decision"], "allow", "{body}");
    // Bob's row filter applies: the tool saw what scout for bob may see.
    assert!(output["row_filters"].to_string().contains("sales-own-region"), "{output}");
    let regions: Vec<&Value> = output["rows"].as_array().unwrap().iter().map(|r| &r[1]).collect();
    assert!(!regions.is_empty() && regions.iter().all(|r| *r == "emea"), "{regions:?}");

    let all = server.records();
    let invocation = all.iter().find(|r| r["request_id"] == body["request_id"]).expect("the invocation is recorded");
    assert_eq!(invocation["tool"], "query-tool");
    assert_eq!(invocation["door"], "http");
    assert_eq!(invocation["action"], "sql.read");
    assert_eq!(invocation["decided_by"][0]["name"], "query-tool", "the record names the tool version that ran: {invocation}");
    let nested = children_of(&all, body["request_id"].as_str().unwrap());
    assert_eq!(nested.len(), 1, "{nested:?}");
    let n = nested[0];
    assert_eq!(n["request_id"], output["request_id"]);
    assert_eq!((&n["principal"], &n["on_behalf_of"], &n["session_id"], &n["turn_id"]), (&json!("scout"), &json!("bob"), &json!("session-e2e"), &json!("t7")));
    assert_eq!((&n["door"], &n["tool"]), (&json!("tool"), &json!("query-tool")));
    assert!(n["query"]["sql"].as_str().unwrap().contains("sales.customers"), "{n}");
}

#[test]
fn identity_laundering_through_a_tool_is_refused_and_recorded() {
    let server = start();
    let scout = agent_token("bob", "scout", "t1");

    // Claiming to be alice in every text it writes changes nothing: the
    // gate sees scout for bob.
    let (_, body) = invoke(&server, &scout, "laundering-tool", json!({"attempt": "as-other"}));
    assert_eq!(decision(&body), "allow", "{body}");
    let got = &body["output"]["got"];
    assert_eq!(got["decide"]["decision"], "deny", "agents never read salaries: {got}");
    assert!(got["query"]["row_filters"].to_string().contains("sales-own-region"), "bob's row filter: {got}");
    let all = server.records();
    let nested = children_of(&all, body["request_id"].as_str().unwrap());
    assert_eq!(nested.len(), 2);
    for n in &nested {
        assert_eq!((&n["principal"], &n["on_behalf_of"]), (&json!("scout"), &json!("bob")), "{n}");
    }

    // Beyond its caller's grants: denied, recorded under the invocation.
    let (_, body) = invoke(&server, &scout, "laundering-tool", json!({"attempt": "exceed-grants"}));
    let got = &body["output"]["got"];
    assert_eq!(got["query"]["decision"], "deny", "{got}");
    assert!(got["query"]["rows"].as_array().is_none_or(Vec::is_empty));
    let all = server.records();
    let nested = children_of(&all, body["request_id"].as_str().unwrap());
    assert_eq!(nested.len(), 1);
    assert_eq!((&nested[0]["decision"], &nested[0]["principal"]), (&json!("deny"), &json!("scout")));

    // Catalog entries its caller may not see: neither the catalog import
    // nor the call-back shows them.
    let (_, body) = invoke(&server, &scout, "laundering-tool", json!({"attempt": "hidden-catalog"}));
    let got = &body["output"]["got"];
    assert_eq!(got["lookup"], Value::Null, "{got}");
    assert_eq!(got["children"], json!([]), "{got}");
    assert_eq!(got["call-back"]["item"], Value::Null, "{got}");
    let everything = got["everything"].to_string();
    assert!(everything.contains("sales/customers") && !everything.contains("hr/"), "{everything}");

    // More call-backs than its manifest allows: the fifth and later are
    // refused, and each refusal is recorded under the invocation.
    let (_, body) = invoke(&server, &scout, "laundering-tool", json!({"attempt": "flood"}));
    assert_eq!(body["output"]["got"], json!({"answered": 4, "refused": 16}), "{body}");
    let all = server.records();
    let nested = children_of(&all, body["request_id"].as_str().unwrap());
    assert_eq!(nested.len(), 20);
    let refused = nested.iter().filter(|r| r["reasons"].to_string().contains("limits.max_calls")).count();
    assert_eq!(refused, 16, "{nested:?}");

    // Keeping a caller for a later call: the same agent in a later turn is
    // recorded as that turn; another human's agent never meets the first
    // caller's instance.
    let copilot_t1 = agent_token("alice", "copilot", "turn-1");
    let copilot_t2 = agent_token("alice", "copilot", "turn-2");
    let copilot_for_bob = agent_token("bob", "copilot", "turn-3");
    let (_, first) = invoke(&server, &copilot_t1, "laundering-tool", json!({"attempt": "remember"}));
    let (_, second) = invoke(&server, &copilot_t2, "laundering-tool", json!({"attempt": "remember"}));
    let (_, other) = invoke(&server, &copilot_for_bob, "laundering-tool", json!({"attempt": "remember"}));
    assert_eq!(first["output"]["got"]["remembered"]["turn"], "turn-1", "{first}");
    assert_eq!(other["output"]["got"]["remembered"]["on_behalf_of"], "bob", "bob's agent got alice's instance: {other}");
    let all = server.records();
    for (answer, turn, human) in [(&second, "turn-2", "alice"), (&other, "turn-3", "bob")] {
        let nested = children_of(&all, answer["request_id"].as_str().unwrap());
        assert_eq!(nested.len(), 1);
        assert_eq!((&nested[0]["turn_id"], &nested[0]["on_behalf_of"]), (&json!(turn), &json!(human)), "{answer}");
    }

    // A call-back with no caller (during describe, at load) was refused:
    // otherwise the tool would not have loaded.
    assert!(server.log().contains("a tool called back outside an invocation"), "{}", server.log());
}

#[test]
fn a_tools_deadline_counts_its_call_backs() {
    // The warehouse would let the query run 60 s; the tool's deadline (its
    // wall-clock backstop: 2 s for a 200 ms budget) ends it, and a
    // call-back asked after it is refused and recorded.
    let server = Server::start(Options { plugins: &[], extra_args: &["--query-timeout-ms", "60000"], ..Default::default() });
    let (status, body) = server.upload("laundering-tool", LAUNDERING_MANIFEST, "", true);
    assert_eq!(status, 200, "{body}");
    let (_, body) = invoke(&server, &token("bob"), "laundering-tool", json!({"attempt": "slow"}));
    // The tool is ended as soon as it runs again after its deadline; had it
    // asked for more first, that call-back would have been refused.
    assert_eq!(decision(&body), "deny", "{body}");
    assert!(body["reasons"].to_string().contains("the backstop"), "{body}");
    let all = server.records();
    let nested = children_of(&all, body["request_id"].as_str().unwrap());
    assert!(!nested.is_empty() && nested.len() <= 2, "{nested:?}");
    assert!(nested[0]["reasons"].to_string().contains("past its deadline"), "{}", nested[0]);
    assert!(nested[0]["latency_us"].as_u64().unwrap() < 30_000_000, "ended by the tool's deadline, not the warehouse's: {}", nested[0]);
    if let Some(after) = nested.get(1) {
        assert!(after["reasons"].to_string().contains("deadline has passed"), "{after}");
    }
}

#[test]
fn a_tool_not_offered_is_refused_and_recorded() {
    // Agents may never preview here: a tool declaring sql.read stays
    // offered, and one declaring it to a caller the policy forbids is not.
    let forbid = |dir: &std::path::Path| {
        let path = dir.join("actions.toml");
        let text = std::fs::read_to_string(&path).unwrap().replace("agent = [\"iam.provision_identity\"", "agent = [\"sql.read\", \"iam.provision_identity\"");
        std::fs::write(path, text).unwrap();
    };
    let server = Server::start(Options { plugins: &[], edit_policies: Some(&forbid), ..Default::default() });
    let (status, body) = server.upload("query-tool", QUERY_TOOL_MANIFEST, "", true);
    assert_eq!(status, 200, "{body}");
    let scout = agent_token("bob", "scout", "t1");
    assert!(!tool_names(&server, &scout).contains(&"query-tool".to_string()));
    assert!(tool_names(&server, &token("bob")).contains(&"query-tool".to_string()));
    let (status, body) = invoke(&server, &scout, "query-tool", json!({"sql": "SELECT region FROM sales.orders"}));
    assert_eq!((status, decision(&body)), (200, "deny"), "{body}");
    assert!(body.get("output").is_none());
    let all = server.records();
    let record = all.iter().find(|r| r["request_id"] == body["request_id"]).unwrap();
    assert_eq!((&record["decision"], &record["tool"]), (&json!("deny"), &json!("query-tool")));
    assert!(children_of(&all, body["request_id"].as_str().unwrap()).is_empty(), "nothing ran");
    let (_, unknown) = invoke(&server, &scout, "no-such-tool", json!({}));
    assert_eq!(decision(&unknown), "deny");
}

#[test]
fn the_shipped_data_user_tools_through_the_mcp_sdk() {
    let server = Server::start(Options {
        plugins: &["finance-sop", "significance-scorer", "suggest-alternatives", "explore", "draft-access-request"],
        ..Default::default()
    });
    let scout = agent_token("bob", "scout", "t1");
    let call = |token: &str, name: &str, arguments: Value| json!({"token": token, "op": "call_tool", "name": name, "arguments": arguments});
    let plan = json!([
        {"token": scout, "op": "list_tools"},
        call(&scout, "suggest-alternatives", json!({"sql": "SELECT customer_id, card_number, region FROM sales.customers", "question": "churn by signup cohort"})),
        call(&scout, "suggest-alternatives", json!({"sql": "SELECT name, signup_ip FROM sales.customers"})),
        call(&scout, "explore", json!({"table": "sales/customers", "task": "signups per region"})),
        call(&scout, "explore", json!({"table": "hr/salaries", "task": "pay bands"})),
        call(&scout, "draft-access-request", json!({"sql": "SELECT customer_id, card_number FROM sales.customers", "purpose": "card fraud review", "duration_days": 14})),
        call(&scout, "draft-access-request", json!({"assets": ["finance/ledger"], "action": "sql.write", "purpose": "correct entries", "duration_days": 3})),
    ]);
    let r = crate::mcp::sdk(&server, "auto", &plan);
    let tools = r[0]["tools"].to_string();
    for t in ["suggest-alternatives", "explore", "draft-access-request", "query", "catalog"] {
        assert!(tools.contains(t), "{t} is offered: {tools}");
    }

    // Alternatives for a denied query: each one is allowed when run, as
    // the same caller, through the query tool.
    let mut runs = Vec::new();
    for i in [1, 2] {
        assert_eq!(r[i]["is_error"], false, "{}", r[i]);
        let out = &r[i]["structured"]["output"];
        assert_eq!(out["statement"]["decision"], "deny", "{out}");
        let alternatives = out["alternatives"].as_array().unwrap();
        assert!(!alternatives.is_empty(), "{out}");
        for a in alternatives {
            runs.push((a.clone(), call(&scout, "query", json!({"sql": a["sql"]}))));
        }
    }
    let kinds: Vec<&str> = runs.iter().map(|(a, _)| a["kind"].as_str().unwrap()).collect();
    for kind in ["curated", "readable-columns", "aggregate", "owner-advice"] {
        assert!(kinds.contains(&kind), "{kind} among {kinds:?}");
    }
    let ran = crate::mcp::sdk(&server, "auto", &Value::Array(runs.iter().map(|(_, c)| c.clone()).collect()));
    for ((alternative, _), answer) in runs.iter().zip(&ran) {
        assert_eq!(answer["structured"]["decision"], "allow", "{alternative} was offered but {answer}");
    }

    // A preview fitted to the declared task: the task's columns, bob's
    // region only, sampled, within the budget.
    let preview = &r[3]["structured"]["output"];
    assert_eq!(preview["decision"], "allow", "{}", r[3]);
    // The columns whose names share a word with the task, nothing else.
    assert_eq!(preview["fitted_columns"], json!(["region", "signup_date", "signup_ip"]), "{preview}");
    assert!(preview["masked"].to_string().contains("sales.customers.signup_ip"), "a preview masks it: {preview}");
    let rows = preview["rows"].as_array().unwrap();
    assert!(!rows.is_empty() && rows.len() <= 10, "{preview}");
    assert!(rows.iter().all(|row| row[0] == "emea"), "bob's region only: {preview}");
    assert!(preview["budget"]["scout"].is_object(), "{preview}");
    // A table the caller may not know exists: refused, and it says so.
    assert_eq!(r[4]["is_error"], true, "{}", r[4]);
    assert!(r[4].to_string().contains("no table at"), "{}", r[4]);

    // Drafts name the owners who would decide.
    let draft = &r[5]["structured"]["output"]["draft"];
    assert_eq!(draft["owners"], json!([{"team": "sales-team", "assets": ["sales/customers"]}]), "{draft}");
    assert_eq!((&draft["action"], &draft["duration"], &draft["principal"]["id"]), (&json!("sql.read"), &json!("P14D"), &json!("scout")));
    assert_eq!(draft["principal"]["on_behalf_of"], "bob", "{draft}");
    assert!(draft["columns"].to_string().contains("sales/customers.card_number"), "{draft}");
    assert_ne!(draft["current_decision"]["decision"], "allow", "{draft}");
    let draft = &r[6]["structured"]["output"]["draft"];
    assert_eq!(draft["owners"], json!([{"team": "finance-team", "assets": ["finance/ledger"]}]), "{draft}");
    assert_eq!(draft["current_decision"]["decision"], "escalate", "the finance SOP sends agents' writes to the team: {draft}");

    // Every call-back of every invocation is recorded as the caller, under
    // its invocation.
    let all = server.records();
    let invocations: Vec<&Value> = all.iter().filter(|r| r["door"] == "mcp" && ["suggest-alternatives", "explore", "draft-access-request"].contains(&r["tool"].as_str().unwrap_or(""))).collect();
    assert_eq!(invocations.len(), 6, "{invocations:?}");
    for inv in invocations {
        let nested = children_of(&all, inv["request_id"].as_str().unwrap());
        assert!(!nested.is_empty(), "{inv}");
        for n in nested {
            assert_eq!((&n["principal"], &n["tool"]), (&inv["principal"], &inv["tool"]), "{n}");
        }
    }
}
