//! Semantic analysis: resolve every name in a statement against the
//! catalog's schema and work out the [`QueryShape`].
//!
//! The analyzer walks the AST the way the database would bind it: FROM
//! first (base tables, CTEs, derived tables), then WHERE, the projection,
//! GROUP BY, HAVING, windows and ORDER BY, with correlated subqueries
//! seeing their enclosing scopes. Each expression yields a [`Flow`]: the
//! catalog columns whose values reach it, and how. Flows that reach the
//! top-level projection are output uses; flows that end in a condition are
//! predicate uses.
//!
//! It also normalizes the statement in place, so what it hands back can be
//! executed exactly as analyzed: every base table is schema-qualified and
//! aliased, three-part column names become `alias.column`, and `*` / `t.*`
//! become explicit column lists (leaving out what the [`Hooks`] hide).
//! The hooks also let the rewriter swap each base table for a governed
//! source and add conditions to each SELECT that reads one.

mod expr;
pub(crate) mod from;
mod select;
pub(crate) mod statement;

use std::collections::{BTreeMap, BTreeSet};

use sqlparser::ast::{Ident, Select, Statement, TableFactor, TableSampleKind};
use sqlparser::parser::Parser;

use crate::error::AnalysisError;
use crate::schema::{Dialect, Schema, TableId};
use crate::shape::{ColRef, ColumnUse, QueryShape, Via};

/// Catalog columns whose values reach an expression, and how.
pub type Flow = BTreeMap<ColRef, Via>;

fn merge(into: &mut Flow, from: Flow) {
    for (c, v) in from {
        let e = into.entry(c).or_insert(v);
        if v > *e {
            *e = v;
        }
    }
}

/// What the rewriter can do while the analyzer walks the statement.
pub trait Hooks {
    /// Whether `*` leaves this column out.
    fn hidden(&self, _table: TableId, _column: usize) -> bool {
        false
    }
    /// A governed replacement for a reference to a base table, aliased as
    /// `alias`, with the TABLESAMPLE clause it had.
    fn source(&self, _table: TableId, _alias: &Ident, _sample: Option<&TableSampleKind>) -> Result<Option<TableFactor>, AnalysisError> {
        Ok(None)
    }
    /// Called for each SELECT that reads base tables directly (`direct`),
    /// after it is analyzed.
    fn select(&self, _select: &mut Select, _direct: &[TableId], _aggregated: bool) -> Result<(), AnalysisError> {
        Ok(())
    }
}

/// Analysis only: nothing hidden, nothing replaced.
pub struct NoHooks;
impl Hooks for NoHooks {}

/// Parse exactly one statement, refusing what is too large or too deep
/// for the host to walk ([`crate::bounds`]) before building its tree.
pub fn parse(dialect: Dialect, sql: &str) -> Result<Statement, AnalysisError> {
    parse_within(dialect, sql, crate::bounds::Within::REQUEST)
}

/// Parse SQL the host wrote itself from an accepted statement (its
/// rewrite), which may be a little deeper than what it was given.
pub fn parse_rewritten(dialect: Dialect, sql: &str) -> Result<Statement, AnalysisError> {
    parse_within(dialect, sql, crate::bounds::Within::REWRITE)
}

fn parse_within(dialect: Dialect, sql: &str, within: crate::bounds::Within) -> Result<Statement, AnalysisError> {
    let parser_dialect = dialect.parser_dialect();
    let tokens = crate::bounds::check_tokens(&*parser_dialect, sql, within)?;
    let mut statements =
        Parser::new(&*parser_dialect).with_tokens_with_locations(tokens).parse_statements().map_err(|e| AnalysisError::Unparsable(e.to_string()))?;
    match statements.len() {
        1 => Ok(statements.remove(0)),
        0 => Err(AnalysisError::NotOneStatement("the query holds no statement".into())),
        n => Err(AnalysisError::NotOneStatement(format!("the query holds {n} statements; send one at a time"))),
    }
}

/// Analyze (and normalize) one statement.
pub fn analyze(schema: &Schema, dialect: Dialect, statement: &mut Statement, hooks: &dyn Hooks) -> Result<QueryShape, AnalysisError> {
    let analyzer = Analyzer {
        schema,
        dialect,
        hooks,
        substitute: true,
        uses: BTreeMap::new(),
        tables: BTreeSet::new(),
        only_aggregated: BTreeMap::new(),
        written: BTreeSet::new(),
        keys: BTreeMap::new(),
        selects: Vec::new(),
        next_select: 1,
        alone: BTreeMap::new(),
        sampled: false,
        ctes: Vec::new(),
        reads: Vec::new(),
        aggregate_seen: false,
        windows: Vec::new(),
        unnamed: 0,
        top: None,
        depth: 0,
        items: 0,
    };
    analyzer.statement(statement)
}

/// A column of a relation in scope.
#[derive(Debug, Clone, PartialEq)]
struct RelColumn {
    name: String,
    flow: Flow,
}

/// A named relation in a FROM clause.
#[derive(Debug, Clone)]
struct Relation {
    /// The name it is referred to by (its alias, or the table's name).
    name: Option<Ident>,
    /// For a base table referenced without alias: its schema, so that
    /// `schema.table.column` resolves.
    schema: Option<String>,
    columns: Vec<RelColumn>,
    /// The catalog table, if this is one.
    base: Option<TableId>,
    /// Every catalog table read to produce this relation.
    tables: BTreeSet<TableId>,
}

/// The names visible at one level of a query.
struct Scope<'p> {
    relations: Vec<Relation>,
    /// Columns merged by JOIN ... USING: an unqualified reference takes
    /// the first relation's.
    using: Vec<String>,
    /// Output columns of the SELECT, for ORDER BY / GROUP BY / HAVING.
    outputs: Vec<RelColumn>,
    /// Per output column: named by an explicit `AS` alias.
    aliased: Vec<bool>,
    parent: Option<&'p Scope<'p>>,
}

impl<'p> Scope<'p> {
    fn new(parent: Option<&'p Scope<'p>>) -> Scope<'p> {
        Scope { relations: Vec::new(), using: Vec::new(), outputs: Vec::new(), aliased: Vec::new(), parent }
    }

    fn tables(&self) -> BTreeSet<TableId> {
        self.relations.iter().flat_map(|r| r.tables.iter().copied()).collect()
    }
}

struct CteDef {
    name: Ident,
    columns: Vec<RelColumn>,
    tables: BTreeSet<TableId>,
}

/// Facts about the top-level SELECT.
struct TopSelect {
    aggregated: bool,
    group_keys: Vec<ColRef>,
}

struct Analyzer<'a> {
    schema: &'a Schema,
    dialect: Dialect,
    hooks: &'a dyn Hooks,
    /// Off while a recursive CTE is analyzed on a scratch copy.
    substitute: bool,
    uses: BTreeMap<ColRef, ColumnUse>,
    tables: BTreeSet<TableId>,
    /// Per table: whether every SELECT reading it directly aggregates.
    only_aggregated: BTreeMap<TableId, bool>,
    written: BTreeSet<TableId>,
    /// Table pairs read together, per SELECT, with that SELECT's equality
    /// keys between them: (select, left table, right table) -> keys.
    keys: BTreeMap<(usize, TableId, TableId), BTreeSet<(usize, usize)>>,
    /// The SELECTs being analyzed, innermost last, and the next id.
    selects: Vec<usize>,
    next_select: usize,
    /// Per table: whether every SELECT reading it directly reads nothing
    /// else in its FROM.
    alone: BTreeMap<TableId, bool>,
    sampled: bool,
    ctes: Vec<CteDef>,
    /// Open sets of tables read, one per relation being analyzed.
    reads: Vec<BTreeSet<TableId>>,
    /// Set when an aggregate (not a window) is met in the current SELECT.
    aggregate_seen: bool,
    /// The current SELECT's named windows and the flows that shape them.
    windows: Vec<(String, Flow)>,
    /// Derived tables given a name so far (a subquery in FROM without an
    /// alias gets one, so that `*` and the rewrite can name it).
    unnamed: usize,
    top: Option<TopSelect>,
    /// Nesting depth of queries: 0 is the statement's own query.
    depth: usize,
    /// Select items of the whole statement so far (after `*` expansion).
    items: usize,
}

impl Analyzer<'_> {
    fn record(&mut self, flow: &Flow, predicate: bool) {
        for (c, via) in flow {
            let u = self.uses.entry(*c).or_default();
            if predicate {
                u.predicate = true;
            } else {
                match via {
                    Via::Raw => u.output = true,
                    Via::GroupKey => u.group_key = true,
                    Via::Aggregated => u.aggregated = true,
                }
            }
        }
    }

    /// Whether `[schema.]name`, as written in the query, refers to `relation`.
    fn names_relation(&self, relation: &Relation, schema: Option<&Ident>, name: &Ident) -> bool {
        relation.name.as_ref().is_some_and(|n| self.dialect.same(&self.dialect.fold(n), &self.dialect.fold(name)))
            && schema.is_none_or(|s| relation.schema.as_ref().is_some_and(|rs| self.dialect.matches(s, rs)))
    }

    fn current_select(&self) -> usize {
        self.selects.last().copied().unwrap_or(0)
    }

    fn pair(&mut self, a: TableId, b: TableId) {
        if a != b {
            let select = self.current_select();
            self.keys.entry((select, a.min(b), a.max(b))).or_default();
        }
    }

    fn key(&mut self, a: ColRef, b: ColRef) {
        if a.table == b.table {
            return;
        }
        let (l, r) = if a.table < b.table { (a, b) } else { (b, a) };
        let select = self.current_select();
        self.keys.entry((select, l.table, r.table)).or_default().insert((l.column, r.column));
    }

    fn read_table(&mut self, t: TableId) {
        self.tables.insert(t);
        for set in &mut self.reads {
            set.insert(t);
        }
    }

    /// Analyze something that produces a relation, collecting the tables
    /// it reads.
    fn collecting<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T, AnalysisError>) -> Result<(T, BTreeSet<TableId>), AnalysisError> {
        self.reads.push(BTreeSet::new());
        let out = f(self);
        let tables = self.reads.pop().unwrap_or_default();
        out.map(|v| (v, tables))
    }

    fn shape(self, kind: crate::shape::StatementKind, output: Vec<RelColumn>, limit: Option<u64>) -> QueryShape {
        use crate::shape::{JoinEdge, OutputColumn, TableAccess};
        let schema = self.schema;
        let col_name = |c: &ColRef| format!("{}.{}", schema.table(c.table).sql_name(), schema.table(c.table).columns[c.column].name);
        let tables = self
            .tables
            .iter()
            .map(|&t| {
                let def = schema.table(t);
                TableAccess {
                    asset: def.asset.clone(),
                    sql_name: def.sql_name(),
                    columns: self.uses.iter().filter(|(c, _)| c.table == t).map(|(c, u)| (def.columns[c.column].name.clone(), *u)).collect(),
                    only_aggregated: self.only_aggregated.get(&t).copied().unwrap_or(false),
                    read_alone: self.alone.get(&t).copied().unwrap_or(false),
                    written: self.written.contains(&t),
                }
            })
            .collect();
        let mut joins: Vec<JoinEdge> = self
            .keys
            .iter()
            .map(|((_, a, b), keys)| JoinEdge {
                left: schema.table(*a).asset.clone(),
                right: schema.table(*b).asset.clone(),
                keys: keys.iter().map(|(l, r)| (schema.table(*a).columns[*l].name.clone(), schema.table(*b).columns[*r].name.clone())).collect(),
            })
            .collect();
        joins.sort_by(|x, y| (&x.left, &x.right, &x.keys).cmp(&(&y.left, &y.right, &y.keys)));
        joins.dedup();
        let top = self.top.as_ref();
        let aggregated = top.is_some_and(|t| t.aggregated) && output.iter().all(|c| c.flow.values().all(|v| *v != Via::Raw));
        QueryShape {
            kind,
            tables,
            joins,
            output: output.iter().map(|c| OutputColumn { name: c.name.clone(), sources: c.flow.iter().map(|(r, v)| (col_name(r), *v)).collect() }).collect(),
            aggregated,
            group_by: top.map(|t| t.group_keys.iter().map(col_name).collect()).unwrap_or_default(),
            sampled: self.sampled,
            limit,
            uses: self.uses,
            output_refs: output.iter().map(|c| c.flow.iter().map(|(r, v)| (*r, *v)).collect()).collect(),
            table_ids: self.tables,
        }
    }
}

#[cfg(test)]
mod tests;
