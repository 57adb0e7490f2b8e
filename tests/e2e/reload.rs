//! Watched directories: plugins and policy change without a restart; a bad
//! change is refused and the last good state keeps serving.

use std::time::Duration;

use serde_json::json;

use crate::harness::{Options, Server, agent_token, copy_plugin, decision, eventually, repo, token};

#[test]
fn plugins_dropped_into_the_watched_directory_go_live_and_broken_ones_are_refused() {
    let server = Server::start(Options { plugins: &[], ..Default::default() });
    let agent = agent_token("alice", "copilot", "t");
    let ask = || decision(&server.decide(&agent, json!({"action": "sql.read", "assets": ["finance/ledger"], "intent": "task: x"})).1).to_string();
    assert_eq!(ask(), "deny", "no SOP yet");
    copy_plugin(&repo().join("plugins/finance-sop"), &server.plugins_dir.join("finance-sop"));
    assert!(eventually(Duration::from_secs(15), || ask() == "allow"), "{}", server.log());

    // A broken component: refused, the loaded version keeps serving.
    std::fs::write(server.plugins_dir.join("finance-sop/plugin.wasm"), b"\0asm garbage").unwrap();
    assert!(eventually(Duration::from_secs(15), || server.log().contains("plugin refused")), "{}", server.log());
    assert_eq!(ask(), "allow");

    // Removing the folder unloads the plugin: the asset fails closed.
    std::fs::remove_dir_all(server.plugins_dir.join("finance-sop")).unwrap();
    assert!(eventually(Duration::from_secs(15), || ask() == "deny"), "{}", server.log());
}

#[test]
fn policy_reloads_without_restart_and_a_bad_file_keeps_the_last_good_policy() {
    let server = Server::start(Options { plugins: &[], own_policies: true, ..Default::default() });
    let bob = token("bob");
    let ask = || decision(&server.decide(&bob, json!({"action": "sql.read", "assets": ["finance/ledger"]})).1).to_string();
    assert_eq!(ask(), "deny");
    let identity = server.policies_dir.join("identity.toml");
    let text = std::fs::read_to_string(&identity).unwrap();
    // A bad edit: an unknown role. Refused; the old policy keeps serving.
    std::fs::write(&identity, text.replace("roles = [\"sales-analyst\"]", "roles = [\"sales-analyst\", \"no-such-role\"]")).unwrap();
    assert!(eventually(Duration::from_secs(15), || server.log().contains("policy refused")), "{}", server.log());
    let line = text.lines().position(|l| l.contains("roles = [\"sales-analyst\"]")).unwrap() + 1;
    assert!(server.log().contains(&format!("identity.toml:{line}")), "the refusal names file and line {line}:\n{}", server.log());
    assert_eq!(ask(), "deny");
    let (_, status) = server.admin("GET", "/admin/status", None);
    assert!(status["policy_error"].as_str().unwrap().contains("unknown role \\\"no-such-role\\\"") || status["policy_error"].as_str().unwrap().contains("no-such-role"));
    // A good edit: bob becomes a finance analyst.
    std::fs::write(&identity, text.replace("roles = [\"sales-analyst\"]", "roles = [\"sales-analyst\", \"finance-analyst\"]")).unwrap();
    assert!(eventually(Duration::from_secs(15), || ask() == "allow"), "{}", server.log());
    let (_, status) = server.admin("GET", "/admin/status", None);
    assert!(status["policy_error"].is_null());
}

#[test]
fn a_policy_reload_invalidates_cached_plans_both_ways() {
    let server = Server::start(Options { plugins: &[], own_policies: true, ..Default::default() });
    let bob = token("bob");
    let ask = |sql: &str| {
        let (_, answer) = server.query(&bob, json!({ "sql": sql }));
        decision(&answer).to_string()
    };
    let names = "SELECT name FROM sales.customers ORDER BY name";
    let ips = "SELECT signup_ip FROM sales.customers";
    for _ in 0..3 {
        assert_eq!(ask(names), "allow", "names are visible to sales analysts");
        assert_eq!(ask(ips), "deny", "signup_ip is predicate-only");
    }
    let (_, status) = server.admin("GET", "/admin/status", None);
    let hits = |status: &serde_json::Value| status["plan_cache"]["enforced"]["hits"].as_u64().expect("plan cache hits in the status");
    assert!(hits(&status) >= 4, "the repeated statements hit the plan cache: {status}");

    let data = server.policies_dir.join("data.toml");
    let text = std::fs::read_to_string(&data).unwrap();
    let edited = text.replace("columns = [\"name\", \"region\"]", "columns = [\"region\"]").replace(
        "columns = [\"signup_ip\"]\neffect = \"predicate-only\"",
        "columns = [\"signup_ip\"]\neffect = \"allow\"",
    );
    assert_ne!(edited, text, "the edit changes both rules");
    std::fs::write(&data, edited).unwrap();
    assert!(eventually(Duration::from_secs(15), || ask(names) == "deny"), "a name is PII again once no rule allows it: {}", server.log());
    assert_eq!(ask(ips), "allow", "signup_ip is readable after the reload");
    assert_eq!(ask(names), "deny");
    assert_eq!(ask(ips), "allow");
}
