//! Steward's plugin runtime: loads WebAssembly components that implement a
//! `steward:guardrail` world, runs them sandboxed (CPU-time deadlines, memory
//! limits, nothing ambient), proves each new version with its own test
//! cases, and swaps versions without a restart.

pub mod answer;
pub mod bindings;
pub mod cases;
mod clock;
mod engine;
pub mod inspect;
mod limiter;
pub mod manifest;
mod plugin;
mod pool;
pub mod registry;
pub mod signature;
mod state;
pub mod tool;
mod voting;

pub use cases::CaseOutcome;
pub use engine::{EPOCH_TICK, Runtime, RuntimeConfig, digest};
pub use manifest::{BuildSpec, Isolation, Language, Manifest, Mode, World};
pub use plugin::{LoadedPlugin, Score, ToolError};
pub use tool::{CallBack, CallBackError, ToolDeclaration, ToolHost, ToolSpec};
pub use steward_model::{ColumnSample, PluginError, PluginFailure, TrapCause};
pub use clock::{WALL_BACKSTOP_FACTOR, WALL_BACKSTOP_MIN};
pub use plugin::{RECYCLE_GROWTH, SPOT_CHECK_MEAN};
pub use pool::{IDLE_TTL, MAX_IDLE, MAX_IDLE_BYTES};
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
    #[error("this version was quarantined ({why}); ship a new version, or delete {} to prove this one again", .record.display())]
    Quarantined { why: String, record: std::path::PathBuf },
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

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("no plugin named {0:?}")]
    UnknownPlugin(String),
    #[error("plugin {plugin:?} has no version {digest}")]
    UnknownVersion { plugin: String, digest: String },
    #[error("plugin {0:?} has no previous version to roll back to")]
    NoPrevious(String),
}
