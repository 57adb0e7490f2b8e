//! Enforcement by rewrite: the statement is rewritten to carry its plan
//! (each governed table becomes a subquery that leaves out denied columns,
//! masks masked ones and applies the row filters, wherever the table is
//! referenced; `*` leaves out what may not be returned; aggregate-only
//! reads get a minimum group size; the row count is capped), and the
//! result is analyzed again to prove no withheld column reaches the output.

use std::cell::RefCell;

use serde::Serialize;
use sqlparser::ast::{BinaryOperator, Expr, Ident, LimitClause, Query, Select, SetExpr, Statement, TableAlias, TableFactor, TableSampleKind, Value};
use sqlparser::parser::Parser;
use steward_policy::{ColumnEffect, Policy};

use crate::analyze::from::ident_for;
use crate::analyze::statement::limit_value;
use crate::analyze::{Hooks, NoHooks, analyze, parse, parse_rewritten};
use crate::error::AnalysisError;
use crate::mask;
use crate::plan::{Mode, Plan, Viewer, Violation};
use crate::schema::{Schema, TableId};
use crate::shape::{QueryShape, Via};

/// A statement parsed and analyzed once, before any decision: its shape
/// names the tables the decision is about.
#[derive(Debug, Clone)]
pub struct Prepared {
    statement: Statement,
    pub shape: QueryShape,
}

pub fn prepare(schema: &Schema, dialect: crate::Dialect, sql: &str) -> Result<Prepared, AnalysisError> {
    let statement = parse(dialect, sql)?;
    let mut scratch = statement.clone();
    let shape = analyze(schema, dialect, &mut scratch, &NoHooks)?;
    Ok(Prepared { statement, shape })
}

/// A query ready to run, and what was done to it.
#[derive(Debug, Clone, Serialize)]
pub struct Enforced {
    pub sql: String,
    #[serde(skip)]
    pub shape: QueryShape,
    /// Columns withheld (left out of `*`, or usable in conditions only).
    pub withheld: Vec<String>,
    pub masked: Vec<String>,
    /// Rules whose row filters were applied.
    pub row_filters: Vec<String>,
    /// Output columns that carry PII as returned (for the budget).
    #[serde(skip)]
    pub pii_output_columns: u64,
    pub row_cap: Option<u64>,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum Refusal {
    #[error("{0}")]
    Analysis(#[from] AnalysisError),
    #[error("{}", .0.iter().map(|v| v.message.as_str()).collect::<Vec<_>>().join("; "))]
    Policy(Vec<Violation>),
}

struct PlanHooks<'a> {
    schema: &'a Schema,
    plan: &'a Plan,
    /// Table references replaced so far (for `row_filters`).
    filtered: RefCell<Vec<TableId>>,
    /// Each governed table's source, parsed once per statement, as it was
    /// parsed for its first reference (later references take a copy under
    /// their own alias).
    sources: RefCell<Vec<(TableId, Box<Query>)>>,
}

/// Name the one table an inner governed source reads `alias`; false if
/// the source is not of that form.
fn realias(source: &mut Query, alias: &Ident) -> bool {
    let SetExpr::Select(select) = &mut *source.body else { return false };
    match select.from.as_mut_slice() {
        [sqlparser::ast::TableWithJoins { relation: TableFactor::Table { alias: Some(a), .. }, joins }] if joins.is_empty() => {
            a.name = alias.clone();
            true
        }
        _ => false,
    }
}

fn sub_query(sql: &str, dialect: crate::Dialect) -> Result<Box<Query>, AnalysisError> {
    match parse(dialect, sql)? {
        Statement::Query(q) => Ok(q),
        _ => Err(AnalysisError::Unsupported("rewrite produced something other than a query".into())),
    }
}

impl Hooks for PlanHooks<'_> {
    fn hidden(&self, table: TableId, column: usize) -> bool {
        self.plan.treatment(table, column).is_none_or(|t| matches!(t.effect, ColumnEffect::Deny | ColumnEffect::PredicateOnly))
    }

    fn source(&self, table: TableId, alias: &Ident, sample: Option<&TableSampleKind>) -> Result<Option<TableFactor>, AnalysisError> {
        let Some(tp) = self.plan.tables.get(&table) else {
            return Err(AnalysisError::Unsupported(format!("{} is not in the plan", self.schema.table(table).sql_name())));
        };
        let plain = tp.filters.is_empty() && tp.treatments.iter().all(|t| matches!(t.effect, ColumnEffect::Allow | ColumnEffect::PredicateOnly));
        if plain {
            return Ok(None);
        }
        if sample.is_some() {
            return Err(AnalysisError::Unsupported("TABLESAMPLE on a table with masks or row filters".into()));
        }
        self.filtered.borrow_mut().push(table);
        let governed = |subquery| TableFactor::Derived {
            lateral: false,
            subquery,
            alias: Some(TableAlias { explicit: true, name: alias.clone(), columns: Vec::new(), at: None }),
            sample: None,
        };
        if let Some((_, parsed)) = self.sources.borrow().iter().find(|(t, _)| *t == table) {
            let mut copy = parsed.clone();
            if realias(&mut copy, alias) {
                return Ok(Some(governed(copy)));
            }
        }
        let def = self.schema.table(table);
        let mut items = Vec::new();
        for (column, treatment) in def.columns.iter().zip(&tp.treatments) {
            let ident = ident_for(&column.name).to_string();
            match &treatment.effect {
                ColumnEffect::Deny => {}
                ColumnEffect::Allow | ColumnEffect::PredicateOnly => items.push(ident),
                ColumnEffect::Mask(spec) => items.push(format!("{} AS {ident}", mask::expression(spec, &ident, self.plan.dialect))),
            }
        }
        if items.is_empty() {
            items.push("1 AS steward_no_columns".into());
        }
        let mut inner = format!("SELECT {} FROM {} AS {alias}", items.join(", "), def.sql_name());
        for (i, (_, filter)) in tp.filters.iter().enumerate() {
            inner.push_str(if i == 0 { " WHERE (" } else { " AND (" });
            inner.push_str(filter);
            inner.push(')');
        }
        let subquery = sub_query(&inner, self.plan.dialect)?;
        self.sources.borrow_mut().push((table, subquery.clone()));
        Ok(Some(governed(subquery)))
    }

    fn select(&self, select: &mut Select, direct: &[TableId], aggregated: bool) -> Result<(), AnalysisError> {
        let k = direct.iter().filter_map(|t| self.plan.tables.get(t).and_then(|p| p.min_group.as_ref()).map(|(_, k)| *k)).max();
        let (Some(k), true) = (k, aggregated) else { return Ok(()) };
        let parser_dialect = self.plan.dialect.parser_dialect();
        let mut parser = Parser::new(&*parser_dialect).try_with_sql(&format!("count(*) >= {k}")).map_err(|e| AnalysisError::Unparsable(e.to_string()))?;
        let floor = parser.parse_expr().map_err(|e| AnalysisError::Unparsable(e.to_string()))?;
        select.having = Some(match select.having.take() {
            Some(h) => Expr::BinaryOp { left: Box::new(Expr::Nested(Box::new(h))), op: BinaryOperator::And, right: Box::new(floor) },
            None => floor,
        });
        Ok(())
    }
}

fn number(n: u64) -> Expr {
    Expr::value(Value::Number(n.to_string(), false))
}

/// Make the query return at most `cap` rows.
fn cap_rows(query: &mut Query, cap: u64) {
    match &mut query.limit_clause {
        Some(LimitClause::LimitOffset { limit, .. }) => {
            if limit.as_ref().and_then(|l| limit_value(l).ok()).is_none_or(|l| l > cap) {
                *limit = Some(number(cap));
            }
        }
        Some(LimitClause::OffsetCommaLimit { limit, .. }) => {
            if limit_value(limit).ok().is_none_or(|l| l > cap) {
                *limit = number(cap);
            }
        }
        None => query.limit_clause = Some(LimitClause::LimitOffset { limit: Some(number(cap)), offset: None, limit_by: Vec::new() }),
    }
}

/// Rewrite a prepared statement to carry `plan`, check it against the
/// policy, and prove the result withholds what it must.
pub fn enforce(prepared: &Prepared, schema: &Schema, policy: &Policy, viewer: &Viewer, plan: &Plan, row_cap: Option<u64>) -> Result<Enforced, Refusal> {
    let dialect = plan.dialect;
    let hooks = PlanHooks { schema, plan, filtered: RefCell::new(Vec::new()), sources: RefCell::new(Vec::new()) };
    let mut statement = prepared.statement.clone();
    let shape = analyze(schema, dialect, &mut statement, &hooks)?;
    let violations = plan.check(schema, policy, viewer, &shape);
    if !violations.is_empty() {
        return Err(Refusal::Policy(violations));
    }
    let Statement::Query(query) = &mut statement else {
        return Err(Refusal::Policy(vec![Violation { code: "not-a-read", message: "only queries run".into() }]));
    };
    let preview = (plan.mode == Mode::Preview).then_some(plan.preview_rows);
    let cap = [plan.max_rows, row_cap, preview].into_iter().flatten().min();
    if let Some(cap) = cap {
        cap_rows(query, cap);
    }
    if plan.mode == Mode::Preview && query.order_by.is_none() && matches!(*query.body, SetExpr::Select(_)) {
        query.order_by = sub_query("SELECT 1 ORDER BY random()", dialect)?.order_by;
    }
    let sql = statement.to_string();
    verify(schema, plan, &sql)?;

    let mut withheld = Vec::new();
    let mut masked = Vec::new();
    for (&t, tp) in &plan.tables {
        let def = schema.table(t);
        for (c, treatment) in def.columns.iter().zip(&tp.treatments) {
            let name = format!("{}.{}", def.sql_name(), c.name);
            match treatment.effect {
                ColumnEffect::Deny | ColumnEffect::PredicateOnly => withheld.push(name),
                ColumnEffect::Mask(_) => masked.push(name),
                ColumnEffect::Allow => {}
            }
        }
    }
    let filtered = hooks.filtered.borrow();
    let row_filters = plan.tables.iter().filter(|(t, _)| filtered.contains(t)).flat_map(|(_, tp)| tp.filters.iter().map(|(id, _)| id.clone())).collect::<std::collections::BTreeSet<_>>().into_iter().collect();
    let pii_output_columns = shape
        .output_refs()
        .iter()
        .filter(|refs| refs.iter().any(|(c, via)| *via != Via::Aggregated && plan.reveals_pii(schema, c.table, c.column)))
        .count() as u64;
    Ok(Enforced { sql, shape, withheld, masked, row_filters, pii_output_columns, row_cap: cap })
}

/// Analyze the rewritten SQL from scratch: nothing withheld may reach the
/// output, whatever the rewrite did.
fn verify(schema: &Schema, plan: &Plan, sql: &str) -> Result<(), Refusal> {
    let fail = |message: String| Refusal::Policy(vec![Violation { code: "rewrite-check", message }]);
    let mut statement = parse_rewritten(plan.dialect, sql).map_err(|e| fail(format!("the rewritten query does not parse: {e}")))?;
    // What runs must be what is proven: the text has to print back as
    // itself, or a later print (a re-cap) could mean something else.
    if statement.to_string() != sql {
        return Err(fail("the rewritten query does not print back as itself".into()));
    }
    let shape = analyze(schema, plan.dialect, &mut statement, &NoHooks).map_err(|e| fail(format!("the rewritten query does not analyze: {e}")))?;
    for (c, used) in shape.uses() {
        let Some(treatment) = plan.treatment(c.table, c.column) else {
            return Err(fail(format!("the rewritten query reads {} outside the plan", schema.table(c.table).sql_name())));
        };
        let ok = match treatment.effect {
            ColumnEffect::Allow | ColumnEffect::Mask(_) => true,
            ColumnEffect::PredicateOnly => !used.reaches_output(),
            ColumnEffect::Deny => false,
        };
        if !ok {
            return Err(fail(format!("the rewritten query would expose {}.{}", schema.table(c.table).sql_name(), schema.table(c.table).columns[c.column].name)));
        }
    }
    Ok(())
}

/// Lower the row cap of an already enforced query (when the budget grants
/// fewer rows than it allowed).
pub fn recap(sql: &str, dialect: crate::Dialect, cap: u64) -> Result<String, AnalysisError> {
    let mut statement = parse_rewritten(dialect, sql)?;
    // Only text that prints back as itself means what was proven.
    if statement.to_string() != sql {
        return Err(AnalysisError::Unsupported("the query to re-cap does not print back as itself".into()));
    }
    let Statement::Query(query) = &mut statement else {
        return Err(AnalysisError::Unsupported("only queries are capped".into()));
    };
    cap_rows(query, cap);
    let capped = statement.to_string();
    // And so must what it becomes.
    if parse_rewritten(dialect, &capped)?.to_string() != capped {
        return Err(AnalysisError::Unsupported("the re-capped query does not print back as itself".into()));
    }
    Ok(capped)
}
