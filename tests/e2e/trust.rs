//! Trust you can prove: admin calls made and recorded as named admins,
//! revocations that hold for cached tokens and across restarts, retired
//! keys, and an audit log held against its signed checkpoints.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{Options, Server, claims, eventually, sign, steward_bin, token};

/// An agent token of `agent` for `human` in session `sid`, with id `jti`.
fn session_token(human: &str, agent: &str, sid: &str, jti: &str) -> String {
    let mut c = claims(human);
    c.act = Some(steward_identity::Actor { sub: agent.into(), act: None });
    c.sid = Some(sid.into());
    c.turn = Some("1".into());
    c.jti = Some(jti.into());
    sign(c)
}

fn ask(server: &Server, token: &str) -> u16 {
    server.decide(token, json!({"action": "dashboard.view", "assets": ["finance/revenue-dashboard"]})).0
}

/// The admin records in the log, oldest first.
fn admin_records(server: &Server) -> Vec<steward_audit::AuditRecord> {
    steward_audit::tail(&server.audit_db(), 100_000)
        .unwrap()
        .into_iter()
        .map(|r| r.record)
        .filter(|r| r.record_type == steward_audit::RecordType::Admin)
        .collect()
}

#[test]
fn admin_calls_need_an_admin_principal_and_each_is_recorded_naming_them() {
    let server = Server::start(Options { plugins: &[], ..Default::default() });
    let calls = [("GET", "/admin/plugins"), ("POST", "/admin/plugins/x/rollback"), ("DELETE", "/admin/plugins/x"), ("GET", "/admin/status")];
    for (method, path) in calls {
        assert_eq!(server.admin_as("wrong-token", method, path, None).0, 401, "{method} {path}");
        // A human without an admin role, and an agent acting for an admin.
        let (status, body) = server.admin_as(&token("alice"), method, path, None);
        assert_eq!(status, 403, "{method} {path}: {body}");
        assert!(body["error"].as_str().unwrap().contains("alice holds no admin role"), "{body}");
        let (status, body) = server.admin_as(&session_token("dana", "copilot", "s1", "j1"), method, path, None);
        assert_eq!(status, 403, "{method} {path}: {body}");
        assert!(body["error"].as_str().unwrap().contains("agents never make admin calls"), "{body}");
    }
    // The admin's own token, and the bootstrap token (on by default).
    let (status, body) = server.admin_as(&token("dana"), "GET", "/admin/status", None);
    assert_eq!(status, 200, "{body}");
    assert_eq!(server.admin("GET", "/admin/plugins", None).0, 200);
    assert_eq!(server.admin_as(&token("dana"), "POST", "/admin/plugins/nope/rollback", None).0, 404);

    let records = admin_records(&server);
    assert_eq!(records.len(), calls.len() * 3 + 3, "every admin call is recorded, refused ones too");
    let find = |principal: Option<&str>, action: &str| {
        records.iter().find(|r| r.principal.as_deref() == principal && r.action == action).unwrap_or_else(|| panic!("no {action} by {principal:?}"))
    };
    let status = find(Some("dana"), "admin:GET /admin/status");
    assert_eq!(status.decision.as_str(), "allow");
    assert_eq!(status.kind.map(|k| k.as_str()), Some("human"));
    let rollback = find(Some("dana"), "admin:POST /admin/plugins/{name}/rollback");
    assert_eq!((rollback.decision.as_str(), rollback.assets.as_slice()), ("deny", &["/admin/plugins/nope/rollback".to_string()][..]));
    assert!(rollback.reasons[0].message.starts_with("404"), "{:?}", rollback.reasons);
    assert_eq!(find(Some("bootstrap-admin-token"), "admin:GET /admin/plugins").decision.as_str(), "allow");
    let refused = find(Some("alice"), "admin:GET /admin/status");
    assert_eq!((refused.decision.as_str(), refused.reasons[0].code), ("deny", steward_model::ReasonCode::NotPermitted));
    assert_eq!(find(None, "admin:GET /admin/status").reasons[0].code, steward_model::ReasonCode::Unauthenticated);
    // Replay and friction figures count decisions only: none of these is one.
    let decisions = steward_audit::tail(&server.audit_db(), 100_000).unwrap().len() - records.len();
    assert_eq!(decisions, 0);
}

#[test]
fn with_the_bootstrap_token_off_only_admin_principals_get_in() {
    let server = Server::start(Options { plugins: &[], extra_args: &["--no-admin-token"], ..Default::default() });
    let (status, body) = server.admin("GET", "/admin/status", None);
    assert_eq!(status, 401, "{body}");
    assert!(body["error"].as_str().unwrap().contains("the bootstrap admin token is disabled"), "{body}");
    assert_eq!(server.admin_as(&token("dana"), "GET", "/admin/status", None).0, 200);
    assert_eq!(server.admin_as(&token("nightly-etl"), "GET", "/admin/status", None).0, 403, "a service without an admin role");
}

#[test]
fn revocations_hold_for_cached_tokens_by_each_key_and_across_a_restart() {
    let mut server = Server::start(Options { plugins: &[], ..Default::default() });
    let admin = token("dana");
    let s1 = session_token("alice", "copilot", "s1", "j1");
    let s2 = session_token("alice", "copilot", "s2", "j2");
    let scout = session_token("alice", "scout", "s3", "j3");
    let bob = session_token("bob", "copilot", "s4", "j4");
    let alice = token("alice");
    let all = [&s1, &s2, &scout, &bob, &alice];
    // Each token verified once: from here on every check is a cache hit.
    for t in all {
        assert_eq!(ask(&server, t), 200);
    }
    let works = |server: &Server| all.map(|t| ask(server, t) == 200);
    let revoke = |server: &Server, kind: &str, id: &str| {
        let (status, body) = server.admin_as(&admin, "POST", "/admin/revocations", Some(json!({"kind": kind, "id": id, "reason": "e2e"})));
        assert_eq!(status, 201, "{body}");
    };
    // A session: the agent's other sessions and the human keep working.
    revoke(&server, "session", "s1");
    assert_eq!(works(&server), [false, true, true, true, true]);
    let (status, body) = server.decide(&s1, json!({"action": "dashboard.view", "assets": ["finance/revenue-dashboard"]}));
    assert_eq!(status, 401);
    assert!(body["reasons"][0]["message"].as_str().unwrap().contains("token revoked (session \"s1\")"), "{body}");
    revoke(&server, "token", "j2");
    assert_eq!(works(&server), [false, false, true, true, true]);
    server.restart();
    assert_eq!(works(&server), [false, false, true, true, true], "revocations survive a restart");
    // The CLI speaks the same admin API.
    let cli = |args: &[&str]| {
        let out = Command::new(steward_bin())
            .args(["revoke"])
            .args(args)
            .args(["--server", &server.base, "--token", &admin])
            .output()
            .unwrap();
        assert!(out.status.success(), "steward revoke {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice::<Value>(&out.stdout).unwrap()
    };
    cli(&["agent", "copilot", "--reason", "compromised"]);
    assert_eq!(works(&server), [false, false, true, false, true]);
    // A human: their own tokens and every agent acting for them.
    cli(&["human", "alice"]);
    assert_eq!(works(&server), [false, false, false, false, false]);
    let listed = cli(&["list"]);
    let listed: Vec<(String, String, String)> = listed["revocations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["kind"].as_str().unwrap().into(), r["id"].as_str().unwrap().into(), r["by"].as_str().unwrap().into()))
        .collect();
    assert_eq!(listed.len(), 4, "{listed:?}");
    assert!(listed.iter().all(|(_, _, by)| by == "dana"), "{listed:?}");
    for (kind, id) in [("human", "alice"), ("agent", "copilot"), ("token", "j2")] {
        cli(&["lift", kind, id]);
    }
    assert_eq!(works(&server), [false, true, true, true, true], "lifted revocations no longer apply; s1 stays revoked");
    let (status, body) = server.admin_as(&admin, "DELETE", "/admin/revocations/human/alice", None);
    assert_eq!(status, 404, "{body}");
    // Odd input is refused with a reason, not stored.
    for bad in [json!({"kind": "everyone", "id": "x"}), json!({"kind": "token", "id": ""}), json!({"kind": "token", "id": "x".repeat(300)})] {
        let (status, body) = server.admin_as(&admin, "POST", "/admin/revocations", Some(bad.clone()));
        assert_eq!(status, 400, "{bad}: {body}");
    }
    // Each revocation and lift is an admin record naming dana.
    let records = admin_records(&server);
    let named = |action: &str| records.iter().filter(|r| r.action == action && r.principal.as_deref() == Some("dana")).count();
    assert_eq!((named("admin:revoke"), named("admin:lift")), (4, 3), "{:?}", records.iter().map(|r| &r.action).collect::<Vec<_>>());
    assert!(records.iter().any(|r| r.action == "admin:revoke" && r.assets == ["agent:copilot"] && r.reasons[0].message.contains("compromised")));
}

#[test]
fn a_revocation_another_host_writes_applies_here_within_a_second() {
    let server = Server::start(Options { plugins: &[], ..Default::default() });
    let scout = session_token("bob", "scout", "s9", "j9");
    assert_eq!(ask(&server, &scout), 200);
    // Another host sharing the store writes it directly.
    rusqlite::Connection::open(server.data.path().join("var/revocations.db"))
        .unwrap()
        .execute("INSERT INTO revocation (kind, id, reason, by, at) VALUES ('agent', 'scout', '', 'elsewhere', 0)", [])
        .unwrap();
    let written = std::time::Instant::now();
    assert!(eventually(Duration::from_secs(5), || ask(&server, &scout) == 401));
    // The store is polled every 500 ms; the margin is for a loaded CI
    // machine, not for the design.
    let took = written.elapsed();
    assert!(took < Duration::from_millis(2500), "took {took:?}");
}

#[test]
fn a_token_signed_by_a_retired_key_is_refused() {
    let retire = |dir: &Path| {
        let path = dir.join("identity.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, text.replace("kid = \"demo-2026\"", "kid = \"demo-2026\"\nnot_after = 2026-01-01T00:00:00Z")).unwrap();
    };
    let server = Server::start(Options { plugins: &[], edit_policies: Some(&retire), ..Default::default() });
    let (status, body) = server.decide(&token("alice"), json!({"action": "dashboard.view", "assets": ["finance/revenue-dashboard"]}));
    assert_eq!(status, 401);
    assert!(body["reasons"][0]["message"].as_str().unwrap().contains("retired at 2026-01-01T00:00:00Z"), "{body}");
}

/// `steward audit verify` on `db`; (exit code, stdout).
fn verify(db: &Path, more: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(steward_bin()).args(["audit", "verify", "--db"]).arg(db).args(more).output().unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr))
}

/// A stopped server's data folder with `n` decisions in its log and its
/// head signed.
fn signed_log(n: usize) -> Server {
    let mut server = Server::start(Options { plugins: &[], extra_args: &["--checkpoint-ms", "50"], ..Default::default() });
    for _ in 0..n {
        assert_eq!(ask(&server, &token("alice")), 200);
    }
    let witness = steward_audit::Witness::new(server.data.path().join("var/witness"));
    assert!(eventually(Duration::from_secs(10), || {
        witness.latest().unwrap().and_then(|e| e.checkpoint.ok()).is_some_and(|c| c.seq == n as u64)
    }));
    server.kill();
    server
}

/// Recompute every hash from record `from` on.
fn rechain(db: &Path, from: i64) {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut prev: String = conn.query_row("SELECT hash FROM audit WHERE seq = ?1", [from - 1], |r| r.get(0)).unwrap();
    let rows: Vec<(i64, String)> =
        conn.prepare("SELECT seq, body FROM audit WHERE seq >= ?1 ORDER BY seq").unwrap().query_map([from], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(Result::unwrap).collect();
    for (seq, body) in rows {
        use sha2::Digest as _;
        let hash = hex::encode(sha2::Sha256::new().chain_update(prev.as_bytes()).chain_update(b"\n").chain_update(body.as_bytes()).finalize());
        conn.execute("UPDATE audit SET prev_hash = ?1, hash = ?2 WHERE seq = ?3", rusqlite::params![prev, hash, seq]).unwrap();
        prev = hash;
    }
}

#[test]
fn audit_verify_holds_the_log_against_its_signed_checkpoints() {
    let server = signed_log(8);
    let db = server.audit_db();
    let (code, out) = verify(&db, &[]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("records 1..=8 match them"), "{out}");
    let anchor = server.data.path().join("anchor.checkpoint");
    let printed = Command::new(steward_bin()).args(["audit", "checkpoint", "--witness"]).arg(server.data.path().join("var/witness")).output().unwrap();
    std::fs::write(&anchor, &printed.stdout).unwrap();
    assert!(String::from_utf8_lossy(&printed.stdout).contains("\nseq 8\n"));

    // An allow that becomes a deny, with every hash after it recomputed.
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute("UPDATE audit SET body = replace(body, '\"allow\"', '\"deny\"') WHERE seq = 3", []).unwrap();
    rechain(&db, 3);
    assert_eq!(verify(&db, &["--chain-only"]).0, Some(0), "the chain alone is fooled");
    let (code, out) = verify(&db, &[]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("TAMPERED Rewritten at record 8"), "{out}");

    // Records cut off, and the witness emptied: the anchored copy still
    // shows it.
    let server = signed_log(8);
    let db = server.audit_db();
    let printed = Command::new(steward_bin()).args(["audit", "checkpoint", "--witness"]).arg(server.data.path().join("var/witness")).output().unwrap();
    let anchor = server.data.path().join("anchor.checkpoint");
    std::fs::write(&anchor, &printed.stdout).unwrap();
    rusqlite::Connection::open(&db).unwrap().execute("DELETE FROM audit WHERE seq > 5", []).unwrap();
    let (code, out) = verify(&db, &[]);
    assert_eq!(code, Some(1));
    assert!(out.contains("TAMPERED Truncated at record 6: records 6..=8 were cut off"), "{out}");
    std::fs::remove_dir_all(server.data.path().join("var/witness")).unwrap();
    let (code, out) = verify(&db, &[]);
    assert_eq!(code, Some(1));
    assert!(out.contains("TAMPERED NoCheckpoints"), "{out}");
    let (code, out) = verify(&db, &["--anchor", anchor.to_str().unwrap()]);
    assert_eq!(code, Some(1));
    assert!(out.contains("TAMPERED Truncated at record 6"), "{out}");

    // A checkpoint re-signed with the writer's own key.
    let server = signed_log(3);
    let witness = steward_audit::Witness::new(server.data.path().join("var/witness"));
    let real = witness.latest().unwrap().unwrap().checkpoint.unwrap();
    let forger = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
    witness.write(&steward_audit::Checkpoint::sign(&forger, &real.log_id, 3, &real.head, real.at_ms + 1)).unwrap();
    let (code, out) = verify(&server.audit_db(), &[]);
    assert_eq!(code, Some(1));
    assert!(out.contains("TAMPERED ForgedCheckpoint at record 3") && out.contains("forged or signed by another key"), "{out}");

    // Another host's log in this one's place.
    let here = signed_log(3);
    let other = signed_log(3);
    for suffix in ["", "-wal", "-shm"] {
        let from = format!("{}{suffix}", other.audit_db().display());
        let to = format!("{}{suffix}", here.audit_db().display());
        let _ = std::fs::remove_file(&to);
        if Path::new(&from).exists() {
            std::fs::copy(&from, &to).unwrap();
        }
    }
    let (code, out) = verify(&here.audit_db(), &[]);
    assert_eq!(code, Some(1));
    assert!(out.contains("TAMPERED SwappedDatabase"), "{out}");
}
