//! What a caller can do instead of a statement it may not run, computed
//! once, here, for every door (`/v1/query`, MCP, tool call-backs):
//!
//! - **curated**: the catalog's `alternatives` of a table the statement
//!   reads (less restricted tables and views), over the columns the
//!   statement used that they also have;
//! - **readable-columns**: the same statement with the output items that
//!   name a column the caller may not read dropped (`*` spelled out);
//! - **aggregate**: counts (and averages of the numeric columns the
//!   statement used) grouped by a dimension the caller may read: not PII,
//!   not a key (`id`, `*_id`, `*_key`, `*_uuid`), not a number. Minimum
//!   group sizes are the rewrite's to enforce, as for any query.
//!
//! Each candidate is dry-run through the gate as the caller (decided,
//! checked against the data rules and rewritten; no rows returned, no
//! budget charged), recorded as a probe naming the request it was made
//! for; only those allowed are offered. A suggestion never names a table
//! the caller may not know exists.

use std::collections::BTreeMap;

use serde::Serialize;
use steward_model::Decision;
use steward_policy::{ColumnEffect, Policy};
use steward_sql::{ColumnDef, Dialect, Mode, Plan, QueryShape, Schema, TableDef, Viewer};

use crate::query::{Execution, QueryInput};
use crate::{Caller, Door, Gate};

/// Candidates dry-run per denied statement at most.
pub const MAX_CANDIDATES: usize = 6;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AlternativeKind {
    Curated,
    ReadableColumns,
    Aggregate,
}

/// One statement the caller may run instead, as its dry run allowed it.
#[derive(Debug, Clone, Serialize)]
pub struct Alternative {
    pub kind: AlternativeKind,
    pub sql: String,
    pub description: String,
    /// The request id of the dry run that allowed it (an audit record of
    /// type `probe`).
    pub probe: String,
}

/// What a denied caller can do instead.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Instead {
    /// Per table the statement reads: the columns this caller may read
    /// (some masked).
    pub readable_columns: BTreeMap<String, Vec<String>>,
    /// Statements each checked by a dry run as the caller: allowed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub alternatives: Vec<Alternative>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preview: Option<String>,
}

/// A statement to dry-run, and what to tell the caller if it is allowed.
struct Candidate {
    kind: AlternativeKind,
    sql: String,
    description: String,
}

/// What the alternatives are computed from: the denied statement as the
/// query path analysed it.
pub(crate) struct Denied<'a> {
    pub schema: &'a Schema,
    pub policy: &'a Policy,
    pub viewer: &'a Viewer<'a>,
    pub shape: &'a QueryShape,
    pub input: &'a QueryInput,
    pub dialect: Dialect,
    pub visible: &'a (dyn Fn(&str) -> bool + Sync),
}

impl Gate {
    /// The alternatives for `denied`, each dry-run as `caller` and recorded
    /// as a probe of the request `parent`.
    pub(crate) async fn instead(&self, caller: &Caller, denied: &Denied<'_>, parent: &str) -> Instead {
        let (mut out, candidates) = candidates(denied);
        let parent: std::sync::Arc<str> = parent.into();
        let mut aggregate_offered = false;
        for c in candidates.into_iter().take(MAX_CANDIDATES) {
            // One aggregate form is enough: the first allowed.
            if c.kind == AlternativeKind::Aggregate && aggregate_offered {
                continue;
            }
            let input = QueryInput { sql: c.sql.clone(), mode: denied.input.mode, intent: denied.input.intent.clone() };
            let probe = Box::pin(self.query_as(caller, &input, Door::Probe { parent: parent.clone() }, Execution::Probe, None)).await;
            if probe.outcome.decision == Decision::Allow {
                aggregate_offered |= c.kind == AlternativeKind::Aggregate;
                out.alternatives.push(Alternative { kind: c.kind, sql: c.sql, description: c.description, probe: probe.outcome.request_id });
            }
        }
        out
    }
}

/// The readable columns of the statement's tables, and the candidates to
/// dry-run, best first.
fn candidates(d: &Denied<'_>) -> (Instead, Vec<Candidate>) {
    let mut out = Instead::default();
    if d.input.mode == Mode::Full {
        out.preview = Some("ask again with \"mode\": \"preview\" for a small, masked, sampled result, if the owner allows it".into());
    }
    let Ok(plan) = Plan::build(d.schema, d.policy, d.viewer, d.shape.table_ids(), Mode::Full, d.dialect) else { return (out, Vec::new()) };
    let mut curated = Vec::new();
    let mut aggregates = Vec::new();
    let mut readable_names: Vec<String> = Vec::new();
    let mut unreadable_names: Vec<String> = Vec::new();
    for (&t, tp) in &plan.tables {
        let def = d.schema.table(t);
        if !(d.visible)(&def.asset) {
            continue;
        }
        let effects: Vec<(&ColumnDef, &ColumnEffect)> = def.columns.iter().zip(tp.treatments.iter().map(|tr| &tr.effect)).collect();
        let mut listed = Vec::new();
        for (c, e) in &effects {
            match e {
                ColumnEffect::Allow => listed.push(c.name.clone()),
                ColumnEffect::Mask(_) => listed.push(format!("{} (masked)", c.name)),
                ColumnEffect::PredicateOnly | ColumnEffect::Deny => {
                    unreadable_names.push(c.name.clone());
                    continue;
                }
            }
            readable_names.push(c.name.clone());
        }
        out.readable_columns.insert(def.asset.clone(), listed);
        let used = used_columns(d.shape, def);

        for alternative in def.alternatives.iter().filter(|a| (d.visible)(a)) {
            let Some(alt) = d.schema.by_asset(alternative).map(|id| d.schema.table(id)) else { continue };
            let common: Vec<&str> = used.iter().filter(|c| alt.column(c).is_some()).map(String::as_str).collect();
            let columns = if common.is_empty() { "*".to_string() } else { common.join(", ") };
            let about = d.policy.catalog_entry(alternative).and_then(|e| e.description.clone()).map(|s| format!(": {s}")).unwrap_or_default();
            curated.push(Candidate {
                kind: AlternativeKind::Curated,
                sql: format!("SELECT {columns} FROM {}", alt.sql_name()),
                description: format!("{alternative} is the curated alternative to {}{about}", def.asset),
            });
        }

        let dimension = effects
            .iter()
            .filter(|(c, e)| **e == ColumnEffect::Allow && is_dimension(c))
            .map(|(c, _)| *c)
            .min_by_key(|c| !used.contains(&c.name));
        if let Some(dim) = dimension {
            let measures: Vec<&str> = used.iter().filter(|u| def.column(u).is_some_and(|(_, c)| is_number(c) && !is_key(&c.name))).map(String::as_str).collect();
            let k = tp.min_group.as_ref().map(|(_, k)| format!("; groups smaller than {k} are left out")).unwrap_or_default();
            let table = def.sql_name();
            if !measures.is_empty() {
                let avgs: String = measures.iter().map(|m| format!(", avg({m}) AS avg_{m}")).collect();
                aggregates.push(Candidate {
                    kind: AlternativeKind::Aggregate,
                    sql: format!("SELECT {0}, count(*) AS n{avgs} FROM {table} GROUP BY {0}", dim.name),
                    description: format!("{} per {} with averages, instead of single rows{k}", def.asset, dim.name),
                });
            }
            aggregates.push(Candidate {
                kind: AlternativeKind::Aggregate,
                sql: format!("SELECT {0}, count(*) AS n FROM {table} GROUP BY {0}", dim.name),
                description: format!("how many rows of {} per {}, instead of single rows{k}", def.asset, dim.name),
            });
        }
    }
    let mut all = curated;
    let readable = |c: &str| !unreadable_names.iter().any(|u| d.dialect.same(u, c));
    if let Some(sql) = steward_sql::alternative::over_readable_columns(d.dialect, &d.input.sql, &readable, &readable_names) {
        all.push(Candidate {
            kind: AlternativeKind::ReadableColumns,
            sql,
            description: "the same query without the columns you may not read".into(),
        });
    }
    all.extend(aggregates);
    (out, all)
}

/// The columns of `table` the statement touches, in table order.
fn used_columns(shape: &QueryShape, table: &TableDef) -> Vec<String> {
    let Some(access) = shape.tables.iter().find(|t| t.asset == table.asset) else { return Vec::new() };
    table.columns.iter().filter(|c| access.columns.contains_key(&c.name)).map(|c| c.name.clone()).collect()
}

fn is_key(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n == "id" || ["_id", "_key", "_uuid"].iter().any(|s| n.ends_with(s))
}

fn is_number(c: &ColumnDef) -> bool {
    let t = c.data_type.to_ascii_lowercase();
    ["int", "numeric", "decimal", "real", "double", "float"].iter().any(|n| t.contains(n))
}

/// A column to group by: readable as it is (checked by the caller), not
/// PII, classified, not a key and not a number.
fn is_dimension(c: &ColumnDef) -> bool {
    !c.is_pii() && c.is_classified() && !is_key(&c.name) && !is_number(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(name: &str, data_type: &str) -> ColumnDef {
        ColumnDef { name: name.into(), data_type: data_type.into(), tags: vec![], classification: steward_sql::Classification::Catalog }
    }

    #[test]
    fn keys_and_numbers_are_not_dimensions() {
        assert!(!is_dimension(&column("customer_id", "integer")));
        assert!(!is_dimension(&column("ID", "text")));
        assert!(!is_dimension(&column("order_key", "text")));
        assert!(!is_dimension(&column("amount", "numeric")));
        assert!(is_dimension(&column("region", "text")));
        assert!(is_dimension(&column("posted_at", "date")));
    }
}
