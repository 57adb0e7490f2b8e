//! Between parse and the hard guardrails: asset-class scorer plugins may
//! raise an asset's significance above the catalog's (never lower it: a
//! plugin can only tighten). A scorer that fails denies the request.

use std::sync::Arc;

use steward_model::{Action, Asset, Principal, Reason, ReasonCode, Voter};
use steward_policy::Policy;

use crate::{PluginHandle, Plugins};

pub async fn apply<P: Plugins>(
    plugins: &P,
    policy: &Arc<Policy>,
    caller: &Principal,
    action: &Action,
    assets: &mut [Asset],
    voters: &mut Vec<Voter>,
) -> Result<(), Reason> {
    for asset in assets.iter_mut() {
        let Some(scorer) = plugins.scorer_for(&asset.path) else { continue };
        let voter = scorer.voter();
        if !voters.contains(&voter) {
            voters.push(voter);
        }
        match scorer.score(caller, asset, action, policy).await {
            Ok(significance) => asset.significance = asset.significance.max(significance),
            Err(e) => {
                tracing::warn!(plugin = scorer.label(), failure = e.failure.kind(), error = %e, "scorer failed; denying");
                return Err(Reason::new(ReasonCode::PluginFailure, format!("plugin:{}", scorer.label()), e.to_string()));
            }
        }
    }
    Ok(())
}
