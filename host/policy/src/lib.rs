//! Steward's policy: the catalog (folders and resources with owners, tags,
//! significance and columns), identities and their roles, grants, action
//! and asset ACLs, and risk ceilings per identity kind.
//!
//! [`Policy::load_dir`] reads `policies/*.toml`; a bad file is refused with
//! its file, line and reason. The policy is immutable once loaded; reloads
//! build a new one and swap it in.

pub mod classification;
mod data;
mod glob;
mod load;
mod signing;
mod source;
pub mod time;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

pub use classification::TagVocabulary;
pub use data::{AggregateOnly, Budget, ColumnEffect, ColumnRule, ColumnSelector, JoinRule, MaskSpec, RowFilter, Subjects};
pub use glob::PathGlob;
pub use signing::{PluginSigner, SignatureRequirement};
use steward_model::{Action, Asset, AssetKind, IdentityKind};

/// Significance of an asset nobody scored: the highest, so that an
/// unannotated asset is treated as carefully as possible.
pub const DEFAULT_SIGNIFICANCE: f32 = 1.0;

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("{file}:{line}: {message}")]
    Invalid { file: PathBuf, line: usize, message: String },
    #[error("cannot read {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("no policy files (*.toml) in {0}")]
    Empty(PathBuf),
    #[error("the policy needs {0}")]
    Missing(String),
}

#[derive(Debug, Clone)]
pub struct IdentityConfig {
    pub issuer: String,
    pub audience: String,
    pub leeway_seconds: u64,
    /// `[identity.max_token_lifetime]`: seconds, per identity kind.
    pub max_token_lifetime: LifetimeCaps,
}

/// The longest token lifetime (`exp - iat`) the policy accepts per
/// identity kind; `None`: no cap.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LifetimeCaps {
    pub agent: Option<u64>,
    pub human: Option<u64>,
    pub service: Option<u64>,
}

impl LifetimeCaps {
    pub fn for_kind(&self, kind: IdentityKind) -> Option<u64> {
        match kind {
            IdentityKind::Agent => self.agent,
            IdentityKind::Human => self.human,
            IdentityKind::Service => self.service,
        }
    }
}

#[derive(Debug, Clone)]
pub struct PublicKey {
    pub kid: String,
    pub ed25519: [u8; 32],
    /// Unix seconds from which tokens signed with it are accepted.
    pub not_before: Option<u64>,
    /// Unix seconds after which they are refused (the key is retired).
    pub not_after: Option<u64>,
}

#[derive(Debug, Clone)]
pub struct PrincipalRecord {
    pub id: String,
    pub kind: IdentityKind,
    pub roles: Vec<String>,
    pub attributes: BTreeMap<String, String>,
}

#[derive(Debug, Clone)]
pub struct Column {
    pub name: String,
    pub data_type: String,
    pub tags: Vec<String>,
    pub description: Option<String>,
}

#[derive(Debug, Clone)]
pub struct CatalogEntry {
    pub path: String,
    pub kind: AssetKind,
    pub description: Option<String>,
    /// Marked discoverable itself (see [`Policy::discoverable`] for the
    /// inherited answer).
    pub discoverable: bool,
    pub owner: Option<String>,
    pub tags: Vec<String>,
    pub significance: Option<f32>,
    pub columns: Vec<Column>,
    /// Curated, less restricted assets with the same information.
    pub alternatives: Vec<String>,
    file: PathBuf,
    line: usize,
}

#[derive(Debug, Clone)]
pub struct Role {
    pub name: String,
    /// Holders may call the admin API with their own tokens.
    pub admin: bool,
    pub grants: Vec<Grant>,
}

/// A role may take `actions` on assets matching `assets`.
#[derive(Debug, Clone)]
pub struct Grant {
    pub role: String,
    pub actions: Vec<String>,
    pub assets: Vec<PathGlob>,
}

impl Grant {
    pub fn covers(&self, action: &str, asset_path: &str) -> bool {
        self.actions.iter().any(|a| a == "*" || a == action) && self.assets.iter().any(|g| g.matches(asset_path))
    }

    /// A stable id for audit records: `grant:<role>#<index>` is not stable
    /// across edits, so name the role and the patterns.
    pub fn id(&self) -> String {
        let assets: Vec<&str> = self.assets.iter().map(PathGlob::as_str).collect();
        format!("grant:{}:{}", self.role, assets.join(","))
    }
}

#[derive(Debug, Clone)]
pub struct ForbiddenAction {
    pub kind: IdentityKind,
    pub action: String,
}

/// An asset ACL: these identities may never take these actions on these
/// assets.
#[derive(Debug, Clone)]
pub struct AssetAcl {
    pub id: String,
    pub kinds: Vec<IdentityKind>,
    pub principals: Vec<String>,
    pub actions: Vec<String>,
    pub assets: Vec<PathGlob>,
    pub reason: String,
}

impl AssetAcl {
    pub fn applies(&self, kind: IdentityKind, principal_id: &str, action: &str, asset_path: &str) -> bool {
        (self.kinds.is_empty() || self.kinds.contains(&kind))
            && (self.principals.is_empty() || self.principals.iter().any(|p| p == principal_id))
            && self.actions.iter().any(|a| a == "*" || a == action)
            && self.assets.iter().any(|g| g.matches(asset_path))
    }
}

/// Risk (action risk x asset significance) above `escalate_above` needs a
/// human; above `deny_above` it is refused.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RiskThresholds {
    pub escalate_above: f32,
    pub deny_above: f32,
}

/// Without a `[risk.<kind>]` section nothing is escalated or denied on risk
/// alone for humans; agents and services get conservative defaults.
fn default_thresholds(kind: IdentityKind) -> RiskThresholds {
    match kind {
        IdentityKind::Human => RiskThresholds { escalate_above: 1.0, deny_above: 1.0 },
        IdentityKind::Agent | IdentityKind::Service => RiskThresholds { escalate_above: 0.3, deny_above: 0.6 },
    }
}

#[derive(Debug, Clone, Default)]
pub struct Policy {
    identity: Option<IdentityConfig>,
    keys: Vec<PublicKey>,
    principals: HashMap<String, PrincipalRecord>,
    catalog: BTreeMap<String, CatalogEntry>,
    actions: HashMap<String, Action>,
    roles: HashMap<String, Role>,
    forbidden: Vec<ForbiddenAction>,
    asset_acls: Vec<AssetAcl>,
    risk: HashMap<IdentityKind, RiskThresholds>,
    data: data::DataRules,
    plugin_signers: Vec<signing::PluginSigner>,
    signature_rules: Vec<signing::SignatureRule>,
    vocabulary: TagVocabulary,
    teams: HashMap<String, Team>,
}

/// An owner team: catalog entries name it as their `owner`; its members
/// and delegates decide access requests for them.
#[derive(Debug, Clone)]
pub struct Team {
    pub name: String,
    pub description: Option<String>,
    pub members: Vec<String>,
    pub delegates: Vec<String>,
}

impl Team {
    /// Whether `principal_id` may decide for the team.
    pub fn decides(&self, principal_id: &str) -> bool {
        self.members.iter().chain(&self.delegates).any(|m| m == principal_id)
    }
}

impl Policy {
    pub fn load_dir(dir: &Path) -> Result<Policy, PolicyError> {
        load::load_dir(dir)
    }

    pub fn load_texts(files: Vec<(PathBuf, String)>) -> Result<Policy, PolicyError> {
        load::load_texts(files)
    }

    /// The tags columns may carry ([`classification`]).
    pub fn vocabulary(&self) -> &TagVocabulary {
        &self.vocabulary
    }

    pub fn identity(&self) -> &IdentityConfig {
        self.identity.as_ref().expect("a loaded policy always has an identity section")
    }

    pub fn keys(&self) -> &[PublicKey] {
        &self.keys
    }

    /// A key trusted to sign plugins, by its id.
    pub fn plugin_signer(&self, id: &str) -> Option<&PluginSigner> {
        self.plugin_signers.iter().find(|s| s.id == id)
    }

    /// Whether (and by whom) a plugin with this scope must be signed.
    pub fn signature_requirement(&self, plugin_scope: &[PathGlob]) -> Option<SignatureRequirement> {
        signing::requirement(&self.signature_rules, plugin_scope)
    }

    /// Every principal the policy names.
    pub fn principals(&self) -> impl Iterator<Item = &PrincipalRecord> {
        self.principals.values()
    }

    pub fn principal(&self, id: &str) -> Option<&PrincipalRecord> {
        self.principals.get(id)
    }

    pub fn action(&self, name: &str) -> Option<&Action> {
        self.actions.get(name)
    }

    pub fn actions(&self) -> impl Iterator<Item = &Action> {
        self.actions.values()
    }

    pub fn catalog_entry(&self, path: &str) -> Option<&CatalogEntry> {
        self.catalog.get(load::normalize(path).as_str())
    }

    /// The asset at `path`, with owner and significance inherited.
    pub fn asset(&self, path: &str) -> Option<Asset> {
        self.catalog_entry(path).map(CatalogEntry::to_asset)
    }

    /// Assets directly below the folder at `path`.
    pub fn children(&self, path: &str) -> Vec<Asset> {
        let folder = load::normalize(path);
        self.catalog
            .range(format!("{folder}/")..)
            .take_while(|(p, _)| p.starts_with(&format!("{folder}/")))
            .filter(|(p, _)| load::parent_of(p) == Some(folder.as_str()))
            .map(|(_, e)| e.to_asset())
            .collect()
    }

    pub fn catalog_entries(&self) -> impl Iterator<Item = &CatalogEntry> {
        self.catalog.values()
    }

    pub fn assets(&self) -> impl Iterator<Item = Asset> + '_ {
        self.catalog.values().map(CatalogEntry::to_asset)
    }

    pub fn role(&self, name: &str) -> Option<&Role> {
        self.roles.get(name)
    }

    /// Whether the catalog marks `path` (or a folder above it)
    /// discoverable: anyone may know it exists.
    pub fn discoverable(&self, path: &str) -> bool {
        let mut at = Some(path);
        while let Some(p) = at {
            if self.catalog.get(p).is_some_and(|e| e.discoverable) {
                return true;
            }
            at = p.rfind('/').map(|i| &p[..i]);
        }
        false
    }

    /// Whether some grant of `roles` covers any action on `path`.
    pub fn any_grant_on(&self, roles: &[String], path: &str) -> bool {
        roles.iter().filter_map(|r| self.roles.get(r)).flat_map(|r| &r.grants).any(|g| g.assets.iter().any(|a| a.matches(path)))
    }

    /// The first of `roles` that is an admin role.
    pub fn admin_role<'a>(&self, roles: &'a [String]) -> Option<&'a str> {
        roles.iter().find(|r| self.roles.get(*r).is_some_and(|r| r.admin)).map(String::as_str)
    }

    /// The first grant among `roles` that covers `action` on `asset_path`.
    pub fn covering_grant(&self, roles: &[String], action: &str, asset_path: &str) -> Option<&Grant> {
        roles
            .iter()
            .filter_map(|r| self.roles.get(r))
            .flat_map(|r| r.grants.iter())
            .find(|g| g.covers(action, asset_path))
    }

    pub fn is_forbidden(&self, kind: IdentityKind, action: &str) -> bool {
        self.forbidden.iter().any(|f| f.kind == kind && f.action == action)
    }

    pub fn forbidden_actions(&self, kind: IdentityKind) -> impl Iterator<Item = &str> {
        self.forbidden.iter().filter(move |f| f.kind == kind).map(|f| f.action.as_str())
    }

    /// The first asset ACL that forbids this.
    pub fn asset_acl_denial(&self, kind: IdentityKind, principal_id: &str, action: &str, asset_path: &str) -> Option<&AssetAcl> {
        self.asset_acls.iter().find(|acl| acl.applies(kind, principal_id, action, asset_path))
    }

    pub fn column_rules(&self) -> &[ColumnRule] {
        &self.data.column_rules
    }

    pub fn row_filters(&self) -> &[RowFilter] {
        &self.data.row_filters
    }

    pub fn aggregate_only(&self) -> &[AggregateOnly] {
        &self.data.aggregate_only
    }

    pub fn join_rules(&self) -> &[JoinRule] {
        &self.data.join_rules
    }

    pub fn budgets(&self) -> &[Budget] {
        &self.data.budgets
    }

    pub fn team(&self, name: &str) -> Option<&Team> {
        self.teams.get(name)
    }

    pub fn teams(&self) -> impl Iterator<Item = &Team> {
        self.teams.values()
    }

    /// The team owning the catalog entry at `path` (inherited from the
    /// folders above it), if it names one the policy defines.
    pub fn owning_team(&self, path: &str) -> Option<&Team> {
        let owner = self.catalog_entry(path)?.owner.as_deref()?;
        self.teams.get(owner)
    }

    pub fn risk_thresholds(&self, kind: IdentityKind) -> RiskThresholds {
        self.risk.get(&kind).copied().unwrap_or_else(|| default_thresholds(kind))
    }
}

#[cfg(test)]
mod tests;
