//! Daily budgets per principal: rows returned, PII cells returned and
//! queries. A query first *reserves* what it may use (for every principal
//! charged: the agent and the human it acts for), in one transaction, so
//! concurrent queries can never overspend; after it ran, the reservation is
//! *settled* with what was actually returned. Days are UTC days; a new day
//! starts with a fresh budget.
//!
//! Reservations that a crashed process never settled are charged in full
//! when the store is opened again: an unknown outcome counts as spent.
//!
//! Every transaction can wait on SQLite's lock (up to its busy timeout), so
//! the async methods run it on tokio's blocking pool, never on a worker
//! that serves requests; the `*_blocking` ones are for synchronous callers.

use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum BudgetError {
    #[error("budget store: {0}")]
    Store(#[from] rusqlite::Error),
    #[error("budget store lock poisoned")]
    Poisoned,
    #[error("budget store: the blocking task did not finish: {0}")]
    Task(String),
}

/// Daily limits for one principal; `None` is unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Limits {
    pub rows: Option<u64>,
    pub pii_cells: Option<u64>,
    pub queries: Option<u64>,
}

impl Limits {
    /// The tighter of two limits, field by field.
    pub fn tighter(self, other: Limits) -> Limits {
        let min = |a: Option<u64>, b: Option<u64>| match (a, b) {
            (Some(x), Some(y)) => Some(x.min(y)),
            (x, None) => x,
            (None, y) => y,
        };
        Limits { rows: min(self.rows, other.rows), pii_cells: min(self.pii_cells, other.pii_cells), queries: min(self.queries, other.queries) }
    }
}

/// What is left today; `None` is unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Left {
    pub rows: Option<u64>,
    pub pii_cells: Option<u64>,
    pub queries: Option<u64>,
}

#[derive(Debug, Clone, Copy, Default)]
struct Usage {
    rows: u64,
    pii: u64,
    queries: u64,
    r_rows: u64,
    r_pii: u64,
    r_queries: u64,
}

impl Usage {
    fn left(&self, limits: &Limits) -> Left {
        let left = |limit: Option<u64>, used: u64, reserved: u64| limit.map(|l| l.saturating_sub(used + reserved));
        Left { rows: left(limits.rows, self.rows, self.r_rows), pii_cells: left(limits.pii_cells, self.pii, self.r_pii), queries: left(limits.queries, self.queries, self.r_queries) }
    }
}

/// Who is charged, with their limits.
#[derive(Debug, Clone)]
pub struct Charge {
    pub principal: String,
    pub limits: Limits,
}

/// What a query asks to reserve: at most `rows` rows, of which each
/// carries `pii_per_row` PII cells.
#[derive(Debug, Clone, Copy)]
pub struct Want {
    pub rows: u64,
    pub pii_per_row: u64,
}

/// Held budget, to be settled or released.
#[derive(Debug, Clone)]
pub struct Reservation {
    pub day: String,
    pub principals: Vec<String>,
    /// Rows the query may return (its row cap).
    pub rows: u64,
    pub pii_cells: u64,
}

/// Why nothing could be reserved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Exhausted {
    pub principal: String,
    pub what: &'static str,
}

#[derive(Clone)]
pub struct BudgetStore {
    conn: Arc<Mutex<Connection>>,
}

/// The UTC day of a unix time, as YYYY-MM-DD.
pub fn day_of(unix_seconds: u64) -> String {
    let days = (unix_seconds / 86_400) as i64;
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    format!("{y:04}-{m:02}-{d:02}")
}

impl BudgetStore {
    pub fn open(path: &Path) -> Result<BudgetStore, BudgetError> {
        let conn = Connection::open(path)?;
        conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;")?;
        Self::init(conn)
    }

    pub fn in_memory() -> Result<BudgetStore, BudgetError> {
        Self::init(Connection::open_in_memory()?)
    }

    fn init(conn: Connection) -> Result<BudgetStore, BudgetError> {
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS usage (
                day TEXT NOT NULL, principal TEXT NOT NULL,
                rows INTEGER NOT NULL DEFAULT 0, pii INTEGER NOT NULL DEFAULT 0, queries INTEGER NOT NULL DEFAULT 0,
                r_rows INTEGER NOT NULL DEFAULT 0, r_pii INTEGER NOT NULL DEFAULT 0, r_queries INTEGER NOT NULL DEFAULT 0,
                PRIMARY KEY (day, principal));
             UPDATE usage SET rows = rows + r_rows, pii = pii + r_pii, queries = queries + r_queries, r_rows = 0, r_pii = 0, r_queries = 0
             WHERE r_rows > 0 OR r_pii > 0 OR r_queries > 0;",
        )?;
        Ok(BudgetStore { conn: Arc::new(Mutex::new(conn)) })
    }

    fn usage(tx: &rusqlite::Transaction, day: &str, principal: &str) -> Result<Usage, rusqlite::Error> {
        Ok(tx
            .prepare_cached("SELECT rows, pii, queries, r_rows, r_pii, r_queries FROM usage WHERE day = ?1 AND principal = ?2")?
            .query_row(params![day, principal], |r| {
                Ok(Usage { rows: r.get(0)?, pii: r.get(1)?, queries: r.get(2)?, r_rows: r.get(3)?, r_pii: r.get(4)?, r_queries: r.get(5)? })
            })
            .optional()?
            .unwrap_or_default())
    }

    /// Reserve one query and as many of the wanted rows as every charged
    /// principal can afford. Fails when a principal has no query left, or
    /// cannot afford a single row.
    pub fn reserve_blocking(&self, day: &str, charges: &[Charge], want: Want) -> Result<Result<Reservation, Exhausted>, BudgetError> {
        let mut conn = self.conn.lock().map_err(|_| BudgetError::Poisoned)?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut rows = want.rows;
        for charge in charges {
            let left = Self::usage(&tx, day, &charge.principal)?.left(&charge.limits);
            if left.queries == Some(0) {
                return Ok(Err(Exhausted { principal: charge.principal.clone(), what: "queries" }));
            }
            if let Some(r) = left.rows {
                if r == 0 && want.rows > 0 {
                    return Ok(Err(Exhausted { principal: charge.principal.clone(), what: "rows" }));
                }
                rows = rows.min(r);
            }
            if let (Some(p), true) = (left.pii_cells, want.pii_per_row > 0) {
                if p < want.pii_per_row {
                    return Ok(Err(Exhausted { principal: charge.principal.clone(), what: "pii-cells" }));
                }
                rows = rows.min(p / want.pii_per_row);
            }
        }
        let pii_cells = rows * want.pii_per_row;
        for charge in charges {
            tx.prepare_cached(
                "INSERT INTO usage (day, principal, r_rows, r_pii, r_queries) VALUES (?1, ?2, ?3, ?4, 1)
                 ON CONFLICT (day, principal) DO UPDATE SET r_rows = r_rows + ?3, r_pii = r_pii + ?4, r_queries = r_queries + 1",
            )?
            .execute(params![day, charge.principal, rows, pii_cells])?;
        }
        tx.commit()?;
        Ok(Ok(Reservation { day: day.to_string(), principals: charges.iter().map(|c| c.principal.clone()).collect(), rows, pii_cells }))
    }

    /// Charge what the query actually returned (never more than reserved)
    /// and free the rest.
    pub fn settle_blocking(&self, reservation: &Reservation, rows: u64, pii_cells: u64) -> Result<(), BudgetError> {
        self.finish(reservation, Some((rows.min(reservation.rows), pii_cells.min(reservation.pii_cells))))
    }

    /// [`BudgetStore::settle_blocking`], and what is then left for each of
    /// `charges` (a charge whose read fails is left out: the settle stands).
    pub fn settle_and_left_blocking(&self, reservation: &Reservation, rows: u64, pii_cells: u64, charges: &[Charge]) -> Result<Vec<(String, Left)>, BudgetError> {
        self.settle_blocking(reservation, rows, pii_cells)?;
        Ok(charges.iter().filter_map(|c| self.left_blocking(&reservation.day, c).ok().map(|l| (c.principal.clone(), l))).collect())
    }

    /// The query did not run: free everything it held.
    pub fn release_blocking(&self, reservation: &Reservation) -> Result<(), BudgetError> {
        self.finish(reservation, None)
    }

    fn finish(&self, r: &Reservation, spent: Option<(u64, u64)>) -> Result<(), BudgetError> {
        let mut conn = self.conn.lock().map_err(|_| BudgetError::Poisoned)?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let (rows, pii, queries) = spent.map_or((0, 0, 0), |(rows, pii)| (rows, pii, 1));
        for principal in &r.principals {
            tx.prepare_cached(
                "UPDATE usage SET r_rows = max(r_rows - ?3, 0), r_pii = max(r_pii - ?4, 0), r_queries = max(r_queries - 1, 0),
                 rows = rows + ?5, pii = pii + ?6, queries = queries + ?7 WHERE day = ?1 AND principal = ?2",
            )?
            .execute(params![r.day, principal, r.rows, r.pii_cells, rows, pii, queries])?;
        }
        tx.commit()?;
        Ok(())
    }

    pub fn left_blocking(&self, day: &str, charge: &Charge) -> Result<Left, BudgetError> {
        let mut conn = self.conn.lock().map_err(|_| BudgetError::Poisoned)?;
        let tx = conn.transaction()?;
        let usage = Self::usage(&tx, day, &charge.principal)?;
        Ok(usage.left(&charge.limits))
    }
}

/// The same, run on tokio's blocking pool.
impl BudgetStore {
    async fn off_worker<T: Send + 'static>(&self, work: impl FnOnce(&BudgetStore) -> Result<T, BudgetError> + Send + 'static) -> Result<T, BudgetError> {
        let store = self.clone();
        tokio::task::spawn_blocking(move || work(&store)).await.map_err(|e| BudgetError::Task(e.to_string()))?
    }

    pub async fn reserve(&self, day: &str, charges: &[Charge], want: Want) -> Result<Result<Reservation, Exhausted>, BudgetError> {
        let (day, charges) = (day.to_string(), charges.to_vec());
        self.off_worker(move |s| s.reserve_blocking(&day, &charges, want)).await
    }

    pub async fn settle(&self, reservation: &Reservation, rows: u64, pii_cells: u64) -> Result<(), BudgetError> {
        let reservation = reservation.clone();
        self.off_worker(move |s| s.settle_blocking(&reservation, rows, pii_cells)).await
    }

    /// Settle, and say what is left for each of `charges` afterwards.
    pub async fn settle_and_left(&self, reservation: &Reservation, rows: u64, pii_cells: u64, charges: &[Charge]) -> Result<Vec<(String, Left)>, BudgetError> {
        let (reservation, charges) = (reservation.clone(), charges.to_vec());
        self.off_worker(move |s| s.settle_and_left_blocking(&reservation, rows, pii_cells, &charges)).await
    }

    pub async fn release(&self, reservation: &Reservation) -> Result<(), BudgetError> {
        let reservation = reservation.clone();
        self.off_worker(move |s| s.release_blocking(&reservation)).await
    }

    /// What is left today for each charge (charges whose store read failed
    /// are left out).
    pub async fn left(&self, day: &str, charges: &[Charge]) -> Vec<(String, Left)> {
        let (day, charges) = (day.to_string(), charges.to_vec());
        self.off_worker(move |s| Ok(charges.iter().filter_map(|c| s.left_blocking(&day, c).ok().map(|l| (c.principal.clone(), l))).collect()))
            .await
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests;
