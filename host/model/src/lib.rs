//! The domain model shared by every stage of the request path: who asks
//! ([`Principal`]), for what ([`Action`]) on which [`Asset`]s, and what was
//! decided ([`Verdict`], [`Reason`], [`Obligation`]).
//!
//! These mirror the records of `wit/guardrail.wit`; the plugin runtime
//! converts between the two.

use serde::{Deserialize, Serialize};

pub mod access;
mod failure;
mod ids;
pub mod time;

/// At most `max` characters of a text a caller gave, for a message or a
/// record; `…` marks a cut.
pub fn clip(s: &str, max: usize) -> String {
    let mut out: String = s.chars().take(max).collect();
    if out.len() < s.len() {
        out.push('…');
    }
    out
}

pub use access::{AccessReview, AccessVerdict, ColumnMask, GrantConditions};
/// Whether the catalog path `path` is `folder` itself or below it
/// (`finance/ledger` is within `finance`; `financeX/ledger` is not).
pub fn is_within(path: &str, folder: &str) -> bool {
    path.strip_prefix(folder).is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// `text` with every control character (newlines, escapes) made a space:
/// what a caller wrote, safe to keep on one line of a record or a log.
pub fn printable(text: &str) -> String {
    text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

pub use failure::{PluginError, PluginFailure, TrapCause};
pub use ids::RequestIds;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IdentityKind {
    Human,
    Agent,
    Service,
}

impl IdentityKind {
    pub fn as_str(self) -> &'static str {
        match self {
            IdentityKind::Human => "human",
            IdentityKind::Agent => "agent",
            IdentityKind::Service => "service",
        }
    }
}

/// A verified caller. Roles are resolved from policy, never taken from the
/// token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Principal {
    pub id: String,
    pub kind: IdentityKind,
    /// For agents: the human the agent acts for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_behalf_of: Option<String>,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turn_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RiskCategory {
    Read,
    Write,
    Delete,
    Execute,
    Admin,
    Identity,
    Privilege,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Action {
    pub name: String,
    pub category: RiskCategory,
    /// In [0, 1].
    pub risk_score: f32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AssetKind {
    Folder,
    Table,
    Column,
    Dashboard,
    Pipeline,
    Service,
}

impl AssetKind {
    /// The name policy files and answers use.
    pub fn as_str(self) -> &'static str {
        match self {
            AssetKind::Folder => "folder",
            AssetKind::Table => "table",
            AssetKind::Column => "column",
            AssetKind::Dashboard => "dashboard",
            AssetKind::Pipeline => "pipeline",
            AssetKind::Service => "service",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Asset {
    pub path: String,
    pub kind: AssetKind,
    pub owner: String,
    #[serde(default)]
    pub tags: Vec<String>,
    /// In [0, 1].
    pub significance: f32,
}

/// A request as the pipeline and plugins see it, after identity and parse.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Request {
    pub request_id: String,
    pub principal: Principal,
    pub action: Action,
    pub assets: Vec<Asset>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intent: Option<String>,
    /// More about the request, for plugins built against
    /// `steward:guardrail@0.2.0` (the `context` interface). Shared: every
    /// SOP call of the request hands the same one to its plugin.
    #[serde(default)]
    pub context: std::sync::Arc<RequestContext>,
}

/// What the host knows about a request beyond who, what and which assets.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestContext {
    /// When the host received the request, in ms since the Unix epoch.
    #[serde(default)]
    pub received_at_ms: u64,
    /// The caller's attributes from the identity policy.
    #[serde(default)]
    pub attributes: std::collections::BTreeMap<String, String>,
    /// For an agent, its human's attributes.
    #[serde(default)]
    pub on_behalf_of_attributes: std::collections::BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<QuerySummary>,
}

impl RequestContext {
    /// Milliseconds since the Unix epoch, now (0 if the clock is before it).
    pub fn now_ms() -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
            .unwrap_or(0)
    }
}

/// What a SQL statement touches, for requests made through `/v1/query`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuerySummary {
    /// `read`, `write` or `ddl`.
    pub statement: String,
    pub sql: String,
    /// Catalog paths of the tables read or written.
    pub tables: Vec<String>,
    /// Columns whose values reach the result, as `table-path.column`.
    pub output_columns: Vec<String>,
    /// Whether every output column comes through an aggregate or a GROUP BY key.
    pub aggregated: bool,
}

/// A warehouse column the catalog does not describe, as a classifier plugin
/// sees it: its table's catalog path, its name, its declared SQL type and a
/// few of its values (an empty string stands for NULL).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnSample {
    /// Catalog path of the table, e.g. `sales/customers`.
    pub table: String,
    pub column: String,
    pub data_type: String,
    #[serde(default)]
    pub values: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReasonCode {
    NotPermitted,
    OutsideTask,
    MissingIntent,
    RiskTooHigh,
    SensitiveData,
    NeedsReview,
    Unauthenticated,
    ForbiddenAction,
    ForbiddenAsset,
    UnknownAction,
    UnknownAsset,
    PluginFailure,
    InternalError,
    Other,
}

/// Why a verdict was reached, and which rule or plugin said so.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reason {
    pub code: ReasonCode,
    pub message: String,
    /// The rule (`acl:agent-forbidden-actions`) or plugin
    /// (`plugin:finance-sop@1.0.0`) that gave this reason.
    pub source: String,
}

impl Reason {
    pub fn new(code: ReasonCode, source: impl Into<String>, message: impl Into<String>) -> Self {
        Reason { code, message: message.into(), source: source.into() }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MaskMethod {
    Null,
    Hash,
    LastFour,
    Redact,
}

impl MaskMethod {
    /// How much of the value the mask still shows: nothing (null,
    /// redact), equality (hash), a part (last four).
    pub fn reveals(self) -> u8 {
        match self {
            MaskMethod::Null | MaskMethod::Redact => 0,
            MaskMethod::Hash => 1,
            MaskMethod::LastFour => 2,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Obligation {
    MaxRows { rows: u32 },
    MaskColumn { column: String, method: MaskMethod },
    RowFilter { predicate: String },
    NotifyOwner { message: String },
}

/// What one voter (a rule or a plugin) decided.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "lowercase")]
pub enum Verdict {
    Allow { obligations: Vec<Obligation> },
    Deny { reason: Reason },
    Escalate { reason: Reason },
}

/// The decision as it leaves the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    Allow,
    Deny,
    Escalate,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Allow => "allow",
            Decision::Deny => "deny",
            Decision::Escalate => "escalate",
        }
    }

    /// Deny overrides; escalate beats allow.
    pub fn combine(self, other: Decision) -> Decision {
        use Decision::*;
        match (self, other) {
            (Deny, _) | (_, Deny) => Deny,
            (Escalate, _) | (_, Escalate) => Escalate,
            _ => Allow,
        }
    }
}

impl Verdict {
    pub fn decision(&self) -> Decision {
        match self {
            Verdict::Allow { .. } => Decision::Allow,
            Verdict::Deny { .. } => Decision::Deny,
            Verdict::Escalate { .. } => Decision::Escalate,
        }
    }
}

/// Who took part in a decision: a policy rule or a plugin version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Voter {
    Rule { id: String },
    Plugin { name: String, version: String, digest: String, shadow: bool },
}

#[cfg(test)]
mod tests {
    use super::Decision::*;

    #[test]
    fn a_path_is_within_itself_and_the_folders_above_it_only() {
        assert!(super::is_within("finance/ledger", "finance/ledger"));
        assert!(super::is_within("finance/ledger", "finance"));
        assert!(!super::is_within("financeX/ledger", "finance"));
        assert!(!super::is_within("finance", "finance/ledger"));
    }

    #[test]
    fn deny_overrides_and_escalate_beats_allow() {
        assert_eq!(Allow.combine(Deny), Deny);
        assert_eq!(Escalate.combine(Deny), Deny);
        assert_eq!(Allow.combine(Escalate), Escalate);
        assert_eq!(Escalate.combine(Allow), Escalate);
        assert_eq!(Allow.combine(Allow), Allow);
    }
}
