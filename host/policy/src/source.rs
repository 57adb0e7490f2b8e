//! The TOML format of `policies/*.toml`, as written by people. Any file may
//! hold any of these sections; the loader merges them and validates the
//! result. Fields that later checks point at are `Spanned` so errors can
//! name the line.

use serde::Deserialize;
use steward_model::{AssetKind, IdentityKind, RiskCategory};
use toml::Spanned;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyFile {
    pub identity: Option<Spanned<IdentitySection>>,
    #[serde(default, rename = "key")]
    pub keys: Vec<KeyEntry>,
    #[serde(default, rename = "principal")]
    pub principals: Vec<PrincipalEntry>,
    #[serde(default, rename = "folder")]
    pub folders: Vec<FolderEntry>,
    #[serde(default, rename = "resource")]
    pub resources: Vec<ResourceEntry>,
    #[serde(default, rename = "action")]
    pub actions: Vec<ActionEntry>,
    #[serde(default, rename = "role")]
    pub roles: Vec<RoleEntry>,
    pub forbidden_actions: Option<ForbiddenActions>,
    #[serde(default, rename = "asset_acl")]
    pub asset_acls: Vec<AssetAclEntry>,
    pub risk: Option<RiskSection>,
    #[serde(default, rename = "column_rule")]
    pub column_rules: Vec<ColumnRuleEntry>,
    #[serde(default, rename = "row_filter")]
    pub row_filters: Vec<RowFilterEntry>,
    #[serde(default, rename = "aggregate_only")]
    pub aggregate_only: Vec<AggregateOnlyEntry>,
    #[serde(default, rename = "join_rule")]
    pub join_rules: Vec<JoinRuleEntry>,
    #[serde(default, rename = "budget")]
    pub budgets: Vec<BudgetEntry>,
    #[serde(default, rename = "plugin_signer")]
    pub plugin_signers: Vec<PluginSignerEntry>,
    #[serde(default, rename = "signed_plugins")]
    pub signed_plugins: Vec<SignedPluginsEntry>,
    pub classification: Option<Spanned<ClassificationSection>>,
    #[serde(default, rename = "team")]
    pub teams: Vec<TeamEntry>,
}

/// An owner team (the `owner` of catalog entries): the humans who decide
/// access requests for what it owns.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamEntry {
    pub name: Spanned<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub members: Vec<Spanned<String>>,
    /// Humans outside the team who may decide for it.
    #[serde(default)]
    pub delegates: Vec<Spanned<String>>,
}

/// The tag vocabulary beyond the built-in PII kinds.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassificationSection {
    /// More PII kinds (each implies `pii`).
    #[serde(default)]
    pub pii_kinds: Vec<String>,
    /// Non-PII tags a classifier plugin may give.
    #[serde(default)]
    pub tags: Vec<String>,
}

/// A key trusted to sign plugins.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginSignerEntry {
    pub id: Spanned<String>,
    /// Base64 of the 32-byte Ed25519 public key.
    pub public_key: Spanned<String>,
}

/// Plugins whose scope reaches `scope` must carry a signature by one of
/// `signers` (any `[[plugin_signer]]` when empty).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedPluginsEntry {
    pub scope: Spanned<Vec<String>>,
    #[serde(default)]
    pub signers: Vec<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentitySection {
    pub issuer: String,
    pub audience: String,
    #[serde(default = "default_leeway")]
    pub leeway_seconds: u64,
    /// The longest lifetime (`exp - iat`, seconds) a token may have, per
    /// identity kind.
    #[serde(default)]
    pub max_token_lifetime: Option<Spanned<LifetimeCapsEntry>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LifetimeCapsEntry {
    pub agent: Option<u64>,
    pub human: Option<u64>,
    pub service: Option<u64>,
}

fn default_leeway() -> u64 {
    30
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyEntry {
    pub kid: Spanned<String>,
    /// Base64 (standard or URL-safe) of the 32-byte Ed25519 public key.
    pub public_key: Spanned<String>,
    /// Tokens signed with this key are accepted from this instant...
    #[serde(default)]
    pub not_before: Option<Spanned<toml::value::Datetime>>,
    /// ...until this one (the key is retired).
    #[serde(default)]
    pub not_after: Option<Spanned<toml::value::Datetime>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrincipalEntry {
    pub id: Spanned<String>,
    pub kind: IdentityKind,
    #[serde(default)]
    pub roles: Vec<Spanned<String>>,
    /// Attributes row filters may use as `{principal.<name>}`.
    #[serde(default)]
    pub attributes: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FolderEntry {
    pub path: Spanned<String>,
    /// What it holds, for people and agents browsing the catalog.
    pub description: Option<String>,
    /// Everyone may know it (and what is under it) exists.
    #[serde(default)]
    pub discoverable: bool,
    pub owner: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    pub significance: Option<Spanned<f32>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceEntry {
    pub path: Spanned<String>,
    pub kind: Spanned<AssetKind>,
    pub description: Option<String>,
    /// Everyone may know it exists.
    #[serde(default)]
    pub discoverable: bool,
    pub owner: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    pub significance: Option<Spanned<f32>>,
    #[serde(default)]
    pub columns: Vec<ColumnEntry>,
    /// Curated, less restricted assets with the same information
    /// (suggested when a query on this one is denied).
    #[serde(default)]
    pub alternatives: Vec<Spanned<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnEntry {
    pub name: String,
    #[serde(rename = "type")]
    pub data_type: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionEntry {
    pub name: Spanned<String>,
    pub category: RiskCategory,
    pub risk: Spanned<f32>,
    /// For people reading the policy; not used by the host.
    #[serde(default)]
    #[allow(dead_code)]
    pub description: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleEntry {
    pub name: Spanned<String>,
    /// For people reading the policy; not used by the host.
    #[serde(default)]
    #[allow(dead_code)]
    pub description: String,
    /// Holders may call the admin API with their own tokens (humans and
    /// services; never agents).
    #[serde(default)]
    pub admin: bool,
    #[serde(default, rename = "grant")]
    pub grants: Vec<GrantEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrantEntry {
    /// Action names, or `"*"` for every action.
    pub actions: Vec<Spanned<String>>,
    /// Asset path globs.
    pub assets: Vec<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForbiddenActions {
    #[serde(default)]
    pub human: Vec<Spanned<String>>,
    #[serde(default)]
    pub agent: Vec<Spanned<String>>,
    #[serde(default)]
    pub service: Vec<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssetAclEntry {
    pub id: Spanned<String>,
    /// Identity kinds this rule applies to; empty means all.
    #[serde(default)]
    pub kinds: Vec<IdentityKind>,
    /// Principal ids this rule applies to; empty means all of `kinds`.
    #[serde(default)]
    pub principals: Vec<Spanned<String>>,
    pub assets: Vec<Spanned<String>>,
    /// Action names, or `"*"`.
    #[serde(default = "all_actions")]
    pub actions: Vec<Spanned<String>>,
    pub reason: String,
}

fn all_actions() -> Vec<Spanned<String>> {
    vec![Spanned::new(0..0, "*".to_string())]
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RiskSection {
    pub human: Option<Spanned<RiskThresholdsEntry>>,
    pub agent: Option<Spanned<RiskThresholdsEntry>>,
    pub service: Option<Spanned<RiskThresholdsEntry>>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RiskThresholdsEntry {
    pub escalate_above: f32,
    pub deny_above: f32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnRuleEntry {
    pub id: Spanned<String>,
    /// Applies to principals holding any of these roles (all when empty)...
    #[serde(default)]
    pub roles: Vec<Spanned<String>>,
    /// ...and of one of these kinds (all when empty).
    #[serde(default)]
    pub kinds: Vec<IdentityKind>,
    pub assets: Vec<Spanned<String>>,
    /// Column names, `tag:<tag>`, or `*`.
    pub columns: Vec<Spanned<String>>,
    pub effect: Spanned<String>,
    pub mask: Option<Spanned<String>>,
    /// For `mask = "sql"`: an expression with `{column}` for the column.
    pub expression: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RowFilterEntry {
    pub id: Spanned<String>,
    /// Applies to principals holding any of these roles (all when empty)...
    #[serde(default)]
    pub roles: Vec<Spanned<String>>,
    /// ...and of one of these kinds (all when empty).
    #[serde(default)]
    pub kinds: Vec<IdentityKind>,
    pub assets: Vec<Spanned<String>>,
    /// A SQL predicate over the table's columns; `{principal.id}` and
    /// `{principal.<attribute>}` are replaced by quoted literals.
    pub filter: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AggregateOnlyEntry {
    pub id: Spanned<String>,
    /// Applies to principals holding any of these roles (all when empty)...
    #[serde(default)]
    pub roles: Vec<Spanned<String>>,
    /// ...and of one of these kinds (all when empty).
    #[serde(default)]
    pub kinds: Vec<IdentityKind>,
    pub assets: Vec<Spanned<String>>,
    pub min_group_size: Spanned<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JoinRuleEntry {
    pub id: Spanned<String>,
    /// Applies to principals holding any of these roles (all when empty)...
    #[serde(default)]
    pub roles: Vec<Spanned<String>>,
    /// ...and of one of these kinds (all when empty).
    #[serde(default)]
    pub kinds: Vec<IdentityKind>,
    /// Exactly two table paths.
    pub tables: Spanned<Vec<String>>,
    /// Allowed equality keys as [left column, right column].
    pub keys: Vec<Spanned<(String, String)>>,
    /// Whether PII columns of one may be returned next to rows of the other.
    #[serde(default)]
    pub allow_pii: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BudgetEntry {
    pub id: Spanned<String>,
    /// Applies to principals holding any of these roles (all when empty)...
    #[serde(default)]
    pub roles: Vec<Spanned<String>>,
    /// ...and of one of these kinds (all when empty).
    #[serde(default)]
    pub kinds: Vec<IdentityKind>,
    /// Principal ids; empty means everyone the subjects match.
    #[serde(default)]
    pub principals: Vec<Spanned<String>>,
    pub rows_per_day: Option<u64>,
    pub pii_cells_per_day: Option<u64>,
    pub queries_per_day: Option<u64>,
}
