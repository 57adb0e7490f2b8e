//! The audit log under real use: every answered decision is recorded even
//! when the process is killed under load, and `steward audit verify`
//! names tampering.

use std::collections::HashSet;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;

use crate::harness::{Options, Server, agent_token, steward_bin, token};

#[test]
fn a_process_killed_under_load_has_recorded_every_answer() {
    let mut server = Server::start(Options { durability: "full", ..Default::default() });
    let answered: Arc<Mutex<Vec<String>>> = Arc::default();
    let base = server.base.clone();
    let clients: Vec<_> = (0..6)
        .map(|i| {
            let (answered, base) = (answered.clone(), base.clone());
            std::thread::spawn(move || {
                let agent: ureq::Agent = ureq::Agent::config_builder()
                    .http_status_as_error(false)
                    .timeout_global(Some(Duration::from_secs(5)))
                    .build()
                    .into();
                let tok = agent_token("alice", "copilot", &format!("c{i}"));
                for n in 0..100_000 {
                    let body = json!({"action": "sql.read", "assets": ["finance/ledger"], "intent": format!("task: {n}")});
                    let Ok(mut r) = agent.post(format!("{base}/v1/decide")).header("Authorization", &format!("Bearer {tok}")).send_json(&body)
                    else {
                        return; // the server is gone
                    };
                    let Ok(v) = r.body_mut().read_json::<serde_json::Value>() else { return };
                    if let Some(id) = v["request_id"].as_str() {
                        answered.lock().unwrap().push(id.to_string());
                    }
                }
            })
        })
        .collect();
    // Let load build up, then kill -9 mid-flight.
    assert!(crate::harness::eventually(Duration::from_secs(20), || answered.lock().unwrap().len() > 500));
    server.kill();
    for c in clients {
        c.join().unwrap();
    }
    let answered = answered.lock().unwrap().clone();
    let recorded: HashSet<String> =
        steward_audit::tail(&server.audit_db(), usize::MAX >> 1).unwrap().into_iter().map(|r| r.record.request_id).collect();
    let missing: Vec<&String> = answered.iter().filter(|id| !recorded.contains(*id)).collect();
    eprintln!("killed under load: {} answered, {} recorded", answered.len(), recorded.len());
    assert!(missing.is_empty(), "{} answered decisions were not recorded, e.g. {:?}", missing.len(), &missing[..missing.len().min(5)]);
    assert!(recorded.len() >= answered.len());
    // Killed between two checkpoints: the records since the last one are
    // covered by the chain; the restarted host signs them.
    let verify = |db: &std::path::Path| {
        let out = Command::new(steward_bin()).args(["audit", "verify", "--db"]).arg(db).output().unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stdout).to_string())
    };
    let (code, out) = verify(&server.audit_db());
    assert_eq!(code, Some(0), "{out}");
    server.restart();
    let (code, out) = verify(&server.audit_db());
    assert_eq!(code, Some(0), "{out}");
    let records = steward_audit::verify(&server.audit_db()).unwrap().records;
    assert!(out.contains(&format!("records 1..={records} match them")), "{out}");
}

#[test]
fn audit_verify_names_tampered_records() {
    let mut server = Server::start(Options { plugins: &[], ..Default::default() });
    for _ in 0..10 {
        server.decide(&token("alice"), json!({"action": "sql.read", "assets": ["finance/ledger"]}));
    }
    server.kill();
    let db = server.audit_db();
    let verify = || {
        let out = Command::new(steward_bin()).args(["audit", "verify", "--db"]).arg(&db).output().unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stdout).to_string())
    };
    let (code, out) = verify();
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("10 records"), "{out}");

    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute("UPDATE audit SET body = replace(body, '\"allow\"', '\"deny\"') WHERE seq = 3", []).unwrap();
    let (code, out) = verify();
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("Edited at record 3"), "{out}");

    conn.execute("DELETE FROM audit WHERE seq = 7", []).unwrap();
    let (_, out) = verify();
    assert!(out.contains("Missing at record 7"), "{out}");

    let tail = Command::new(steward_bin()).args(["audit", "tail", "-n", "2", "--db"]).arg(&db).output().unwrap();
    let lines: Vec<serde_json::Value> =
        String::from_utf8_lossy(&tail.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[1]["seq"], 10);
    assert_eq!(lines[1]["record"]["principal"], "alice");
}

#[test]
fn records_carry_the_identity_chain_and_plugin_digests() {
    let server = Server::start(Default::default());
    let (_, answer) = server.decide(
        &agent_token("alice", "copilot", "turn-42"),
        json!({"action": "sql.read", "assets": ["finance/ledger"], "intent": "task: close"}),
    );
    let id = answer["request_id"].as_str().unwrap();
    let records = steward_audit::tail(&server.audit_db(), 10).unwrap();
    let r = &records.iter().find(|r| r.record.request_id == id).expect("recorded").record;
    assert_eq!(r.principal.as_deref(), Some("copilot"));
    assert_eq!(r.on_behalf_of.as_deref(), Some("alice"));
    assert_eq!(r.session_id.as_deref(), Some("session-e2e"));
    assert_eq!(r.turn_id.as_deref(), Some("turn-42"));
    assert_eq!(r.door.as_deref(), Some("http"), "the record names the door the request came through");
    assert_eq!(r.intent.as_deref(), Some("task: close"));
    assert_eq!(r.assets, vec!["finance/ledger"]);
    let voted = serde_json::to_value(&r.decided_by).unwrap();
    assert_eq!(voted, answer["decided_by"], "the record names the same voters and digests as the answer");
}
