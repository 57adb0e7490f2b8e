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
//! Removing records from the end of the log leaves a valid shorter chain;
//! anchoring the head elsewhere (shipping `hash` of the last record off the
//! machine) is what catches that.

use std::collections::HashMap;
use std::path::Path;

use rusqlite::Connection;
use serde::Serialize;

use crate::store::chain_hash;
use crate::{AuditError, GENESIS};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ProblemKind {
    Edited,
    Missing,
    Inserted,
    Reordered,
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
}

impl VerifyReport {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

pub fn verify(path: &Path) -> Result<VerifyReport, AuditError> {
    let conn = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
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
                detail: if *seq == expected_seq + 1 {
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
                        rows[j].0 + 1,
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
        expected_seq = seq + 1;
        expected_prev = hash;
    }
    Ok(VerifyReport {
        records: rows.len() as u64,
        head_hash: rows.last().map(|r| r.3.clone()).unwrap_or_else(|| GENESIS.to_string()),
        problems,
    })
}

#[cfg(test)]
mod tests;
