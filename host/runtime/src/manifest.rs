//! `plugin.toml`: what a plugin is, which world it implements, which assets
//! it governs, its limits and its mode. Parsed and checked in
//! `steward-plugin-spec` (no wasmtime there); re-exported here, so
//! `steward_runtime::manifest::…` keeps naming it.

pub use steward_plugin_spec::manifest::*;
