//! The audit log: every decision appended to an embedded SQLite store,
//! hash-chained (each record holds the hash of the one before it), written
//! durably before the decision's answer leaves the host.
//!
//! - [`AuditWriter`] owns the database on one thread and group-commits: all
//!   records waiting when a commit starts go into it, and each caller is
//!   answered only after the commit returned.
//! - [`verify`] walks the chain and names every edited, missing, inserted
//!   or reordered record; [`verify_with_checkpoints`] also holds the log
//!   against the signed checkpoints, which catches what a writer who
//!   recomputes the chain can do: rewrite, cut off, swap.
//! - [`checkpoint`]: the signed checkpoints and the witness folder.

pub mod checkpoint;
mod record;
mod store;
mod verify;
mod writer;

pub use record::{AccessRecord, AuditRecord, QueryRecord, RecordType};
pub use store::{Durability, StoredRecord, open, tail};
pub use checkpoint::{Checkpoint, CheckpointError, Witness};
pub use verify::{Problem, ProblemKind, VerifyReport, verify, verify_with_checkpoints};
pub use writer::{AuditWriter, Checkpointing};

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
    #[error("{0}")]
    Witness(String),
}
