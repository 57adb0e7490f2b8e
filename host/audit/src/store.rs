//! The SQLite schema and the chained append.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};

use crate::{AuditError, AuditRecord, GENESIS};

/// How hard a commit waits for the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// fsync on every commit: survives power loss.
    #[default]
    Full,
    /// WAL without fsync per commit: survives the process being killed, not
    /// the machine losing power.
    Process,
}

pub fn open(path: &Path, durability: Durability) -> Result<Connection, AuditError> {
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir).map_err(|e| AuditError::Commit(format!("create {}: {e}", dir.display())))?;
    }
    let conn = Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", if durability == Durability::Full { "FULL" } else { "NORMAL" })?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS audit (
            seq       INTEGER PRIMARY KEY,
            body      TEXT NOT NULL,
            prev_hash TEXT NOT NULL,
            hash      TEXT NOT NULL
        );
        CREATE TABLE IF NOT EXISTS meta (
            key   TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );",
    )?;
    // The log's identity, which every checkpoint names: another database
    // put in its place has another id (or, copied, not these records).
    conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('log_id', ?1)", [hex::encode(rand::random::<[u8; 8]>())])?;
    Ok(conn)
}

/// The log's id; `None` for a log written before logs had one.
pub(crate) fn log_id(conn: &Connection) -> Result<Option<String>, AuditError> {
    let has_meta: bool = conn.query_row("SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'meta'", [], |r| r.get(0))?;
    if !has_meta {
        return Ok(None);
    }
    Ok(conn.query_row("SELECT value FROM meta WHERE key = 'log_id'", [], |r| r.get(0)).optional()?)
}

/// The hash of a record: sha256 over the previous record's hash and this
/// record's body.
pub(crate) fn chain_hash(prev_hash: &str, body: &str) -> String {
    let mut h = Sha256::new();
    h.update(prev_hash.as_bytes());
    h.update(b"\n");
    h.update(body.as_bytes());
    hex::encode(h.finalize())
}

/// The last (seq, hash) of the chain.
pub(crate) fn head(conn: &Connection) -> Result<(u64, String), AuditError> {
    let row: Option<(i64, String)> =
        conn.query_row("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1", [], |r| Ok((r.get(0)?, r.get(1)?))).optional()?;
    Ok(row.map(|(s, h)| (s as u64, h)).unwrap_or((0, GENESIS.to_string())))
}

/// The stored hash of record `seq`.
pub(crate) fn hash_at(conn: &Connection, seq: u64) -> Result<Option<String>, AuditError> {
    Ok(conn.query_row("SELECT hash FROM audit WHERE seq = ?1", [seq as i64], |r| r.get(0)).optional()?)
}

/// The first record after `seq` (whose hash is `hash`) that does not chain
/// to the one before it, or whose body does not match its hash.
pub(crate) fn first_break_after(conn: &Connection, seq: u64, hash: &str) -> Result<Option<u64>, AuditError> {
    let mut stmt = conn.prepare("SELECT seq, body, prev_hash, hash FROM audit WHERE seq > ?1 ORDER BY seq")?;
    let mut rows = stmt.query([seq as i64])?;
    let (mut expected_seq, mut prev) = (seq + 1, hash.to_string());
    while let Some(row) = rows.next()? {
        let (at, body, prev_hash, hash): (i64, String, String, String) = (row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?);
        if at != expected_seq as i64 || prev_hash != prev || chain_hash(&prev_hash, &body) != hash {
            return Ok(Some(expected_seq));
        }
        expected_seq += 1;
        prev = hash;
    }
    Ok(None)
}

/// Append `records` in one transaction; returns their sequence numbers.
pub(crate) fn append(conn: &mut Connection, head: &mut (u64, String), records: &[AuditRecord]) -> Result<Vec<u64>, AuditError> {
    let tx = conn.transaction()?;
    let mut seqs = Vec::with_capacity(records.len());
    let (mut seq, mut prev) = head.clone();
    {
        let mut insert = tx.prepare_cached("INSERT INTO audit (seq, body, prev_hash, hash) VALUES (?1, ?2, ?3, ?4)")?;
        for record in records {
            let body = serde_json::to_string(record)?;
            let hash = chain_hash(&prev, &body);
            seq += 1;
            insert.execute(params![seq as i64, body, prev, hash])?;
            seqs.push(seq);
            prev = hash;
        }
    }
    tx.commit()?;
    *head = (seq, prev);
    Ok(seqs)
}

#[derive(Debug, Clone)]
pub struct StoredRecord {
    pub seq: u64,
    pub record: AuditRecord,
    pub hash: String,
}

/// The last `n` records, oldest first.
pub fn tail(path: &Path, n: usize) -> Result<Vec<StoredRecord>, AuditError> {
    let conn = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let mut stmt = conn.prepare("SELECT seq, body, hash FROM audit ORDER BY seq DESC LIMIT ?1")?;
    let rows = stmt.query_map([n as i64], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?)))?;
    let mut out = Vec::new();
    for row in rows {
        let (seq, body, hash) = row?;
        out.push(StoredRecord { seq: seq as u64, record: serde_json::from_str(&body)?, hash });
    }
    out.reverse();
    Ok(out)
}
