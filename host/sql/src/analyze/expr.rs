//! Expressions: names, functions (aggregates, windows), subqueries.

use sqlparser::ast::{
    BinaryOperator, Expr, Function, FunctionArg, FunctionArgExpr, FunctionArgumentClause, FunctionArguments, Ident, ObjectNamePart, Query, Value,
    WindowType,
};

use super::from::single;
use super::{Analyzer, Flow, RelColumn, Scope, merge};
use crate::bounds;
use crate::error::AnalysisError;
use crate::functions::{self, FunctionKind};
use crate::shape::{ColRef, Via};

fn unsupported(what: impl Into<String>) -> AnalysisError {
    AnalysisError::Unsupported(what.into())
}

impl Analyzer<'_> {
    /// The flow of an expression. `outputs`: unqualified names may fall
    /// back to the SELECT's output aliases (HAVING, ORDER BY).
    pub(super) fn expr(&mut self, e: &mut Expr, scope: &Scope, outputs: bool) -> Result<Flow, AnalysisError> {
        let mut flow = Flow::new();
        match e {
            Expr::Identifier(ident) => {
                let ident = ident.clone();
                return self.unqualified(&ident, scope, outputs);
            }
            Expr::CompoundIdentifier(parts) => {
                let parts = parts.clone();
                return match parts.as_slice() {
                    [relation, column] => Ok(self.qualified(None, relation, column, scope)?.0),
                    [schema, relation, column] => {
                        let (flow, alias) = self.qualified(Some(schema), relation, column, scope)?;
                        *e = Expr::CompoundIdentifier(vec![alias, column.clone()]);
                        Ok(flow)
                    }
                    _ => Err(unsupported(format!("name {e}"))),
                };
            }
            Expr::Value(v) => plain_literal(&v.value)?,
            Expr::TypedString(t) => plain_literal(&t.value.value)?,
            Expr::IsFalse(x)
            | Expr::IsNotFalse(x)
            | Expr::IsTrue(x)
            | Expr::IsNotTrue(x)
            | Expr::IsNull(x)
            | Expr::IsNotNull(x)
            | Expr::IsUnknown(x)
            | Expr::IsNotUnknown(x)
            | Expr::UnaryOp { expr: x, .. }
            | Expr::Cast { expr: x, .. }
            | Expr::Extract { expr: x, .. }
            | Expr::Ceil { expr: x, .. }
            | Expr::Floor { expr: x, .. }
            | Expr::Collate { expr: x, .. }
            | Expr::Nested(x) => return self.expr(x, scope, outputs),
            Expr::AnyOp { left, right, .. } | Expr::AllOp { left, right, .. } if matches!(**right, Expr::Subquery(_)) => {
                let Expr::Subquery(subquery) = &mut **right else { unreachable!("matched above") };
                return self.semi_join(left, subquery, scope, outputs);
            }
            Expr::IsDistinctFrom(a, b)
            | Expr::IsNotDistinctFrom(a, b)
            | Expr::BinaryOp { left: a, right: b, .. }
            | Expr::AnyOp { left: a, right: b, .. }
            | Expr::AllOp { left: a, right: b, .. }
            | Expr::AtTimeZone { timestamp: a, time_zone: b }
            | Expr::Position { expr: a, r#in: b }
            | Expr::RLike { expr: a, pattern: b, .. } => {
                merge(&mut flow, self.expr(a, scope, outputs)?);
                merge(&mut flow, self.expr(b, scope, outputs)?);
            }
            Expr::Like { expr, pattern, escape_char, .. } | Expr::ILike { expr, pattern, escape_char, .. } | Expr::SimilarTo { expr, pattern, escape_char, .. } => {
                merge(&mut flow, self.expr(expr, scope, outputs)?);
                merge(&mut flow, self.expr(pattern, scope, outputs)?);
                if let Some(esc) = escape_char {
                    merge(&mut flow, self.expr(esc, scope, outputs)?);
                }
            }
            Expr::InList { expr, list, .. } => {
                bounds::at_most(list.len(), bounds::MAX_IN_LIST, "values in one IN list")?;
                merge(&mut flow, self.expr(expr, scope, outputs)?);
                for item in list {
                    merge(&mut flow, self.expr(item, scope, outputs)?);
                }
            }
            Expr::InSubquery { expr, subquery, .. } => return self.semi_join(expr, subquery, scope, outputs),
            Expr::Between { expr, low, high, .. } => {
                for x in [expr, low, high] {
                    merge(&mut flow, self.expr(x, scope, outputs)?);
                }
            }
            Expr::Substring { expr, substring_from, substring_for, .. } => {
                merge(&mut flow, self.expr(expr, scope, outputs)?);
                for x in [substring_from, substring_for].into_iter().flatten() {
                    merge(&mut flow, self.expr(x, scope, outputs)?);
                }
            }
            Expr::Trim { expr, trim_what, trim_characters, .. } => {
                merge(&mut flow, self.expr(expr, scope, outputs)?);
                if let Some(x) = trim_what {
                    merge(&mut flow, self.expr(x, scope, outputs)?);
                }
                for x in trim_characters.iter_mut().flatten() {
                    merge(&mut flow, self.expr(x, scope, outputs)?);
                }
            }
            Expr::Overlay { expr, overlay_what, overlay_from, overlay_for } => {
                for x in [Some(expr), Some(overlay_what), Some(overlay_from), overlay_for.as_mut()].into_iter().flatten() {
                    merge(&mut flow, self.expr(x, scope, outputs)?);
                }
            }
            Expr::Case { operand, conditions, else_result, .. } => {
                // A condition's columns shape the value: they reach the output.
                if let Some(x) = operand {
                    merge(&mut flow, self.expr(x, scope, outputs)?);
                }
                for when in conditions {
                    merge(&mut flow, self.expr(&mut when.condition, scope, outputs)?);
                    merge(&mut flow, self.expr(&mut when.result, scope, outputs)?);
                }
                if let Some(x) = else_result {
                    merge(&mut flow, self.expr(x, scope, outputs)?);
                }
            }
            Expr::Tuple(items) => {
                for x in items {
                    merge(&mut flow, self.expr(x, scope, outputs)?);
                }
            }
            Expr::Interval(interval) => return self.expr(&mut interval.value, scope, outputs),
            Expr::Exists { subquery, .. } => {
                let columns = self.query(subquery, Some(scope))?;
                for c in &columns {
                    self.record(&c.flow, true);
                }
            }
            Expr::Subquery(query) => return self.scalar_subquery(query, scope),
            Expr::Function(f) => return self.function(f, scope, outputs),
            other => return Err(unsupported(format!("expression {}", truncate(&other.to_string())))),
        }
        Ok(flow)
    }

    /// `x IN (SELECT ...)`, `x = ANY (SELECT ...)`: rows matched against
    /// another query's rows, a join between their tables.
    fn semi_join(&mut self, left: &mut Expr, subquery: &mut Query, scope: &Scope, outputs: bool) -> Result<Flow, AnalysisError> {
        let mut flow = self.expr(left, scope, outputs)?;
        let (inner, tables) = self.collecting(|a| a.scalar_subquery(subquery, scope))?;
        for c in flow.keys().copied().collect::<Vec<_>>() {
            for &t in &tables {
                self.pair(c.table, t);
            }
        }
        if let (Some(a), Some(b)) = (single(&flow), single(&inner)) {
            self.key(a, b);
        }
        merge(&mut flow, inner);
        Ok(flow)
    }

    fn scalar_subquery(&mut self, query: &mut Query, scope: &Scope) -> Result<Flow, AnalysisError> {
        let mut columns = self.query(query, Some(scope))?;
        match columns.len() {
            1 => Ok(columns.remove(0).flow),
            n => Err(unsupported(format!("a subquery used as a value returns {n} columns"))),
        }
    }

    fn function(&mut self, f: &mut Function, scope: &Scope, outputs: bool) -> Result<Flow, AnalysisError> {
        let name = match f.name.0.as_slice() {
            [ObjectNamePart::Identifier(i)] => i.value.to_ascii_lowercase(),
            _ => return Err(AnalysisError::FunctionNotAllowed(f.name.to_string())),
        };
        let mut kind = functions::kind(&name).ok_or_else(|| AnalysisError::FunctionNotAllowed(name.clone()))?;
        if f.uses_odbc_syntax || !matches!(f.parameters, FunctionArguments::None) {
            return Err(unsupported(format!("{name} with parameters")));
        }
        let mut flow = Flow::new();
        let mut arguments = 0;
        match &mut f.args {
            FunctionArguments::None => {}
            FunctionArguments::Subquery(query) => {
                arguments = 1;
                flow = self.scalar_subquery(query, scope)?;
            }
            FunctionArguments::List(list) => {
                for arg in &mut list.args {
                    arguments += 1;
                    let arg = match arg {
                        FunctionArg::Unnamed(a) | FunctionArg::Named { arg: a, .. } | FunctionArg::ExprNamed { arg: a, .. } => a,
                    };
                    match arg {
                        FunctionArgExpr::Expr(x) => merge(&mut flow, self.expr(x, scope, outputs)?),
                        FunctionArgExpr::Wildcard => {}
                        _ => return Err(unsupported(format!("{name}(t.*)"))),
                    }
                }
                for clause in &mut list.clauses {
                    match clause {
                        FunctionArgumentClause::OrderBy(order) => {
                            for o in order {
                                let f = self.expr(&mut o.expr, scope, outputs)?;
                                self.record(&f, true);
                            }
                        }
                        FunctionArgumentClause::Separator(_) | FunctionArgumentClause::IgnoreOrRespectNulls(_) => {}
                        _ => return Err(unsupported(format!("{name} argument clause"))),
                    }
                }
            }
        }
        for o in &mut f.within_group {
            let f = self.expr(&mut o.expr, scope, outputs)?;
            self.record(&f, true);
        }
        if let Some(filter) = &mut f.filter {
            let f = self.expr(filter, scope, outputs)?;
            self.record(&f, true);
        }
        let windowed = f.over.is_some();
        // An aggregate hides single values only over the whole group: a
        // FILTER or a condition inside its argument picks the rows it sees.
        let selective = f.filter.is_some() || arguments_select_rows(&f.args);
        // What partitions and orders a window shapes the function's value.
        match &mut f.over {
            Some(WindowType::WindowSpec(spec)) => merge(&mut flow, self.window_spec(spec, scope)?),
            Some(WindowType::NamedWindow(name)) => merge(&mut flow, self.named_window(name)?),
            None => {}
        }
        if name == "grouping" {
            // grouping(a, b) says which keys a row of a grouping set rolls
            // up: it names group keys and returns none of their values.
            self.record(&flow, true);
            return Ok(Flow::new());
        }
        if matches!(name.as_str(), "min" | "max") && arguments >= 2 {
            kind = FunctionKind::Scalar;
        }
        Ok(match kind {
            FunctionKind::Scalar => flow,
            FunctionKind::Window if !windowed => return Err(unsupported(format!("{name} needs OVER (...)"))),
            // Over a window a row's own value can come back: not hiding.
            FunctionKind::Window => flow,
            FunctionKind::HidingAggregate | FunctionKind::RevealingAggregate if windowed => flow,
            FunctionKind::HidingAggregate if selective => {
                self.aggregate_seen = true;
                flow
            }
            FunctionKind::HidingAggregate => {
                self.aggregate_seen = true;
                flow.into_keys().map(|c| (c, Via::Aggregated)).collect()
            }
            FunctionKind::RevealingAggregate => {
                self.aggregate_seen = true;
                flow
            }
        })
    }

    /// An unqualified column: the innermost scope that has it wins; two
    /// relations at the same level having it is ambiguous (unless USING
    /// merged them).
    pub(super) fn unqualified(&mut self, ident: &Ident, scope: &Scope, outputs: bool) -> Result<Flow, AnalysisError> {
        let mut level = Some(scope);
        let mut depth = 0;
        while let Some(s) = level {
            let hits: Vec<&RelColumn> = s.relations.iter().flat_map(|r| r.columns.iter()).filter(|c| self.dialect.matches(ident, &c.name)).collect();
            match hits.as_slice() {
                [] => {}
                [one] => return Ok(self.found(one.flow.clone(), scope, depth)),
                many if s.using.iter().any(|u| self.dialect.matches(ident, u)) => {
                    let mut flow = Flow::new();
                    for h in many {
                        merge(&mut flow, h.flow.clone());
                    }
                    return Ok(self.found(flow, scope, depth));
                }
                _ => return Err(AnalysisError::Ambiguous(format!("column {} is in several tables; qualify it", ident.value))),
            }
            if depth == 0 && outputs {
                let aliases: Vec<&RelColumn> = s.outputs.iter().filter(|c| self.dialect.matches(ident, &c.name)).collect();
                match aliases.as_slice() {
                    [] => {}
                    [one] => return Ok(one.flow.clone()),
                    _ => return Err(AnalysisError::Ambiguous(ident.value.clone())),
                }
            }
            level = s.parent;
            depth += 1;
        }
        Err(AnalysisError::UnknownColumn(ident.value.clone()))
    }

    /// `relation.column` or `schema.table.column`; also returns the name
    /// the relation goes by, for rewriting three-part names.
    pub(super) fn qualified(&mut self, schema: Option<&Ident>, relation: &Ident, column: &Ident, scope: &Scope) -> Result<(Flow, Ident), AnalysisError> {
        let mut level = Some(scope);
        let mut depth = 0;
        while let Some(s) = level {
            let relations: Vec<_> = s.relations.iter().filter(|r| self.names_relation(r, schema, relation)).collect();
            match relations.as_slice() {
                [] => {}
                [r] => {
                    let columns: Vec<&RelColumn> = r.columns.iter().filter(|c| self.dialect.matches(column, &c.name)).collect();
                    let alias = r.name.clone().unwrap_or_else(|| relation.clone());
                    return match columns.as_slice() {
                        [c] => Ok((self.found(c.flow.clone(), scope, depth), alias)),
                        [] => Err(AnalysisError::UnknownColumn(format!("{}.{}", relation.value, column.value))),
                        _ => Err(AnalysisError::Ambiguous(format!("{}.{}", relation.value, column.value))),
                    };
                }
                _ => return Err(AnalysisError::Ambiguous(format!("{} names several relations", relation.value))),
            }
            level = s.parent;
            depth += 1;
        }
        Err(AnalysisError::UnknownColumn(format!("{}.{}", relation.value, column.value)))
    }

    /// A column found `depth` scopes out: a correlated reference joins the
    /// inner query's tables with the outer column's table.
    fn found(&mut self, flow: Flow, scope: &Scope, depth: usize) -> Flow {
        if depth > 0 {
            for inner in scope.tables() {
                for c in flow.keys() {
                    self.pair(inner, c.table);
                }
            }
        }
        flow
    }

    /// Equality keys between tables in a condition (conjuncts only).
    pub(super) fn keys_in(&mut self, e: &Expr, scope: &Scope) -> Result<(), AnalysisError> {
        match e {
            Expr::Nested(x) => self.keys_in(x, scope),
            Expr::BinaryOp { left, op: BinaryOperator::And, right } => {
                self.keys_in(left, scope)?;
                self.keys_in(right, scope)
            }
            Expr::BinaryOp { left, op: BinaryOperator::Eq, right } => {
                if let (Some(a), Some(b)) = (self.column_of(left, scope), self.column_of(right, scope)) {
                    self.key(a, b);
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn column_of(&mut self, e: &Expr, scope: &Scope) -> Option<ColRef> {
        let flow = match e {
            Expr::Nested(x) => return self.column_of(x, scope),
            Expr::Identifier(i) => self.unqualified(i, scope, false).ok()?,
            Expr::CompoundIdentifier(parts) => match parts.as_slice() {
                [r, c] => self.qualified(None, r, c, scope).ok()?.0,
                _ => return None,
            },
            _ => return None,
        };
        single(&flow)
    }
}

fn arguments_select_rows(args: &FunctionArguments) -> bool {
    match args {
        FunctionArguments::None => false,
        FunctionArguments::Subquery(_) => true,
        FunctionArguments::List(list) => list.args.iter().any(|a| match a {
            FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) | FunctionArg::Named { arg: FunctionArgExpr::Expr(e), .. } | FunctionArg::ExprNamed { arg: FunctionArgExpr::Expr(e), .. } => selects_rows(e),
            _ => false,
        }) || !list.clauses.is_empty(),
    }
}

/// Whether an aggregate's argument could single out rows: anything but a
/// plain column (or constant) can, through conditions, CASE, arithmetic
/// (`salary * (1 - sign(abs(id - 5)))`) or functions.
fn selects_rows(e: &Expr) -> bool {
    match e {
        Expr::Identifier(_) | Expr::CompoundIdentifier(_) | Expr::Value(_) | Expr::TypedString(_) => false,
        Expr::Nested(x) | Expr::Cast { expr: x, .. } => selects_rows(x),
        _ => true,
    }
}

fn truncate(s: &str) -> String {
    if s.len() <= 80 { s.to_string() } else { format!("{}...", &s[..s.char_indices().nth(77).map(|(i, _)| i).unwrap_or(s.len())]) }
}

/// Literals the host passes through: numbers, plain strings,
/// hex blobs, booleans and NULL. Raw, escaped, byte, triple-quoted and other exotic
/// literals are refused: sqlparser does not print all of them back as it
/// read them (a raw string loses quotes at each print, turning part of a
/// literal into SQL), and the warehouses do not read them all the same way.
fn plain_literal(value: &Value) -> Result<(), AnalysisError> {
    match value {
        Value::Placeholder(_) => Err(unsupported("query parameters")),
        // SQLite ends a statement's text at a NUL byte.
        Value::SingleQuotedString(s) if s.contains('\0') => Err(unsupported("a NUL character in a string literal")),
        Value::Number(..) | Value::SingleQuotedString(_) | Value::HexStringLiteral(_) | Value::Boolean(_) | Value::Null => Ok(()),
        _ => Err(unsupported("this kind of literal; write strings as plain 'quoted strings'")),
    }
}
