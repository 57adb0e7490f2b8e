//! What a plugin folder says about itself, parsed and checked without
//! loading anything: `plugin.toml` ([`Manifest`]) and `cases.toml`
//! ([`CaseFile`]). The runtime (`steward-runtime`) re-exports these and
//! runs the cases; this crate has no wasmtime in it, so tools and fuzzers
//! can parse plugin folders cheaply.

pub mod cases;
pub mod manifest;

pub use cases::{Case, CaseColumn, CaseFile, CasePrincipal, CasesError};
pub use manifest::{BuildSpec, Capabilities, Isolation, Language, Limits, Manifest, ManifestError, Mode, World};
