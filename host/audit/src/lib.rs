//! The audit log: every decision appended to an embedded SQLite store,
//! hash-chained (each record holds the hash of the one before it), written
//! durably before the decision's answer leaves the host.
//!
//! - [`AuditWriter`] owns the database on one thread and group-commits: all
//!   records waiting when a commit starts go into it, and each caller is
//!   answered only after the commit returned.
//! - [`verify`] walks the chain and names every edited, missing, inserted
//!   or reordered record.

mod record;
mod store;
mod verify;
mod writer;

pub use record::{AuditRecord, QueryRecord};
pub use store::{Durability, StoredRecord, open, tail};
pub use verify::{Problem, ProblemKind, VerifyReport, verify};
pub use writer::AuditWriter;

/// The `prev_hash` of the first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("audit store: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("audit record does not serialize: {0}")]
    Encode(#[from] serde_json::Error),
    #[error("the audit writer has stopped")]
    WriterGone,
    #[error("audit commit failed: {0}")]
    Commit(String),
}
