//! SQL analysis and enforcement, without wasmtime.
//!
//! - [`analyze`]: parse one statement and resolve every name against the
//!   catalog's [`Schema`], giving its [`QueryShape`]. What cannot be
//!   resolved is an [`AnalysisError`], never a guess.
//! - [`bounds`]: how large and deep a statement may be, checked before
//!   the parser builds a tree.
//! - [`functions`]: the functions a query may call.
//! - [`plan`]: what one viewer may see of the tables a query touches.
//! - [`rewrite`]: enforcement by rewrite, and the proof it holds.
//! - [`alternative`]: candidate rewrites of a denied statement.
//! - [`cache`]: the plan cache, so a repeated statement is analyzed and
//!   rewritten once per viewer rule set.

pub mod alternative;
pub mod analyze;
pub mod bounds;
pub mod cache;
pub mod compile;
mod error;
pub mod functions;
pub mod mask;
pub mod plan;
pub mod rewrite;
pub mod schema;
pub mod shape;

pub use cache::PlanCache;
pub use analyze::{Hooks, NoHooks, analyze, parse, parse_rewritten};
pub use error::AnalysisError;
pub use plan::{Mode, Plan, TablePlan, Treatment, Viewer, Violation};
pub use rewrite::{Enforced, Prepared, Refusal, enforce, prepare};
pub use schema::{Classification, ColumnDef, Dialect, Schema, TableDef, TableId};
pub use shape::{ColRef, ColumnUse, JoinEdge, OutputColumn, QueryShape, StatementKind, TableAccess, Via};
