//! The embedded store: one SQLite file (`DATA/access.db`).

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, params};

use super::{AccessStore, ListQuery, StoreError};
use crate::request::{AccessRequest, State};

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> StoreError {
        StoreError::Backend(e.to_string())
    }
}

pub struct SqliteAccessStore {
    conn: Mutex<Connection>,
    /// Writes made through this handle (SQLite's `data_version` counts only
    /// other connections').
    local_writes: std::sync::atomic::AtomicU64,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS access_requests (
    id TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    team TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    subject TEXT NOT NULL,
    on_behalf_of TEXT,
    submitted_at_ms INTEGER NOT NULL,
    decide_by_ms INTEGER NOT NULL,
    expires_at_ms INTEGER,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS access_requests_state ON access_requests (state, expires_at_ms);
CREATE INDEX IF NOT EXISTS access_requests_requested_by ON access_requests (requested_by, state);
";

impl SqliteAccessStore {
    pub fn open(path: &Path) -> Result<SqliteAccessStore, StoreError> {
        let conn = Connection::open(path)?;
        conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000;")?;
        Self::init(conn)
    }

    pub fn in_memory() -> Result<SqliteAccessStore, StoreError> {
        Self::init(Connection::open_in_memory()?)
    }

    fn init(conn: Connection) -> Result<SqliteAccessStore, StoreError> {
        conn.execute_batch(SCHEMA)?;
        Ok(SqliteAccessStore { conn: Mutex::new(conn), local_writes: Default::default() })
    }

    fn with<T>(&self, f: impl FnOnce(&Connection) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let conn = self.conn.lock().map_err(|_| StoreError::Backend("lock poisoned".into()))?;
        f(&conn)
    }

    fn wrote(&self) {
        self.local_writes.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

fn read(body: String) -> Result<AccessRequest, StoreError> {
    serde_json::from_str(&body).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn body(r: &AccessRequest) -> Result<String, StoreError> {
    serde_json::to_string(r).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn rows(stmt: &mut rusqlite::Statement, params: impl rusqlite::Params) -> Result<Vec<AccessRequest>, StoreError> {
    let bodies = stmt.query_map(params, |row| row.get::<_, String>(0))?.collect::<Result<Vec<_>, _>>()?;
    bodies.into_iter().map(read).collect()
}

impl AccessStore for SqliteAccessStore {
    fn insert(&self, r: &AccessRequest) -> Result<(), StoreError> {
        let text = body(r)?;
        self.with(|c| {
            c.execute(
                "INSERT INTO access_requests (id, state, team, requested_by, subject, on_behalf_of, submitted_at_ms, decide_by_ms, expires_at_ms, body)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![
                    r.id,
                    r.state.as_str(),
                    r.team,
                    r.requested_by,
                    r.subject.principal,
                    r.subject.on_behalf_of,
                    r.submitted_at_ms as i64,
                    r.decide_by_ms as i64,
                    r.expires_at_ms.map(|e| e as i64),
                    text
                ],
            )?;
            Ok(())
        })?;
        self.wrote();
        Ok(())
    }

    fn get(&self, id: &str) -> Result<Option<AccessRequest>, StoreError> {
        let body = self.with(|c| Ok(c.query_row("SELECT body FROM access_requests WHERE id = ?1", [id], |row| row.get::<_, String>(0)).optional()?))?;
        body.map(read).transpose()
    }

    fn list(&self, q: &ListQuery) -> Result<Vec<AccessRequest>, StoreError> {
        let limit = q.limit.clamp(1, 1000) as i64;
        let state = q.state.map(State::as_str);
        let teams = q.teams.as_ref().map(|t| serde_json::to_string(t).unwrap_or_default());
        self.with(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT body FROM access_requests
                 WHERE (?1 IS NULL OR requested_by = ?1 OR subject = ?1 OR on_behalf_of = ?1)
                   AND (?2 IS NULL OR team IN (SELECT value FROM json_each(?2)))
                   AND (?3 IS NULL OR state = ?3)
                 ORDER BY submitted_at_ms DESC, id DESC LIMIT ?4",
            )?;
            rows(&mut stmt, params![q.involving, teams, state, limit])
        })
    }

    fn update(&self, r: &AccessRequest, expected: State) -> Result<bool, StoreError> {
        let text = body(r)?;
        let changed = self.with(|c| {
            Ok(c.execute(
                "UPDATE access_requests SET state = ?2, expires_at_ms = ?3, body = ?4 WHERE id = ?1 AND state = ?5",
                params![r.id, r.state.as_str(), r.expires_at_ms.map(|e| e as i64), text, expected.as_str()],
            )?)
        })?;
        if changed == 1 {
            self.wrote();
        }
        Ok(changed == 1)
    }

    fn live_grants(&self, now_ms: u64) -> Result<Vec<AccessRequest>, StoreError> {
        self.with(|c| {
            let mut stmt = c.prepare_cached("SELECT body FROM access_requests WHERE state = 'approved' AND expires_at_ms > ?1")?;
            rows(&mut stmt, [now_ms as i64])
        })
    }

    fn due(&self, now_ms: u64, limit: usize) -> Result<Vec<AccessRequest>, StoreError> {
        self.with(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT body FROM access_requests
                 WHERE (state = 'approved' AND expires_at_ms <= ?1) OR (state = 'pending' AND decide_by_ms <= ?1)
                 LIMIT ?2",
            )?;
            rows(&mut stmt, params![now_ms as i64, limit as i64])
        })
    }

    fn pending_by(&self, principal: &str) -> Result<u64, StoreError> {
        self.with(|c| {
            Ok(c.query_row("SELECT count(*) FROM access_requests WHERE requested_by = ?1 AND state = 'pending'", [principal], |row| row.get::<_, i64>(0))?
                as u64)
        })
    }

    fn version(&self) -> Result<u64, StoreError> {
        let others = self.with(|c| Ok(c.query_row("PRAGMA data_version", [], |row| row.get::<_, i64>(0))? as u64))?;
        Ok(others.wrapping_mul(1 << 32).wrapping_add(self.local_writes.load(std::sync::atomic::Ordering::SeqCst)))
    }
}
