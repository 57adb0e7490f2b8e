//! The schema queries are resolved against: the catalog's tables, plus the
//! columns the warehouse has that the catalog does not list. Those are
//! *discovered*: protected until the classifier plugin has looked at their
//! name and a few values. The classifier also looks at catalog columns the
//! owner left untagged, and can only add tags.
//!
//! Built once per (policy generation, classifier version) and shared.

use std::sync::Arc;

use arc_swap::ArcSwapOption;

use steward_model::ColumnSample;
use steward_policy::Policy;
use steward_runtime::PluginSet;
use steward_sql::{Classification, ColumnDef, Schema};
use steward_warehouse::Warehouse;
use tokio::sync::Mutex;

/// Values read per column for the classifier.
const SAMPLE_VALUES: usize = 20;

#[derive(Clone, PartialEq)]
struct Key {
    policy: usize,
    classifier: Option<String>,
}

/// The current schema, read lock-free on every query; rebuilt (by one
/// task, the others waiting) when its key changes.
#[derive(Default)]
pub struct SchemaCache {
    current: ArcSwapOption<(Key, Arc<Schema>)>,
    building: Mutex<()>,
}

impl SchemaCache {
    fn cached(&self, key: &Key) -> Option<Arc<Schema>> {
        self.current.load().as_ref().filter(|entry| entry.0 == *key).map(|entry| entry.1.clone())
    }

    pub async fn get(&self, warehouse: &Warehouse, policy: &Arc<Policy>, plugins: &PluginSet) -> Arc<Schema> {
        let classifier = plugins.classifier();
        let key = Key { policy: Arc::as_ptr(policy) as usize, classifier: classifier.map(|c| c.digest.clone()) };
        if let Some(schema) = self.cached(&key) {
            return schema;
        }
        let _building = self.building.lock().await;
        if let Some(schema) = self.cached(&key) {
            return schema;
        }
        let schema = Arc::new(build(warehouse, policy, classifier.map(|c| &**c)).await);
        self.current.store(Some(Arc::new((key, schema.clone()))));
        schema
    }
}

async fn build(warehouse: &Warehouse, policy: &Policy, classifier: Option<&steward_runtime::LoadedPlugin>) -> Schema {
    let mut schema = Schema::from_policy(policy);
    let mut discovered = 0;
    let mut classified = 0;
    for t in 0..schema.tables().len() {
        let (sql_schema, name, asset) = {
            let def = schema.table(t);
            (def.schema.clone(), def.name.clone(), def.asset.clone())
        };
        let columns = match warehouse.columns(&sql_schema, &name).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(table = %asset, error = %e, "cannot read the warehouse schema of a catalog table");
                continue;
            }
        };
        for column in columns {
            let known = schema.table(t).columns.iter().position(|c| c.name == column.name);
            if known.is_some_and(|i| !schema.table(t).columns[i].tags.is_empty()) {
                continue;
            }
            let tags = match classifier {
                Some(plugin) => {
                    let values = warehouse.sample(&sql_schema, &name, &column.name, SAMPLE_VALUES).await.unwrap_or_default();
                    let sample = ColumnSample { table: asset.clone(), column: column.name.clone(), data_type: column.data_type.clone(), values };
                    match plugin.classify(&sample).await {
                        Ok(tags) => Some(tags),
                        Err(e) => {
                            let e = e.to_string();
                            tracing::warn!(table = %asset, column = %column.name, error = %e, "classifier failed; the column stays as it was");
                            None
                        }
                    }
                }
                None => None,
            };
            let def = schema.table_mut(t);
            match known {
                Some(i) => {
                    if let Some(tags) = tags {
                        classified += 1;
                        def.columns[i].tags.extend(tags);
                    }
                }
                None => {
                    discovered += 1;
                    let classification = if tags.is_some() { Classification::Classifier } else { Classification::Unclassified };
                    def.columns.push(ColumnDef { name: column.name, data_type: column.data_type, tags: tags.unwrap_or_default(), classification });
                }
            }
        }
    }
    tracing::info!(discovered, classified, classifier = classifier.map(|c| c.label()), "schema built");
    schema
}
