//! Stage 2, parse: the request's action and asset paths become catalog
//! entries. Anything the catalog does not know is denied, never guessed.

use steward_model::{Action, Asset, Reason, ReasonCode};
use steward_policy::Policy;

/// The most assets one request may name.
pub const MAX_ASSETS: usize = 64;

pub fn resolve(policy: &Policy, action: &str, assets: &[String]) -> Result<(Action, Vec<Asset>), Reason> {
    let action = policy.action(action).cloned().ok_or_else(|| {
        Reason::new(ReasonCode::UnknownAction, "parse", format!("action {action:?} is not in the action catalog"))
    })?;
    if assets.is_empty() {
        return Err(Reason::new(ReasonCode::UnknownAsset, "parse", "the request names no assets"));
    }
    if assets.len() > MAX_ASSETS {
        return Err(Reason::new(ReasonCode::Other, "parse", format!("at most {MAX_ASSETS} assets per request")));
    }
    let mut resolved = Vec::with_capacity(assets.len());
    for path in assets {
        let asset = policy
            .asset(path)
            .ok_or_else(|| Reason::new(ReasonCode::UnknownAsset, "parse", format!("asset {path:?} is not in the catalog")))?;
        if !resolved.iter().any(|a: &Asset| a.path == asset.path) {
            resolved.push(asset);
        }
    }
    Ok((action, resolved))
}
