//! The MCP door, driven by the official MCP Python SDK in both protocol
//! revisions, and its authorization as a resource server, spoken raw.

use std::io::Write as _;
use std::process::{Command, Stdio};

use serde_json::{Value, json};

use crate::harness::{Options, Server, agent_token, claims, repo, sign, token};

/// Run `plan` through `tests/mcp/client.py` in `mode` ("auto": 2026-07-28;
/// "legacy": 2025-11-25); one result per step.
pub(crate) fn sdk(server: &Server, mode: &str, plan: &Value) -> Vec<Value> {
    let mut child = Command::new("python3")
        .arg(repo().join("tests/mcp/client.py"))
        .arg(format!("{}/mcp", server.base))
        .arg(mode)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs (make setup installs the MCP SDK)");
    child.stdin.take().unwrap().write_all(plan.to_string().as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "the MCP client failed: {}", String::from_utf8_lossy(&out.stderr));
    let results: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    for r in &results {
        assert!(r.get("exception").is_none(), "{mode}: {r}\n{}", server.log());
    }
    results
}

fn list(token: &str) -> Value {
    json!({"token": token, "op": "list_tools"})
}

fn call(token: &str, name: &str, arguments: Value) -> Value {
    json!({"token": token, "op": "call_tool", "name": name, "arguments": arguments})
}

fn tools(result: &Value) -> Vec<&str> {
    result["tools"].as_array().unwrap().iter().map(|t| t.as_str().unwrap()).collect()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array().map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_string)).collect()).unwrap_or_default()
}

#[test]
fn mcp_tools_go_through_the_gate_in_both_protocol_revisions() {
    // No SOP plugins: what each caller may do comes from grants alone, so
    // the tool lists differ as the roles do.
    let server = Server::start(Options { plugins: &[], ..Default::default() });
    let (bob, scout, alice, etl) = (token("bob"), agent_token("bob", "scout", "t1"), token("alice"), token("nightly-etl"));
    let (carol, copilot_for_carol) = (token("carol"), agent_token("carol", "copilot", "t1"));
    let canaries = steward_warehouse::demo::canaries();
    for (mode, version) in [("auto", "2026-07-28"), ("legacy", "2025-11-25")] {
        let plan = json!([
            list(&bob),
            list(&scout),
            list(&etl),
            call(&bob, "query", json!({"sql": "select region, email from sales.customers where customer_id <= 40"})),
            call(&scout, "query", json!({"sql": "select customer_id from sales.customers where customer_id <= 3 and backup_contact like 'canary%'"})),
            call(&bob, "query", json!({"sql": "select name, email from sales.customers", "mode": "preview"})),
            call(&alice, "decide", json!({"action": "sql.read", "assets": ["finance/ledger"]})),
            call(&etl, "query", json!({"sql": "select 1 from sales.orders"})),
            call(&bob, "drop_everything", json!({})),
            call(&bob, "query", json!({"sql": "select 1", "extra": true})),
            list(&carol),
            list(&copilot_for_carol),
        ]);
        let r = sdk(&server, mode, &plan);
        for step in &r {
            assert_eq!(step["protocol_version"], version, "{mode}: {step}");
        }
        // Listed as policy says: the ETL service holds no read or preview
        // grant, so it is not shown `query`.
        assert_eq!(tools(&r[0]), ["catalog", "decide", "query", "request_access"], "{mode}: bob");
        assert_eq!(tools(&r[1]), ["catalog", "decide", "query", "request_access"], "{mode}: scout for bob");
        assert_eq!(tools(&r[2]), ["catalog", "decide", "request_access"], "{mode}: nightly-etl");
        // carol reads hr; copilot acting for her holds no read grant of its
        // own on hr, and no preview grant she shares: an agent, its human
        // and another agent (scout, above) each see what policy says.
        assert_eq!(tools(&r[10]), ["catalog", "decide", "query", "request_access"], "{mode}: carol");
        assert_eq!(tools(&r[11]), ["catalog", "decide", "request_access"], "{mode}: copilot for carol");

        // A masked, row-filtered answer.
        let masked = &r[3];
        assert_eq!(masked["is_error"], false, "{mode}: {masked}");
        let answer = &masked["structured"];
        assert_eq!(answer["decision"], "allow");
        assert!(strings(&answer["masked"]).contains(&"sales.customers.email".to_string()), "{answer}");
        assert!(strings(&answer["row_filters"]).contains(&"row_filter:sales-own-region".to_string()), "{answer}");
        let rows = answer["rows"].as_array().unwrap();
        assert!(!rows.is_empty() && rows.iter().all(|row| row[0] == "emea"), "{mode}: {answer}");
        assert!(answer["rewritten_sql"].as_str().is_some_and(|s| s.contains("region")), "{answer}");

        // A denied one: a tool error that says why and what instead.
        let denied = &r[4];
        assert_eq!(denied["is_error"], true, "{mode}: {denied}");
        assert_eq!(denied["structured"]["decision"], "deny");
        assert!(!denied["structured"]["reasons"].as_array().unwrap().is_empty());
        assert!(denied["structured"]["instead"].is_object(), "{denied}");

        // A preview.
        assert_eq!(r[5]["structured"]["mode"], "preview", "{mode}: {}", r[5]);

        // decide: the same answer as /v1/decide.
        let (_, direct) = server.decide(&alice, json!({"action": "sql.read", "assets": ["finance/ledger"]}));
        assert_eq!(r[6]["structured"]["decision"], direct["decision"], "{mode}: {}", r[6]);

        // Hidden, unknown, malformed: refused with a reason.
        for (i, needle) in [(7, "no tool \"query\" is available to nightly-etl"), (8, "no tool \"drop_everything\""), (9, "bad arguments for query")] {
            assert_eq!(r[i]["is_error"], true, "{mode}: {}", r[i]);
            assert!(r[i]["structured"]["reasons"][0]["message"].as_str().unwrap().contains(needle), "{mode}: {}", r[i]);
        }

        // No canary in anything denied or masked.
        for step in [&r[3], &r[4], &r[5]] {
            let text = step.to_string();
            for c in &canaries {
                assert!(!text.contains(c.as_str()), "{mode}: canary {c} left in {text}");
            }
        }
    }
    // One record per call, naming door, tool, agent, human, session, turn.
    let records: Vec<_> = steward_audit::tail(&server.audit_db(), 1000).unwrap().into_iter().map(|r| r.record).collect();
    let mcp: Vec<_> = records.iter().filter(|r| r.door.as_deref() == Some("mcp")).collect();
    assert_eq!(mcp.len(), 14, "7 calls per mode: {:?}", mcp.iter().map(|r| (&r.action, &r.tool)).collect::<Vec<_>>());
    let scout_denied = mcp.iter().find(|r| r.principal.as_deref() == Some("scout")).unwrap();
    assert_eq!(scout_denied.tool.as_deref(), Some("query"));
    assert_eq!(scout_denied.action, "sql.read");
    assert_eq!(
        (scout_denied.on_behalf_of.as_deref(), scout_denied.session_id.as_deref(), scout_denied.turn_id.as_deref()),
        (Some("bob"), Some("session-e2e"), Some("t1"))
    );
    assert!(mcp.iter().any(|r| r.tool.as_deref() == Some("unknown") && r.principal.as_deref() == Some("bob")), "the unknown tool is recorded");
}

#[test]
fn the_same_query_through_v1_and_mcp_is_the_same_decision_and_record() {
    let server = Server::start(Options { plugins: &[], ..Default::default() });
    let bob = token("bob");
    let sql = "select customer_id, email, region from sales.customers where customer_id <= 10";
    let (_, direct) = server.query(&bob, json!({"sql": sql}));
    let r = sdk(&server, "auto", &json!([call(&bob, "query", json!({"sql": sql}))]));
    let via = &r[0]["structured"];
    for field in ["decision", "rewritten_sql", "masked", "withheld", "row_filters", "rows", "columns"] {
        assert_eq!(via[field], direct[field], "{field}");
    }
    let records: Vec<_> = steward_audit::tail(&server.audit_db(), 10).unwrap().into_iter().map(|r| r.record).collect();
    let of = |id: &Value| records.iter().find(|r| Value::String(r.request_id.clone()) == *id).unwrap().clone();
    let (mut a, mut b) = (of(&direct["request_id"]), of(&via["request_id"]));
    assert_eq!((a.door.as_deref(), b.door.as_deref()), (Some("http"), Some("mcp")));
    assert_eq!(b.tool.as_deref(), Some("query"));
    for r in [&mut a, &mut b] {
        r.request_id.clear();
        r.at_ms = 0;
        r.latency_us = 0;
        r.door = None;
        r.tool = None;
    }
    assert_eq!(a, b, "the two doors write the same record but for the door");
}

/// POST one JSON-RPC message to /mcp with these headers; (status, headers, body).
fn post(server: &Server, headers: &[(&str, &str)], body: &Value) -> (u16, ureq::http::HeaderMap, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let mut request = agent.post(format!("{}/mcp", server.base)).header("Content-Type", "application/json").header("Accept", "application/json, text/event-stream");
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let mut r = request.send(body.to_string()).unwrap();
    let headers = r.headers().clone();
    (r.status().as_u16(), headers, r.body_mut().read_to_string().unwrap_or_default())
}

fn discover() -> Value {
    json!({"jsonrpc": "2.0", "id": 1, "method": "server/discover", "params": {"_meta": {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {}
    }}})
}

#[test]
fn the_mcp_door_is_a_resource_server_that_checks_what_it_is_sent() {
    let server = Server::start(Options { plugins: &[], ..Default::default() });
    let bob = format!("Bearer {}", token("bob"));
    let modern = [("MCP-Protocol-Version", "2026-07-28"), ("Mcp-Method", "server/discover")];

    let (status, _, body) = post(&server, &[("Authorization", bob.as_str()), modern[0], modern[1]], &discover());
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("2026-07-28"), "{body}");

    // Missing, expired, wrong-audience tokens: 401 naming the metadata.
    let mut expired = claims("bob");
    let now = crate::harness::now();
    (expired.iat, expired.exp) = (Some(now - 4000), now - 400);
    let mut other_audience = claims("bob");
    other_audience.aud = steward_identity::Claims::new("steward-demo", "bob", "another-service", 0, 1).aud;
    for auth in [None, Some(sign(expired)), Some(sign(other_audience))] {
        let header = auth.map(|t| format!("Bearer {t}"));
        let mut headers = vec![modern[0], modern[1]];
        if let Some(h) = &header {
            headers.push(("Authorization", h.as_str()));
        }
        let (status, h, body) = post(&server, &headers, &discover());
        assert_eq!(status, 401, "{body}");
        let challenge = h.get("www-authenticate").and_then(|v| v.to_str().ok()).unwrap_or_default();
        assert!(challenge.starts_with("Bearer resource_metadata=\"") && challenge.contains("/.well-known/oauth-protected-resource"), "{challenge}");
    }
    let (status, metadata) = server.get("/.well-known/oauth-protected-resource");
    assert_eq!(status, 200);
    let metadata: Value = serde_json::from_str(&metadata).unwrap();
    assert_eq!(metadata["resource"], format!("{}/mcp", server.base));

    // DNS rebinding: another Host, or a page on another origin.
    let (status, _, body) = post(&server, &[("Authorization", bob.as_str()), modern[0], modern[1], ("Host", "evil.example:80")], &discover());
    assert_eq!(status, 403, "{body}");
    let (status, _, body) = post(&server, &[("Authorization", bob.as_str()), modern[0], modern[1], ("Origin", "http://evil.example")], &discover());
    assert_eq!(status, 403, "{body}");

    // Headers that disagree with the body; a version nobody speaks.
    let (status, _, body) = post(&server, &[("Authorization", bob.as_str()), modern[0], ("Mcp-Method", "tools/list")], &discover());
    assert_eq!(status, 400, "{body}");
    let call = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "query", "arguments": {"sql": "select 1"}, "_meta": {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {}}}});
    let (status, _, body) = post(&server, &[("Authorization", bob.as_str()), modern[0], ("Mcp-Method", "tools/call"), ("Mcp-Name", "decide")], &call);
    assert_eq!(status, 400, "{body}");
    let mut unknown = discover();
    unknown["params"]["_meta"]["io.modelcontextprotocol/protocolVersion"] = json!("1999-01-01");
    let (status, _, body) = post(&server, &[("Authorization", bob.as_str()), ("MCP-Protocol-Version", "1999-01-01"), modern[1]], &unknown);
    assert_eq!(status, 400, "{body}");
}

#[test]
fn the_catalog_shows_each_caller_what_it_may_know_exists() {
    // 250 more tables in a discoverable folder, so resources come in pages.
    let bulk = |dir: &std::path::Path| {
        let path = dir.join("catalog.toml");
        let mut text = std::fs::read_to_string(&path).unwrap();
        text += "\n[[folder]]\npath = \"bulk\"\nowner = \"data-team\"\ndiscoverable = true\n";
        for i in 0..250 {
            text += &format!("\n[[resource]]\npath = \"bulk/t{i:03}\"\nkind = \"dashboard\"\ndescription = \"bulk {i}\"\n");
        }
        std::fs::write(&path, text).unwrap();
    };
    let server = Server::start(Options { plugins: &[], edit_policies: Some(&bulk), ..Default::default() });
    let (bob, carol) = (token("bob"), token("carol"));
    let paths = |token: &str| -> Vec<String> {
        let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        let mut r = agent.get(format!("{}/v1/catalog", server.base)).header("Authorization", &format!("Bearer {token}")).call().unwrap();
        assert_eq!(r.status(), 200);
        let v: Value = r.body_mut().read_json().unwrap();
        assert!(v["tree"].as_str().unwrap().contains("customers"), "{v}");
        v["items"].as_array().unwrap().iter().map(|i| i["path"].as_str().unwrap().to_string()).filter(|p| !p.starts_with("bulk")).collect()
    };
    // bob: sales and lab by grant; the discoverable dashboard (and the
    // folder on the way to it); nothing of hr, not even its name.
    assert_eq!(
        paths(&bob),
        ["finance", "finance/revenue-dashboard", "lab", "lab/synthetic_people", "sales", "sales/customers", "sales/customers_public", "sales/orders"]
    );
    let carol_sees = {
        let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        let mut r = agent.get(format!("{}/v1/catalog", server.base)).header("Authorization", &format!("Bearer {carol}")).call().unwrap();
        r.body_mut().read_to_string().unwrap()
    };
    assert!(carol_sees.contains("hr/salaries") && !carol_sees.contains("sales"), "{carol_sees}");
    let (status, _) = server.get("/v1/catalog");
    assert_eq!(status, 401);

    let r = sdk(
        &server,
        "auto",
        &json!([
            call(&carol, "catalog", json!({})),
            call(&carol, "catalog", json!({"path": "hr/employees"})),
            call(&carol, "catalog", json!({"path": "sales/customers"})),
            call(&carol, "catalog", json!({"path": "no/such"})),
            {"token": carol, "op": "list_resources"},
            {"token": carol, "op": "read_resource", "uri": "steward://catalog/hr/employees"},
            {"token": carol, "op": "read_resource", "uri": "steward://catalog/sales/customers"},
        ]),
    );
    let tree = r[0]["text"].as_str().unwrap();
    assert!(tree.contains("hr/") && tree.contains("salaries") && !tree.contains("customers"), "{tree}");
    assert!(r[1]["text"].as_str().unwrap().contains("owner: "), "{}", r[1]);
    // Hidden and absent answer alike.
    assert_eq!(r[2]["is_error"], true);
    assert_eq!(r[2]["text"].as_str().unwrap().replace("sales/customers", "X"), r[3]["text"].as_str().unwrap().replace("no/such", "X"));
    let uris = strings(&r[4]["uris"]);
    assert!(r[4]["pages"].as_u64().unwrap() >= 3, "{} entries in {} pages", uris.len(), r[4]["pages"]);
    assert_eq!(uris.iter().filter(|u| u.starts_with("steward://catalog/bulk/")).count(), 250);
    assert!(uris.contains(&"steward://catalog/hr/salaries".to_string()) && !uris.iter().any(|u| u.contains("sales")));
    let unique: std::collections::HashSet<&String> = uris.iter().collect();
    assert_eq!(unique.len(), uris.len(), "no entry twice across pages");
    assert!(r[5]["text"].as_str().unwrap().starts_with("hr/employees (table)"), "{}", r[5]);
    assert!(r[6]["error"].is_string(), "{}", r[6]);
    // Every page and every read is a catalog.read record naming carol.
    let records: Vec<_> = steward_audit::tail(&server.audit_db(), 1000).unwrap().into_iter().map(|r| r.record).collect();
    let via = |tool: &str| records.iter().filter(|r| r.tool.as_deref() == Some(tool) && r.action == "catalog.read" && r.principal.as_deref() == Some("carol")).count();
    assert_eq!(via("resources/list") as u64, r[4]["pages"].as_u64().unwrap());
    assert_eq!((via("resources/read"), via("catalog")), (2, 4));
}

#[test]
fn a_denied_query_suggests_nothing_the_caller_may_not_see() {
    let server = Server::start(Options { plugins: &[], ..Default::default() });
    // bob may not know hr exists: the deny's suggestions name none of it.
    let (_, answer) = server.query(&token("bob"), json!({"sql": "select employee_id, salary from hr.salaries"}));
    assert_eq!(answer["decision"], "deny", "{answer}");
    let instead = answer["instead"].to_string();
    assert!(!instead.contains("hr/") && !instead.contains("salary"), "{instead}");
    // carol may: the same question gets her readable columns.
    let (_, answer) = server.query(&token("carol"), json!({"sql": "select employee_id, salary from hr.salaries"}));
    assert!(answer["instead"]["readable_columns"]["hr/salaries"].is_array(), "{answer}");
}

#[test]
fn a_kind_forbidden_catalog_read_sees_nothing() {
    let forbid = |dir: &std::path::Path| {
        let path = dir.join("actions.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, text.replace("agent = [\"iam.provision_identity\"", "agent = [\"catalog.read\", \"iam.provision_identity\"")).unwrap();
    };
    let server = Server::start(Options { plugins: &[], edit_policies: Some(&forbid), ..Default::default() });
    let get = |token: &str| {
        let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        let mut r = agent.get(format!("{}/v1/catalog", server.base)).header("Authorization", &format!("Bearer {token}")).call().unwrap();
        r.body_mut().read_json::<Value>().unwrap()
    };
    let denied = get(&agent_token("bob", "scout", "t1"));
    assert_eq!(denied["decision"], "deny", "{denied}");
    // The same rule, and the same words, as the pipeline's stage 4.
    assert_eq!(denied["reasons"][0]["source"], "acl:forbidden-actions.agent", "{denied}");
    assert!(denied.get("items").is_none(), "{denied}");
    assert!(get(&token("bob"))["items"].as_array().is_some_and(|i| !i.is_empty()));
}
