//! What a query does, as the analyzer found it: the statement kind, the
//! tables and the columns read from each (and how), joins, aggregation,
//! sampling and limit.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::schema::{Schema, TableId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StatementKind {
    Read,
    Write,
    Ddl,
    Other,
}

/// A column of a catalog table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ColRef {
    pub table: TableId,
    pub column: usize,
}

/// How a column's value reaches an output column. Ordered from least to
/// most revealing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Via {
    /// Only through an aggregate that hides single values (count, sum, avg).
    Aggregated,
    /// As a GROUP BY key of an aggregated SELECT.
    GroupKey,
    /// As a value, possibly transformed.
    Raw,
}

/// How one column is used by the whole query.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ColumnUse {
    /// Its value (possibly transformed) reaches the output.
    pub output: bool,
    /// It reaches the output as a GROUP BY key.
    pub group_key: bool,
    /// It reaches the output only through a hiding aggregate.
    pub aggregated: bool,
    /// It is used in a predicate (WHERE, ON, GROUP BY, HAVING, ORDER BY,
    /// window, subquery condition).
    pub predicate: bool,
    /// A write sets it.
    pub written: bool,
}

impl ColumnUse {
    pub fn reaches_output(&self) -> bool {
        self.output || self.group_key || self.aggregated
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct JoinEdge {
    pub left: String,
    pub right: String,
    /// Equality keys as (left column, right column); empty for a join
    /// with no equality between the two (a cross join or other condition).
    pub keys: Vec<(String, String)>,
}

#[derive(Debug, Clone, Serialize)]
pub struct OutputColumn {
    pub name: String,
    /// `table.column` → how it gets here.
    pub sources: BTreeMap<String, Via>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TableAccess {
    pub asset: String,
    pub sql_name: String,
    pub columns: BTreeMap<String, ColumnUse>,
    /// Every SELECT that reads this table directly aggregates.
    pub only_aggregated: bool,
    /// Every SELECT that reads this table directly reads nothing else in
    /// its FROM (no join can multiply its rows).
    pub read_alone: bool,
    /// The statement writes this table.
    pub written: bool,
}

/// The analysis of one statement.
#[derive(Debug, Clone, Serialize)]
pub struct QueryShape {
    pub kind: StatementKind,
    pub tables: Vec<TableAccess>,
    pub joins: Vec<JoinEdge>,
    pub output: Vec<OutputColumn>,
    /// Every output column is an aggregate or a GROUP BY key.
    pub aggregated: bool,
    /// GROUP BY keys of the top-level SELECT, as `table.column`.
    pub group_by: Vec<String>,
    /// TABLESAMPLE, or ORDER BY random() with a LIMIT.
    pub sampled: bool,
    pub limit: Option<u64>,
    #[serde(skip)]
    pub(crate) uses: BTreeMap<ColRef, ColumnUse>,
    /// Per output column, the catalog columns that reach it.
    #[serde(skip)]
    pub(crate) output_refs: Vec<Vec<(ColRef, Via)>>,
    #[serde(skip)]
    pub(crate) table_ids: BTreeSet<TableId>,
}

impl QueryShape {
    /// About how many bytes the shape holds (for the plan cache's bound),
    /// allocations included: each output column's map of sources is a
    /// tree node of its own (a few hundred bytes even for one source).
    /// Checked against a server's RSS filled with 750-column shapes.
    pub fn approx_bytes(&self) -> u64 {
        let outputs: usize = self.output.iter().map(|c| 384 + c.name.len() + c.sources.keys().map(|k| k.len() + 64).sum::<usize>()).sum();
        let tables: usize = self.tables.iter().map(|t| 512 + t.asset.len() + t.sql_name.len() + t.columns.keys().map(|k| k.len() + 96).sum::<usize>()).sum();
        let refs: usize = self.output_refs.iter().map(|r| 64 + r.len() * 24).sum();
        (512 + outputs + tables + refs + self.uses.len() * 96 + self.joins.len() * 128 + self.group_by.iter().map(|g| g.len() + 48).sum::<usize>()) as u64
    }

    /// Every (column, use) of a table the query touches.
    pub fn uses(&self) -> impl Iterator<Item = (ColRef, ColumnUse)> + '_ {
        self.uses.iter().map(|(c, u)| (*c, *u))
    }

    pub fn output_refs(&self) -> &[Vec<(ColRef, Via)>] {
        &self.output_refs
    }

    pub fn table_ids(&self) -> impl Iterator<Item = TableId> + '_ {
        self.table_ids.iter().copied()
    }

    pub fn column_name<'s>(&self, schema: &'s Schema, c: ColRef) -> &'s str {
        &schema.table(c.table).columns[c.column].name
    }
}
