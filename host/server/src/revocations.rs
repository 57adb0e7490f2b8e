//! Revocations kept across restarts: a store interface (SQLite here;
//! PostgreSQL when shared state moves there), and the task that keeps the
//! verifiers' live set in step with the store, so a revocation written by
//! another host (or process) applies here within a second.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use steward_identity::{RevocationKind, RevocationSet, Revocations};

/// Revocations held at most: a store full of them refuses more (lift old
/// ones, or let revoked tokens expire and lift those).
pub const MAX_REVOCATIONS: usize = 1_000_000;
/// The longest id a revocation may name.
pub const MAX_ID_BYTES: usize = 256;
/// How often the store is checked for changes made elsewhere.
pub const POLL_EVERY: Duration = Duration::from_millis(500);
/// Polls between full reloads.
const FULL_RELOAD_EVERY: u64 = 120;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revocation {
    pub kind: RevocationKind,
    pub id: String,
    #[serde(default)]
    pub reason: String,
    /// The admin who revoked it.
    pub by: String,
    /// Unix seconds.
    pub at: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum RevocationError {
    #[error("revocation store: {0}")]
    Store(#[from] rusqlite::Error),
    #[error("the store holds {MAX_REVOCATIONS} revocations, the most it keeps: lift revocations that no longer matter first")]
    Full,
    #[error("a revocation needs an id of 1 to {MAX_ID_BYTES} bytes without control characters")]
    BadId,
    #[error("the revocation store is unavailable (a thread holding it panicked); restart the server")]
    Poisoned,
}

/// Where revocations are kept.
pub trait RevocationStore: Send + Sync {
    fn list(&self) -> Result<Vec<Revocation>, RevocationError>;
    /// Add one; `false` when that kind and id was revoked already (the
    /// first revocation is kept).
    fn add(&self, revocation: &Revocation) -> Result<bool, RevocationError>;
    /// Lift one; `false` when there was none.
    fn lift(&self, kind: RevocationKind, id: &str) -> Result<bool, RevocationError>;
    /// Changes whenever another writer changed the store.
    fn version(&self) -> Result<u64, RevocationError>;
}

/// Checked before anything is stored.
pub fn valid_id(id: &str) -> Result<(), RevocationError> {
    if id.is_empty() || id.len() > MAX_ID_BYTES || id.chars().any(char::is_control) {
        return Err(RevocationError::BadId);
    }
    Ok(())
}

pub struct SqliteRevocations {
    conn: Mutex<Connection>,
}

impl SqliteRevocations {
    pub fn open(path: &Path) -> Result<SqliteRevocations, RevocationError> {
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.busy_timeout(Duration::from_secs(5))?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS revocation (
                kind   TEXT NOT NULL,
                id     TEXT NOT NULL,
                reason TEXT NOT NULL,
                by     TEXT NOT NULL,
                at     INTEGER NOT NULL,
                PRIMARY KEY (kind, id)
            );",
        )?;
        Ok(SqliteRevocations { conn: Mutex::new(conn) })
    }

    fn conn(&self) -> Result<std::sync::MutexGuard<'_, Connection>, RevocationError> {
        self.conn.lock().map_err(|_| RevocationError::Poisoned)
    }
}

impl RevocationStore for SqliteRevocations {
    fn list(&self) -> Result<Vec<Revocation>, RevocationError> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached("SELECT kind, id, reason, by, at FROM revocation ORDER BY at, kind, id")?;
        let rows = stmt.query_map([], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, String>(3)?, r.get::<_, i64>(4)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (kind, id, reason, by, at) = row?;
            // A kind this version does not know (written by a newer one)
            // cannot be enforced here; say so rather than drop it silently.
            let Some(kind) = RevocationKind::parse(&kind) else {
                tracing::warn!(kind = %kind, id = %id, "a revocation of a kind this version does not know is ignored");
                continue;
            };
            out.push(Revocation { kind, id, reason, by, at: at.max(0) as u64 });
        }
        Ok(out)
    }

    fn add(&self, r: &Revocation) -> Result<bool, RevocationError> {
        valid_id(&r.id)?;
        let conn = self.conn()?;
        let exists: Option<i64> =
            conn.query_row("SELECT 1 FROM revocation WHERE kind = ?1 AND id = ?2", params![r.kind.as_str(), r.id], |row| row.get(0)).optional()?;
        if exists.is_some() {
            return Ok(false);
        }
        let count: i64 = conn.query_row("SELECT count(*) FROM revocation", [], |row| row.get(0))?;
        if count as usize >= MAX_REVOCATIONS {
            return Err(RevocationError::Full);
        }
        conn.execute(
            "INSERT INTO revocation (kind, id, reason, by, at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![r.kind.as_str(), r.id, r.reason, r.by, r.at as i64],
        )?;
        Ok(true)
    }

    fn lift(&self, kind: RevocationKind, id: &str) -> Result<bool, RevocationError> {
        Ok(self.conn()?.execute("DELETE FROM revocation WHERE kind = ?1 AND id = ?2", params![kind.as_str(), id])? > 0)
    }

    fn version(&self) -> Result<u64, RevocationError> {
        // Moves when another connection commits (not for this one's own
        // writes, which reload the set themselves).
        Ok(self.conn()?.query_row("PRAGMA data_version", [], |r| r.get::<_, i64>(0))? as u64)
    }
}

/// The set the verifiers check, as the store holds it.
pub fn load_set(store: &dyn RevocationStore) -> Result<RevocationSet, RevocationError> {
    let all = store.list()?;
    Ok(RevocationSet::new(all.iter().map(|r| (r.kind, r.id.as_str()))))
}

/// Reload `live` from `store` now.
pub fn refresh(store: &dyn RevocationStore, live: &Revocations) -> Result<(), RevocationError> {
    live.replace(load_set(store)?);
    Ok(())
}

/// Reload `live` whenever the store changes, checking every
/// [`POLL_EVERY`]. A store that cannot be read keeps the last set (and
/// says so): revocations already known stay in force.
pub fn spawn_poller(store: Arc<dyn RevocationStore>, live: Arc<Revocations>) {
    tokio::spawn(async move {
        let mut seen = None;
        let mut tick = tokio::time::interval(POLL_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        for polls in 0u64.. {
            tick.tick().await;
            let (store, live) = (store.clone(), live.clone());
            // Now and then a full reload whatever the version says: a
            // refresh after this host's own write may have failed.
            let full = polls % FULL_RELOAD_EVERY == 0;
            let polled = tokio::task::spawn_blocking(move || -> Result<Option<u64>, RevocationError> {
                let version = store.version()?;
                if seen == Some(version) && !full {
                    return Ok(None);
                }
                refresh(&*store, &live)?;
                Ok(Some(version))
            })
            .await;
            match polled {
                Ok(Ok(Some(version))) => seen = Some(version),
                Ok(Ok(None)) => {}
                Ok(Err(e)) => tracing::error!(error = %e, "cannot read the revocation store; the revocations already loaded stay in force"),
                Err(e) => tracing::error!(error = %e, "the revocation poll failed"),
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn revocation(kind: RevocationKind, id: &str) -> Revocation {
        Revocation { kind, id: id.into(), reason: "test".into(), by: "alice".into(), at: 1 }
    }

    #[test]
    fn revocations_persist_and_lift() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("revocations.db");
        let store = SqliteRevocations::open(&path).unwrap();
        assert!(store.add(&revocation(RevocationKind::Session, "s1")).unwrap());
        assert!(!store.add(&revocation(RevocationKind::Session, "s1")).unwrap(), "a second revocation of s1 changes nothing");
        assert!(store.add(&revocation(RevocationKind::Agent, "s1")).unwrap(), "kinds are apart");
        for bad in ["", "a\nb", &"x".repeat(MAX_ID_BYTES + 1)] {
            assert!(matches!(store.add(&revocation(RevocationKind::Token, bad)), Err(RevocationError::BadId)));
        }
        drop(store);
        let store = SqliteRevocations::open(&path).unwrap();
        assert_eq!(store.list().unwrap().len(), 2);
        assert!(store.lift(RevocationKind::Session, "s1").unwrap());
        assert!(!store.lift(RevocationKind::Session, "s1").unwrap());
        assert_eq!(store.list().unwrap(), vec![revocation(RevocationKind::Agent, "s1")]);
    }

    #[test]
    fn another_writers_change_moves_the_version() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("revocations.db");
        let ours = SqliteRevocations::open(&path).unwrap();
        let before = ours.version().unwrap();
        SqliteRevocations::open(&path).unwrap().add(&revocation(RevocationKind::Human, "bob")).unwrap();
        assert_ne!(ours.version().unwrap(), before);
    }
}
