//! Stage 4, grants: which assets a static grant from policy covers.
//!
//! An agent is covered only where one of its own roles grants the action
//! *and* the human it acts for holds a grant for it too: an agent never
//! exceeds its human.

use steward_model::{Asset, IdentityKind, Principal, Voter};
use steward_policy::Policy;

pub struct Coverage {
    /// Paths of assets no grant covers: they go to their owners' SOPs.
    pub uncovered: Vec<String>,
}

pub fn check(policy: &Policy, principal: &Principal, action: &str, assets: &[Asset], voters: &mut Vec<Voter>) -> Coverage {
    let human_roles = match (principal.kind, &principal.on_behalf_of) {
        (IdentityKind::Agent, Some(human)) => Some(policy.principal(human).map(|h| h.roles.clone()).unwrap_or_default()),
        _ => None,
    };
    let mut uncovered = Vec::new();
    for asset in assets {
        let own = policy.covering_grant(&principal.roles, action, &asset.path);
        let human = human_roles.as_ref().map(|roles| policy.covering_grant(roles, action, &asset.path));
        match (own, human) {
            (Some(grant), None) | (Some(grant), Some(Some(_))) => {
                let id = grant.id();
                if !voters.iter().any(|v| matches!(v, Voter::Rule { id: existing } if *existing == id)) {
                    voters.push(Voter::Rule { id });
                }
            }
            _ => uncovered.push(asset.path.clone()),
        }
    }
    Coverage { uncovered }
}
