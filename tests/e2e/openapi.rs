//! The OpenAPI document the host serves, held against real answers of
//! every `/v1` route (validated with Python's `jsonschema`, JSON Schema
//! 2020-12 as OpenAPI 3.1 uses it).

use std::io::Write as _;
use std::process::{Command, Stdio};

use serde_json::{Value, json};

use crate::harness::{Options, Server, agent_token, repo, token};

#[test]
fn every_v1_answer_matches_the_openapi_document() {
    let server = Server::start(Options { plugins: &["finance-sop", "significance-scorer", "suggest-alternatives"], ..Default::default() });
    let (status, spec) = server.get("/v1/openapi.json");
    assert_eq!(status, 200);
    let spec_file = server.data.path().join("openapi.json");
    std::fs::write(&spec_file, &spec).unwrap();

    let (alice, copilot, scout, bob) = (token("alice"), agent_token("alice", "copilot", "t1"), agent_token("bob", "scout", "t1"), token("bob"));
    let mut samples = Vec::new();
    let mut sample = |path: &str, method: &str, (status, body): (u16, Value)| {
        assert!(!body.is_null(), "{method} {path} {status}: no JSON body");
        samples.push(json!({"path": path, "method": method, "status": status, "body": body}));
    };
    for (who, body) in [
        (&copilot, json!({"action": "sql.read", "assets": ["finance/ledger"], "intent": "task: close"})),
        (&copilot, json!({"action": "iam.provision_identity", "assets": ["platform/iam"]})),
        (&alice, json!({"action": "privilege.escalate", "assets": ["platform/iam"]})),
        (&"not-a-token".to_string(), json!({"action": "sql.read", "assets": ["finance/ledger"]})),
    ] {
        sample("/v1/decide", "post", server.decide(who, body));
    }
    let (status, text) = server.post_raw("/v1/decide", &alice, "{\"action\": 7}");
    sample("/v1/decide", "post", (status, serde_json::from_str(&text).unwrap_or(Value::Null)));
    for (who, body) in [
        (&bob, json!({"sql": "select region, email from sales.customers where customer_id <= 5"})),
        (&scout, json!({"sql": "select * from hr.salaries"})),
        (&scout, json!({"sql": "select * from sales.customers", "mode": "preview"})),
        (&bob, json!({"sql": "select customer_id, card_number, region from sales.customers"})),
        (&"not-a-token".to_string(), json!({"sql": "select 1"})),
    ] {
        sample("/v1/query", "post", server.query(who, body));
    }
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    for auth in [format!("Bearer {bob}"), "Bearer nope".to_string()] {
        let mut r = agent.get(format!("{}/v1/catalog", server.base)).header("Authorization", &auth).call().unwrap();
        let status = r.status().as_u16();
        sample("/v1/catalog", "get", (status, r.body_mut().read_json().unwrap_or(Value::Null)));
    }
    for auth in [format!("Bearer {scout}"), "Bearer nope".to_string()] {
        let mut r = agent.get(format!("{}/v1/tools", server.base)).header("Authorization", &auth).call().unwrap();
        let status = r.status().as_u16();
        sample("/v1/tools", "get", (status, r.body_mut().read_json().unwrap_or(Value::Null)));
    }
    for (who, tool, arguments) in [
        (&scout, "suggest-alternatives", json!({"sql": "select customer_id, card_number, region from sales.customers", "question": "churn"})),
        (&scout, "no-such-tool", json!({})),
        (&"not-a-token".to_string(), "suggest-alternatives", json!({"sql": "select 1"})),
    ] {
        let (status, text) = server.post_raw(&format!("/v1/tools/{tool}"), who, &json!({ "arguments": arguments }).to_string());
        sample("/v1/tools/{name}", "post", (status, serde_json::from_str(&text).unwrap_or(Value::Null)));
    }
    let (status, text) = server.post_raw("/v1/tools/explore", &scout, "{\"arguments\": 7}");
    sample("/v1/tools/{name}", "post", (status, serde_json::from_str(&text).unwrap_or(Value::Null)));
    // Access requests: submitted, read, listed, decided, refused.
    let json_of = |(status, text): (u16, String)| (status, serde_json::from_str::<Value>(&text).unwrap_or(Value::Null));
    let ask = |body: Value| json_of(server.post_raw("/v1/access-requests", &scout, &body.to_string()));
    let (status, submitted) = ask(json!({"assets": ["finance/ledger"], "columns": ["amount"], "purpose": "q3 review", "duration_days": 3}));
    let first = submitted["requests"][0].clone();
    sample("/v1/access-requests", "post", (status, submitted));
    sample("/v1/access-requests", "post", ask(json!({"draft": {"assets": ["finance/invoices"], "purpose": "task: invoice check", "duration_days": 1}})));
    sample("/v1/access-requests", "post", ask(json!({"assets": ["finance/ledger"], "purpose": "x", "duration_days": 900})));
    sample("/v1/access-requests", "post", json_of(server.post_raw("/v1/access-requests", "nope", "{}")));
    let (id, digest) = (first["id"].as_str().unwrap().to_string(), first["digest"].as_str().unwrap().to_string());
    sample("/v1/access-requests", "get", json_of(server.get_as("/v1/access-requests", &alice)));
    sample("/v1/access-requests", "get", json_of(server.get_as("/v1/access-requests?role=nobody", &alice)));
    sample("/v1/access-requests/{id}", "get", json_of(server.get_as(&format!("/v1/access-requests/{id}"), &bob)));
    sample("/v1/access-requests/{id}", "get", json_of(server.get_as("/v1/access-requests/ar-none", &bob)));
    let approve = |who: &str, body: Value| json_of(server.post_raw(&format!("/v1/access-requests/{id}/approve"), who, &body.to_string()));
    sample("/v1/access-requests/{id}/approve", "post", approve(&scout, json!({"digest": digest})));
    sample("/v1/access-requests/{id}/approve", "post", approve(&alice, json!({"digest": "0"})));
    sample("/v1/access-requests/{id}/approve", "post", approve(&alice, json!({"digest": digest, "conditions": {"aggregate_only": 5, "masked": [{"column": "amount", "method": "redact"}]}})));
    sample("/v1/access-requests/{id}/approve", "post", approve(&alice, json!({"digest": digest})));
    sample("/v1/access-requests/{id}/revoke", "post", json_of(server.post_raw(&format!("/v1/access-requests/{id}/revoke"), &alice, "{}")));
    let (_, other) = ask(json!({"assets": ["finance/ledger"], "purpose": "another", "duration_days": 2}));
    let other = other["requests"][0]["id"].as_str().unwrap().to_string();
    sample("/v1/access-requests/{id}/deny", "post", json_of(server.post_raw(&format!("/v1/access-requests/{other}/deny"), &alice, "{\"note\": \"not now\"}")));
    let statuses: Vec<u64> = samples.iter().map(|s| s["status"].as_u64().unwrap()).collect();
    assert!(statuses.contains(&200) && statuses.contains(&401) && statuses.contains(&400), "{statuses:?}");

    let mut child = Command::new("python3")
        .arg(repo().join("tests/openapi/check.py"))
        .arg(&spec_file)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs (make setup installs jsonschema)");
    child.stdin.take().unwrap().write_all(Value::Array(samples).to_string().as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "answers that do not match the document: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
