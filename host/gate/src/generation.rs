//! One loaded policy and the verifier for its keys.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Context as _;
use steward_identity::{Revocations, Verifier};
use steward_policy::Policy;
use steward_sql::{Dialect, Schema};

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

