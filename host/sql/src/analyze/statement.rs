//! Statements, queries, CTEs and set operations.

use sqlparser::ast::{
    Expr, FromTable, Insert, LimitClause, OrderBy, OrderByKind, Query, SetExpr, SetOperator, SetQuantifier, Statement, TableObject, Value,
};

use super::{Analyzer, CteDef, RelColumn, Scope, merge};
use crate::error::AnalysisError;
use crate::shape::{QueryShape, StatementKind};

fn unsupported(what: impl Into<String>) -> AnalysisError {
    AnalysisError::Unsupported(what.into())
}

impl Analyzer<'_> {
    pub(super) fn statement(mut self, statement: &mut Statement) -> Result<QueryShape, AnalysisError> {
        match statement {
            Statement::Query(query) => {
                let output = self.query(query, None)?;
                if !matches!(*query.body, SetExpr::Select(_)) {
                    // Only a plain SELECT at the top says whether the output is aggregated.
                    self.top = None;
                }
                for column in &output {
                    self.record(&column.flow, false);
                }
                let limit = literal_limit(query)?;
                Ok(self.shape(StatementKind::Read, output, limit))
            }
            Statement::Insert(insert) => {
                self.insert(insert)?;
                Ok(self.shape(StatementKind::Write, Vec::new(), None))
            }
            Statement::Update(update) => {
                if update.from.is_some() || update.returning.is_some() || update.output.is_some() || !update.table.joins.is_empty() || update.limit.is_some() {
                    return Err(unsupported("UPDATE with FROM, joins, RETURNING or LIMIT"));
                }
                let mut scope = Scope::new(None);
                let relation = self.table_factor(&mut update.table.relation, None, false)?;
                let table = relation.base.ok_or_else(|| unsupported("UPDATE of something that is not a catalog table"))?;
                scope.relations.push(relation);
                self.written.insert(table);
                for assignment in &mut update.assignments {
                    let flow = self.expr(&mut assignment.value, &scope, false)?;
                    self.record(&flow, false);
                    let sqlparser::ast::AssignmentTarget::ColumnName(name) = &assignment.target else {
                        return Err(unsupported("tuple assignment"));
                    };
                    self.written_column(table, name)?;
                }
                if let Some(selection) = &mut update.selection {
                    let flow = self.expr(selection, &scope, false)?;
                    self.record(&flow, true);
                }
                Ok(self.shape(StatementKind::Write, Vec::new(), None))
            }
            Statement::Delete(delete) => {
                if delete.using.is_some() || delete.returning.is_some() || delete.output.is_some() || !delete.tables.is_empty() || delete.limit.is_some() {
                    return Err(unsupported("DELETE with USING, RETURNING, LIMIT or several tables"));
                }
                let from = match &mut delete.from {
                    FromTable::WithFromKeyword(t) | FromTable::WithoutKeyword(t) => t,
                };
                let [target] = from.as_mut_slice() else {
                    return Err(unsupported("DELETE from several tables"));
                };
                if !target.joins.is_empty() {
                    return Err(unsupported("DELETE with joins"));
                }
                let mut scope = Scope::new(None);
                let relation = self.table_factor(&mut target.relation, None, false)?;
                let table = relation.base.ok_or_else(|| unsupported("DELETE from something that is not a catalog table"))?;
                scope.relations.push(relation);
                self.written.insert(table);
                if let Some(selection) = &mut delete.selection {
                    let flow = self.expr(selection, &scope, false)?;
                    self.record(&flow, true);
                }
                Ok(self.shape(StatementKind::Write, Vec::new(), None))
            }
            other => Ok(self.shape(statement_kind(other), Vec::new(), None)),
        }
    }

    fn insert(&mut self, insert: &mut Insert) -> Result<(), AnalysisError> {
        if insert.returning.is_some() || insert.on.is_some() || !insert.assignments.is_empty() || insert.partitioned.is_some() || insert.or.is_some() {
            return Err(unsupported("INSERT with RETURNING, ON CONFLICT, SET or OR"));
        }
        let TableObject::TableName(name) = &mut insert.table else {
            return Err(unsupported("INSERT into a table function"));
        };
        let table = self.base_table_name(name)?;
        self.written.insert(table);
        let def = self.schema.table(table);
        if insert.columns.is_empty() {
            for i in 0..def.columns.len() {
                self.uses.entry(crate::shape::ColRef { table, column: i }).or_default().written = true;
            }
        }
        for column in &insert.columns {
            self.written_column(table, column)?;
        }
        if let Some(source) = &mut insert.source {
            // What an INSERT copies is read out of its source tables.
            let output = self.query(source, None)?;
            for column in &output {
                self.record(&column.flow, false);
            }
        }
        Ok(())
    }

    /// Mark the column `name` of `table` as written.
    fn written_column(&mut self, table: usize, name: &sqlparser::ast::ObjectName) -> Result<(), AnalysisError> {
        let ident = name.0.last().and_then(|p| p.as_ident()).ok_or_else(|| unsupported(format!("column name {name}")))?;
        let def = self.schema.table(table);
        let (i, _) = def.columns.iter().enumerate().find(|(_, c)| self.dialect.matches(ident, &c.name)).ok_or_else(|| AnalysisError::UnknownColumn(format!("{}.{}", def.sql_name(), ident.value)))?;
        self.uses.entry(crate::shape::ColRef { table, column: i }).or_default().written = true;
        Ok(())
    }

    /// A query, in the scope of its enclosing queries (for correlation).
    pub(super) fn query(&mut self, query: &mut Query, parent: Option<&Scope>) -> Result<Vec<RelColumn>, AnalysisError> {
        if query.fetch.is_some() || !query.locks.is_empty() || query.for_clause.is_some() || query.settings.is_some() || query.format_clause.is_some() || !query.pipe_operators.is_empty() {
            return Err(unsupported("FETCH, FOR UPDATE, FOR XML/JSON, SETTINGS, FORMAT or pipe operators"));
        }
        self.depth += 1;
        let mark = self.ctes.len();
        let result = self.query_inner(query, parent);
        self.ctes.truncate(mark);
        self.depth -= 1;
        result
    }

    fn query_inner(&mut self, query: &mut Query, parent: Option<&Scope>) -> Result<Vec<RelColumn>, AnalysisError> {
        if let Some(with) = &mut query.with {
            for cte in &mut with.cte_tables {
                if cte.from.is_some() {
                    return Err(unsupported("CTE with FROM"));
                }
                let recursive = with.recursive && matches!(&*cte.query.body, SetExpr::SetOperation { op: SetOperator::Union, .. });
                let (columns, tables) = if recursive { self.recursive_cte(cte, parent)? } else { self.collecting(|a| a.query(&mut cte.query, parent))? };
                let columns = super::from::rename_alias(columns, &cte.alias, self.dialect)?;
                self.ctes.push(CteDef { name: cte.alias.name.clone(), columns, tables });
            }
        }
        let output = self.body(&mut query.body, query.order_by.as_mut(), parent)?;
        if let (Some(order_by), Some(_)) = (&query.order_by, &query.limit_clause)
            && order_by_is_random(order_by)
        {
            self.sampled = true;
        }
        check_limit(query)?;
        Ok(output)
    }

    /// `WITH RECURSIVE r AS (anchor UNION [ALL] step)`: the step sees `r`,
    /// so its columns' flows are iterated to a fixpoint on scratch copies,
    /// then the real statement is analyzed once with the final flows.
    fn recursive_cte(&mut self, cte: &mut sqlparser::ast::Cte, parent: Option<&Scope>) -> Result<(Vec<RelColumn>, std::collections::BTreeSet<usize>), AnalysisError> {
        if cte.query.with.is_some() || cte.query.order_by.is_some() || cte.query.limit_clause.is_some() {
            return Err(unsupported("WITH, ORDER BY or LIMIT inside a recursive CTE"));
        }
        let SetExpr::SetOperation { left, right, .. } = &mut *cte.query.body else {
            return Err(unsupported("recursive CTE that is not a UNION"));
        };
        // The branches are queries of their own, not the statement's top.
        self.depth += 1;
        let result = self.recursive_union(cte.alias.clone(), left, right, parent);
        self.depth -= 1;
        result
    }

    fn recursive_union(
        &mut self,
        alias: sqlparser::ast::TableAlias,
        left: &mut SetExpr,
        right: &mut SetExpr,
        parent: Option<&Scope>,
    ) -> Result<(Vec<RelColumn>, std::collections::BTreeSet<usize>), AnalysisError> {
        let cte_alias = &alias;
        let (anchor, mut tables) = self.collecting(|a| a.body(left, None, parent))?;
        let mut columns = super::from::rename_alias(anchor, cte_alias, self.dialect)?;
        let substitute = self.substitute;
        let mut settled = false;
        for _ in 0..64 {
            self.ctes.push(CteDef { name: cte_alias.name.clone(), columns: columns.clone(), tables: tables.clone() });
            let mut scratch = right.clone();
            self.substitute = false;
            let step = self.collecting(|a| a.body(&mut scratch, None, parent));
            self.substitute = substitute;
            self.ctes.pop();
            let (step, step_tables) = step?;
            if step.len() != columns.len() {
                return Err(unsupported("recursive CTE branches with different column counts"));
            }
            let mut next = columns.clone();
            for (n, s) in next.iter_mut().zip(step) {
                merge(&mut n.flow, s.flow);
            }
            tables.extend(step_tables);
            if next == columns {
                settled = true;
                break;
            }
            columns = next;
        }
        if !settled {
            return Err(unsupported("a recursive CTE whose columns do not settle"));
        }
        self.ctes.push(CteDef { name: cte_alias.name.clone(), columns: columns.clone(), tables: tables.clone() });
        let last = self.collecting(|a| a.body(right, None, parent));
        self.ctes.pop();
        let (_, step_tables) = last?;
        tables.extend(step_tables);
        Ok((columns, tables))
    }

    /// The body of a query: a SELECT, a nested query, or a set operation.
    pub(super) fn body(&mut self, body: &mut SetExpr, order_by: Option<&mut OrderBy>, parent: Option<&Scope>) -> Result<Vec<RelColumn>, AnalysisError> {
        match body {
            SetExpr::Select(select) => self.select(select, order_by, parent),
            SetExpr::Query(query) => {
                let output = self.query(query, parent)?;
                self.order_by_outputs(order_by, &output)?;
                Ok(output)
            }
            SetExpr::SetOperation { left, right, op, set_quantifier } => {
                if matches!(set_quantifier, SetQuantifier::ByName | SetQuantifier::AllByName | SetQuantifier::DistinctByName) {
                    return Err(unsupported("set operations BY NAME; list the columns in the same order on both sides"));
                }
                let joins = matches!(op, SetOperator::Intersect | SetOperator::Except | SetOperator::Minus);
                // INTERSECT and EXCEPT (ALL or not) and a UNION without ALL
                // compare whole rows of both sides: each column is a condition.
                let compares = joins || !matches!(set_quantifier, SetQuantifier::All);
                let (left, left_tables) = self.collecting(|a| a.body(left, None, parent))?;
                let (right, right_tables) = self.collecting(|a| a.body(right, None, parent))?;
                if compares {
                    for column in left.iter().chain(&right) {
                        self.record(&column.flow, true);
                    }
                }
                if joins {
                    // INTERSECT / EXCEPT match rows of one side against the other: a join.
                    for &a in &left_tables {
                        for &b in &right_tables {
                            self.pair(a, b);
                        }
                    }
                    for (l, r) in left.iter().zip(&right) {
                        if let (Some(a), Some(b)) = (super::from::single(&l.flow), super::from::single(&r.flow)) {
                            self.key(a, b);
                        }
                    }
                }
                if left.len() != right.len() {
                    return Err(unsupported("set operation branches with different column counts"));
                }
                let mut output = left;
                for (o, r) in output.iter_mut().zip(right) {
                    merge(&mut o.flow, r.flow);
                }
                self.order_by_outputs(order_by, &output)?;
                Ok(output)
            }
            SetExpr::Values(_) => Err(unsupported("VALUES")),
            SetExpr::Table(_) => Err(unsupported("TABLE statement")),
            SetExpr::Insert(_) | SetExpr::Update(_) | SetExpr::Delete(_) | SetExpr::Merge(_) => Err(unsupported("data-modifying statement inside a query")),
        }
    }

    /// ORDER BY of a set operation: output names or positions only.
    fn order_by_outputs(&mut self, order_by: Option<&mut OrderBy>, output: &[RelColumn]) -> Result<(), AnalysisError> {
        let Some(order_by) = order_by else { return Ok(()) };
        let OrderByKind::Expressions(exprs) = &order_by.kind else {
            return Err(unsupported("ORDER BY ALL"));
        };
        for e in exprs {
            let flow = match &e.expr {
                Expr::Identifier(ident) => {
                    let mut hits = output.iter().filter(|c| self.dialect.matches(ident, &c.name));
                    match (hits.next(), hits.next()) {
                        (Some(c), None) => c.flow.clone(),
                        (Some(_), Some(_)) => return Err(AnalysisError::Ambiguous(ident.value.clone())),
                        (None, _) => return Err(AnalysisError::UnknownColumn(ident.value.clone())),
                    }
                }
                Expr::Value(v) => match position(&v.value, output.len()) {
                    Some(i) => output[i].flow.clone(),
                    None => return Err(unsupported("ORDER BY position out of range")),
                },
                _ => return Err(unsupported("ORDER BY of a set operation must name an output column")),
            };
            self.record(&flow, true);
        }
        Ok(())
    }
}

/// A 1-based position literal, as an index.
pub(super) fn position(value: &Value, len: usize) -> Option<usize> {
    match value {
        Value::Number(n, _) => n.parse::<usize>().ok().filter(|i| *i >= 1 && *i <= len).map(|i| i - 1),
        _ => None,
    }
}

fn order_by_is_random(order_by: &OrderBy) -> bool {
    let OrderByKind::Expressions(exprs) = &order_by.kind else { return false };
    exprs.iter().any(|e| matches!(&e.expr, Expr::Function(f) if f.name.0.last().and_then(|p| p.as_ident()).is_some_and(|i| crate::functions::is_random(&i.value))))
}

/// A LIMIT or OFFSET that is a whole-number literal.
pub(crate) fn limit_value(e: &Expr) -> Result<u64, AnalysisError> {
    match e {
        Expr::Value(v) => match &v.value {
            Value::Number(n, _) => n.parse::<u64>().map_err(|_| unsupported("LIMIT must be a whole number")),
            _ => Err(unsupported("LIMIT must be a number")),
        },
        _ => Err(unsupported("LIMIT and OFFSET must be numbers")),
    }
}

fn check_limit(query: &Query) -> Result<(), AnalysisError> {
    match &query.limit_clause {
        None => Ok(()),
        Some(LimitClause::LimitOffset { limit, offset, limit_by }) => {
            if !limit_by.is_empty() {
                return Err(unsupported("LIMIT BY"));
            }
            if let Some(l) = limit
                && !matches!(l, Expr::Value(v) if matches!(v.value, Value::Null))
            {
                limit_value(l)?;
            }
            if let Some(o) = offset {
                limit_value(&o.value)?;
            }
            Ok(())
        }
        Some(LimitClause::OffsetCommaLimit { offset, limit }) => {
            limit_value(offset)?;
            limit_value(limit).map(|_| ())
        }
    }
}

/// The top-level LIMIT, if it is a number.
pub(crate) fn literal_limit(query: &Query) -> Result<Option<u64>, AnalysisError> {
    match &query.limit_clause {
        Some(LimitClause::LimitOffset { limit: Some(l), .. }) if !matches!(l, Expr::Value(v) if matches!(v.value, Value::Null)) => limit_value(l).map(Some),
        Some(LimitClause::OffsetCommaLimit { limit, .. }) => limit_value(limit).map(Some),
        _ => Ok(None),
    }
}

fn statement_kind(statement: &Statement) -> StatementKind {
    use Statement as S;
    match statement {
        S::CreateTable(_)
        | S::CreateView(_)
        | S::CreateIndex(_)
        | S::CreateVirtualTable { .. }
        | S::CreateSchema { .. }
        | S::CreateDatabase { .. }
        | S::CreateFunction(_)
        | S::CreateTrigger(_)
        | S::CreateRole(_)
        | S::AlterTable(_)
        | S::AlterSchema(_)
        | S::AlterIndex { .. }
        | S::AlterView { .. }
        | S::AlterRole { .. }
        | S::Drop { .. }
        | S::DropFunction(_)
        | S::DropTrigger(_)
        | S::Truncate(_) => StatementKind::Ddl,
        S::Merge { .. } | S::Copy { .. } => StatementKind::Write,
        _ => StatementKind::Other,
    }
}
