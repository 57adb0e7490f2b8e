//! The plan cache: what analysis and enforcement made of a statement,
//! kept for the next time the same statement comes.
//!
//! Two levels, because the decision sits between them:
//! - **prepared**: the statement's parse and analysis ([`Prepared`], or the
//!   [`AnalysisError`]), keyed by its text, the dialect and the schema's
//!   generation. It does not depend on who asks.
//! - **enforced**: the rewrite and its proof ([`Enforced`], or the
//!   [`Refusal`]), keyed by the prepared key, the policy generation, the
//!   viewer's [`Plan`] (every treatment, row filter with the viewer's
//!   attributes filled in, minimum group size, owner obligation and row
//!   cap), and the join rules that apply to the viewer. Not by the
//!   principal's name: agents of one team with the same rules share
//!   entries, and a viewer whose rules differ in anything enforcement
//!   reads has another key.
//!
//! Enforcement reads nothing else, so a hit is exactly what a miss would
//! compute. A reload (a new policy generation) or a new schema (a changed
//! catalog, warehouse or classifier) changes every key; the first lookup
//! under a new pair empties the cache, so stale entries never hit and do
//! not linger. The cache is bounded by an estimate of the bytes it holds
//! and evicts the entries least worth keeping.
//!
//! The key is the statement's text as sent: two statements that differ
//! only in their literals are two entries (turning literals into
//! parameters is left out: a literal can decide which rows a min-group
//! rewrite keeps, and the printer must reproduce it exactly).

use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use quick_cache::{Equivalent, Weighter};
use quick_cache::sync::Cache;
use serde::Serialize;
use steward_policy::Policy;

use crate::error::AnalysisError;
use crate::plan::{Plan, Viewer};
use crate::rewrite::{Enforced, Prepared, Refusal, enforce, prepare};
use crate::schema::{Dialect, Schema};

/// Estimated bytes both levels hold at most, by default.
pub const DEFAULT_BYTES: u64 = 64 << 20;
/// Estimated bytes of one entry besides its text: the tree, the shape and
/// the key's plan. A parsed statement takes some tens of bytes per byte of
/// SQL.
const ENTRY_BYTES: u64 = 2048;
const TREE_BYTES_PER_SQL_BYTE: u64 = 24;

#[derive(Debug, Clone, PartialEq, Eq)]
struct PreparedKey {
    sql: Box<str>,
    dialect: Dialect,
    schema: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct EnforcedKey {
    prepared: PreparedKey,
    policy: u64,
    plan: Plan,
    /// Indices of the policy's join rules that apply to every subject.
    joins: Vec<usize>,
    row_cap: Option<u64>,
}

/// A key as a lookup borrows it: a hit clones nothing. It hashes and
/// compares as the owned key it stands for.
#[derive(Clone, Copy)]
struct Lookup<'a> {
    sql: &'a str,
    dialect: Dialect,
    schema: u64,
    /// For the enforced level.
    enforced: Option<(u64, &'a Plan, &'a [usize], Option<u64>)>,
}

impl Lookup<'_> {
    fn hash_into<H: Hasher>(&self, state: &mut H) {
        self.sql.hash(state);
        self.dialect.hash(state);
        self.schema.hash(state);
        if let Some((policy, plan, joins, row_cap)) = self.enforced {
            policy.hash(state);
            plan.hash(state);
            joins.hash(state);
            row_cap.hash(state);
        }
    }

    fn prepared_key(&self) -> PreparedKey {
        PreparedKey { sql: self.sql.into(), dialect: self.dialect, schema: self.schema }
    }
}

impl Hash for Lookup<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.hash_into(state)
    }
}

impl Hash for PreparedKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        Lookup { sql: &self.sql, dialect: self.dialect, schema: self.schema, enforced: None }.hash_into(state)
    }
}

impl Hash for EnforcedKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        let p = &self.prepared;
        Lookup { sql: &p.sql, dialect: p.dialect, schema: p.schema, enforced: Some((self.policy, &self.plan, &self.joins, self.row_cap)) }.hash_into(state)
    }
}

impl Equivalent<PreparedKey> for Lookup<'_> {
    fn equivalent(&self, key: &PreparedKey) -> bool {
        self.enforced.is_none() && *self.sql == *key.sql && self.dialect == key.dialect && self.schema == key.schema
    }
}

impl Equivalent<EnforcedKey> for Lookup<'_> {
    fn equivalent(&self, key: &EnforcedKey) -> bool {
        let p = &key.prepared;
        *self.sql == *p.sql
            && self.dialect == p.dialect
            && self.schema == p.schema
            && self.enforced.is_some_and(|(policy, plan, joins, row_cap)| policy == key.policy && *plan == key.plan && joins == key.joins.as_slice() && row_cap == key.row_cap)
    }
}

type PreparedEntry = Arc<Result<Prepared, AnalysisError>>;
type EnforcedEntry = Arc<Result<Enforced, Refusal>>;

#[derive(Clone)]
struct Estimate;

impl Weighter<PreparedKey, PreparedEntry> for Estimate {
    fn weight(&self, key: &PreparedKey, value: &PreparedEntry) -> u64 {
        let shape = match &**value {
            Ok(p) => p.shape.approx_bytes(),
            Err(e) => e.to_string().len() as u64,
        };
        ENTRY_BYTES + key.sql.len() as u64 * (1 + TREE_BYTES_PER_SQL_BYTE) + shape
    }
}

impl Weighter<EnforcedKey, EnforcedEntry> for Estimate {
    fn weight(&self, key: &EnforcedKey, value: &EnforcedEntry) -> u64 {
        let enforced = match &**value {
            Ok(e) => {
                let names: usize = e.withheld.iter().chain(&e.masked).chain(&e.row_filters).map(|n| n.len() + 24).sum();
                e.sql.len() as u64 + e.shape.approx_bytes() + names as u64
            }
            Err(r) => r.to_string().len() as u64,
        };
        ENTRY_BYTES + key.prepared.sql.len() as u64 + key.plan.approx_bytes() + key.joins.len() as u64 * 8 + enforced
    }
}

/// Hits and misses of one level since the cache was made.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct Counts {
    pub hits: u64,
    pub misses: u64,
    pub entries: u64,
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct CacheStats {
    pub prepared: Counts,
    pub enforced: Counts,
    /// Estimated bytes held, and at most.
    pub bytes: u64,
    pub max_bytes: u64,
}

#[derive(Default)]
struct Tally {
    hits: AtomicU64,
    misses: AtomicU64,
}

impl Tally {
    fn count(&self, hit: bool) {
        let counter = if hit { &self.hits } else { &self.misses };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn counts(&self, entries: usize) -> Counts {
        Counts { hits: self.hits.load(Ordering::Relaxed), misses: self.misses.load(Ordering::Relaxed), entries: entries as u64 }
    }
}

pub struct PlanCache {
    prepared: Cache<PreparedKey, PreparedEntry, Estimate>,
    enforced: Cache<EnforcedKey, EnforcedEntry, Estimate>,
    prepared_tally: Tally,
    enforced_tally: Tally,
    /// The (schema, policy) generations of the last enforced lookup.
    current: Mutex<(u64, u64)>,
    max_bytes: u64,
}

impl Default for PlanCache {
    fn default() -> Self {
        PlanCache::new(DEFAULT_BYTES)
    }
}

impl PlanCache {
    /// A cache holding an estimated `max_bytes` at most (0: nothing is kept).
    pub fn new(max_bytes: u64) -> PlanCache {
        let half = max_bytes / 2;
        let items = (half / (ENTRY_BYTES * 4)).max(16) as usize;
        PlanCache {
            prepared: Cache::with_weighter(items, half, Estimate),
            enforced: Cache::with_weighter(items, half, Estimate),
            prepared_tally: Tally::default(),
            enforced_tally: Tally::default(),
            current: Mutex::new((0, 0)),
            max_bytes,
        }
    }

    /// [`prepare`], or what it gave last time for this text on this schema.
    pub fn prepare(&self, schema: &Schema, dialect: Dialect, sql: &str) -> Arc<Result<Prepared, AnalysisError>> {
        let lookup = Lookup { sql, dialect, schema: schema.generation(), enforced: None };
        if let Some(hit) = self.prepared.get(&lookup) {
            self.prepared_tally.count(true);
            return hit;
        }
        self.prepared_tally.count(false);
        let entry = Arc::new(prepare(schema, dialect, sql));
        self.prepared.insert(lookup.prepared_key(), entry.clone());
        entry
    }

    /// [`enforce`] for `prepared` (which [`PlanCache::prepare`] gave for
    /// `sql`), or what it gave last time for the same statement, schema,
    /// policy generation, plan and join rules.
    #[allow(clippy::too_many_arguments)]
    pub fn enforce(
        &self,
        sql: &str,
        prepared: &Prepared,
        schema: &Schema,
        policy: &Policy,
        policy_generation: u64,
        viewer: &Viewer,
        plan: &Plan,
        row_cap: Option<u64>,
    ) -> Arc<Result<Enforced, Refusal>> {
        self.retire_older(schema.generation(), policy_generation);
        let joins = viewer_joins(policy, viewer);
        let lookup = Lookup { sql, dialect: plan.dialect, schema: schema.generation(), enforced: Some((policy_generation, plan, &joins, row_cap)) };
        if let Some(hit) = self.enforced.get(&lookup) {
            self.enforced_tally.count(true);
            return hit;
        }
        self.enforced_tally.count(false);
        let entry = Arc::new(enforce(prepared, schema, policy, viewer, plan, row_cap));
        let key = EnforcedKey { prepared: lookup.prepared_key(), policy: policy_generation, plan: plan.clone(), joins, row_cap };
        self.enforced.insert(key, entry.clone());
        entry
    }

    /// Empty both levels when the generations move on: no later lookup
    /// could hit what they hold. Generations only grow, so a request still
    /// on an older one (during a reload) neither empties the cache nor
    /// moves it back.
    fn retire_older(&self, schema: u64, policy: u64) {
        let Ok(mut current) = self.current.lock() else { return };
        let (known_schema, known_policy) = *current;
        if schema > known_schema || policy > known_policy {
            if *current != (0, 0) {
                self.prepared.clear();
                self.enforced.clear();
            }
            *current = (schema.max(known_schema), policy.max(known_policy));
        }
    }

    pub fn stats(&self) -> CacheStats {
        CacheStats {
            prepared: self.prepared_tally.counts(self.prepared.len()),
            enforced: self.enforced_tally.counts(self.enforced.len()),
            bytes: self.prepared.weight() + self.enforced.weight(),
            max_bytes: self.max_bytes,
        }
    }
}

/// The join rules that apply to every subject of the viewer: what
/// [`Plan::check`] reads of the policy's join rules for this viewer.
fn viewer_joins(policy: &Policy, viewer: &Viewer) -> Vec<usize> {
    policy.join_rules().iter().enumerate().filter(|(_, r)| viewer.subjects.iter().all(|s| r.subjects.applies(s))).map(|(i, _)| i).collect()
}

#[cfg(test)]
mod tests;
