//! Stage 2, parse: the request's action and asset paths become catalog
//! entries. Anything the catalog does not know is denied, never guessed.

use steward_model::{Action, Asset, Reason, ReasonCode};
use steward_policy::Policy;

/// The most assets one request may name.
pub const MAX_ASSETS: usize = 64;
/// The longest intent a request may state, in bytes.
pub const MAX_INTENT_BYTES: usize = 4096;

/// At most 80 characters of a name the caller gave, for a reason message.
fn clip(s: &str) -> String {
    steward_model::clip(s, 80)
}

pub fn resolve(policy: &Policy, action: &str, assets: &[String], intent: Option<&str>) -> Result<(Action, Vec<Asset>), Reason> {
    if intent.is_some_and(|i| i.len() > MAX_INTENT_BYTES) {
        return Err(Reason::new(ReasonCode::Other, "parse", format!("the intent is longer than {MAX_INTENT_BYTES} bytes; state the task in fewer words")));
    }
    let action = policy.action(action).cloned().ok_or_else(|| {
        Reason::new(ReasonCode::UnknownAction, "parse", format!("action {:?} is not in the action catalog", clip(action)))
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
            .ok_or_else(|| Reason::new(ReasonCode::UnknownAsset, "parse", format!("asset {:?} is not in the catalog", clip(path))))?;
        if !resolved.iter().any(|a: &Asset| a.path == asset.path) {
            resolved.push(asset);
        }
    }
    Ok((action, resolved))
}
