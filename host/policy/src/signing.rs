//! Which plugins must be signed, and by whom: `[[plugin_signer]]` names a
//! trusted Ed25519 key; `[[signed_plugins]]` requires a signature from one
//! of its signers for every plugin whose scope can reach its `scope`.

use std::collections::BTreeSet;

use crate::PathGlob;

/// A key trusted to sign plugins.
#[derive(Debug, Clone)]
pub struct PluginSigner {
    pub id: String,
    pub ed25519: [u8; 32],
}

/// Plugins governing any asset under `scope` must be signed, by one of
/// `signers` (or by any trusted signer when empty).
#[derive(Debug, Clone)]
pub struct SignatureRule {
    pub scope: Vec<PathGlob>,
    pub signers: Vec<String>,
}

/// What a plugin with a given scope must satisfy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureRequirement {
    /// The rule patterns the plugin's scope reaches, for messages.
    pub because_of: Vec<String>,
    /// Signers acceptable to every rule that applies; `None`: any trusted
    /// signer.
    pub signers: Option<BTreeSet<String>>,
}

impl SignatureRequirement {
    pub fn accepts(&self, signer: &str) -> bool {
        self.signers.as_ref().is_none_or(|s| s.contains(signer))
    }
}

impl SignatureRule {
    /// A plugin reaches this rule when one of its scope patterns can match
    /// an asset one of the rule's patterns matches. A plugin without a scope
    /// (a tool) is reached by a rule that covers `**`.
    fn reaches(&self, plugin_scope: &[PathGlob]) -> bool {
        if plugin_scope.is_empty() {
            return self.scope.iter().any(|g| g.as_str().trim_matches('/') == "**");
        }
        self.scope.iter().any(|rule| plugin_scope.iter().any(|p| p.overlaps(rule)))
    }
}

/// The requirement every rule reaching `plugin_scope` adds up to, if any.
pub(crate) fn requirement(rules: &[SignatureRule], plugin_scope: &[PathGlob]) -> Option<SignatureRequirement> {
    let mut out: Option<SignatureRequirement> = None;
    for rule in rules.iter().filter(|r| r.reaches(plugin_scope)) {
        let req = out.get_or_insert_with(|| SignatureRequirement { because_of: Vec::new(), signers: None });
        req.because_of.extend(rule.scope.iter().map(|g| g.as_str().to_string()));
        if !rule.signers.is_empty() {
            let these: BTreeSet<String> = rule.signers.iter().cloned().collect();
            req.signers = Some(match req.signers.take() {
                None => these,
                Some(before) => before.intersection(&these).cloned().collect(),
            });
        }
    }
    if let Some(req) = &mut out {
        req.because_of.sort();
        req.because_of.dedup();
    }
    out
}
