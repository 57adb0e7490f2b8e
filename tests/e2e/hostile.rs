//! Hostile plugins: each is refused at load or fails closed at call time,
//! and the host keeps serving.

use serde_json::json;

use crate::harness::{Options, Server, agent_token, decision, reason_codes};

const HOSTILE_MANIFEST: &str = r#"
name = "hostile"
version = "6.6.6"
world = "sop"
scope = ["sales/**"]
[limits]
# Room for the oom case to reach its memory limit first: filling 16 MiB
# page by page took more than 20 ms of CPU on a loaded 2-core machine.
timeout_ms = 100
memory_mib = 16
"#;

/// A case every hostile SOP passes (it allows benign requests); also used
/// by `boundary`.
pub(crate) const BENIGN_CASE: &str = r#"
[[case]]
name = "benign request"
principal = { id = "copilot", kind = "agent", on_behalf_of = "bob", session_id = "s", turn_id = "t" }
action = "sql.read"
assets = ["sales/customers"]
expect = "allow"
"#;

/// An agent of bob reads sales/customers, stating `intent` (which tells
/// the hostile SOP how to misbehave).
pub(crate) fn ask(server: &Server, intent: &str) -> serde_json::Value {
    let (status, answer) = server.decide(
        &agent_token("bob", "copilot", intent),
        json!({"action": "sql.read", "assets": ["sales/customers"], "intent": intent}),
    );
    assert_eq!(status, 200, "{answer}");
    answer
}

#[test]
fn misbehaving_plugins_fail_closed_at_call_time_and_the_host_keeps_serving() {
    let mut server = Server::start(Options { plugins: &[], ..Default::default() });
    let (status, body) = server.upload("hostile-sop", HOSTILE_MANIFEST, BENIGN_CASE, true);
    assert_eq!(status, 200, "{body}");
    assert_eq!(decision(&ask(&server, "benign")), "allow");
    for (intent, failure) in [
        ("loop", "used its 100 ms of CPU time"),
        ("oom", "tried to grow its memory past its limit of 16 MiB"),
        ("trap", "trapped in evaluate: unreachable code reached (a Rust panic"),
        ("recurse", "trapped in evaluate: stack overflow (unbounded recursion?)"),
        ("garbage", "invalid answer"),
        ("loop", "used its 100 ms of CPU time"),
    ] {
        let answer = ask(&server, intent);
        assert_eq!(decision(&answer), "deny", "{intent}: {answer}");
        assert_eq!(reason_codes(&answer), vec!["plugin-failure"], "{intent}: {answer}");
        let reason = &answer["reasons"][0];
        assert_eq!(reason["source"], "plugin:hostile@6.6.6", "{intent}");
        let message = reason["message"].as_str().unwrap();
        assert!(message.contains("hostile@6.6.6") && message.contains(failure), "{intent}: {message}");
        // The host is up and the plugin still answers benign requests.
        assert!(server.alive(), "server died after {intent}:\n{}", server.log());
        assert_eq!(decision(&ask(&server, "benign")), "allow", "after {intent}");
    }
    let (_, list) = server.admin("GET", "/admin/plugins", None);
    let failures = list["plugins"][0]["failures"].as_u64().unwrap();
    assert_eq!(failures, 6, "{list}");
}

#[test]
fn a_plugin_importing_what_it_was_not_granted_is_refused_at_load() {
    let server = Server::start(Options { plugins: &[], ..Default::default() });
    let manifest = HOSTILE_MANIFEST.replace("hostile", "sneaky");
    let (status, body) = server.upload("sneaky-sop", &manifest, BENIGN_CASE, true);
    assert_eq!(status, 422, "{body}");
    let error = body["error"].as_str().unwrap();
    assert!(error.contains("sneaky@6.6.6"), "{error}");
    assert!(error.contains("wasi:filesystem") && error.contains("wasi:clocks"), "{error}");
    let (_, list) = server.admin("GET", "/admin/plugins", None);
    assert_eq!(list["plugins"], json!([]), "nothing was loaded");
}

#[test]
fn a_version_failing_its_own_cases_is_refused_and_the_old_one_keeps_serving() {
    let server = Server::start(Options { plugins: &[], ..Default::default() });
    let (status, _) = server.upload("hostile-sop", HOSTILE_MANIFEST, BENIGN_CASE, true);
    assert_eq!(status, 200);
    let looping_cases = format!(
        "{BENIGN_CASE}\n[[case]]\nname = \"spins\"\nprincipal = {{ id = \"copilot\", kind = \"agent\", on_behalf_of = \"bob\" }}\naction = \"sql.read\"\nassets = [\"sales/customers\"]\nintent = \"loop\"\nexpect = \"allow\"\n"
    );
    let manifest_v2 = HOSTILE_MANIFEST.replace("6.6.6", "7.0.0");
    let (status, body) = server.upload("hostile-sop", &manifest_v2, &looping_cases, true);
    assert_eq!(status, 422, "{body}");
    let error = body["error"].as_str().unwrap();
    assert!(error.contains("hostile@7.0.0") && error.contains("\"spins\"") && error.contains("CPU time"), "{error}");
    // A component that is not a component at all.
    let (status, body) = server.admin(
        "POST",
        "/admin/plugins",
        Some(json!({"manifest": manifest_v2, "component_base64": "AGFzbQEAAAA=", "cases": BENIGN_CASE})),
    );
    assert_eq!(status, 422, "{body}");
    let answer = ask(&server, "benign");
    assert_eq!(decision(&answer), "allow");
    assert!(answer["decided_by"].as_array().unwrap().iter().any(|v| v["version"] == "6.6.6"), "{answer}");
}

#[test]
fn a_granted_directory_is_readable_and_nothing_else() {
    let server = Server::start(Options { plugins: &[], ..Default::default() });
    let dir = server.plugins_dir.join("reader");
    std::fs::create_dir_all(dir.join("data")).unwrap();
    std::fs::write(dir.join("data/allowlist.txt"), "copilot\n").unwrap();
    std::fs::write(dir.join("plugin.wasm"), crate::harness::guests().component("reader-sop")).unwrap();
    std::fs::write(
        dir.join("plugin.toml"),
        "name = \"reader\"\nversion = \"1.0.0\"\nworld = \"sop\"\nscope = [\"sales/**\"]\n[limits]\ntimeout_ms = 200\n[capabilities]\nread_dir = \"data\"\n",
    )
    .unwrap();
    std::fs::write(dir.join("cases.toml"), BENIGN_CASE).unwrap();
    assert!(
        crate::harness::eventually(std::time::Duration::from_secs(15), || decision(&ask(&server, "benign")) == "allow"),
        "{}",
        server.log()
    );
    assert!(!dir.join("data/written-by-plugin").exists(), "the grant is read-only");
    // The plugin reads the file at call time: take copilot off the list.
    std::fs::write(dir.join("data/allowlist.txt"), "someone-else\n").unwrap();
    let answer = ask(&server, "benign");
    assert_eq!(decision(&answer), "deny", "{answer}");
    assert!(answer["reasons"][0]["message"].as_str().unwrap().contains("not on the allowlist"), "{answer}");
    // Uploads cannot be granted a directory.
    let (status, body) = server.upload("reader-sop", &std::fs::read_to_string(dir.join("plugin.toml")).unwrap(), BENIGN_CASE, true);
    assert_eq!(status, 422, "{body}");
}
