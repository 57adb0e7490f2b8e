use rusqlite::{Connection, params};
use steward_model::{Decision, IdentityKind};

use crate::store::chain_hash;
use crate::{AuditRecord, AuditWriter, Durability, ProblemKind, verify};

fn record(i: u64) -> AuditRecord {
    AuditRecord {
        request_id: format!("req-{i}"),
        at_ms: 1_000 + i,
        principal: Some("copilot".into()),
        kind: Some(IdentityKind::Agent),
        on_behalf_of: Some("alice".into()),
        session_id: Some("s".into()),
        turn_id: Some(format!("t{i}")),
        action: "sql.read".into(),
        assets: vec!["finance/ledger".into()],
        intent: None,
        decision: Decision::Allow,
        reasons: vec![],
        obligations: vec![],
        decided_by: vec![],
        shadow: vec![],
        risk: Some(0.2),
        latency_us: 10,
        query: None,
    }
}

/// A log of `n` records written through the real writer, many at once.
fn log_with(n: u64) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    let writer = AuditWriter::start(&path, Durability::Process).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        let tasks: Vec<_> = (1..=n)
            .map(|i| {
                let w = writer.clone();
                tokio::spawn(async move { w.append(record(i)).await.unwrap() })
            })
            .collect();
        let mut seqs = Vec::new();
        for t in tasks {
            seqs.push(t.await.unwrap());
        }
        seqs.sort();
        assert_eq!(seqs, (1..=n).collect::<Vec<_>>(), "every append gets its own sequence number");
    });
    (dir, path)
}

fn kinds(path: &std::path::Path) -> Vec<(ProblemKind, u64)> {
    verify(path).unwrap().problems.iter().map(|p| (p.kind, p.seq)).collect()
}

#[test]
fn an_untouched_log_verifies() {
    let (_d, path) = log_with(50);
    let report = verify(&path).unwrap();
    assert_eq!(report.records, 50);
    assert!(report.ok(), "{:?}", report.problems);
}

#[test]
fn the_chain_survives_reopening() {
    let (_d, path) = log_with(5);
    let writer = AuditWriter::start(&path, Durability::Full).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    assert_eq!(rt.block_on(writer.append(record(6))).unwrap(), 6);
    assert!(verify(&path).unwrap().ok());
}

#[test]
fn an_edited_record_is_named() {
    let (_d, path) = log_with(10);
    let conn = Connection::open(&path).unwrap();
    let body: String = conn.query_row("SELECT body FROM audit WHERE seq = 4", [], |r| r.get(0)).unwrap();
    assert!(body.contains("\"allow\""));
    conn.execute("UPDATE audit SET body = ?1 WHERE seq = 4", [body.replace("\"allow\"", "\"deny\"")]).unwrap();
    assert_eq!(kinds(&path), vec![(ProblemKind::Edited, 4)]);
}

#[test]
fn an_edited_record_with_a_recomputed_hash_breaks_the_next_link() {
    let (_d, path) = log_with(10);
    let conn = Connection::open(&path).unwrap();
    let (body, prev): (String, String) =
        conn.query_row("SELECT body, prev_hash FROM audit WHERE seq = 4", [], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
    let body = body.replace("copilot", "someone-else");
    conn.execute("UPDATE audit SET body = ?1, hash = ?2 WHERE seq = 4", params![body, chain_hash(&prev, &body)]).unwrap();
    let problems = kinds(&path);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].1, 5, "the break shows at the record after the forged one");
}

#[test]
fn a_deleted_record_is_named() {
    let (_d, path) = log_with(10);
    Connection::open(&path).unwrap().execute("DELETE FROM audit WHERE seq = 6", []).unwrap();
    assert_eq!(kinds(&path), vec![(ProblemKind::Missing, 6)]);
}

#[test]
fn a_deleted_record_is_named_even_when_the_rest_are_renumbered() {
    let (_d, path) = log_with(10);
    let conn = Connection::open(&path).unwrap();
    conn.execute("DELETE FROM audit WHERE seq = 6", []).unwrap();
    for seq in 7..=10 {
        conn.execute("UPDATE audit SET seq = ?1 WHERE seq = ?2", params![seq - 1, seq]).unwrap();
    }
    assert_eq!(kinds(&path), vec![(ProblemKind::Missing, 6)]);
}

#[test]
fn an_inserted_record_is_named() {
    let (_d, path) = log_with(10);
    let conn = Connection::open(&path).unwrap();
    for seq in (4..=10).rev() {
        conn.execute("UPDATE audit SET seq = ?1 WHERE seq = ?2", params![seq + 1, seq]).unwrap();
    }
    // A forged record that chains correctly to record 3.
    let prev: String = conn.query_row("SELECT hash FROM audit WHERE seq = 3", [], |r| r.get(0)).unwrap();
    let body = serde_json::to_string(&record(99)).unwrap();
    conn.execute(
        "INSERT INTO audit (seq, body, prev_hash, hash) VALUES (4, ?1, ?2, ?3)",
        params![body, prev, chain_hash(&prev, &body)],
    )
    .unwrap();
    let problems = verify(&path).unwrap().problems;
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].kind, ProblemKind::Inserted);
    assert!(problems[0].detail.contains("4..=4"), "{}", problems[0].detail);
}

#[test]
fn reordered_records_are_named() {
    let (_d, path) = log_with(10);
    let conn = Connection::open(&path).unwrap();
    conn.execute("UPDATE audit SET seq = -1 WHERE seq = 3", []).unwrap();
    conn.execute("UPDATE audit SET seq = 3 WHERE seq = 4", []).unwrap();
    conn.execute("UPDATE audit SET seq = 4 WHERE seq = -1", []).unwrap();
    let problems = kinds(&path);
    assert_eq!(problems.first(), Some(&(ProblemKind::Reordered, 3)), "{problems:?}");
}
