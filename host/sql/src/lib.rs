//! SQL analysis and enforcement, without wasmtime.
//!
//! - [`analyze`]: parse one statement and resolve every name against the
//!   catalog's [`Schema`], giving its [`QueryShape`]. What cannot be
//!   resolved is an [`AnalysisError`], never a guess.
//! - [`functions`]: the functions a query may call.

pub mod analyze;
mod error;
pub mod functions;
pub mod schema;
pub mod shape;

pub use analyze::{Hooks, NoHooks, analyze, parse};
pub use error::AnalysisError;
pub use schema::{Classification, ColumnDef, Dialect, Schema, TableDef, TableId};
pub use shape::{ColRef, ColumnUse, JoinEdge, OutputColumn, QueryShape, StatementKind, TableAccess, Via};
