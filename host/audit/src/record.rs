//! One audit record: who (the whole identity chain), what, on which assets,
//! what was decided and why, which rules and plugin versions voted, and how
//! long it took. Values of protected data never enter it.

use serde::{Deserialize, Serialize};
use steward_model::{Decision, IdentityKind, Obligation, Reason, Voter};

/// What a record is about. Replay and friction figures count decisions
/// only.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecordType {
    /// An agent's, human's or service's request, decided.
    #[default]
    Decision,
    /// A call to the admin API (plugins, policy, revocations), naming the
    /// admin who made it.
    Admin,
    /// A dry run the host made for the caller (an alternative checked
    /// before it is offered): decided like a request, nothing returned,
    /// no budget charged. Friction figures skip it.
    Probe,
    /// What the shadow-mode SOPs would have decided on the decision named
    /// by `parent`, evaluated after its answer left. Friction figures skip it.
    Shadow,
    /// A step of an access request (submitted, reviewed by an SOP,
    /// approved, denied, revoked, expired, or an attempt refused), named in
    /// `access`. Friction figures skip it.
    Access,
}

impl RecordType {
    fn is_decision(&self) -> bool {
        *self == RecordType::Decision
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    #[serde(default, rename = "type", skip_serializing_if = "RecordType::is_decision")]
    pub record_type: RecordType,
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
    /// The door the request came through (`http`, `mcp`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub door: Option<String>,
    /// The tool it came through: an MCP tool, or the tool plugin whose
    /// call-back it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
    /// The request this one was made within: a tool plugin's call-back
    /// names the invocation, a probe the request it was made for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
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
    /// For `/v1/query`: the SQL asked, the SQL run, what it touched and
    /// what came back (a count and a hash, never the values).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<QueryRecord>,
    /// For an access record: the request and the step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access: Option<AccessRecord>,
}

/// One step of an access request, as the audit log keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccessRecord {
    /// The access request's id.
    pub request: String,
    /// `submitted`, `reviewed`, `approved`, `denied`, `revoked`, `expired`,
    /// or `refused` (an attempt the host turned down).
    pub step: String,
    /// The request's state after the step.
    pub state: String,
    /// The owner team it is routed to.
    pub team: String,
    /// Who the grant is (or would be) for: `agent for human`, or a name.
    pub subject: String,
    /// The request's digest (what an approval is bound to).
    pub digest: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "steward_model::GrantConditions::is_empty")]
    pub conditions: steward_model::GrantConditions,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueryRecord {
    pub sql: String,
    pub mode: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rewritten_sql: Option<String>,
    /// `schema.table.column:use` for every column the query touches.
    #[serde(default)]
    pub columns: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub row_count: Option<u64>,
    /// SHA-256 of the rows returned, as JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_sha256: Option<String>,
}
