//! The server's live state: the current policy generation (policy + token
//! verifier), the plugin registry, and the audit writer. Each request reads
//! one snapshot of each; reloads swap them without blocking requests.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Context as _;
use arc_swap::ArcSwap;
use steward_audit::AuditWriter;
use steward_identity::{Revocations, Verifier};
use steward_policy::Policy;
use steward_budget::BudgetStore;
use steward_runtime::Registry;
use steward_sql::{Dialect, Schema};
use steward_warehouse::{Engine, Warehouse};

use crate::revocations::RevocationStore;
use crate::schema::SchemaCache;
use crate::uploads::UploadStore;

/// One loaded policy and the verifier for its keys.
pub struct PolicyGeneration {
    pub policy: Arc<Policy>,
    pub verifier: Verifier,
    /// Unique within the process: what caches derived from the policy
    /// (the schema) are keyed on.
    pub number: u64,
}

static GENERATIONS: AtomicU64 = AtomicU64::new(1);

impl PolicyGeneration {
    /// `revocations`: the live set, the same for every generation.
    pub fn new(policy: Policy, revocations: Arc<Revocations>) -> anyhow::Result<PolicyGeneration> {
        let verifier = steward_pipeline::identity::verifier(&policy, revocations).map_err(anyhow::Error::msg).context("policy keys")?;
        Ok(PolicyGeneration { policy: Arc::new(policy), verifier, number: GENERATIONS.fetch_add(1, Ordering::Relaxed) })
    }

    pub fn load(dir: &std::path::Path, revocations: Arc<Revocations>) -> anyhow::Result<PolicyGeneration> {
        PolicyGeneration::new(Policy::load_dir(dir)?, revocations)
    }

    /// The SQL inside the policy (row filters, mask expressions) must
    /// resolve against the catalog in the warehouse's dialect.
    pub fn check_sql(&self, dialect: Dialect) -> anyhow::Result<()> {
        steward_sql::compile::check_policy(&self.policy, &Schema::from_policy(&self.policy), dialect).map_err(anyhow::Error::msg)
    }
}

pub struct AppState {
    pub policy: ArcSwap<PolicyGeneration>,
    pub warehouse: Arc<Warehouse>,
    pub budgets: BudgetStore,
    pub schemas: Arc<SchemaCache>,
    /// Rows one query returns at most.
    pub max_rows: u64,
    /// Why the last policy reload was refused, if it was.
    pub policy_error: ArcSwap<Option<String>>,
    pub registry: Registry,
    pub audit: AuditWriter,
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

/// Where queries run and what they are charged to.
pub struct DataPlane {
    pub warehouse: Warehouse,
    pub budgets: BudgetStore,
    pub max_rows: u64,
}

impl AppState {
    pub fn new(
        policy: PolicyGeneration,
        registry: Registry,
        audit: AuditWriter,
        access: Access,
        policies_dir: PathBuf,
        uploads: UploadStore,
        data: DataPlane,
    ) -> AppState {
        AppState {
            policy: ArcSwap::from_pointee(policy),
            warehouse: Arc::new(data.warehouse),
            budgets: data.budgets,
            schemas: Arc::default(),
            max_rows: data.max_rows,
            policy_error: ArcSwap::from_pointee(None),
            registry,
            audit,
            admin_token: access.admin_token,
            policies_dir,
            revocations: access.revocations,
            revocation_store: access.revocation_store,
            uploads,
        }
    }

    /// Persist `name`'s uploaded versions as its live slot now holds them.
    pub fn record_uploads(&self, name: &str) {
        if let Err(e) = self.uploads.record(name, self.registry.current().slot(name)) {
            tracing::error!(plugin = %name, error = %e, "could not record the plugin's uploads; a restart may not restore them");
        }
    }

    /// The SQL dialect of the warehouse.
    pub fn dialect(&self) -> Dialect {
        match self.warehouse.engine() {
            Engine::Sqlite => Dialect::Sqlite,
            Engine::Postgres => Dialect::Postgres,
        }
    }

    /// A request id unique within this process and unlikely to repeat
    /// across restarts: the same sequence the registry draws the ids of
    /// plugin test requests from.
    pub fn next_request_id(&self) -> String {
        self.registry.request_ids().next()
    }

    /// Load the policies directory again and swap it in; on error the last
    /// good policy keeps serving and the error is kept for `/admin/status`.
    /// Live plugins whose signature the new policy does not accept are
    /// unloaded first, so no request ever pairs the new policy with a
    /// plugin it refuses; returns their names.
    pub async fn reload_policy(&self) -> Result<Vec<String>, String> {
        match PolicyGeneration::load(&self.policies_dir, self.revocations.clone()).and_then(|g| g.check_sql(self.dialect()).map(|()| g)) {
            Ok(generation) => {
                let mut unloaded = Vec::new();
                for (plugin, reason) in self.registry.enforce_signatures(&generation.policy).await {
                    tracing::error!(plugin = %plugin, reason = %reason, "plugin unloaded: the new policy refuses its signature");
                    unloaded.push(plugin);
                }
                self.policy.store(Arc::new(generation));
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
