//! Walk the chain and say what was tampered with, and where.
//!
//! Each record stores `prev_hash` and `hash = sha256(prev_hash, body)`:
//! - a body changed after the fact no longer matches its hash: **edited**;
//! - a gap in sequence numbers, or a record chaining to a hash that is
//!   nowhere in the log: **missing** (deleted);
//! - a record chaining to an earlier record than its predecessor: the
//!   records in between were **inserted**;
//! - a record chaining to a later record: **reordered**.
//!
//! Whoever can write the database can also recompute every hash after an
//! edit, or cut records off the end: the chain alone is intact again. The
//! signed checkpoints catch that ([`verify_with_checkpoints`]): a record at
//! a checkpoint's sequence number must have the hash that was signed, the
//! log must reach the newest checkpoint, and be the log they were signed
//! for.

use std::collections::HashMap;
use std::path::Path;

use ed25519_dalek::VerifyingKey;
use rusqlite::Connection;
use serde::Serialize;

use crate::checkpoint::{Checkpoint, WitnessEntry};
use crate::store::{self, chain_hash};
use crate::{AuditError, GENESIS};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ProblemKind {
    Edited,
    Missing,
    Inserted,
    Reordered,
    /// Records changed with the chain recomputed after them: the hash at
    /// a checkpoint is not the one signed.
    Rewritten,
    /// Records cut off before the newest checkpoint.
    Truncated,
    /// A checkpoint that is not signed by the audit key.
    ForgedCheckpoint,
    /// The checkpoints were signed for another log.
    SwappedDatabase,
    /// Records, but no checkpoint: nothing shows whether they were cut off
    /// or rewritten.
    NoCheckpoints,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub kind: ProblemKind,
    /// The sequence number of the record where it shows.
    pub seq: u64,
    pub detail: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    pub records: u64,
    /// The last record's hash: anchor it elsewhere to detect truncation.
    pub head_hash: String,
    pub problems: Vec<Problem>,
    /// The log's id (`None`: written before logs had one).
    pub log_id: Option<String>,
    /// Checkpoints whose signature verified.
    pub checkpoints: usize,
    /// The newest checkpoint the log matches: records up to it cannot
    /// have been changed without the audit key. Later ones are covered by
    /// the chain only, until the next checkpoint.
    pub checkpointed_through: Option<u64>,
}

impl VerifyReport {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Walk the chain.
pub fn verify(path: &Path) -> Result<VerifyReport, AuditError> {
    let conn = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    Ok(walk(&conn)?.0)
}

/// Walk the chain and hold the log against `checkpoints` (the witness
/// folder's, and any anchored copies), checked with the audit public key.
pub fn verify_with_checkpoints(path: &Path, public_key: &VerifyingKey, checkpoints: &[WitnessEntry]) -> Result<VerifyReport, AuditError> {
    let conn = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let (mut report, hashes) = walk(&conn)?;
    let mut problems = Vec::new();
    let mut valid: Vec<(&WitnessEntry, &Checkpoint)> = Vec::new();
    for entry in checkpoints {
        let where_ = entry.path.display();
        match &entry.checkpoint {
            Err(e) => problems.push(Problem { kind: ProblemKind::ForgedCheckpoint, seq: 0, detail: format!("{where_} is not a valid checkpoint: {e}") }),
            Ok(cp) => match cp.verify(public_key) {
                Ok(()) => valid.push((entry, cp)),
                Err(e) => problems.push(Problem {
                    kind: ProblemKind::ForgedCheckpoint,
                    seq: cp.seq,
                    detail: format!("{where_} (record {}) is forged or signed by another key: {e}", cp.seq),
                }),
            },
        }
    }
    report.checkpoints = valid.len();
    let last_seq = hashes.keys().copied().max().unwrap_or(0);
    // The host signs the head when a log starts, so a witness without a
    // single valid checkpoint was emptied (or is the wrong folder).
    if valid.is_empty() && last_seq > 0 {
        problems.push(Problem {
            kind: ProblemKind::NoCheckpoints,
            seq: 1,
            detail: format!("{last_seq} records and no valid checkpoint: nothing shows whether records were cut off or rewritten"),
        });
    }
    let this_log = report.log_id.clone().unwrap_or_else(|| "(none)".into());
    if let Some((entry, cp)) = valid.iter().find(|(_, cp)| Some(&cp.log_id) != report.log_id.as_ref()) {
        problems.push(Problem {
            kind: ProblemKind::SwappedDatabase,
            seq: 0,
            detail: format!(
                "the database was swapped: {} is signed for log {}, this database is log {this_log}",
                entry.path.display(),
                cp.log_id
            ),
        });
    }
    valid.retain(|(_, cp)| Some(&cp.log_id) == report.log_id.as_ref());
    valid.sort_by_key(|(_, cp)| (cp.seq, cp.at_ms));
    if let Some((entry, newest)) = valid.last()
        && newest.seq > last_seq
    {
        problems.push(Problem {
            kind: ProblemKind::Truncated,
            seq: last_seq.saturating_add(1),
            detail: format!(
                "records {}..={} were cut off: {} signed a log of {} records, this one ends at {last_seq}",
                last_seq.saturating_add(1),
                newest.seq,
                entry.path.display(),
                newest.seq
            ),
        });
    }
    let mut matched: Option<u64> = None;
    for (entry, cp) in valid.iter().filter(|(_, cp)| cp.seq > 0 && cp.seq <= last_seq) {
        if hashes.get(&cp.seq) == Some(&cp.head) {
            matched = Some(cp.seq);
            continue;
        }
        let from = matched.map_or(1, |m| m + 1);
        problems.push(Problem {
            kind: ProblemKind::Rewritten,
            seq: cp.seq,
            detail: format!(
                "the log was rewritten with its chain recomputed: record {} does not have the hash signed in {}; \
                 what changed is in records {from}..={}",
                cp.seq,
                entry.path.display(),
                cp.seq
            ),
        });
        break;
    }
    report.checkpointed_through = matched;
    report.problems.extend(problems);
    Ok(report)
}

/// The chain walk's report, and each record's stored hash by sequence
/// number.
fn walk(conn: &Connection) -> Result<(VerifyReport, HashMap<u64, String>), AuditError> {
    let mut stmt = conn.prepare("SELECT seq, body, prev_hash, hash FROM audit ORDER BY seq")?;
    let rows: Vec<(u64, String, String, String)> = stmt
        .query_map([], |r| Ok((r.get::<_, i64>(0)? as u64, r.get(1)?, r.get(2)?, r.get(3)?)))?
        .collect::<Result<_, _>>()?;
    // Where each stored hash sits, to tell inserted from reordered records.
    let position: HashMap<&str, usize> = rows.iter().enumerate().map(|(i, r)| (r.3.as_str(), i)).collect();
    let mut problems = Vec::new();
    let mut expected_seq = 1u64;
    let mut expected_prev = GENESIS;
    for (i, (seq, body, prev, hash)) in rows.iter().enumerate() {
        if *seq > expected_seq {
            problems.push(Problem {
                kind: ProblemKind::Missing,
                seq: expected_seq,
                detail: if *seq == expected_seq.saturating_add(1) {
                    format!("record {expected_seq} is missing")
                } else {
                    format!("records {expected_seq}..={} are missing", seq - 1)
                },
            });
        }
        if chain_hash(prev, body) != *hash {
            problems.push(Problem {
                kind: ProblemKind::Edited,
                seq: *seq,
                detail: format!("record {seq} was edited: its contents do not match its hash"),
            });
        } else if prev != expected_prev && *seq <= expected_seq {
            // (a sequence gap already explains a broken link)
            problems.push(match position.get(prev.as_str()) {
                Some(&j) if j > i => Problem {
                    kind: ProblemKind::Reordered,
                    seq: *seq,
                    detail: format!("record {seq} belongs after record {}: the log was reordered", rows[j].0),
                },
                Some(&j) => Problem {
                    kind: ProblemKind::Inserted,
                    seq: *seq,
                    detail: format!(
                        "record {seq} follows record {} in the chain: record(s) {}..={} were inserted",
                        rows[j].0,
                        rows[j].0.saturating_add(1),
                        seq - 1
                    ),
                },
                None if *prev == GENESIS => Problem {
                    kind: ProblemKind::Inserted,
                    seq: *seq,
                    detail: format!("record {seq} claims to be the first record: records before it were inserted"),
                },
                None => Problem {
                    kind: ProblemKind::Missing,
                    seq: *seq,
                    detail: format!("the record before {seq} is missing: {seq} chains to a record not in the log"),
                },
            });
        }
        expected_seq = seq.saturating_add(1);
        expected_prev = hash;
    }
    let report = VerifyReport {
        records: rows.len() as u64,
        head_hash: rows.last().map(|r| r.3.clone()).unwrap_or_else(|| GENESIS.to_string()),
        problems,
        log_id: store::log_id(conn)?,
        checkpoints: 0,
        checkpointed_through: None,
    };
    drop(position);
    let hashes = rows.into_iter().map(|(seq, _, _, hash)| (seq, hash)).collect();
    Ok((report, hashes))
}

#[cfg(test)]
mod tests;
