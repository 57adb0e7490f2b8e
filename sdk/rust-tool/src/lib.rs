//! Write Steward tool plugins in Rust, against the `tool` world of
//! `steward:guardrail@0.3.0` (`wit/v0.3.0`).
//!
//! A tool describes itself (`describe`), declares the action it performs
//! and its risk (`declare`), and runs on an agent's JSON arguments
//! (`invoke`), calling Steward back through [`gate`]: `query`, `decide`,
//! `catalog` and `alternatives`, each run as the tool's caller and
//! answering the JSON document the HTTP API answers. Its [`catalog`]
//! import shows only what the caller may see.
//!
//! ```ignore
//! use steward_tool_sdk::{Guest, Principal, RiskCategory, ToolDeclaration, ToolDescription, ToolError, gate};
//!
//! struct MyTool;
//! impl Guest for MyTool {
//!     fn describe() -> ToolDescription { /* name, summary, input schema */ }
//!     fn declare() -> ToolDeclaration {
//!         ToolDeclaration { action: "sql.read".into(), category: RiskCategory::Read, risk_score: 0.1 }
//!     }
//!     fn invoke(caller: Principal, arguments: String) -> Result<String, ToolError> {
//!         gate::query("SELECT region FROM sales.orders", gate::QueryMode::Full, None).map_err(|e| ToolError::Other(format!("{e:?}")))
//!     }
//! }
//! steward_tool_sdk::export_tool!(MyTool);
//! ```
//!
//! A crate of its own, apart from `steward-sdk` (0.2.0, every world): a
//! component imports one version of the package, and linking both would
//! give a tool the imports of both.

#![allow(clippy::too_many_arguments)]

pub mod bindings {
    wit_bindgen::generate!({
        world: "tool",
        path: "../../wit/v0.3.0",
        pub_export_macro: true,
        export_macro_name: "export_tool",
        default_bindings_module: "steward_tool_sdk::bindings",
    });
}

pub use bindings::{Guest, export_tool};
pub use bindings::steward::guardrail::gate::{self, CallError, QueryMode, ToolDeclaration};
pub use bindings::steward::guardrail::types::*;
pub use bindings::steward::guardrail::{catalog, log};
