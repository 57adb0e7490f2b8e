//! Stage 3, hard guardrails: host code and policy that no plugin can
//! override. Action ACLs (actions an identity kind may never take), asset
//! ACLs, and the risk ceiling (action risk x asset significance against the
//! identity kind's thresholds).

use steward_model::{Action, Asset, IdentityKind, Principal, Reason, ReasonCode, Voter};
use steward_policy::{Policy, RiskThresholds};

#[derive(Debug, Clone, PartialEq)]
pub struct Ceiling {
    /// The highest action risk x significance over the assets.
    pub risk: f32,
    /// Set when the risk is above the kind's escalate threshold: nothing
    /// better than escalate may come out.
    pub escalate: Option<Reason>,
}

/// The identity kinds whose rules bind `principal`: an agent never exceeds
/// the human it acts for, so it is also bound by the human's forbidden
/// actions, asset ACLs and risk thresholds.
pub(crate) fn bound_kinds(principal: &Principal) -> &'static [IdentityKind] {
    match (principal.kind, principal.on_behalf_of.is_some()) {
        (IdentityKind::Agent, true) => &[IdentityKind::Agent, IdentityKind::Human],
        (IdentityKind::Agent, false) => &[IdentityKind::Agent],
        (IdentityKind::Human, _) => &[IdentityKind::Human],
        (IdentityKind::Service, _) => &[IdentityKind::Service],
    }
}

/// The deny when `action` is forbidden for a kind that binds `principal`
/// (its source is the rule: `acl:forbidden-actions.<kind>`).
pub(crate) fn forbidden_action(policy: &Policy, principal: &Principal, action: &str) -> Option<Reason> {
    let k = bound_kinds(principal).iter().copied().find(|&k| policy.is_forbidden(k, action))?;
    Some(Reason::new(
        ReasonCode::ForbiddenAction,
        format!("acl:forbidden-actions.{}", k.as_str()),
        format!("{} identities may never take the action {action:?}", k.as_str()),
    ))
}

/// The asset ACL that denies `action` on `path` to `principal` (or to the
/// human it acts for).
pub(crate) fn acl_denial<'p>(policy: &'p Policy, principal: &Principal, action: &str, path: &str) -> Option<&'p steward_policy::AssetAcl> {
    policy
        .asset_acl_denial(principal.kind, &principal.id, action, path)
        .or_else(|| principal.on_behalf_of.as_deref().and_then(|h| policy.asset_acl_denial(IdentityKind::Human, h, action, path)))
}

/// A deny, or the ceiling the rest of the pipeline must stay under.
pub fn check(policy: &Policy, principal: &Principal, action: &Action, assets: &[Asset], voters: &mut Vec<Voter>) -> Result<Ceiling, Reason> {
    let kind = principal.kind;
    let kinds = bound_kinds(principal);
    if let Some(reason) = forbidden_action(policy, principal, &action.name) {
        voters.push(Voter::Rule { id: reason.source.clone() });
        return Err(reason);
    }
    for asset in assets {
        if let Some(acl) = acl_denial(policy, principal, &action.name, &asset.path) {
            let source = format!("acl:{}", acl.id);
            voters.push(Voter::Rule { id: source.clone() });
            return Err(Reason::new(ReasonCode::ForbiddenAsset, source, format!("{}: {}", asset.path, acl.reason)));
        }
    }
    let thresholds = kinds.iter().map(|&k| policy.risk_thresholds(k)).fold(policy.risk_thresholds(kind), |a, b| RiskThresholds {
        escalate_above: a.escalate_above.min(b.escalate_above),
        deny_above: a.deny_above.min(b.deny_above),
    });
    let (risk, riskiest) = assets
        .iter()
        .map(|a| (action.risk_score * a.significance, a.path.as_str()))
        .fold((0.0f32, ""), |best, x| if x.0 > best.0 { x } else { best });
    let source = format!("risk:{}", kind.as_str());
    voters.push(Voter::Rule { id: source.clone() });
    if risk > thresholds.deny_above {
        return Err(Reason::new(
            ReasonCode::RiskTooHigh,
            source,
            format!(
                "risk {risk:.2} of {:?} on {riskiest} is above the {} ceiling {:.2}",
                action.name,
                kind.as_str(),
                thresholds.deny_above
            ),
        ));
    }
    let escalate = (risk > thresholds.escalate_above).then(|| {
        Reason::new(
            ReasonCode::RiskTooHigh,
            source,
            format!(
                "risk {risk:.2} of {:?} on {riskiest} is above {:.2}: a human must approve",
                action.name, thresholds.escalate_above
            ),
        )
    });
    Ok(Ceiling { risk, escalate })
}
