//! Owners in the loop: an agent denied, a request drafted and submitted
//! over MCP (the official Python SDK), the owner's SOP reviewing it, a human
//! of the owning team approving it over HTTP, the grant used with its
//! conditions, ended by expiry or revocation; and every way an approval
//! must be refused.

use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{Options, Server, agent_token, decision, eventually, token};
use crate::mcp::sdk;

const LEDGER_ROWS: &str = "SELECT entry_id, account, amount FROM finance.ledger ORDER BY entry_id LIMIT 5";
const LEDGER_TOTALS: &str = "SELECT account, SUM(amount) AS total FROM finance.ledger GROUP BY account";

const GENEROUS_SOP: &str = r#"
name = "generous"
version = "1.0.0"
world = "sop"
scope = ["hr/**", "platform/**"]
[limits]
timeout_ms = 1000
memory_mib = 32
"#;

const GENEROUS_CASE: &str = r#"
[[case]]
name = "every decision goes to the owners"
principal = { id = "carol", kind = "human" }
action = "sql.read"
assets = ["hr/employees"]
expect = "escalate"

[[case]]
name = "it approves what it is asked"
principal = { id = "carol", kind = "human" }
action = "sql.read"
assets = ["hr/employees"]
purpose = "anything"
expect_access = "approve"
"#;

/// The access records of one request, as (step, state, principal).
fn steps(server: &Server, id: &str) -> Vec<(String, String, String)> {
    server.records()
        .into_iter()
        .filter(|r| r["type"] == "access" && r["access"]["request"] == id)
        .map(|r| (r["access"]["step"].as_str().unwrap().to_string(), r["access"]["state"].as_str().unwrap().to_string(), r["principal"].as_str().unwrap().to_string()))
        .collect()
}

fn post(server: &Server, path: &str, token: &str, body: Value) -> (u16, Value) {
    let (status, text) = server.post_raw(path, token, &body.to_string());
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

fn get(server: &Server, path: &str, token: &str) -> (u16, Value) {
    let (status, text) = server.get_as(path, token);
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

fn submit(server: &Server, token: &str, body: Value) -> Vec<Value> {
    let (status, answer) = post(server, "/v1/access-requests", token, body);
    assert_eq!(status, 201, "{answer}");
    answer["requests"].as_array().unwrap().clone()
}

fn approve(server: &Server, id: &str, token: &str, body: Value) -> (u16, Value) {
    post(server, &format!("/v1/access-requests/{id}/approve"), token, body)
}

#[test]
fn an_agent_denied_asks_over_mcp_an_owner_approves_the_grant_is_used_and_then_expires() {
    let server = Server::start(Options { plugins: &["finance-sop", "significance-scorer", "draft-access-request"], ..Default::default() });
    let scout = agent_token("bob", "scout", "t1");
    let query = json!({"sql": LEDGER_ROWS});

    // Denied: no grant, and the finance SOP sends agents without a task to the team.
    let (_, before) = server.query(&scout, query.clone());
    assert_ne!(decision(&before), "allow", "{before}");
    assert!(before["rows"].as_array().is_none_or(Vec::is_empty));

    // Drafted and submitted over MCP, as the agent.
    let drafted = sdk(&server, "auto", &json!([{"token": scout, "op": "call_tool", "name": "draft-access-request",
        "arguments": {"sql": LEDGER_ROWS, "purpose": "reconcile the Q3 ledger", "duration_days": 7}}]));
    let draft = drafted[0]["structured"]["output"]["draft"].clone();
    assert_eq!(draft["owners"], json!([{"team": "finance-team", "assets": ["finance/ledger"]}]), "{drafted:?}");
    let submitted = sdk(&server, "auto", &json!([{"token": scout, "op": "call_tool", "name": "request_access", "arguments": {"draft": draft}}]));
    assert_eq!(submitted[0]["is_error"], false, "{submitted:?}");
    let request = submitted[0]["structured"]["requests"][0].clone();
    let id = request["id"].as_str().unwrap().to_string();
    // Seven days is more than the SOP grants alone: it escalates to the team.
    assert_eq!((&request["state"], &request["team"]), (&json!("pending"), &json!("finance-team")), "{request}");
    assert_eq!(request["subject"], json!({"principal": "scout", "kind": "agent", "on_behalf_of": "bob"}));
    assert!(request["columns"].to_string().contains("finance/ledger.amount"), "{request}");
    let reviewed = request["history"].as_array().unwrap().iter().find(|s| s["step"] == "reviewed").expect("the SOP reviewed it");
    assert!(reviewed["by"].as_str().unwrap().starts_with("plugin:finance-sop@"), "{reviewed}");
    assert!(reviewed["note"].as_str().unwrap().starts_with("escalate"), "{reviewed}");

    // The requester, its human, an owner: each sees it; another human does not.
    let (alice, dana, carol, bob) = (token("alice"), token("dana"), token("carol"), token("bob"));
    let (status, shown) = get(&server, &format!("/v1/access-requests/{id}"), &alice);
    assert_eq!(status, 200, "{shown}");
    let digest = shown["digest"].as_str().unwrap().to_string();
    assert_eq!(digest, request["digest"].as_str().unwrap());
    assert_eq!(get(&server, &format!("/v1/access-requests/{id}"), &bob).0, 200);
    assert_eq!(get(&server, &format!("/v1/access-requests/{id}"), &carol).0, 404);
    let (_, listed) = get(&server, "/v1/access-requests?role=to-decide&state=pending", &alice);
    assert!(listed["requests"].as_array().unwrap().iter().any(|r| r["id"] == id.as_str()), "{listed}");

    // Refused approvals: the agent itself, its human, a non-owner, a digest
    // of something else.
    let grant = json!({"digest": digest, "conditions": {"masked": [{"column": "account", "method": "hash"}]}, "duration_seconds": 4});
    let (status, body) = approve(&server, &id, &scout, grant.clone());
    assert_eq!(status, 403, "an agent never approves: {body}");
    let (status, body) = approve(&server, &id, &bob, grant.clone());
    assert_eq!(status, 403, "nobody approves their own agent's request: {body}");
    assert!(body["error"].as_str().unwrap().contains("their own agent"), "{body}");
    let (status, _) = approve(&server, &id, &carol, grant.clone());
    assert_eq!(status, 404, "a non-owner may not even see it");
    let mut changed = grant.clone();
    changed["digest"] = json!("0".repeat(64));
    let (status, body) = approve(&server, &id, &alice, changed);
    assert_eq!(status, 409, "{body}");
    assert!(body["error"].as_str().unwrap().contains("changed since it was shown"), "{body}");
    let (status, body) = approve(&server, &id, &alice, json!({"digest": digest, "duration_seconds": 86400 * 30}));
    assert_eq!(status, 400, "never longer than asked: {body}");

    // An owner approves what she was shown, adding a mask and a shorter time.
    let (status, approved) = approve(&server, &id, &alice, grant.clone());
    assert_eq!(status, 200, "{approved}");
    assert_eq!(approved["state"], "approved");
    assert_eq!(approved["approval"]["by"], "alice");
    assert_eq!(approved["approval"]["digest"], digest.as_str());
    assert_ne!(approved["approval"]["grant_digest"], digest.as_str(), "the grant carries the mask too");
    // Used once: the same approval again is refused.
    let (status, body) = approve(&server, &id, &dana, grant.clone());
    assert_eq!(status, 409, "{body}");
    assert!(body["error"].as_str().unwrap().contains("used once"), "{body}");

    // The agent's next query is allowed, masked as the approval says, and
    // names the grant.
    let (_, after) = server.query(&scout, query.clone());
    assert_eq!(decision(&after), "allow", "{after}");
    assert_eq!(after["rows"].as_array().unwrap().len(), 5, "{after}");
    assert!(after["masked"].to_string().contains("account"), "{after}");
    let voter = format!("access-grant:{id}");
    assert!(after["decided_by"].to_string().contains(&voter), "{after}");
    assert_eq!(after["grants"][0]["access_request"], id.as_str(), "{after}");
    // Another turn of the same agent for the same human: the same subject.
    let (_, other_turn) = server.query(&agent_token("bob", "scout", "t2"), query.clone());
    assert_eq!(decision(&other_turn), "allow", "{other_turn}");
    // The human alone holds no such grant.
    let (_, human) = server.query(&bob, query.clone());
    assert_ne!(decision(&human), "allow", "{human}");

    // It expires by itself: the same query is refused again, and the
    // audit log holds every step.
    assert!(
        eventually(Duration::from_secs(15), || decision(&server.query(&scout, query.clone()).1) != "allow"),
        "the grant should have ended"
    );
    assert!(eventually(Duration::from_secs(5), || steps(&server, &id).iter().any(|(s, ..)| s == "expired")), "{:?}", steps(&server, &id));
    let steps = steps(&server, &id);
    let names: Vec<&str> = steps.iter().map(|(s, ..)| s.as_str()).collect();
    assert_eq!(names.iter().filter(|s| **s == "refused").count(), 6, "{steps:?}");
    for expected in ["submitted", "reviewed", "approved", "expired"] {
        assert!(names.contains(&expected), "{expected} missing from {steps:?}");
    }
    assert!(steps.iter().any(|(s, _, who)| s == "refused" && who == "carol"), "the non-owner's attempt is recorded: {steps:?}");
    assert!(steps.iter().any(|(s, _, who)| s == "submitted" && who == "scout"));
    let (_, gone) = get(&server, &format!("/v1/access-requests/{id}"), &alice);
    assert_eq!(gone["state"], "expired", "{gone}");
}

#[test]
fn the_owners_sop_grants_inside_the_ceiling_and_a_revocation_ends_it_on_the_next_request() {
    let server = Server::start(Options { plugins: &["finance-sop", "significance-scorer"], ..Default::default() });
    let scout = agent_token("bob", "scout", "t1");
    let requests = submit(&server, &scout, json!({"assets": ["finance/ledger"], "purpose": "task: month-end check", "duration_seconds": 3600}));
    let r = &requests[0];
    let id = r["id"].as_str().unwrap();
    assert_eq!(r["state"], "approved", "a short read for a declared task is the SOP's to grant: {r}");
    assert!(r["approval"]["by"].as_str().unwrap().starts_with("plugin:finance-sop@"), "{r}");
    assert_eq!((&r["conditions"]["aggregate_only"], &r["conditions"]["max_rows"]), (&json!(5), &json!(1000)), "{r}");

    // Aggregates only, as the SOP said.
    let (_, totals) = server.query(&scout, json!({"sql": LEDGER_TOTALS}));
    assert_eq!(decision(&totals), "allow", "{totals}");
    let (_, rows) = server.query(&scout, json!({"sql": LEDGER_ROWS}));
    assert_ne!(decision(&rows), "allow", "row-level reads stay refused: {rows}");

    // An agent's write is never the SOP's to grant.
    let requests = submit(&server, &scout, json!({"assets": ["finance/ledger"], "action": "sql.write", "purpose": "task: fix a posting", "duration_seconds": 3600}));
    assert_eq!(requests[0]["state"], "denied", "{:?}", requests[0]);

    // The human gives the access up: the next request is refused.
    let (status, revoked) = post(&server, &format!("/v1/access-requests/{id}/revoke"), &token("bob"), json!({"note": "done"}));
    assert_eq!(status, 200, "{revoked}");
    assert_eq!(revoked["state"], "revoked");
    let (_, totals) = server.query(&scout, json!({"sql": LEDGER_TOTALS}));
    assert_ne!(decision(&totals), "allow", "{totals}");
    let (status, again) = post(&server, &format!("/v1/access-requests/{id}/revoke"), &token("alice"), json!({}));
    assert_eq!(status, 409, "{again}");
    assert_eq!(steps(&server, id).iter().map(|(s, ..)| s.as_str()).collect::<Vec<_>>(), ["submitted", "reviewed", "revoked", "refused"]);
}

#[test]
fn no_sop_and_no_owner_grants_beyond_the_hard_guardrails_or_their_own_request() {
    let server = Server::start(Options { plugins: &["finance-sop", "significance-scorer"], ..Default::default() });
    // Its access cases run at load like its other cases: a wrong one refuses it.
    let wrong = GENEROUS_CASE.replace("expect_access = \"approve\"", "expect_access = \"deny\"");
    let (status, body) = server.upload("generous-sop", GENEROUS_SOP, &wrong, true);
    assert_eq!(status, 422, "{body}");
    assert!(body.to_string().contains("expected deny, got approve"), "{body}");
    let (status, body) = server.upload("generous-sop", GENEROUS_SOP, GENEROUS_CASE, true);
    assert_eq!(status, 200, "{body}");
    let copilot = agent_token("alice", "copilot", "t1");

    // The generous SOP approves everything; the host refuses what the
    // asset ACL and the forbidden actions rule out.
    let salaries = submit(&server, &copilot, json!({"assets": ["hr/salaries"], "purpose": "task: payroll check", "duration_days": 1}));
    assert_eq!(salaries[0]["state"], "denied", "{:?}", salaries[0]);
    let history = salaries[0]["history"].to_string();
    assert!(history.contains("plugin:generous@1.0.0") && history.contains("approve"), "the SOP did approve: {history}");
    assert!(history.contains("agents may never touch individual salaries"), "{history}");
    let iam = submit(&server, &copilot, json!({"assets": ["platform/iam"], "action": "iam.provision_identity", "purpose": "onboarding", "duration_days": 1}));
    assert_eq!(iam[0]["state"], "denied", "{:?}", iam[0]);
    assert!(iam[0]["history"].to_string().contains("may never take the action"), "{:?}", iam[0]);
    let (_, denied) = server.decide(&copilot, json!({"action": "sql.read", "assets": ["hr/salaries"]}));
    assert_eq!(decision(&denied), "deny");

    // Alice's own agent asks for the ledger: Alice may not approve it, her
    // delegate may.
    let ledger = submit(&server, &copilot, json!({"assets": ["finance/ledger"], "columns": ["amount"], "purpose": "quarter review", "duration_days": 3}));
    let (id, digest) = (ledger[0]["id"].as_str().unwrap(), ledger[0]["digest"].as_str().unwrap());
    assert_eq!(ledger[0]["state"], "pending");
    let (status, body) = approve(&server, id, &token("alice"), json!({"digest": digest}));
    assert_eq!(status, 403, "{body}");
    let (status, body) = approve(&server, id, &token("dana"), json!({"digest": digest, "conditions": {"row_filters": ["amount < 0"]}}));
    assert_eq!(status, 200, "{body}");
    // The grant holds the asked columns only, under the delegate's filter.
    let (_, amounts) = server.query(&copilot, json!({"sql": "SELECT amount FROM finance.ledger"}));
    assert_eq!(decision(&amounts), "allow", "{amounts}");
    let rows = amounts["rows"].as_array().unwrap();
    assert!(!rows.is_empty() && rows.iter().all(|r| r[0].as_f64().is_some_and(|a| a < 0.0)), "{amounts}");
    assert!(amounts["rewritten_sql"].as_str().unwrap().contains("amount < 0"), "{amounts}");
    let (_, accounts) = server.query(&copilot, json!({"sql": "SELECT account FROM finance.ledger"}));
    assert_ne!(decision(&accounts), "allow", "a column not asked for is not granted: {accounts}");

    // Bounded: a draft that asks too much, and a flood of pending requests.
    let (status, body) = post(&server, "/v1/access-requests", &copilot, json!({"assets": ["finance/ledger"], "purpose": "x", "duration_days": 365}));
    assert_eq!(status, 400, "{body}");
    let (status, _) = post(&server, "/v1/access-requests", &copilot, json!({"assets": ["finance/ledger"], "purpose": "x", "grant": "all"}));
    assert_eq!(status, 400);
    let mut statuses = Vec::new();
    for i in 0..25 {
        statuses.push(post(&server, "/v1/access-requests", &copilot, json!({"assets": ["finance/invoices"], "purpose": format!("flood {i}"), "duration_days": 2})).0);
    }
    assert!(statuses.contains(&429), "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 20, "20 pending at most: {statuses:?}");
    let (status, _) = post(&server, "/v1/access-requests", "not-a-token", json!({"assets": ["finance/ledger"], "purpose": "x"}));
    assert_eq!(status, 401);
}
