//! Steward's plugin runtime: loads WebAssembly components that implement a
//! `steward:guardrail` world, runs them sandboxed (epoch deadlines, memory
//! limits, nothing ambient), proves each new version with its own test
//! cases, and swaps versions without a restart.

pub mod answer;
pub mod bindings;
pub mod cases;
mod engine;
pub mod inspect;
pub mod manifest;
mod plugin;
pub mod registry;
pub mod signature;
mod state;
mod voting;

pub use cases::CaseOutcome;
pub use engine::{EPOCH_TICK, Runtime, RuntimeConfig, digest};
pub use manifest::{BuildSpec, Isolation, Language, Manifest, Mode, World};
pub use plugin::{LoadedPlugin, Score, ToolDescription, ToolError};
pub use steward_model::ColumnSample;
pub use registry::{Origin, PluginSet, PluginSource, Proven, Registry, Signatures, Slot, Staged};
pub use signature::{PluginSignature, SignatureError};

/// Why a plugin version was refused at load.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("bad manifest: {0}")]
    Manifest(String),
    #[error("{0}")]
    Io(String),
    #[error("does not compile: {0}")]
    Compile(String),
    #[error("refused at link: {0}")]
    Link(String),
    #[error("{0}")]
    WrongWorld(String),
    #[error("{0}")]
    Version(String),
    #[error("signature: {0}")]
    Signature(#[from] SignatureError),
    #[error("bad test cases: {0}")]
    Cases(String),
    #[error("{} of {} test case(s) failed: {}", .0.iter().filter(|o| !o.passed).count(), .0.len(), failed_cases(.0))]
    CasesFailed(Vec<CaseOutcome>),
}

/// A refused `plugin.toml`: a file that cannot be read is `Io`, anything
/// else `Manifest`.
impl From<manifest::ManifestError> for LoadError {
    fn from(e: manifest::ManifestError) -> Self {
        match e {
            manifest::ManifestError::Read { .. } => LoadError::Io(e.to_string()),
            other => LoadError::Manifest(other.to_string()),
        }
    }
}

impl From<cases::CasesError> for LoadError {
    fn from(e: cases::CasesError) -> Self {
        LoadError::Cases(e.to_string())
    }
}

fn failed_cases(outcomes: &[CaseOutcome]) -> String {
    outcomes.iter().filter(|o| !o.passed).map(|o| format!("{:?}: {}", o.name, o.detail)).collect::<Vec<_>>().join("; ")
}

/// A plugin call that did not produce a usable answer. Always fails closed.
#[derive(Debug, Clone, thiserror::Error)]
#[error("plugin {plugin} ({}) failed: {failure}", &digest[..12.min(digest.len())])]
pub struct PluginError {
    /// `name@version`
    pub plugin: String,
    pub digest: String,
    pub failure: PluginFailure,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PluginFailure {
    #[error("deadline exceeded")]
    Timeout,
    #[error("memory limit exceeded")]
    MemoryLimit,
    #[error("trapped in {0}")]
    Trap(String),
    #[error("could not instantiate: {0}")]
    Instantiate(String),
    #[error("returned an invalid answer: {0}")]
    InvalidOutput(String),
    #[error("{0}")]
    WrongWorld(String),
}

impl PluginFailure {
    /// A short machine-readable kind, for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            PluginFailure::Timeout => "timeout",
            PluginFailure::MemoryLimit => "memory_limit_exceeded",
            PluginFailure::Trap(_) => "trap",
            PluginFailure::Instantiate(_) => "instantiate",
            PluginFailure::InvalidOutput(_) => "invalid_output",
            PluginFailure::WrongWorld(_) => "wrong_world",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("no plugin named {0:?}")]
    UnknownPlugin(String),
    #[error("plugin {plugin:?} has no version {digest}")]
    UnknownVersion { plugin: String, digest: String },
    #[error("plugin {0:?} has no previous version to roll back to")]
    NoPrevious(String),
}
