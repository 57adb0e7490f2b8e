//! Where access requests (and so grants) are kept. [`AccessStore`] is the
//! interface, with backend-neutral errors; [`SqliteAccessStore`] is the
//! embedded one. A PostgreSQL store implements the same trait: state
//! changes are compare-and-set on the request's state, so two hosts (or
//! two approvers) racing on one request cannot both win.
//!
//! Every method may wait on the database: call them off the threads that
//! serve requests (tokio's blocking pool).

#[cfg(feature = "sqlite")]
mod sqlite;
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteAccessStore;

use crate::request::{AccessRequest, State};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("access store: {0}")]
    Backend(String),
    #[error("access store: a stored request is unreadable: {0}")]
    Corrupt(String),
}


/// Which requests to list (all conditions hold), newest first.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    /// Requests this principal submitted or that are for it.
    pub involving: Option<String>,
    /// Requests routed to one of these teams.
    pub teams: Option<Vec<String>>,
    pub state: Option<State>,
    pub limit: usize,
}

pub trait AccessStore: Send + Sync + 'static {
    fn insert(&self, request: &AccessRequest) -> Result<(), StoreError>;
    fn get(&self, id: &str) -> Result<Option<AccessRequest>, StoreError>;
    fn list(&self, query: &ListQuery) -> Result<Vec<AccessRequest>, StoreError>;
    /// Store `request` if the stored one is still in state `expected`;
    /// `false` when someone else changed it first.
    fn update(&self, request: &AccessRequest, expected: State) -> Result<bool, StoreError>;
    /// Approved requests whose grant has not ended at `now_ms`.
    fn live_grants(&self, now_ms: u64) -> Result<Vec<AccessRequest>, StoreError>;
    /// Grants past their end and pending requests past their decide-by
    /// time, at most `limit`.
    fn due(&self, now_ms: u64, limit: usize) -> Result<Vec<AccessRequest>, StoreError>;
    /// Pending requests submitted by `principal`.
    fn pending_by(&self, principal: &str) -> Result<u64, StoreError>;
    /// A number that changes whenever any writer (this process or another)
    /// changed the store: the live grants need reading again.
    fn version(&self) -> Result<u64, StoreError>;
}

