//! The live plugin set as the decision pipeline's voters.

use std::sync::Arc;

use steward_model::{Action, Asset, PluginError, Principal, Request, Verdict, Voter};
use steward_pipeline::{PluginHandle, Plugins};
use steward_policy::Policy;

use crate::manifest::World;
use crate::plugin::LoadedPlugin;
use crate::registry::PluginSet;

impl PluginHandle for LoadedPlugin {
    fn digest(&self) -> &str {
        &self.digest
    }

    fn label(&self) -> &str {
        LoadedPlugin::label(self)
    }

    fn voter(&self) -> Voter {
        LoadedPlugin::voter(self)
    }

    fn is_shadow(&self) -> bool {
        LoadedPlugin::is_shadow(self)
    }

    async fn evaluate(&self, request: &Request, policy: &Arc<Policy>) -> Result<Verdict, PluginError> {
        LoadedPlugin::evaluate(self, request, policy).await
    }

    async fn score(&self, caller: &Principal, asset: &Asset, action: &Action, policy: &Arc<Policy>) -> Result<f32, PluginError> {
        LoadedPlugin::score(self, caller, asset, action, policy).await.map(|s| s.significance)
    }
}

impl Plugins for PluginSet {
    type Plugin = LoadedPlugin;

    fn sops_for(&self, asset_path: &str) -> Vec<&LoadedPlugin> {
        self.slots()
            .map(|(_, s)| &*s.active)
            .filter(|p| p.world() == World::Sop && p.governs(asset_path))
            .collect()
    }

    fn scorer_for(&self, asset_path: &str) -> Option<&LoadedPlugin> {
        PluginSet::scorer_for(self, asset_path).map(|p| &**p)
    }
}
