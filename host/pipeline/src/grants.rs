//! Stage 4, grants: which assets a static grant from policy covers.
//!
//! An agent is covered only where one of its own roles grants the action
//! *and* the human it acts for holds a grant for it too: an agent never
//! exceeds its human.

use steward_model::{Asset, IdentityKind, Principal, Voter};
use steward_policy::{Grant, Policy};

pub struct Coverage {
    /// Paths of assets no grant covers: they go to their owners' SOPs.
    pub uncovered: Vec<String>,
}

pub fn check(policy: &Policy, principal: &Principal, action: &str, assets: &[Asset], voters: &mut Vec<Voter>) -> Coverage {
    let human_roles = human_roles(policy, principal);
    let mut uncovered = Vec::new();
    for asset in assets {
        match covering(policy, principal, human_roles.as_deref(), action, &asset.path) {
            Some(grant) => {
                let id = grant.id();
                if !voters.iter().any(|v| matches!(v, Voter::Rule { id: existing } if *existing == id)) {
                    voters.push(Voter::Rule { id });
                }
            }
            None => uncovered.push(asset.path.clone()),
        }
    }
    Coverage { uncovered }
}

/// For an agent: the roles of the human it acts for.
pub(crate) fn human_roles(policy: &Policy, principal: &Principal) -> Option<Vec<String>> {
    match (principal.kind, &principal.on_behalf_of) {
        (IdentityKind::Agent, Some(human)) => Some(policy.principal(human).map(|h| h.roles.clone()).unwrap_or_default()),
        _ => None,
    }
}

/// The principal's grant covering `action` on `path`, if the human an
/// agent acts for holds one too.
pub(crate) fn covering<'p>(policy: &'p Policy, principal: &Principal, human_roles: Option<&[String]>, action: &str, path: &str) -> Option<&'p Grant> {
    let own = policy.covering_grant(&principal.roles, action, path)?;
    match human_roles {
        Some(roles) => policy.covering_grant(roles, action, path).map(|_| own),
        None => Some(own),
    }
}
