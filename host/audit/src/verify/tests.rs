use rusqlite::{Connection, params};
use steward_model::{Decision, IdentityKind};

use crate::store::chain_hash;
use crate::{AuditRecord, AuditWriter, Durability, ProblemKind, verify};

fn record(i: u64) -> AuditRecord {
    AuditRecord {
        record_type: Default::default(),
        request_id: format!("req-{i}"),
        at_ms: 1_000 + i,
        principal: Some("copilot".into()),
        kind: Some(IdentityKind::Agent),
        on_behalf_of: Some("alice".into()),
        session_id: Some("s".into()),
        turn_id: Some(format!("t{i}")),
        door: None,
        tool: None,
        parent: None,
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
        access: None,
    }
}

/// A log of `n` records written through the real writer, many at once.
fn log_with(n: u64) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    let writer = AuditWriter::start(&path, Durability::Process, None).unwrap();
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
    let writer = AuditWriter::start(&path, Durability::Full, None).unwrap();
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

mod checkpoints {
    use std::time::Duration;

    use ed25519_dalek::SigningKey;
    use rusqlite::{Connection, params};

    use super::record;
    use crate::checkpoint::{Checkpoint, Witness};
    use crate::store::chain_hash;
    use crate::{AuditWriter, Checkpointing, Durability, ProblemKind, VerifyReport, verify_with_checkpoints};

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    fn checkpointing(dir: &std::path::Path, every: Duration, every_records: u64) -> Checkpointing {
        Checkpointing { key: key(7), witness: Witness::new(dir.join("witness")), every, every_records }
    }

    /// `n` records appended one after another, a checkpoint every
    /// `every_records`, and one at the end.
    fn log(n: u64, every_records: u64) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.db");
        let writer = AuditWriter::start(&path, Durability::Process, Some(checkpointing(dir.path(), Duration::from_secs(3600), every_records))).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            for i in 1..=n {
                writer.append(record(i)).await.unwrap();
            }
            writer.checkpoint().await.unwrap();
        });
        (dir, path)
    }

    fn check(dir: &std::path::Path, path: &std::path::Path) -> VerifyReport {
        let entries = Witness::new(dir.join("witness")).entries().unwrap();
        verify_with_checkpoints(path, &key(7).verifying_key(), &entries).unwrap()
    }

    fn kinds(report: &VerifyReport) -> Vec<ProblemKind> {
        report.problems.iter().map(|p| p.kind).collect()
    }

    /// Recompute every record's hash from `from` on, as a writer without
    /// the audit key can.
    fn rechain(path: &std::path::Path, from: u64) {
        let conn = Connection::open(path).unwrap();
        let mut prev: String = conn.query_row("SELECT hash FROM audit WHERE seq = ?1", [from as i64 - 1], |r| r.get(0)).unwrap();
        let rows: Vec<(i64, String)> = conn
            .prepare("SELECT seq, body FROM audit WHERE seq >= ?1 ORDER BY seq")
            .unwrap()
            .query_map([from as i64], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        for (seq, body) in rows {
            let hash = chain_hash(&prev, &body);
            conn.execute("UPDATE audit SET prev_hash = ?1, hash = ?2 WHERE seq = ?3", params![prev, hash, seq]).unwrap();
            prev = hash;
        }
    }

    #[test]
    fn an_untouched_log_matches_its_checkpoints() {
        let (dir, path) = log(25, 10);
        let report = check(dir.path(), &path);
        assert!(report.ok(), "{:?}", report.problems);
        // One at start (empty log), at 10, 20, and at the end.
        assert_eq!(report.checkpoints, 4);
        assert_eq!(report.checkpointed_through, Some(25));
    }

    #[test]
    fn an_edit_with_the_chain_recomputed_is_named_between_two_checkpoints() {
        let (dir, path) = log(25, 10);
        let conn = Connection::open(&path).unwrap();
        let body: String = conn.query_row("SELECT body FROM audit WHERE seq = 14", [], |r| r.get(0)).unwrap();
        conn.execute("UPDATE audit SET body = ?1 WHERE seq = 14", [body.replace("\"allow\"", "\"deny\"")]).unwrap();
        rechain(&path, 14);
        assert!(crate::verify(&path).unwrap().ok(), "the chain alone no longer shows the edit");
        let report = check(dir.path(), &path);
        assert_eq!(kinds(&report), vec![ProblemKind::Rewritten]);
        assert_eq!(report.problems[0].seq, 20);
        assert!(report.problems[0].detail.contains("records 11..=20"), "{}", report.problems[0].detail);
        assert_eq!(report.checkpointed_through, Some(10));
    }

    #[test]
    fn deletion_insertion_and_reorder_with_the_chain_recomputed_are_caught() {
        type Tamper = fn(&Connection);
        let tampers: [(&str, Tamper); 3] = [
            ("delete", |c| {
                c.execute("DELETE FROM audit WHERE seq = 5", []).unwrap();
                for seq in 6..=25 {
                    c.execute("UPDATE audit SET seq = ?1 WHERE seq = ?2", params![seq - 1, seq]).unwrap();
                }
                let body = serde_json::to_string(&record(99)).unwrap();
                c.execute("INSERT INTO audit (seq, body, prev_hash, hash) VALUES (25, ?1, '', '')", [body]).unwrap();
            }),
            ("insert", |c| {
                for seq in (5..=25).rev() {
                    c.execute("UPDATE audit SET seq = ?1 WHERE seq = ?2", params![seq + 1, seq]).unwrap();
                }
                let body = serde_json::to_string(&record(99)).unwrap();
                c.execute("INSERT INTO audit (seq, body, prev_hash, hash) VALUES (5, ?1, '', '')", [body]).unwrap();
                c.execute("DELETE FROM audit WHERE seq = 26", []).unwrap();
            }),
            ("reorder", |c| {
                c.execute("UPDATE audit SET seq = -1 WHERE seq = 5", []).unwrap();
                c.execute("UPDATE audit SET seq = 5 WHERE seq = 6", []).unwrap();
                c.execute("UPDATE audit SET seq = 6 WHERE seq = -1", []).unwrap();
            }),
        ];
        for (what, tamper) in tampers {
            let (dir, path) = log(25, 10);
            tamper(&Connection::open(&path).unwrap());
            rechain(&path, 5);
            assert!(crate::verify(&path).unwrap().ok(), "{what}: the chain alone is intact again");
            let report = check(dir.path(), &path);
            assert_eq!(kinds(&report), vec![ProblemKind::Rewritten], "{what}: {:?}", report.problems);
            assert!(report.problems[0].detail.contains("records 1..=10"), "{what}: {}", report.problems[0].detail);
        }
    }

    #[test]
    fn records_cut_off_before_the_newest_checkpoint_are_named() {
        let (dir, path) = log(25, 10);
        Connection::open(&path).unwrap().execute("DELETE FROM audit WHERE seq > 22", []).unwrap();
        let report = check(dir.path(), &path);
        assert_eq!(kinds(&report), vec![ProblemKind::Truncated]);
        assert!(report.problems[0].detail.contains("records 23..=25 were cut off"), "{}", report.problems[0].detail);
    }

    #[test]
    fn a_forged_or_edited_checkpoint_is_named() {
        let (dir, path) = log(25, 10);
        let witness = Witness::new(dir.path().join("witness"));
        // Cut the log and sign a checkpoint for the shorter one with a key
        // that is not the audit key.
        Connection::open(&path).unwrap().execute("DELETE FROM audit WHERE seq > 22", []).unwrap();
        let head: String = Connection::open(&path).unwrap().query_row("SELECT hash FROM audit WHERE seq = 22", [], |r| r.get(0)).unwrap();
        let log_id = check(dir.path(), &path).log_id.unwrap();
        witness.write(&Checkpoint::sign(&key(8), &log_id, 22, &head, u64::MAX / 2)).unwrap();
        let report = check(dir.path(), &path);
        assert_eq!(kinds(&report), vec![ProblemKind::ForgedCheckpoint, ProblemKind::Truncated], "{:?}", report.problems);

        // A real checkpoint edited to claim another head.
        let (dir, path) = log(5, 100);
        let latest = Witness::new(dir.path().join("witness")).latest().unwrap().unwrap();
        let text = std::fs::read_to_string(&latest.path).unwrap();
        let cp = latest.checkpoint.unwrap();
        std::fs::write(&latest.path, text.replace(&cp.head, &"0".repeat(64))).unwrap();
        let report = check(dir.path(), &path);
        assert_eq!(kinds(&report), vec![ProblemKind::ForgedCheckpoint]);
        assert!(report.problems[0].detail.contains("forged or signed by another key"), "{}", report.problems[0].detail);

        // Not a checkpoint at all, or one whose numbers are written
        // another way than they were signed.
        for text in ["x".repeat(10_000), text.replace(&format!("seq {}", cp.seq), &format!("seq +{}", cp.seq))] {
            std::fs::write(&latest.path, text).unwrap();
            assert_eq!(kinds(&check(dir.path(), &path)), vec![ProblemKind::ForgedCheckpoint]);
        }
    }

    #[test]
    fn records_appended_after_the_last_checkpoint_must_chain_to_it_before_they_are_signed() {
        let (dir, path) = log(5, 100);
        let conn = Connection::open(&path).unwrap();
        let body = serde_json::to_string(&record(6)).unwrap();
        conn.execute("INSERT INTO audit (seq, body, prev_hash, hash) VALUES (6, ?1, 'x', ?2)", params![body, chain_hash("x", &body)]).unwrap();
        let err = AuditWriter::start(&path, Durability::Process, Some(checkpointing(dir.path(), Duration::from_secs(1), 10))).err().unwrap();
        assert!(err.to_string().contains("record 6, after the checkpoint, does not chain"), "{err}");
    }

    #[test]
    fn checkpoints_keep_coming_on_time_while_records_never_stop() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.db");
        let writer = AuditWriter::start(&path, Durability::Process, Some(checkpointing(dir.path(), Duration::from_millis(20), 1_000_000))).unwrap();
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let witness = Witness::new(dir.path().join("witness"));
        rt.block_on(async {
            // Eight writers keep the queue from ever running dry for 300 ms.
            let until = std::time::Instant::now() + Duration::from_millis(300);
            let tasks: Vec<_> = (0..8)
                .map(|_| {
                    let w = writer.clone();
                    tokio::spawn(async move {
                        while std::time::Instant::now() < until {
                            w.append(record(1)).await.unwrap();
                        }
                    })
                })
                .collect();
            for t in tasks {
                t.await.unwrap();
            }
        });
        let signed = witness.entries().unwrap().len();
        assert!(signed >= 4, "only {signed} checkpoints in 300 ms at one per 20 ms");
    }

    #[test]
    fn a_swapped_database_is_named() {
        let (dir, path) = log(25, 10);
        let (_other_dir, other) = log(25, 10);
        // Another host's log, its WAL folded in, put in this one's place.
        Connection::open(&other).unwrap().execute_batch("PRAGMA wal_checkpoint(TRUNCATE)").unwrap();
        for suffix in ["-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
        std::fs::copy(&other, &path).unwrap();
        let report = check(dir.path(), &path);
        assert!(kinds(&report).contains(&ProblemKind::SwappedDatabase), "{:?}", report.problems);
    }

    #[test]
    fn records_without_any_checkpoint_are_reported() {
        let (dir, path) = log(5, 100);
        std::fs::remove_dir_all(dir.path().join("witness")).unwrap();
        assert_eq!(kinds(&check(dir.path(), &path)), vec![ProblemKind::NoCheckpoints]);
    }

    #[test]
    fn the_writer_refuses_a_log_that_no_longer_matches_its_witness() {
        let (dir, path) = log(25, 10);
        Connection::open(&path).unwrap().execute("DELETE FROM audit WHERE seq > 22", []).unwrap();
        let err = AuditWriter::start(&path, Durability::Process, Some(checkpointing(dir.path(), Duration::from_secs(1), 10))).err().unwrap();
        assert!(err.to_string().contains("it covers records up to 25, the log ends at record 22"), "{err}");
        assert_eq!(kinds(&check(dir.path(), &path)), vec![ProblemKind::Truncated], "nothing was signed over the cut");
    }

    #[test]
    fn a_checkpoint_follows_a_commit_within_the_interval() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.db");
        let writer = AuditWriter::start(&path, Durability::Process, Some(checkpointing(dir.path(), Duration::from_millis(50), 1000))).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(writer.append(record(1))).unwrap();
        let witness = Witness::new(dir.path().join("witness"));
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while witness.latest().unwrap().and_then(|e| e.checkpoint.ok()).map(|c| c.seq) != Some(1) {
            assert!(std::time::Instant::now() < deadline, "no checkpoint of record 1");
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(check(dir.path(), &path).ok());
    }
}
