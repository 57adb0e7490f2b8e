//! The server's live state: the gate every door goes through (policy
//! generation, plugins, audit, warehouse, budgets), and what only the
//! server needs around it: admin access, revocations, uploads, and the
//! policy folder it reloads from.

use std::path::PathBuf;
use std::sync::Arc;

use arc_swap::ArcSwap;
use steward_gate::{Gate, PolicyGeneration};
use steward_identity::Revocations;

use crate::revocations::RevocationStore;
use crate::uploads::UploadStore;

pub struct AppState {
    /// Shared with the call-backs of running tool plugins.
    pub gate: Arc<Gate>,
    /// Why the last policy reload was refused, if it was.
    pub policy_error: ArcSwap<Option<String>>,
    /// The shared bootstrap admin token; `None`: disabled, admin calls
    /// need an admin principal's own token.
    pub admin_token: Option<String>,
    pub policies_dir: PathBuf,
    /// The revocations every verifier checks, and where they are kept.
    pub revocations: Arc<Revocations>,
    pub revocation_store: Arc<dyn RevocationStore>,
    /// Plugins uploaded through the admin API, kept across restarts.
    pub uploads: UploadStore,
}

/// Who may do what: the bootstrap admin token and the revocations.
pub struct Access {
    pub admin_token: Option<String>,
    pub revocations: Arc<Revocations>,
    pub revocation_store: Arc<dyn RevocationStore>,
}

impl AppState {
    pub fn new(gate: Gate, access: Access, policies_dir: PathBuf, uploads: UploadStore) -> AppState {
        AppState {
            gate: Arc::new(gate),
            policy_error: ArcSwap::from_pointee(None),
            admin_token: access.admin_token,
            policies_dir,
            revocations: access.revocations,
            revocation_store: access.revocation_store,
            uploads,
        }
    }

    /// Persist `name`'s uploaded versions as its live slot now holds them.
    pub fn record_uploads(&self, name: &str) {
        if let Err(e) = self.uploads.record(name, self.gate.registry.current().slot(name)) {
            tracing::error!(plugin = %name, error = %e, "could not record the plugin's uploads; a restart may not restore them");
        }
    }

    /// Load the policies directory again and swap it in; on error the last
    /// good policy keeps serving and the error is kept for `/admin/status`.
    /// Live plugins whose signature the new policy does not accept are
    /// unloaded first, so no request ever pairs the new policy with a
    /// plugin it refuses; returns their names.
    pub async fn reload_policy(&self) -> Result<Vec<String>, String> {
        match PolicyGeneration::load(&self.policies_dir, self.revocations.clone()).and_then(|g| g.check_sql(self.gate.dialect()).map(|()| g)) {
            Ok(generation) => {
                let mut unloaded = Vec::new();
                for (plugin, reason) in self.gate.registry.enforce_signatures(&generation.policy).await {
                    tracing::error!(plugin = %plugin, reason = %reason, "plugin unloaded: the new policy refuses its signature");
                    unloaded.push(plugin);
                }
                self.gate.policy.store(Arc::new(generation));
                self.policy_error.store(Arc::new(None));
                tracing::info!(dir = %self.policies_dir.display(), "policy reloaded");
                Ok(unloaded)
            }
            Err(e) => {
                let message = format!("{e:#}");
                tracing::error!(error = %message, "policy refused; the last good policy keeps serving");
                self.policy_error.store(Arc::new(Some(message.clone())));
                Err(message)
            }
        }
    }
}
