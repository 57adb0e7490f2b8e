//! Why a plugin call gave no usable answer, as a typed value the pipeline
//! can record and count. Every failure fails closed (a deny naming the
//! plugin); none is ever an allow.

/// A plugin call that did not produce a usable answer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("plugin {plugin} ({}) failed: {failure}", &digest[..12.min(digest.len())])]
pub struct PluginError {
    /// `name@version`
    pub plugin: String,
    pub digest: String,
    pub failure: PluginFailure,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PluginFailure {
    /// The call used all the CPU time its manifest allows
    /// (`limits.timeout_ms`).
    #[error("used its {budget_ms} ms of CPU time without answering (limits.timeout_ms)")]
    CpuDeadline { budget_ms: u32 },
    /// The call did not finish within the wall-clock backstop (several times
    /// its CPU budget): the host was too loaded to run it.
    #[error("did not finish within {backstop_ms} ms of wall-clock time (the backstop: for a tool it counts the call-backs too; otherwise the host is overloaded)")]
    WallDeadline { backstop_ms: u32 },
    /// The store's limiter refused to grow its memory past the manifest's
    /// `limits.memory_mib`.
    #[error("tried to grow its memory past its limit of {limit_mib} MiB (limits.memory_mib)")]
    MemoryLimit { limit_mib: u32 },
    #[error("trapped in {during}: {cause}")]
    Trap { during: String, cause: TrapCause },
    #[error("could not instantiate: {0}")]
    Instantiate(String),
    #[error("returned an invalid answer: {0}")]
    InvalidOutput(String),
    #[error("{0}")]
    WrongWorld(String),
    /// The version answered one of its own cases differently on a live
    /// instance: every later call fails until it is replaced or rolled back.
    #[error("quarantined: {0}")]
    Quarantined(String),
}

impl PluginFailure {
    /// A short machine-readable kind, for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            PluginFailure::CpuDeadline { .. } => "timeout",
            PluginFailure::WallDeadline { .. } => "wall_clock_timeout",
            PluginFailure::MemoryLimit { .. } => "memory_limit_exceeded",
            PluginFailure::Trap { .. } => "trap",
            PluginFailure::Instantiate(_) => "instantiate",
            PluginFailure::InvalidOutput(_) => "invalid_output",
            PluginFailure::WrongWorld(_) => "wrong_world",
            PluginFailure::Quarantined(_) => "quarantined",
        }
    }
}

/// What made a plugin trap, in words an author can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrapCause {
    #[error("stack overflow (unbounded recursion?)")]
    StackOverflow,
    #[error("unreachable code reached (a Rust panic, or an uncaught Python or JavaScript exception)")]
    Unreachable,
    #[error("out-of-bounds memory access")]
    MemoryOutOfBounds,
    #[error("integer division by zero")]
    DivisionByZero,
    #[error("integer overflow")]
    IntegerOverflow,
    #[error("invalid conversion to integer")]
    BadConversion,
    #[error("bad indirect call (null or mismatched function reference)")]
    BadCall,
    #[error("called exit({0})")]
    Exit(i32),
    #[error("{0}")]
    Other(String),
}
