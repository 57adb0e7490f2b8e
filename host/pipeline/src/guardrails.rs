//! Stage 3, hard guardrails: host code and policy that no plugin can
//! override. Action ACLs (actions an identity kind may never take), asset
//! ACLs, and the risk ceiling (action risk x asset significance against the
//! identity kind's thresholds).

use steward_model::{Action, Asset, Principal, Reason, ReasonCode, Voter};
use steward_policy::Policy;

#[derive(Debug, Clone, PartialEq)]
pub struct Ceiling {
    /// The highest action risk x significance over the assets.
    pub risk: f32,
    /// Set when the risk is above the kind's escalate threshold: nothing
    /// better than escalate may come out.
    pub escalate: Option<Reason>,
}

/// A deny, or the ceiling the rest of the pipeline must stay under.
pub fn check(policy: &Policy, principal: &Principal, action: &Action, assets: &[Asset], voters: &mut Vec<Voter>) -> Result<Ceiling, Reason> {
    let kind = principal.kind;
    let forbidden_rule = format!("acl:forbidden-actions.{}", kind.as_str());
    if policy.is_forbidden(kind, &action.name) {
        voters.push(Voter::Rule { id: forbidden_rule.clone() });
        return Err(Reason::new(
            ReasonCode::ForbiddenAction,
            forbidden_rule,
            format!("{} identities may never take the action {:?}", kind.as_str(), action.name),
        ));
    }
    // An agent also inherits the asset ACLs of the human it acts for.
    let acting_for = principal.on_behalf_of.as_deref();
    for asset in assets {
        let denial = policy
            .asset_acl_denial(kind, &principal.id, &action.name, &asset.path)
            .or_else(|| acting_for.and_then(|h| policy.asset_acl_denial(steward_model::IdentityKind::Human, h, &action.name, &asset.path)));
        if let Some(acl) = denial {
            let source = format!("acl:{}", acl.id);
            voters.push(Voter::Rule { id: source.clone() });
            return Err(Reason::new(ReasonCode::ForbiddenAsset, source, format!("{}: {}", asset.path, acl.reason)));
        }
    }
    let thresholds = policy.risk_thresholds(kind);
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
