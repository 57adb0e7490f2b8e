//! One audit record: who (the whole identity chain), what, on which assets,
//! what was decided and why, which rules and plugin versions voted, and how
//! long it took. Values of protected data never enter it.

use serde::{Deserialize, Serialize};
use steward_model::{Decision, IdentityKind, Obligation, Reason, Voter};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    pub request_id: String,
    /// Milliseconds since the Unix epoch.
    pub at_ms: u64,
    /// The caller (for an agent: the agent).
    pub principal: Option<String>,
    pub kind: Option<IdentityKind>,
    /// For an agent: the human it acts for.
    pub on_behalf_of: Option<String>,
    pub session_id: Option<String>,
    pub turn_id: Option<String>,
    pub action: String,
    pub assets: Vec<String>,
    pub intent: Option<String>,
    pub decision: Decision,
    pub reasons: Vec<Reason>,
    pub obligations: Vec<Obligation>,
    /// Rules and plugin versions (with digests) that voted.
    pub decided_by: Vec<Voter>,
    /// What shadow-mode plugins would have decided.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shadow: Vec<serde_json::Value>,
    pub risk: Option<f32>,
    pub latency_us: u64,
}
