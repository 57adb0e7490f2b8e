//! Stage 4, grants: which assets a static grant from policy, or a live
//! time-bounded grant (an approved access request), covers.
//!
//! An agent is covered by a static grant only where one of its own roles
//! grants the action *and* the human it acts for holds a grant for it too:
//! an agent never exceeds its human. A time-bounded grant is for one exact
//! subject (the agent acting for that human, perhaps in one session), and
//! its conditions travel with the outcome for the query path to enforce.
//! This stage runs after the hard guardrails: no grant lifts them.

use std::sync::Arc;

use steward_access::{ActiveGrant, ActiveGrants};
use steward_model::{Asset, IdentityKind, Principal, Voter};
use steward_policy::{Grant, Policy};

pub struct Coverage {
    /// Paths of assets no grant covers: they go to their owners' SOPs.
    pub uncovered: Vec<String>,
    /// The time-bounded grants that cover the others.
    pub dynamic: Vec<Arc<ActiveGrant>>,
}

pub fn check(policy: &Policy, live: &ActiveGrants, principal: &Principal, action: &str, assets: &[Asset], now_ms: u64, voters: &mut Vec<Voter>) -> Coverage {
    let human_roles = human_roles(policy, principal);
    let mut uncovered = Vec::new();
    let mut dynamic: Vec<Arc<ActiveGrant>> = Vec::new();
    let mut vote = |id: String| {
        if !voters.iter().any(|v| matches!(v, Voter::Rule { id: existing } if *existing == id)) {
            voters.push(Voter::Rule { id });
        }
    };
    for asset in assets {
        if let Some(grant) = covering(policy, principal, human_roles.as_deref(), action, &asset.path) {
            vote(grant.id());
        } else if let Some(grant) = live.covering(principal, action, &asset.path, now_ms) {
            vote(grant.voter_id());
            if !dynamic.iter().any(|g| Arc::ptr_eq(g, grant)) {
                dynamic.push(grant.clone());
            }
        } else {
            uncovered.push(asset.path.clone());
        }
    }
    Coverage { uncovered, dynamic }
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

/// How an outcome names the time-bounded grants it used: the request each
/// came from, when it ends and the conditions it carries.
pub(crate) fn serialize_used<S: serde::Serializer>(grants: &[Arc<ActiveGrant>], s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeSeq;
    let mut seq = s.serialize_seq(Some(grants.len()))?;
    for g in grants {
        seq.serialize_element(&serde_json::json!({
            "access_request": g.request_id,
            "expires_at_ms": g.expires_at_ms,
            "conditions": g.conditions,
            "columns": g.columns.iter().map(|(a, c)| (a.clone(), c.clone())).collect::<std::collections::BTreeMap<_, _>>(),
        }))?;
    }
    seq.end()
}
