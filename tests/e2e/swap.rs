//! Hot swap under load: clients keep deciding while the SOP is replaced
//! v1 -> v2 -> rollback; no request fails and answers follow the swaps.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use serde_json::json;

use crate::harness::{Options, Server, agent_token, decision, eventually};

const CASES_ALLOW: &str = r#"
[[case]]
name = "allows"
principal = { id = "copilot", kind = "agent", on_behalf_of = "bob", session_id = "s", turn_id = "t" }
action = "sql.read"
assets = ["sales/orders"]
expect = "allow"
"#;

/// A generous deadline: this test is about swapping, and a debug build on a
/// loaded 2-core machine can be descheduled for longer than the default
/// 10 ms (a plugin past its deadline is a deny, which would count as a
/// failed request here).
fn manifest(version: &str) -> String {
    format!("name = \"swap-sop\"\nversion = \"{version}\"\nworld = \"sop\"\nscope = [\"sales/**\"]\n[limits]\ntimeout_ms = 500\n")
}

#[test]
fn swap_and_rollback_under_load_lose_no_request() {
    let server = Arc::new(Server::start(Options { plugins: &[], ..Default::default() }));
    let (status, body) = server.upload("swap-sop-v1", &manifest("1.0.0"), CASES_ALLOW, true);
    assert_eq!(status, 200, "{body}");

    let stop = Arc::new(AtomicBool::new(false));
    let (allows, escalates) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let failures: Arc<std::sync::Mutex<Vec<String>>> = Arc::default();
    let clients: Vec<_> = (0..4)
        .map(|i| {
            let (server, stop) = (server.clone(), stop.clone());
            let (allows, escalates, failures) = (allows.clone(), escalates.clone(), failures.clone());
            std::thread::spawn(move || {
                let token = agent_token("bob", "copilot", &format!("client-{i}"));
                while !stop.load(Ordering::Relaxed) {
                    let (status, answer) = server.decide(&token, json!({"action": "sql.read", "assets": ["sales/orders"]}));
                    match (status, decision(&answer)) {
                        (200, "allow") => allows.fetch_add(1, Ordering::Relaxed),
                        (200, "escalate") => escalates.fetch_add(1, Ordering::Relaxed),
                        _ => {
                            failures.lock().unwrap().push(format!("{status} {answer}"));
                            0
                        }
                    };
                }
            })
        })
        .collect();

    let probe = |want: &str| {
        let (_, answer) = server.decide(&agent_token("bob", "copilot", "probe"), json!({"action": "sql.read", "assets": ["sales/orders"]}));
        decision(&answer) == want
    };
    std::thread::sleep(Duration::from_millis(300));
    assert!(probe("allow"), "v1 allows");

    // v2 escalates; its own cases say so.
    let cases_v2 = CASES_ALLOW.replace("\"allow\"", "\"escalate\"");
    let (status, body) = server.upload("swap-sop-v2", &manifest("2.0.0"), &cases_v2, true);
    assert_eq!(status, 200, "{body}");
    assert!(probe("escalate"), "the request right after activation sees v2");
    let escalates_before = escalates.load(Ordering::Relaxed);
    assert!(eventually(Duration::from_secs(5), || escalates.load(Ordering::Relaxed) > escalates_before + 50));

    let (status, body) = server.admin("POST", "/admin/plugins/swap-sop/rollback", None);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["active"]["version"], "1.0.0");
    assert!(probe("allow"), "the request right after rollback sees v1");
    let allows_before = allows.load(Ordering::Relaxed);
    assert!(eventually(Duration::from_secs(5), || allows.load(Ordering::Relaxed) > allows_before + 50));

    // And forward again by digest.
    let (_, list) = server.admin("GET", "/admin/plugins", None);
    let v2_digest = list["plugins"][0]["previous"]["digest"].as_str().unwrap().to_string();
    let (status, _) = server.admin("POST", "/admin/plugins/swap-sop/activate", Some(json!({"digest": v2_digest})));
    assert_eq!(status, 200);
    assert!(probe("escalate"));

    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().unwrap();
    }
    let (a, e) = (allows.load(Ordering::Relaxed), escalates.load(Ordering::Relaxed));
    let failures = failures.lock().unwrap();
    eprintln!("swap under load: {a} allow, {e} escalate, {} failed", failures.len());
    assert!(failures.is_empty(), "no request may fail during swaps: {failures:?}");
    assert!(a > 50 && e > 50, "both versions answered under load ({a} allow, {e} escalate)");
}

#[test]
fn staged_versions_wait_for_activation_and_removal_fails_closed() {
    let server = Server::start(Options { plugins: &[], ..Default::default() });
    let bob_agent = agent_token("bob", "copilot", "t");
    let ask = || decision(&server.decide(&bob_agent, json!({"action": "sql.read", "assets": ["sales/orders"]})).1).to_string();
    assert_eq!(ask(), "deny", "no SOP governs sales/orders for the agent yet");
    server.upload("swap-sop-v1", &manifest("1.0.0"), CASES_ALLOW, true);
    assert_eq!(ask(), "allow");
    let cases_v2 = CASES_ALLOW.replace("\"allow\"", "\"escalate\"");
    let (status, body) = server.upload("swap-sop-v2", &manifest("2.0.0"), &cases_v2, false);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["activated"], false);
    assert_eq!(ask(), "allow", "a staged version does not serve");
    let digest = body["plugin"]["digest"].as_str().unwrap();
    let (status, _) = server.admin("POST", "/admin/plugins/swap-sop/activate", Some(json!({"digest": digest})));
    assert_eq!(status, 200);
    assert_eq!(ask(), "escalate");
    // A name that is a path is no plugin, and touches nothing on disk.
    for name in ["%2E%2E", "%2E%2E%2F%2E%2E", "..%2Fvar"] {
        let (status, _) = server.admin("DELETE", &format!("/admin/plugins/{name}"), None);
        assert_eq!(status, 404, "{name}");
        let (status, _) = server.admin("POST", &format!("/admin/plugins/{name}/rollback"), None);
        assert_eq!(status, 404, "{name}");
    }
    let uploads = server.data.path().join("var/uploads/swap-sop");
    assert!(server.audit_db().exists() && uploads.exists(), "the data directory is intact");
    let (status, _) = server.admin("DELETE", "/admin/plugins/swap-sop", None);
    assert_eq!(status, 200);
    assert_eq!(ask(), "deny", "without its SOP the asset is not governed: fail closed");
    let (status, _) = server.admin("POST", "/admin/plugins/swap-sop/rollback", None);
    assert_eq!(status, 404);
}

/// Uploads survive a restart: the uploaded version is active again, its
/// predecessor is still the rollback target, and a removed plugin stays
/// removed. The data directory holds only the versions the slot names.
#[test]
fn uploads_survive_a_restart_and_roll_back_after_it() {
    let mut server = Server::start(Options { plugins: &[], ..Default::default() });
    // A manifest naming its files outside the version's folder is refused,
    // and leaves nothing on disk.
    let escaping = manifest("0.9.0").replace("name = \"swap-sop\"", "name = \"evil\"\ncomponent = \"../../evil.wasm\"");
    let (status, body) = server.upload("swap-sop-v1", &escaping, CASES_ALLOW, true);
    assert_eq!(status, 422, "{body}");
    assert!(body["error"].as_str().unwrap().contains("must be a plain file name"), "{body}");
    assert!(!server.data.path().join("var/uploads/evil").exists(), "a refused upload leaves no folder");
    let cases_v2 = CASES_ALLOW.replace("\"allow\"", "\"escalate\"");
    assert_eq!(server.upload("swap-sop-v1", &manifest("1.0.0"), CASES_ALLOW, true).0, 200);
    assert_eq!(server.upload("swap-sop-v2", &manifest("2.0.0"), &cases_v2, true).0, 200);
    let ask = |server: &Server| {
        let (_, answer) = server.decide(&agent_token("bob", "copilot", "t"), json!({"action": "sql.read", "assets": ["sales/orders"]}));
        decision(&answer).to_string()
    };
    assert_eq!(ask(&server), "escalate", "v2 is live");
    let uploads = server.data.path().join("var/uploads/swap-sop");
    let versions = || std::fs::read_dir(&uploads).unwrap().filter(|e| e.as_ref().unwrap().path().is_dir()).count();
    assert_eq!(versions(), 2, "active and previous are kept");

    server.restart();
    let (_, list) = server.admin("GET", "/admin/plugins", None);
    assert_eq!(list["plugins"][0]["active"]["version"], "2.0.0", "{list}");
    assert_eq!(list["plugins"][0]["previous"]["version"], "1.0.0", "{list}");
    assert_eq!(list["plugins"][0]["origin"], "upload", "{list}");
    assert_eq!(ask(&server), "escalate", "v2 is live after the restart");
    assert!(server.log().contains("uploaded plugin restored"), "the restore is logged");

    let (status, body) = server.admin("POST", "/admin/plugins/swap-sop/rollback", None);
    assert_eq!(status, 200, "{body}");
    assert_eq!(ask(&server), "allow", "rolled back to v1 after the restart");
    server.restart();
    assert_eq!(ask(&server), "allow", "the rollback survives a restart too");

    let (status, _) = server.admin("DELETE", "/admin/plugins/swap-sop", None);
    assert_eq!(status, 200);
    assert!(!uploads.exists(), "a removed plugin's uploads are deleted");
    server.restart();
    let (_, list) = server.admin("GET", "/admin/plugins", None);
    assert_eq!(list["plugins"], json!([]), "a removed plugin stays removed: {list}");
}

/// A watched folder and an upload of the same plugin: the latest change
/// wins. The upload replaces the folder's version (live and after a
/// restart, with a warning naming both); a change to the folder while the
/// host runs replaces the upload, and that is what the next start keeps.
#[test]
fn the_latest_change_wins_between_a_watched_folder_and_an_upload() {
    let mut server = Server::start(Options { plugins: &[], ..Default::default() });
    let folder = server.plugins_dir.join("swap-sop");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("plugin.wasm"), crate::harness::guests().component("swap-sop-v1")).unwrap();
    std::fs::write(folder.join("cases.toml"), CASES_ALLOW).unwrap();
    std::fs::write(folder.join("plugin.toml"), manifest("1.0.0")).unwrap();
    let version = |server: &Server| {
        let (_, list) = server.admin("GET", "/admin/plugins", None);
        list["plugins"][0]["active"]["version"].as_str().unwrap_or("none").to_string()
    };
    assert!(eventually(Duration::from_secs(10), || version(&server) == "1.0.0"), "the folder's version loads");

    let cases_v2 = CASES_ALLOW.replace("\"allow\"", "\"escalate\"");
    assert_eq!(server.upload("swap-sop-v2", &manifest("2.0.0"), &cases_v2, true).0, 200);
    assert_eq!(version(&server), "2.0.0");
    server.restart();
    assert_eq!(version(&server), "2.0.0", "the upload was the latest change");
    assert!(server.log().contains("wins over the watched folder"), "the choice is logged:\n{}", server.log());

    // The folder changes while the host runs: it is the latest change now.
    std::fs::write(folder.join("plugin.toml"), manifest("1.1.0")).unwrap();
    assert!(eventually(Duration::from_secs(10), || version(&server) == "1.1.0"), "the folder's new version loads");
    server.restart();
    assert_eq!(version(&server), "1.1.0", "after a restart the folder's version stays");
}
