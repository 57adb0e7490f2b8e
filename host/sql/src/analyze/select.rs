//! One SELECT: FROM, WHERE, projection (with `*` expansion), GROUP BY,
//! HAVING, windows, DISTINCT ON and ORDER BY.

use std::collections::BTreeSet;

use sqlparser::ast::{
    Distinct, Expr, GroupByExpr, GroupByWithModifier, Ident, NamedWindowDefinition, NamedWindowExpr, ObjectNamePart, OrderBy, OrderByKind, Select, SelectFlavor, SelectItem,
    SelectItemQualifiedWildcardKind, WildcardAdditionalOptions, WindowSpec,
};

use super::from::ident_for;
use super::statement::position;
use super::{Analyzer, Flow, Relation, RelColumn, Scope, TopSelect};
use crate::bounds;
use crate::error::AnalysisError;
use crate::schema::{Dialect, TableId};
use crate::shape::Via;

fn unsupported(what: impl Into<String>) -> AnalysisError {
    AnalysisError::Unsupported(what.into())
}

fn plain_wildcard(options: &WildcardAdditionalOptions) -> Result<(), AnalysisError> {
    if options.opt_ilike.is_some() || options.opt_exclude.is_some() || options.opt_except.is_some() || options.opt_replace.is_some() || options.opt_rename.is_some() || options.opt_alias.is_some() {
        return Err(unsupported("`*` with ILIKE, EXCLUDE, EXCEPT, REPLACE or RENAME"));
    }
    Ok(())
}

/// The keys one GROUP BY item groups on: itself, or for ROLLUP, CUBE and
/// GROUPING SETS every column of every grouping set.
fn grouping_keys<'e>(e: &'e mut Expr, keys: &mut Vec<&'e mut Expr>) {
    match e {
        Expr::Rollup(lists) | Expr::Cube(lists) | Expr::GroupingSets(lists) => keys.extend(lists.iter_mut().flatten()),
        other => keys.push(other),
    }
}

impl Analyzer<'_> {
    pub(super) fn select(&mut self, select: &mut Select, order_by: Option<&mut OrderBy>, parent: Option<&Scope>) -> Result<Vec<RelColumn>, AnalysisError> {
        if select.into.is_some() {
            return Err(unsupported("SELECT INTO writes a table"));
        }
        if select.top.is_some()
            || !select.lateral_views.is_empty()
            || select.prewhere.is_some()
            || !select.connect_by.is_empty()
            || !select.cluster_by.is_empty()
            || !select.distribute_by.is_empty()
            || !select.sort_by.is_empty()
            || select.qualify.is_some()
            || select.value_table_mode.is_some()
            || select.exclude.is_some()
            || select.select_modifiers.is_some()
            || !select.optimizer_hints.is_empty()
            || select.flavor != SelectFlavor::Standard
        {
            return Err(unsupported("this SELECT form (TOP, LATERAL VIEW, PREWHERE, CONNECT BY, QUALIFY, hints...)"));
        }
        let outer_aggregate = std::mem::replace(&mut self.aggregate_seen, false);
        let outer_windows = std::mem::take(&mut self.windows);
        self.selects.push(self.next_select);
        self.next_select += 1;
        let result = self.select_inner(select, order_by, parent);
        self.selects.pop();
        self.aggregate_seen = outer_aggregate;
        self.windows = outer_windows;
        result
    }

    fn select_inner(&mut self, select: &mut Select, order_by: Option<&mut OrderBy>, parent: Option<&Scope>) -> Result<Vec<RelColumn>, AnalysisError> {
        let mut scope = Scope::new(parent);
        self.from_clause(&mut select.from, &mut scope, parent)?;

        if let Some(selection) = &mut select.selection {
            let flow = self.expr(selection, &scope, false)?;
            self.record(&flow, true);
            self.keys_in(selection, &scope)?;
        }

        // Named windows first: the projection's `OVER w` takes their flow.
        for NamedWindowDefinition(name, window) in &mut select.named_window {
            let flow = match window {
                NamedWindowExpr::WindowSpec(spec) => self.window_spec(spec, &scope)?,
                NamedWindowExpr::NamedWindow(other) => self.named_window(other)?,
            };
            self.windows.push((self.dialect.fold(name), flow));
        }
        bounds::at_most(select.projection.len(), bounds::MAX_SELECT_ITEMS, "items in one SELECT list")?;
        let mut items = Vec::with_capacity(select.projection.len());
        let mut outputs = Vec::with_capacity(select.projection.len());
        let mut aliased = Vec::with_capacity(select.projection.len());
        for item in std::mem::take(&mut select.projection) {
            match item {
                SelectItem::UnnamedExpr(mut e) => {
                    let flow = self.expr(&mut e, &scope, false)?;
                    outputs.push(RelColumn { name: self.output_name(&e), flow });
                    aliased.push(false);
                    items.push(SelectItem::UnnamedExpr(e));
                }
                SelectItem::ExprWithAlias { mut expr, alias } => {
                    let flow = self.expr(&mut expr, &scope, false)?;
                    outputs.push(RelColumn { name: self.dialect.fold(&alias), flow });
                    aliased.push(true);
                    items.push(SelectItem::ExprWithAlias { expr, alias });
                }
                SelectItem::ExprWithAliases { .. } => return Err(unsupported("several aliases for one expression")),
                SelectItem::Wildcard(options) => {
                    plain_wildcard(&options)?;
                    if scope.relations.is_empty() {
                        return Err(unsupported("`*` without FROM"));
                    }
                    for relation in &scope.relations {
                        self.expand(relation, &mut items, &mut outputs)?;
                    }
                }
                SelectItem::QualifiedWildcard(kind, options) => {
                    plain_wildcard(&options)?;
                    let SelectItemQualifiedWildcardKind::ObjectName(name) = kind else {
                        return Err(unsupported("`expr.*`"));
                    };
                    let parts: Vec<_> = name.0.iter().filter_map(ObjectNamePart::as_ident).collect();
                    let matching: Vec<&Relation> = match parts.as_slice() {
                        [rel] => scope.relations.iter().filter(|r| self.names_relation(r, None, rel)).collect(),
                        [schema, rel] => scope.relations.iter().filter(|r| self.names_relation(r, Some(schema), rel)).collect(),
                        _ => Vec::new(),
                    };
                    match matching.as_slice() {
                        [relation] => self.expand(relation, &mut items, &mut outputs)?,
                        [] => return Err(AnalysisError::UnknownTable(format!("{name} (in {name}.*)"))),
                        _ => return Err(AnalysisError::Ambiguous(format!("{name}.*"))),
                    }
                }
            }
            // `*` expands to columns named as themselves, not aliases.
            aliased.resize(outputs.len(), false);
        }
        if items.is_empty() {
            return Err(unsupported("`*` leaves no column you may read"));
        }
        bounds::at_most(items.len(), bounds::MAX_SELECT_ITEMS, "items in one SELECT list (after `*` expansion)")?;
        self.items += items.len();
        bounds::at_most(self.items, bounds::MAX_STATEMENT_ITEMS, "select items in one statement (after `*` expansion)")?;
        select.projection = items;
        scope.outputs = outputs;
        scope.aliased = aliased;

        let mut group_keys = BTreeSet::new();
        let grouped = match &mut select.group_by {
            GroupByExpr::All(_) => return Err(unsupported("GROUP BY ALL")),
            GroupByExpr::Expressions(exprs, modifiers) => {
                let mut keys: Vec<&mut Expr> = Vec::new();
                for modifier in modifiers.iter_mut() {
                    match modifier {
                        GroupByWithModifier::Rollup | GroupByWithModifier::Cube => {}
                        GroupByWithModifier::GroupingSets(e) => grouping_keys(e, &mut keys),
                        GroupByWithModifier::Totals => return Err(unsupported("GROUP BY ... WITH TOTALS")),
                    }
                }
                let any = !exprs.is_empty();
                for e in exprs.iter_mut() {
                    grouping_keys(e, &mut keys);
                }
                for e in keys {
                    let flow = self.ordering_expr(e, &scope)?;
                    self.record(&flow, true);
                    group_keys.extend(flow.keys().copied());
                }
                any
            }
        };
        if let Some(having) = &mut select.having {
            let flow = self.expr(having, &scope, true)?;
            self.record(&flow, true);
        }
        // DISTINCT compares whole output rows: each column is a condition.
        if matches!(select.distinct, Some(Distinct::Distinct)) {
            for column in &scope.outputs {
                self.record(&column.flow, true);
            }
        }
        if let Some(Distinct::On(exprs)) = &mut select.distinct {
            for e in exprs.iter_mut() {
                let flow = self.ordering_expr(e, &scope)?;
                self.record(&flow, true);
            }
        }
        if let Some(order_by) = order_by {
            let OrderByKind::Expressions(exprs) = &mut order_by.kind else {
                return Err(unsupported("ORDER BY ALL"));
            };
            for e in exprs.iter_mut() {
                if e.with_fill.is_some() {
                    return Err(unsupported("ORDER BY ... WITH FILL"));
                }
                let flow = self.order_by_expr(&mut e.expr, &scope)?;
                self.record(&flow, true);
            }
        }

        let aggregated = self.aggregate_seen || grouped || select.having.is_some();
        let mut outputs = std::mem::take(&mut scope.outputs);
        if aggregated {
            for column in &mut outputs {
                for (c, via) in column.flow.iter_mut() {
                    if *via == Via::Raw && group_keys.contains(c) {
                        *via = Via::GroupKey;
                    }
                }
            }
        }
        if self.depth == 1 && self.top.is_none() {
            self.top = Some(TopSelect { aggregated, group_keys: group_keys.iter().copied().collect() });
        }
        let direct: Vec<TableId> = scope.relations.iter().filter_map(|r| r.base).collect();
        let alone = scope.relations.len() == 1;
        for &t in &direct {
            let all = self.only_aggregated.entry(t).or_insert(true);
            *all &= aggregated;
            let only = self.alone.entry(t).or_insert(true);
            *only &= alone;
        }
        if self.substitute && !direct.is_empty() {
            self.hooks.select(select, &direct, aggregated)?;
        }
        Ok(outputs)
    }

    /// `*` over one relation: its columns, qualified, minus hidden ones.
    fn expand(&self, relation: &Relation, items: &mut Vec<SelectItem>, outputs: &mut Vec<RelColumn>) -> Result<(), AnalysisError> {
        let qualifier = relation.name.clone().ok_or_else(|| unsupported("`*` over a relation without a name"))?;
        for (i, column) in relation.columns.iter().enumerate() {
            if relation.columns.iter().filter(|c| c.name == column.name).count() > 1 {
                return Err(AnalysisError::Ambiguous(format!("{}.{} (in `*`)", qualifier.value, column.name)));
            }
            if let Some(t) = relation.base
                && self.hooks.hidden(t, i)
            {
                continue;
            }
            items.push(SelectItem::UnnamedExpr(Expr::CompoundIdentifier(vec![qualifier.clone(), ident_for(&column.name)])));
            outputs.push(column.clone());
        }
        Ok(())
    }

    /// A GROUP BY, DISTINCT ON or ORDER BY item: a position, an output
    /// alias, or an expression over the input. A bare name that is both an
    /// input column and an output alias of something else is ambiguous.
    fn ordering_expr(&mut self, e: &mut Expr, scope: &Scope) -> Result<Flow, AnalysisError> {
        match e {
            Expr::Value(v) => match position(&v.value, scope.outputs.len()) {
                Some(i) => Ok(scope.outputs[i].flow.clone()),
                None => Ok(Flow::new()),
            },
            Expr::Identifier(ident) => {
                let aliases: Vec<&RelColumn> = scope.outputs.iter().filter(|c| self.dialect.matches(ident, &c.name)).collect();
                let ident = ident.clone();
                match self.unqualified(&ident, scope, false) {
                    Ok(input) => match aliases.as_slice() {
                        [] => Ok(input),
                        [alias] if alias.flow == input => Ok(input),
                        _ if aliases.iter().all(|a| a.flow == input) => Ok(input),
                        _ => Err(AnalysisError::Ambiguous(format!("{} is both a column and an output alias", ident.value))),
                    },
                    Err(AnalysisError::UnknownColumn(_)) => match aliases.as_slice() {
                        [alias] => Ok(alias.flow.clone()),
                        [] => Err(AnalysisError::UnknownColumn(ident.value.clone())),
                        _ => Err(AnalysisError::Ambiguous(ident.value.clone())),
                    },
                    Err(other) => Err(other),
                }
            }
            _ => self.expr(e, scope, true),
        }
    }

    /// An ORDER BY item of a SELECT. A bare name is an output column if
    /// one is named so, and an input column otherwise, as PostgreSQL binds
    /// it; SQLite binds only explicit `AS` aliases first. (GROUP BY binds
    /// the other way, so there a name that is both stays ambiguous.)
    fn order_by_expr(&mut self, e: &mut Expr, scope: &Scope) -> Result<Flow, AnalysisError> {
        if let Expr::Identifier(ident) = e {
            let explicit_only = self.dialect == Dialect::Sqlite;
            let aliases: Vec<&RelColumn> = scope
                .outputs
                .iter()
                .zip(scope.aliased.iter().chain(std::iter::repeat(&false)))
                .filter(|(c, aliased)| (**aliased || !explicit_only) && self.dialect.matches(ident, &c.name))
                .map(|(c, _)| c)
                .collect();
            if let Some(first) = aliases.first() {
                return if aliases.iter().all(|a| a.flow == first.flow) {
                    Ok(first.flow.clone())
                } else {
                    Err(AnalysisError::Ambiguous(format!("ORDER BY {} names several output columns", ident.value)))
                };
            }
        }
        self.ordering_expr(e, scope)
    }

    /// A window's PARTITION BY and ORDER BY. They choose the rows a window
    /// function sees and their order, so what the function returns (a
    /// rank, a per-partition average) is shaped by them: their columns are
    /// conditions, and they also reach the function's value. So a column
    /// that may be used in conditions only can partition or order a
    /// window whose value is itself only a condition (`WHERE rn = 1`), but
    /// not one whose value is returned.
    pub(super) fn window_spec(&mut self, spec: &mut WindowSpec, scope: &Scope) -> Result<Flow, AnalysisError> {
        let mut shaping = match &spec.window_name {
            Some(base) => self.named_window(base)?,
            None => Flow::new(),
        };
        for e in &mut spec.partition_by {
            let flow = self.expr(e, scope, false)?;
            self.record(&flow, true);
            super::merge(&mut shaping, flow);
        }
        for o in &mut spec.order_by {
            let flow = self.expr(&mut o.expr, scope, false)?;
            self.record(&flow, true);
            super::merge(&mut shaping, flow);
        }
        if let Some(frame) = &mut spec.window_frame {
            for bound in std::iter::once(&mut frame.start_bound).chain(frame.end_bound.as_mut()) {
                if let sqlparser::ast::WindowFrameBound::Preceding(Some(e)) | sqlparser::ast::WindowFrameBound::Following(Some(e)) = bound {
                    let flow = self.expr(e, scope, false)?;
                    if !flow.is_empty() {
                        return Err(unsupported("window frame bounds must be constants"));
                    }
                }
            }
        }
        Ok(shaping)
    }

    /// The shaping flow of a window named in this SELECT's WINDOW clause.
    pub(super) fn named_window(&self, name: &Ident) -> Result<Flow, AnalysisError> {
        let name = self.dialect.fold(name);
        self.windows
            .iter()
            .rev()
            .find(|(n, _)| self.dialect.same(n, &name))
            .map(|(_, flow)| flow.clone())
            .ok_or_else(|| AnalysisError::UnknownColumn(format!("window {name} (name it in this SELECT's WINDOW clause)")))
    }

    fn output_name(&self, e: &Expr) -> String {
        match e {
            Expr::Identifier(i) => self.dialect.fold(i),
            Expr::CompoundIdentifier(parts) => parts.last().map(|i| self.dialect.fold(i)).unwrap_or_default(),
            Expr::Function(f) => f.name.0.last().and_then(ObjectNamePart::as_ident).map(|i| i.value.to_ascii_lowercase()).unwrap_or_default(),
            Expr::Cast { expr, .. } | Expr::Nested(expr) => self.output_name(expr),
            _ => "?column?".to_string(),
        }
    }
}
