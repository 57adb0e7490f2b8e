//! Loading `policies/*.toml` into a validated [`Policy`]. Every problem is
//! reported with the file, the line and the reason; nothing half-valid is
//! ever returned.

use std::collections::HashSet;
use std::ops::Range;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use steward_model::{Action, Asset, AssetKind, IdentityKind};
use toml::Spanned;

use crate::glob::PathGlob;
use crate::source::{PolicyFile, RiskThresholdsEntry};
use crate::{
    AssetAcl, CatalogEntry, Column, ForbiddenAction, Grant, IdentityConfig, Policy, PolicyError, PublicKey, Role,
    RiskThresholds,
};

/// One parsed file and its text, to turn byte spans into line numbers.
pub(crate) struct Source {
    pub(crate) path: PathBuf,
    pub(crate) text: String,
}

impl Source {
    pub(crate) fn line(&self, span: &Range<usize>) -> usize {
        let end = span.start.min(self.text.len());
        self.text[..end].bytes().filter(|b| *b == b'\n').count() + 1
    }

    pub(crate) fn error(&self, span: &Range<usize>, message: impl Into<String>) -> PolicyError {
        PolicyError::Invalid { file: self.path.clone(), line: self.line(span), message: message.into() }
    }
}

/// Load every `*.toml` in `dir` (sorted by name) as one policy.
pub fn load_dir(dir: &Path) -> Result<Policy, PolicyError> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| PolicyError::Io { path: dir.to_path_buf(), source: e })?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|ext| ext == "toml"))
        .collect();
    paths.sort();
    if paths.is_empty() {
        return Err(PolicyError::Empty(dir.to_path_buf()));
    }
    let mut texts = Vec::with_capacity(paths.len());
    for path in paths {
        let text = std::fs::read_to_string(&path).map_err(|e| PolicyError::Io { path: path.clone(), source: e })?;
        texts.push((path, text));
    }
    load_texts(texts)
}

/// Load a policy from (file name, contents) pairs.
pub fn load_texts(files: Vec<(PathBuf, String)>) -> Result<Policy, PolicyError> {
    let mut parsed = Vec::with_capacity(files.len());
    for (path, text) in files {
        let source = Source { path, text };
        let file: PolicyFile = toml::from_str(&source.text).map_err(|e| {
            let line = e.span().map(|s| source.line(&s)).unwrap_or(1);
            PolicyError::Invalid { file: source.path.clone(), line, message: e.message().trim().to_string() }
        })?;
        parsed.push((source, file));
    }
    Builder::default().build(parsed)
}

#[derive(Default)]
pub(crate) struct Builder {
    pub(crate) policy: Policy,
    classification_seen: bool,
}

impl Builder {
    fn build(mut self, files: Vec<(Source, PolicyFile)>) -> Result<Policy, PolicyError> {
        // Pass 1: definitions (identity, keys, actions, catalog, roles) from every file.
        for (src, file) in &files {
            self.identity(src, file)?;
            self.actions(src, file)?;
            self.folders(src, file)?;
        }
        for (src, file) in &files {
            self.classification(src, file)?;
        }
        for (src, file) in &files {
            self.resources(src, file)?;
        }
        self.resolve_catalog()?;
        for (src, file) in &files {
            self.roles(src, file)?;
        }
        for (src, file) in &files {
            self.principals(src, file)?;
        }
        for (src, file) in &files {
            self.teams(src, file)?;
        }
        // Pass 2: everything that refers to definitions, in any file.
        for (src, file) in &files {
            self.forbidden(src, file)?;
            self.asset_acls(src, file)?;
            self.risk(src, file)?;
            self.data_rules(src, file)?;
        }
        for (src, file) in &files {
            self.plugin_signers(src, file)?;
        }
        for (src, file) in &files {
            self.signed_plugins(src, file)?;
        }
        if self.policy.identity.is_none() {
            return Err(PolicyError::Missing("an [identity] section (issuer, audience)".into()));
        }
        if self.policy.keys.is_empty() {
            return Err(PolicyError::Missing("at least one [[key]] to verify tokens".into()));
        }
        Ok(self.policy)
    }

    /// `[classification]`, in at most one file; before the catalog, whose
    /// column tags it normalizes.
    fn classification(&mut self, src: &Source, file: &PolicyFile) -> Result<(), PolicyError> {
        let Some(section) = &file.classification else { return Ok(()) };
        if self.classification_seen {
            return Err(src.error(&section.span(), "[classification] is defined in more than one place"));
        }
        self.classification_seen = true;
        let s = section.get_ref();
        self.policy.vocabulary = crate::TagVocabulary::new(&s.pii_kinds, &s.tags).map_err(|e| src.error(&section.span(), format!("[classification]: {e}")))?;
        Ok(())
    }

    fn identity(&mut self, src: &Source, file: &PolicyFile) -> Result<(), PolicyError> {
        if let Some(section) = &file.identity {
            if self.policy.identity.is_some() {
                return Err(src.error(&section.span(), "[identity] is defined in more than one place"));
            }
            let s = section.get_ref();
            let mut max_token_lifetime = crate::LifetimeCaps::default();
            if let Some(caps) = &s.max_token_lifetime {
                let c = caps.get_ref();
                for (kind, cap) in [("agent", c.agent), ("human", c.human), ("service", c.service)] {
                    if cap == Some(0) {
                        return Err(src.error(&caps.span(), format!("max_token_lifetime.{kind} must be at least 1 second")));
                    }
                }
                max_token_lifetime = crate::LifetimeCaps { agent: c.agent, human: c.human, service: c.service };
            }
            self.policy.identity = Some(IdentityConfig {
                issuer: s.issuer.clone(),
                audience: s.audience.clone(),
                leeway_seconds: s.leeway_seconds,
                max_token_lifetime,
            });
        }
        for key in &file.keys {
            let kid = key.kid.get_ref();
            if self.policy.keys.iter().any(|k| &k.kid == kid) {
                return Err(src.error(&key.kid.span(), format!("key id {kid:?} is defined twice")));
            }
            let bytes = ed25519_public_key(src, &key.public_key, &format!("key {kid:?}"))?;
            let instant = |field: &Option<toml::Spanned<toml::value::Datetime>>, name: &str| {
                field
                    .as_ref()
                    .map(|dt| crate::time::unix_seconds(dt.get_ref()).map_err(|e| src.error(&dt.span(), format!("key {kid:?} {name}: {e}"))))
                    .transpose()
            };
            let (not_before, not_after) = (instant(&key.not_before, "not_before")?, instant(&key.not_after, "not_after")?);
            if let (Some(from), Some(until)) = (not_before, not_after)
                && from >= until
            {
                return Err(src.error(&key.kid.span(), format!("key {kid:?}: not_before must be before not_after")));
            }
            self.policy.keys.push(PublicKey { kid: kid.clone(), ed25519: bytes, not_before, not_after });
        }
        Ok(())
    }

    fn plugin_signers(&mut self, src: &Source, file: &PolicyFile) -> Result<(), PolicyError> {
        for signer in &file.plugin_signers {
            let id = signer.id.get_ref();
            if id.trim().is_empty() || id.chars().any(char::is_whitespace) {
                return Err(src.error(&signer.id.span(), format!("plugin signer id {id:?}: no spaces, not empty")));
            }
            if self.policy.plugin_signers.iter().any(|s| &s.id == id) {
                return Err(src.error(&signer.id.span(), format!("plugin signer {id:?} is defined twice")));
            }
            let ed25519 = ed25519_public_key(src, &signer.public_key, &format!("plugin signer {id:?}"))?;
            self.policy.plugin_signers.push(crate::signing::PluginSigner { id: id.clone(), ed25519 });
        }
        Ok(())
    }

    fn signed_plugins(&mut self, src: &Source, file: &PolicyFile) -> Result<(), PolicyError> {
        for rule in &file.signed_plugins {
            if rule.scope.get_ref().is_empty() {
                return Err(src.error(&rule.scope.span(), "[[signed_plugins]] scope lists no asset patterns"));
            }
            let scope = rule
                .scope
                .get_ref()
                .iter()
                .map(|p| PathGlob::new(p))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| src.error(&rule.scope.span(), e))?;
            let mut signers = Vec::new();
            for signer in &rule.signers {
                if !self.policy.plugin_signers.iter().any(|s| &s.id == signer.get_ref()) {
                    return Err(src.error(&signer.span(), format!("{:?} is not a [[plugin_signer]]", signer.get_ref())));
                }
                signers.push(signer.get_ref().clone());
            }
            if self.policy.plugin_signers.is_empty() {
                return Err(src.error(&rule.scope.span(), "[[signed_plugins]] needs at least one [[plugin_signer]]"));
            }
            self.policy.signature_rules.push(crate::signing::SignatureRule { scope, signers });
        }
        Ok(())
    }

    fn actions(&mut self, src: &Source, file: &PolicyFile) -> Result<(), PolicyError> {
        for a in &file.actions {
            let name = a.name.get_ref();
            if name == "*" || name.trim().is_empty() {
                return Err(src.error(&a.name.span(), format!("{name:?} is not a valid action name")));
            }
            if self.policy.actions.contains_key(name) {
                return Err(src.error(&a.name.span(), format!("action {name:?} is defined twice")));
            }
            let risk = *a.risk.get_ref();
            unit_interval(src, &a.risk.span(), risk, "risk")?;
            self.policy
                .actions
                .insert(name.clone(), Action { name: name.clone(), category: a.category, risk_score: risk });
        }
        Ok(())
    }

    fn folders(&mut self, src: &Source, file: &PolicyFile) -> Result<(), PolicyError> {
        for f in &file.folders {
            let path = normalize(f.path.get_ref());
            let significance = match &f.significance {
                Some(s) => Some(unit_interval(src, &s.span(), *s.get_ref(), "significance")?),
                None => None,
            };
            self.insert_entry(
                src,
                &f.path.span(),
                CatalogEntry {
                    path,
                    kind: AssetKind::Folder,
                    description: f.description.clone(),
                    discoverable: f.discoverable,
                    owner: f.owner.clone(),
                    tags: f.tags.clone(),
                    significance,
                    columns: Vec::new(),
                    alternatives: Vec::new(),
                    line: src.line(&f.path.span()),
                    file: src.path.clone(),
                },
            )?;
        }
        Ok(())
    }

    fn resources(&mut self, src: &Source, file: &PolicyFile) -> Result<(), PolicyError> {
        for r in &file.resources {
            let path = normalize(r.path.get_ref());
            let kind = *r.kind.get_ref();
            if kind == AssetKind::Folder {
                return Err(src.error(&r.kind.span(), "folders are declared with [[folder]], not [[resource]]"));
            }
            let significance = match &r.significance {
                Some(s) => Some(unit_interval(src, &s.span(), *s.get_ref(), "significance")?),
                None => None,
            };
            let mut seen = HashSet::new();
            for c in &r.columns {
                if !seen.insert(c.name.to_ascii_lowercase()) {
                    return Err(src.error(&r.path.span(), format!("{path}: column {:?} is listed twice", c.name)));
                }
            }
            if !r.columns.is_empty() && kind != AssetKind::Table {
                return Err(src.error(&r.path.span(), format!("{path}: only tables have columns")));
            }
            let parent = parent_of(&path);
            match parent.and_then(|p| self.policy.catalog.get(p)) {
                Some(e) if e.kind == AssetKind::Folder => {}
                _ => {
                    return Err(src.error(
                        &r.path.span(),
                        format!("{path}: its parent folder {:?} is not declared", parent.unwrap_or("")),
                    ));
                }
            }
            let vocabulary = &self.policy.vocabulary;
            let columns = r
                .columns
                .iter()
                .map(|c| Column {
                    name: c.name.clone(),
                    data_type: c.data_type.clone(),
                    tags: vocabulary.catalog_tags(&c.tags),
                    description: c.description.clone(),
                })
                .collect();
            self.insert_entry(
                src,
                &r.path.span(),
                CatalogEntry {
                    path,
                    kind,
                    description: r.description.clone(),
                    discoverable: r.discoverable,
                    owner: r.owner.clone(),
                    tags: r.tags.clone(),
                    significance,
                    columns,
                    alternatives: r.alternatives.iter().map(|a| normalize(a.get_ref())).collect(),
                    line: src.line(&r.path.span()),
                    file: src.path.clone(),
                },
            )?;
        }
        Ok(())
    }

    fn insert_entry(&mut self, src: &Source, span: &Range<usize>, entry: CatalogEntry) -> Result<(), PolicyError> {
        if entry.path.is_empty() || entry.path.split('/').any(|s| s.is_empty() || s.contains('*')) {
            return Err(src.error(span, format!("{:?} is not a valid catalog path", entry.path)));
        }
        if self.policy.catalog.contains_key(&entry.path) {
            return Err(src.error(span, format!("catalog path {:?} is declared twice", entry.path)));
        }
        self.policy.catalog.insert(entry.path.clone(), entry);
        Ok(())
    }

    /// Folders need their parents; owners, significance and tags inherit
    /// down the hierarchy; every asset must end up with an owner.
    fn resolve_catalog(&mut self) -> Result<(), PolicyError> {
        let paths: Vec<String> = self.policy.catalog.keys().cloned().collect(); // BTreeMap: parents first
        for path in paths {
            let entry = &self.policy.catalog[&path];
            let (file, line) = (entry.file.clone(), entry.line);
            let invalid = |message: String| PolicyError::Invalid { file: file.clone(), line, message };
            for alternative in &entry.alternatives {
                if self.policy.catalog.get(alternative).is_none_or(|e| e.kind != AssetKind::Table) {
                    return Err(invalid(format!("{path}: alternative {alternative:?} is not a table in the catalog")));
                }
            }
            let parent = parent_of(&path).map(|p| {
                self.policy
                    .catalog
                    .get(p)
                    .filter(|e| e.kind == AssetKind::Folder)
                    .map(|e| (e.owner.clone(), e.significance, e.tags.clone()))
                    .ok_or_else(|| invalid(format!("{path}: its parent folder {p:?} is not declared")))
            });
            let (parent_owner, parent_significance, parent_tags) = match parent {
                Some(found) => found?,
                None => (None, None, Vec::new()),
            };
            let entry = self.policy.catalog.get_mut(&path).expect("path taken from the catalog's own keys");
            if entry.owner.is_none() {
                entry.owner = parent_owner;
            }
            if entry.owner.is_none() {
                return Err(invalid(format!("{path}: no owner, and no folder above it names one")));
            }
            if entry.significance.is_none() {
                entry.significance = parent_significance;
            }
            for tag in parent_tags {
                if !entry.tags.contains(&tag) {
                    entry.tags.push(tag);
                }
            }
        }
        Ok(())
    }

    fn roles(&mut self, src: &Source, file: &PolicyFile) -> Result<(), PolicyError> {
        for r in &file.roles {
            let name = r.name.get_ref();
            if self.policy.roles.contains_key(name) {
                return Err(src.error(&r.name.span(), format!("role {name:?} is defined twice")));
            }
            let mut grants = Vec::new();
            for g in &r.grants {
                let actions = self.action_refs(src, &g.actions, &format!("role {name:?}"))?;
                let assets = self.asset_globs(src, &g.assets, &format!("role {name:?}"))?;
                grants.push(Grant { role: name.clone(), actions, assets });
            }
            self.policy.roles.insert(name.clone(), Role { name: name.clone(), admin: r.admin, grants });
        }
        Ok(())
    }

    fn principals(&mut self, src: &Source, file: &PolicyFile) -> Result<(), PolicyError> {
        for p in &file.principals {
            let id = p.id.get_ref();
            if self.policy.principals.contains_key(id) {
                return Err(src.error(&p.id.span(), format!("principal {id:?} is defined twice")));
            }
            let mut roles = Vec::new();
            for role in &p.roles {
                let Some(known) = self.policy.roles.get(role.get_ref()) else {
                    return Err(src.error(&role.span(), format!("principal {id:?}: unknown role {:?}", role.get_ref())));
                };
                if known.admin && p.kind == IdentityKind::Agent {
                    return Err(src.error(
                        &role.span(),
                        format!("agent {id:?} cannot hold the admin role {:?}: admin calls are made by humans and services", known.name),
                    ));
                }
                roles.push(role.get_ref().clone());
            }
            let attributes = p.attributes.clone();
            self.policy.principals.insert(id.clone(), crate::PrincipalRecord { id: id.clone(), kind: p.kind, roles, attributes });
        }
        Ok(())
    }

    /// `[[team]]`: members and delegates are humans the policy names (an
    /// agent or a service never decides an access request).
    fn teams(&mut self, src: &Source, file: &PolicyFile) -> Result<(), PolicyError> {
        for t in &file.teams {
            let name = t.name.get_ref();
            if name.trim().is_empty() {
                return Err(src.error(&t.name.span(), "a team needs a name (the `owner` its catalog entries give)"));
            }
            if self.policy.teams.contains_key(name) {
                return Err(src.error(&t.name.span(), format!("team {name:?} is defined twice")));
            }
            let people = |list: &[Spanned<String>], what: &str| -> Result<Vec<String>, PolicyError> {
                let mut out = Vec::new();
                for p in list {
                    let id = p.get_ref();
                    match self.policy.principals.get(id) {
                        None => return Err(src.error(&p.span(), format!("team {name:?}: unknown {what} {id:?}"))),
                        Some(r) if r.kind != IdentityKind::Human => {
                            return Err(src.error(
                                &p.span(),
                                format!("team {name:?}: {what} {id:?} is a {}; only humans decide access requests", r.kind.as_str()),
                            ));
                        }
                        Some(_) => out.push(id.clone()),
                    }
                }
                Ok(out)
            };
            let members = people(&t.members, "member")?;
            let delegates = people(&t.delegates, "delegate")?;
            self.policy.teams.insert(name.clone(), crate::Team { name: name.clone(), description: t.description.clone(), members, delegates });
        }
        Ok(())
    }

    fn forbidden(&mut self, src: &Source, file: &PolicyFile) -> Result<(), PolicyError> {
        let Some(f) = &file.forbidden_actions else { return Ok(()) };
        for (kind, list) in [(IdentityKind::Human, &f.human), (IdentityKind::Agent, &f.agent), (IdentityKind::Service, &f.service)] {
            for name in list {
                if !self.policy.actions.contains_key(name.get_ref()) {
                    return Err(src.error(
                        &name.span(),
                        format!("forbidden_actions.{}: unknown action {:?}", kind.as_str(), name.get_ref()),
                    ));
                }
                self.policy.forbidden.push(ForbiddenAction { kind, action: name.get_ref().clone() });
            }
        }
        Ok(())
    }

    fn asset_acls(&mut self, src: &Source, file: &PolicyFile) -> Result<(), PolicyError> {
        for acl in &file.asset_acls {
            let id = acl.id.get_ref();
            if self.policy.asset_acls.iter().any(|a| &a.id == id) {
                return Err(src.error(&acl.id.span(), format!("asset_acl {id:?} is defined twice")));
            }
            let what = format!("asset_acl {id:?}");
            let actions = self.action_refs(src, &acl.actions, &what)?;
            let assets = self.asset_globs(src, &acl.assets, &what)?;
            for p in &acl.principals {
                if !self.policy.principals.contains_key(p.get_ref()) {
                    return Err(src.error(&p.span(), format!("{what}: unknown principal {:?}", p.get_ref())));
                }
            }
            self.policy.asset_acls.push(AssetAcl {
                id: id.clone(),
                kinds: acl.kinds.clone(),
                principals: acl.principals.iter().map(|p| p.get_ref().clone()).collect(),
                actions,
                assets,
                reason: acl.reason.clone(),
            });
        }
        Ok(())
    }

    fn risk(&mut self, src: &Source, file: &PolicyFile) -> Result<(), PolicyError> {
        let Some(r) = &file.risk else { return Ok(()) };
        for (kind, entry) in [(IdentityKind::Human, &r.human), (IdentityKind::Agent, &r.agent), (IdentityKind::Service, &r.service)] {
            let Some(entry) = entry else { continue };
            let RiskThresholdsEntry { escalate_above, deny_above } = *entry.get_ref();
            unit_interval(src, &entry.span(), escalate_above, "escalate_above")?;
            unit_interval(src, &entry.span(), deny_above, "deny_above")?;
            if escalate_above > deny_above {
                return Err(src.error(&entry.span(), format!("risk.{}: escalate_above is above deny_above", kind.as_str())));
            }
            if self.policy.risk.insert(kind, RiskThresholds { escalate_above, deny_above }).is_some() {
                return Err(src.error(&entry.span(), format!("risk.{} is defined twice", kind.as_str())));
            }
        }
        Ok(())
    }

    /// Action names must exist (or be `*`): a rule naming an unknown action
    /// would silently never match.
    fn action_refs(&self, src: &Source, names: &[Spanned<String>], what: &str) -> Result<Vec<String>, PolicyError> {
        if names.is_empty() {
            return Err(PolicyError::Invalid { file: src.path.clone(), line: 1, message: format!("{what}: no actions listed") });
        }
        names
            .iter()
            .map(|n| {
                let name = n.get_ref();
                if name == "*" || self.policy.actions.contains_key(name) {
                    Ok(name.clone())
                } else {
                    Err(src.error(&n.span(), format!("{what}: unknown action {name:?}")))
                }
            })
            .collect()
    }

    /// Asset globs must be well formed and match at least one catalog entry.
    pub(crate) fn asset_globs(&self, src: &Source, patterns: &[Spanned<String>], what: &str) -> Result<Vec<PathGlob>, PolicyError> {
        patterns
            .iter()
            .map(|p| {
                let glob = PathGlob::new(p.get_ref()).map_err(|e| src.error(&p.span(), format!("{what}: {e}")))?;
                if !self.policy.catalog.keys().any(|path| glob.matches(path)) {
                    return Err(src.error(
                        &p.span(),
                        format!("{what}: asset pattern {:?} matches nothing in the catalog", p.get_ref()),
                    ));
                }
                Ok(glob)
            })
            .collect()
    }
}

fn unit_interval(src: &Source, span: &Range<usize>, value: f32, name: &str) -> Result<f32, PolicyError> {
    if value.is_finite() && (0.0..=1.0).contains(&value) {
        Ok(value)
    } else {
        Err(src.error(span, format!("{name} must be between 0 and 1, got {value}")))
    }
}

pub(crate) fn normalize(path: &str) -> String {
    path.trim().trim_matches('/').to_string()
}

pub(crate) fn parent_of(path: &str) -> Option<&str> {
    path.rfind('/').map(|i| &path[..i])
}

impl CatalogEntry {
    pub(crate) fn to_asset(&self) -> Asset {
        Asset {
            path: self.path.clone(),
            kind: self.kind,
            owner: self.owner.clone().unwrap_or_default(),
            tags: self.tags.clone(),
            significance: self.significance.unwrap_or(crate::DEFAULT_SIGNIFICANCE),
        }
    }
}

/// A 32-byte Ed25519 public key written in base64 (standard or URL-safe)
/// that is a valid curve point.
fn ed25519_public_key(src: &Source, field: &toml::Spanned<String>, what: &str) -> Result<[u8; 32], PolicyError> {
    let raw = field.get_ref().trim();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(raw.trim_end_matches('='))
        .or_else(|_| base64::engine::general_purpose::STANDARD.decode(raw))
        .map_err(|e| src.error(&field.span(), format!("{what}: public_key is not base64: {e}")))?;
    let bytes: [u8; 32] = bytes.try_into().map_err(|b: Vec<u8>| {
        src.error(&field.span(), format!("{what}: an Ed25519 public key has 32 bytes, this one has {}", b.len()))
    })?;
    ed25519_dalek::VerifyingKey::from_bytes(&bytes)
        .map_err(|_| src.error(&field.span(), format!("{what}: public_key is not a valid Ed25519 key")))?;
    Ok(bytes)
}
