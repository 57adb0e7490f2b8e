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
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentitySection {
    pub issuer: String,
    pub audience: String,
    #[serde(default = "default_leeway")]
    pub leeway_seconds: u64,
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
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrincipalEntry {
    pub id: Spanned<String>,
    pub kind: IdentityKind,
    #[serde(default)]
    pub roles: Vec<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FolderEntry {
    pub path: Spanned<String>,
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
