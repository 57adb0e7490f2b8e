//! What the runtime knows of tool plugins: what a tool says about itself
//! ([`ToolSpec`], read once when the version is proven), and the call-backs
//! a `steward:guardrail@0.3.0` tool makes during an invocation.
//!
//! The runtime does not decide anything about a call-back: it counts it
//! against the manifest's `limits.max_calls`, refuses it after the tool's
//! deadline or outside an invocation, and hands it to the [`ToolHost`] the
//! caller of `invoke` supplied. That host (the gate) knows who called the
//! tool and runs every call-back as that principal; nothing a tool passes
//! names a principal.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use steward_model as model;

/// A tool plugin's description of itself.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ToolSpec {
    /// The manifest's name.
    pub name: String,
    pub summary: String,
    /// A JSON Schema object (checked to be JSON at load).
    pub input_schema: serde_json::Value,
    /// What `declare` said (0.3.0 tools); `None` for 0.1.0 and 0.2.0 tools,
    /// which are not offered to agents.
    pub declaration: Option<ToolDeclaration>,
}

/// The action a tool performs and the risk it declares.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ToolDeclaration {
    pub action: String,
    pub category: model::RiskCategory,
    /// In [0, 1].
    pub risk_score: f32,
}

/// Names a tool plugin may not take: the MCP door's built-in tools.
pub const RESERVED_NAMES: &[&str] = &["query", "decide", "catalog", "request_access"];

/// One call-back, as the tool asked it.
#[derive(Debug, Clone, PartialEq)]
pub enum CallBack {
    Query { sql: String, preview: bool, intent: Option<String> },
    Decide { action: String, assets: Vec<String>, intent: Option<String> },
    Catalog { path: Option<String> },
    Alternatives { sql: String, intent: Option<String> },
}

impl CallBack {
    /// The call-back's name, as the WIT spells it.
    pub fn name(&self) -> &'static str {
        match self {
            CallBack::Query { .. } => "query",
            CallBack::Decide { .. } => "decide",
            CallBack::Catalog { .. } => "catalog",
            CallBack::Alternatives { .. } => "alternatives",
        }
    }
}

/// A call-back the host would not run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CallBackError {
    /// Outside an invocation, beyond `limits.max_calls`, or after the
    /// deadline.
    #[error("refused: {0}")]
    Refused(String),
    #[error("invalid arguments: {0}")]
    InvalidArguments(String),
}

pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// The other side of a tool's call-backs, for one invocation: it knows the
/// caller and runs every call-back as it.
pub trait ToolHost: Send + Sync + 'static {
    /// Run `call` as the invocation's caller, within `deadline` (what is
    /// left of the tool's); the answer is a JSON document.
    fn call(self: Arc<Self>, call: CallBack, deadline: std::time::Instant) -> BoxFuture<Result<String, CallBackError>>;

    /// Record a call-back the runtime refused (beyond `limits.max_calls`,
    /// after the deadline): it is still the caller's request.
    fn refused(self: Arc<Self>, call: CallBack, why: String) -> BoxFuture<()>;

    /// Whether the caller may know `path` exists: the `catalog` import a
    /// tool reads is its caller's view.
    fn visible(&self, path: &str) -> bool;
}

/// What a tool's store holds during one invocation.
pub(crate) struct Invocation {
    pub host: Arc<dyn ToolHost>,
    /// Call-backs still allowed.
    pub calls_left: u32,
    pub max_calls: u32,
}

/// Longest SQL text or intent a call-back passes on (the HTTP doors take
/// bodies of at most 1 MiB; a tool gets less).
pub const MAX_CALL_TEXT_BYTES: usize = 256 * 1024;
/// Assets one `decide` call-back names at most.
pub const MAX_CALL_ASSETS: usize = 256;

impl CallBack {
    /// Refuse arguments no door would take.
    pub(crate) fn check(&self) -> Result<(), CallBackError> {
        let long = |what: &str, text: &str| {
            if text.len() > MAX_CALL_TEXT_BYTES {
                Err(CallBackError::InvalidArguments(format!("{what} is {} bytes; at most {MAX_CALL_TEXT_BYTES}", text.len())))
            } else {
                Ok(())
            }
        };
        match self {
            CallBack::Query { sql, intent, .. } | CallBack::Alternatives { sql, intent } => {
                long("sql", sql)?;
                long("intent", intent.as_deref().unwrap_or(""))
            }
            CallBack::Decide { action, assets, intent } => {
                long("action", action)?;
                long("intent", intent.as_deref().unwrap_or(""))?;
                if assets.len() > MAX_CALL_ASSETS {
                    return Err(CallBackError::InvalidArguments(format!("{} assets; at most {MAX_CALL_ASSETS}", assets.len())));
                }
                assets.iter().try_for_each(|a| long("an asset path", a))
            }
            CallBack::Catalog { path } => long("path", path.as_deref().unwrap_or("")),
        }
    }
}
