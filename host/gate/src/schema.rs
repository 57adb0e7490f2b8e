//! The schema queries are resolved against: the catalog's tables, plus the
//! columns the warehouse has that the catalog does not list. Those are
//! *discovered*: protected until a classifier plugin has looked at their
//! name and a few values. The classifier also looks at catalog columns the
//! owner left untagged, and can only add tags.
//!
//! Each table is classified only by a classifier whose scope covers it
//! (the first active enforce-mode one by name), so a classifier never
//! touches, nor loosens, a table outside its scope. Its tags are held
//! against the policy's vocabulary ([`steward_policy::classification`]).
//!
//! Queries never wait for a classifier. The schema is assembled at once
//! (catalog, warehouse columns, and every classifier answer already known)
//! whenever the policy generation or the live classifiers change; a column
//! a classifier has to look at is withheld until it has given a valid
//! answer. Classifier calls run in one background task, which swaps in the
//! completed schema when it is done. A failed call (trap, timeout) keeps
//! the column withheld and is retried after [`RETRY_FAILED`]; an answer
//! with an unknown or malformed tag keeps it withheld until the classifier
//! or the policy changes.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;

use steward_model::ColumnSample;
use steward_policy::Policy;
use steward_runtime::{LoadedPlugin, PluginSet};
use steward_sql::{Classification, ColumnDef, Schema};
use steward_warehouse::{Warehouse, WarehouseColumn};
use tracing::Instrument;

use crate::PolicyGeneration;

/// Values read per column for the classifier.
const SAMPLE_VALUES: usize = 20;
/// How long a failed classifier call keeps its column withheld before it
/// is tried again.
pub const RETRY_FAILED: Duration = Duration::from_secs(30);

/// What a schema was built from: the policy generation and the identity
/// (name, digest, scope) of the live classifiers.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Key {
    generation: u64,
    classifiers: Vec<ClassifierId>,
}

/// One classifier's answer for one column, as it came back.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ColumnKey {
    classifier: ClassifierId,
    table: String,
    column: String,
    data_type: String,
}

#[derive(Debug, Clone)]
enum Answer {
    /// The tags as the plugin gave them (held against the vocabulary when
    /// the schema is assembled, so a policy change re-judges them).
    Tags(Vec<String>),
    Failed { at: Instant },
}

/// A column a classifier still has to look at.
struct Pending {
    key: ColumnKey,
    schema: String,
    name: String,
    classifier: Arc<LoadedPlugin>,
}

struct Built {
    key: Key,
    schema: Arc<Schema>,
    /// The warehouse's columns per table, as read for this key.
    warehouse: Arc<Vec<Option<Vec<WarehouseColumn>>>>,
    /// Columns waiting for a classifier call now.
    pending: usize,
    /// When the earliest failed call may be tried again.
    retry_at: Option<Instant>,
}

impl Built {
    fn needs_classifier(&self) -> bool {
        self.pending > 0 || self.retry_at.is_some_and(|t| Instant::now() >= t)
    }
}

/// Clears the "a classification task runs" flag however the task ends.
struct Classifying(Arc<SchemaCache>);

impl Drop for Classifying {
    fn drop(&mut self) {
        self.0.classifying.store(false, Ordering::Release);
    }
}

/// The current schema, read lock-free on every query.
#[derive(Default)]
pub struct SchemaCache {
    current: ArcSwapOption<Built>,
    /// Serializes assembling (fast: no plugin calls).
    assembling: tokio::sync::Mutex<()>,
    answers: Mutex<HashMap<ColumnKey, Answer>>,
    classifying: AtomicBool,
}

/// What a classifier's answers depend on: its name (its data folder),
/// its code and its scope. A version with the same code and another scope
/// is another classifier.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ClassifierId {
    name: String,
    digest: String,
    scope: Vec<String>,
}

impl ClassifierId {
    fn of(classifier: &LoadedPlugin) -> ClassifierId {
        ClassifierId { name: classifier.name().to_string(), digest: classifier.digest.clone(), scope: classifier.manifest.scope.clone() }
    }

    fn is(&self, classifier: &LoadedPlugin) -> bool {
        self.name == classifier.name() && self.digest == classifier.digest && self.scope == classifier.manifest.scope
    }
}

fn key_of(generation: &PolicyGeneration, plugins: &PluginSet) -> Key {
    Key { generation: generation.number, classifiers: plugins.classifiers().map(|c| ClassifierId::of(c)).collect() }
}

impl Key {
    /// Whether this key is the one `key_of` would give, without building
    /// it: the check every query makes.
    fn is_for(&self, generation: &PolicyGeneration, plugins: &PluginSet) -> bool {
        let mut live = plugins.classifiers();
        self.generation == generation.number && self.classifiers.iter().all(|id| live.next().is_some_and(|c| id.is(c))) && live.next().is_none()
    }
}

impl SchemaCache {
    fn cached(&self, key: &Key) -> Option<Arc<Built>> {
        self.current.load_full().filter(|b| b.key == *key)
    }

    /// The schema for this policy generation and plugin set. Never waits
    /// for a classifier; starts the background classification when columns
    /// are waiting for one.
    pub async fn get(self: &Arc<Self>, warehouse: &Arc<Warehouse>, generation: &PolicyGeneration, plugins: &Arc<PluginSet>) -> Arc<Schema> {
        let built = match self.current.load_full().filter(|b| b.key.is_for(generation, plugins)) {
            Some(b) => b,
            None => {
                let key = key_of(generation, plugins);
                let _assembling = self.assembling.lock().await;
                match self.cached(&key) {
                    Some(b) => b,
                    None => {
                        let columns = Arc::new(read_warehouse_columns(warehouse, &generation.policy).await);
                        let built = Arc::new(self.assemble(key, &generation.policy, plugins, columns).0);
                        self.current.store(Some(built.clone()));
                        built
                    }
                }
            }
        };
        if built.needs_classifier() {
            self.classify_in_background(warehouse, generation, plugins);
        }
        built.schema.clone()
    }

    /// Whether no classifier call is waiting to be made for the current
    /// schema.
    pub fn complete(&self) -> bool {
        self.current.load().as_ref().is_some_and(|b| b.pending == 0) && !self.classifying.load(Ordering::Acquire)
    }

    /// Build the schema for `key` from the catalog, the warehouse's columns
    /// and the answers known so far; returns what still needs a classifier.
    fn assemble(&self, key: Key, policy: &Policy, plugins: &PluginSet, warehouse: Arc<Vec<Option<Vec<WarehouseColumn>>>>) -> (Built, Vec<Pending>) {
        let mut schema = Schema::from_policy(policy);
        let answers = self.answers.lock().map(|a| a.clone()).unwrap_or_default();
        let vocabulary = policy.vocabulary();
        let mut pending = Vec::new();
        let mut retry_at: Option<Instant> = None;
        for t in 0..schema.tables().len() {
            let asset = schema.table(t).asset.clone();
            let classifier = plugins.classifier_for(&asset);
            let Some(Some(columns)) = warehouse.get(t) else {
                // The warehouse's columns could not be read: what a
                // classifier would look at stays withheld, and the read is
                // tried again.
                if classifier.is_some() {
                    for c in schema.table_mut(t).columns.iter_mut().filter(|c| c.tags.is_empty()) {
                        c.classification = Classification::Unclassified;
                    }
                    let again = Instant::now() + RETRY_FAILED;
                    retry_at = Some(retry_at.map_or(again, |r| r.min(again)));
                }
                continue;
            };
            for column in columns {
                let known = schema.table(t).columns.iter().position(|c| c.name == column.name);
                if known.is_some_and(|i| !schema.table(t).columns[i].tags.is_empty()) {
                    continue;
                }
                // A discovered column nobody may classify stays withheld; an
                // untagged catalog column keeps the owner's word.
                let mut tags: Option<Vec<String>> = None;
                if let Some(classifier) = classifier {
                    let key = ColumnKey {
                        classifier: ClassifierId::of(classifier),
                        table: asset.clone(),
                        column: column.name.clone(),
                        data_type: column.data_type.clone(),
                    };
                    match answers.get(&key) {
                        // An answer with a bad tag leaves the column withheld.
                        Some(Answer::Tags(raw)) => tags = vocabulary.classifier_tags(raw).ok(),
                        Some(Answer::Failed { at }) if at.elapsed() < RETRY_FAILED => {
                            let again = *at + RETRY_FAILED;
                            retry_at = Some(retry_at.map_or(again, |r| r.min(again)));
                        }
                        _ => pending.push(Pending { key, schema: schema.table(t).schema.clone(), name: schema.table(t).name.clone(), classifier: classifier.clone() }),
                    }
                }
                let classified = tags.is_some();
                let def = schema.table_mut(t);
                match known {
                    Some(_) if classifier.is_none() => {}
                    Some(i) => {
                        if let Some(tags) = tags {
                            def.columns[i].tags.extend(tags);
                        }
                        if !classified {
                            def.columns[i].classification = Classification::Unclassified;
                        }
                    }
                    None => def.columns.push(ColumnDef {
                        name: column.name.clone(),
                        data_type: column.data_type.clone(),
                        tags: tags.unwrap_or_default(),
                        classification: if classified { Classification::Classifier } else { Classification::Unclassified },
                    }),
                }
            }
        }
        (Built { key, schema: Arc::new(schema), warehouse, pending: pending.len(), retry_at }, pending)
    }

    /// Run the classifier calls the current schema waits for, one task at a
    /// time, and swap in the result.
    fn classify_in_background(self: &Arc<Self>, warehouse: &Arc<Warehouse>, generation: &PolicyGeneration, plugins: &Arc<PluginSet>) {
        if self.classifying.swap(true, Ordering::AcqRel) {
            return;
        }
        let (cache, warehouse, policy, plugins) = (self.clone(), warehouse.clone(), generation.policy.clone(), plugins.clone());
        let key = key_of(generation, &plugins);
        let span = tracing::info_span!("classify", generation = key.generation);
        tokio::spawn(
            async move {
                let _flag = Classifying(cache.clone());
                let Some(built) = cache.cached(&key) else { return };
                let columns = if built.warehouse.iter().any(Option::is_none) {
                    Arc::new(read_warehouse_columns(&warehouse, &policy).await)
                } else {
                    built.warehouse.clone()
                };
                // Answers of classifier versions no longer live are dropped,
                // so the memo holds at most the live classifiers' columns.
                if let Ok(mut answers) = cache.answers.lock() {
                    answers.retain(|k, _| key.classifiers.contains(&k.classifier));
                }
                let (_, pending) = cache.assemble(key.clone(), &policy, &plugins, columns.clone());
                let mut classified = 0usize;
                for p in &pending {
                    // Without its values a classifier would judge the
                    // column by its name alone: a failed read is a failed
                    // call (withheld, tried again).
                    let values = match warehouse.sample(&p.schema, &p.name, &p.key.column, SAMPLE_VALUES).await {
                        Ok(values) => values,
                        Err(e) => {
                            tracing::warn!(table = %p.key.table, column = %p.key.column, error = %e, "cannot sample the column; it stays withheld");
                            if let Ok(mut answers) = cache.answers.lock() {
                                answers.insert(p.key.clone(), Answer::Failed { at: Instant::now() });
                            }
                            continue;
                        }
                    };
                    let sample = ColumnSample { table: p.key.table.clone(), column: p.key.column.clone(), data_type: p.key.data_type.clone(), values };
                    let answer = match p.classifier.classify(&sample).await {
                        Ok(tags) => {
                            if let Err(e) = policy.vocabulary().classifier_tags(&tags) {
                                tracing::warn!(plugin = p.classifier.label(), table = %p.key.table, column = %p.key.column, error = %e, "classifier answer refused; the column stays withheld");
                            }
                            classified += 1;
                            Answer::Tags(tags)
                        }
                        Err(e) => {
                            tracing::warn!(table = %p.key.table, column = %p.key.column, error = %e, "classifier failed; the column stays withheld");
                            Answer::Failed { at: Instant::now() }
                        }
                    };
                    if let Ok(mut answers) = cache.answers.lock() {
                        answers.insert(p.key.clone(), answer);
                    }
                }
                // Swap in the completed schema unless the key moved on.
                let _assembling = cache.assembling.lock().await;
                if cache.cached(&key).is_some() {
                    let (built, _) = cache.assemble(key, &policy, &plugins, columns);
                    cache.current.store(Some(Arc::new(built)));
                }
                tracing::info!(asked = pending.len(), classified, "columns classified");
            }
            .instrument(span),
        );
    }
}

async fn read_warehouse_columns(warehouse: &Warehouse, policy: &Policy) -> Vec<Option<Vec<WarehouseColumn>>> {
    let schema = Schema::from_policy(policy);
    let mut out = Vec::with_capacity(schema.tables().len());
    for def in schema.tables() {
        match warehouse.columns(&def.schema, &def.name).await {
            Ok(c) => out.push(Some(c)),
            Err(e) => {
                tracing::warn!(table = %def.asset, error = %e, "cannot read the warehouse schema of a catalog table");
                out.push(None);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::*;

    fn policy_texts(edit: bool) -> Vec<(PathBuf, String)> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies");
        let mut texts: Vec<(PathBuf, String)> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .map(|p| {
                let text = std::fs::read_to_string(&p).unwrap();
                let text = if edit { text.replace(r#"{ name = "region", type = "text" }"#, r#"{ name = "region", type = "text", tags = ["pii"] }"#) } else { text };
                (p, text)
            })
            .collect();
        texts.sort();
        texts
    }

    /// The old cache was keyed on the policy's address: a new generation
    /// allocated where a dropped one lived was served the old schema.
    #[tokio::test]
    async fn a_new_policy_generation_is_never_served_an_older_schema() {
        let dir = tempfile::tempdir().unwrap();
        let warehouse_dir = dir.path().join("warehouse");
        steward_warehouse::sqlite::create_demo(&warehouse_dir).unwrap();
        let warehouse = Arc::new(Warehouse::open(&warehouse_dir.display().to_string(), Duration::from_secs(5)).await.unwrap());
        let plugins = Arc::new(PluginSet::default());
        let cache = Arc::new(SchemaCache::default());
        for round in 0..16 {
            let tagged = round % 2 == 1;
            let generation = PolicyGeneration::new(Policy::load_texts(policy_texts(tagged)).unwrap(), Default::default()).unwrap();
            let schema = cache.get(&warehouse, &generation, &plugins).await;
            let orders = schema.table(schema.by_asset("sales/orders").unwrap());
            assert_eq!(orders.column("region").unwrap().1.is_pii(), tagged, "round {round}");
            drop(generation);
        }
    }
}
