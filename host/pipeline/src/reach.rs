//! Could an action ever be allowed for a caller? What a door asks before
//! it shows the caller a tool (MCP's `tools/list`): the action is not
//! forbidden for any identity kind that binds the caller, and some catalog
//! asset is neither closed to the caller by an asset ACL nor out of reach:
//! a grant covers the action on it (for an agent, its human's too), or an
//! owner's SOP governs it. The same helpers as the stages themselves, so
//! a tool is hidden only where the pipeline would deny. And which catalog
//! entries a caller may know exist ([`visible`]).

use steward_model::Principal;
use steward_policy::Policy;

use crate::{Plugins, grants, guardrails};

pub fn could_allow<P: Plugins>(policy: &Policy, plugins: &P, principal: &Principal, action: &str) -> bool {
    if policy.action(action).is_none() || guardrails::forbidden_action(policy, principal, action).is_some() {
        return false;
    }
    let human_roles = grants::human_roles(policy, principal);
    policy.catalog_entries().any(|entry| {
        guardrails::acl_denial(policy, principal, action, &entry.path).is_none()
            && (grants::covering(policy, principal, human_roles.as_deref(), action, &entry.path).is_some()
                || enforcing_sop(plugins, &entry.path))
    })
}

/// Whether an enforcing SOP governs `path`: a shadow SOP alone governs
/// nothing, as in the pipeline.
fn enforcing_sop<P: Plugins>(plugins: &P, path: &str) -> bool {
    plugins.sops_for(path).iter().any(|p| !crate::PluginHandle::is_shadow(*p))
}

/// The deny, with the rule's reason, when `action` is forbidden for an
/// identity kind that binds `principal` (an agent: its human's too): the
/// same rule stage 4 applies.
pub fn forbidden(policy: &Policy, principal: &Principal, action: &str) -> Option<steward_model::Reason> {
    guardrails::forbidden_action(policy, principal, action)
}

/// Whether `principal` may know the catalog entry at `path` exists: the
/// catalog marks it (or a folder above it) discoverable, an owner's SOP
/// governs it, or the caller holds a grant on it (an agent: its human
/// too). Nothing else is shown, not even its name.
pub fn visible<P: Plugins>(policy: &Policy, plugins: &P, principal: &Principal, path: &str) -> bool {
    if policy.discoverable(path) || enforcing_sop(plugins, path) {
        return true;
    }
    let human_roles = grants::human_roles(policy, principal);
    policy.any_grant_on(&principal.roles, path) && human_roles.is_none_or(|roles| policy.any_grant_on(&roles, path))
}
