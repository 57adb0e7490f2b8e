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

/// A deny, or the ceiling the rest of the pipeline must stay under.
pub fn check(policy: &Policy, principal: &Principal, action: &Action, assets: &[Asset], voters: &mut Vec<Voter>) -> Result<Ceiling, Reason> {
    let kind = principal.kind;
    // An agent never exceeds the human it acts for: it is also bound by the
    // human's forbidden actions, asset ACLs and risk thresholds.
    let acting_for = principal.on_behalf_of.as_deref();
    let kinds: &[IdentityKind] = if acting_for.is_some() { &[kind, IdentityKind::Human] } else { &[kind] };
    for &k in kinds {
        if policy.is_forbidden(k, &action.name) {
            let rule = format!("acl:forbidden-actions.{}", k.as_str());
            voters.push(Voter::Rule { id: rule.clone() });
            return Err(Reason::new(
                ReasonCode::ForbiddenAction,
                rule,
                format!("{} identities may never take the action {:?}", k.as_str(), action.name),
            ));
        }
    }
    for asset in assets {
        let denial = policy
            .asset_acl_denial(kind, &principal.id, &action.name, &asset.path)
            .or_else(|| acting_for.and_then(|h| policy.asset_acl_denial(IdentityKind::Human, h, &action.name, &asset.path)));
        if let Some(acl) = denial {
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
