//! FROM: base tables, CTE references, derived tables and joins.

use sqlparser::ast::{Ident, JoinConstraint, JoinOperator, ObjectName, ObjectNamePart, TableAlias, TableFactor, TableWithJoins};

use super::{Analyzer, Flow, Relation, RelColumn, Scope};
use crate::bounds;
use crate::error::AnalysisError;
use crate::schema::{TableId, is_system_name};
use crate::shape::{ColRef, Via};

fn unsupported(what: impl Into<String>) -> AnalysisError {
    AnalysisError::Unsupported(what.into())
}

/// Words that cannot be column names unquoted in PostgreSQL or SQLite.
const RESERVED: &[&str] = &[
    "all", "and", "any", "as", "asc", "between", "both", "case", "cast", "check", "collate", "column", "constraint", "create", "cross", "current_date",
    "current_time", "current_timestamp", "current_user", "default", "desc", "distinct", "do", "else", "end", "except", "exists", "false", "fetch", "for",
    "foreign", "from", "full", "grant", "group", "having", "in", "index", "inner", "insert", "intersect", "into", "is", "join", "key", "leading", "left",
    "like", "limit", "natural", "not", "null", "offset", "on", "only", "or", "order", "outer", "primary", "references", "returning", "right", "select",
    "session_user", "set", "some", "table", "then", "to", "trailing", "true", "union", "unique", "user", "using", "values", "when", "where", "window", "with",
];

/// An identifier as it must be written to name `name` exactly.
pub(crate) fn ident_for(name: &str) -> Ident {
    let plain = name.chars().next().is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !RESERVED.contains(&name);
    if plain { Ident::new(name) } else { Ident::with_quote('"', name) }
}

impl Analyzer<'_> {
    /// Fill `scope` from a FROM clause.
    pub(super) fn from_clause(&mut self, from: &mut [TableWithJoins], scope: &mut Scope, outer: Option<&Scope>) -> Result<(), AnalysisError> {
        let tables: usize = from.iter().map(|item| 1 + item.joins.len()).sum();
        bounds::at_most(tables, bounds::MAX_JOINS, "tables in one FROM clause")?;
        for item in from.iter_mut() {
            let relation = self.table_factor(&mut item.relation, outer, true)?;
            self.add_relation(scope, relation);
            for join in &mut item.joins {
                let constraint = match &mut join.join_operator {
                    JoinOperator::Join(c)
                    | JoinOperator::Inner(c)
                    | JoinOperator::Left(c)
                    | JoinOperator::LeftOuter(c)
                    | JoinOperator::Right(c)
                    | JoinOperator::RightOuter(c)
                    | JoinOperator::FullOuter(c)
                    | JoinOperator::CrossJoin(c) => c,
                    _ => return Err(unsupported("this kind of join (semi, anti, apply, as-of)")),
                };
                let relation = self.table_factor(&mut join.relation, outer, true)?;
                let right = scope.relations.len();
                self.add_relation(scope, relation);
                match constraint {
                    JoinConstraint::On(on) => {
                        let flow = self.expr(on, scope, false)?;
                        self.record(&flow, true);
                        self.keys_in(on, scope)?;
                    }
                    JoinConstraint::Using(columns) => {
                        for column in columns.iter() {
                            let ident = match column.0.as_slice() {
                                [ObjectNamePart::Identifier(i)] => i.clone(),
                                _ => return Err(unsupported("qualified name in USING")),
                            };
                            self.using_column(scope, right, &ident)?;
                        }
                    }
                    JoinConstraint::Natural => return Err(unsupported("NATURAL JOIN: name the join keys with ON or USING")),
                    JoinConstraint::None => {}
                }
            }
        }
        Ok(())
    }

    /// Relations in one FROM are read together: every pair of their tables
    /// is a join, with or without keys.
    fn add_relation(&mut self, scope: &mut Scope, relation: Relation) {
        for existing in &scope.relations {
            for &a in &existing.tables {
                for &b in &relation.tables {
                    self.pair(a, b);
                }
            }
        }
        scope.relations.push(relation);
    }

    fn using_column(&mut self, scope: &mut Scope, right: usize, ident: &Ident) -> Result<(), AnalysisError> {
        let find = |r: &Relation| r.columns.iter().find(|c| self.dialect.matches(ident, &c.name)).map(|c| c.flow.clone());
        let right_flow = find(&scope.relations[right]).ok_or_else(|| AnalysisError::UnknownColumn(ident.value.clone()))?;
        let lefts: Vec<Flow> = scope.relations[..right].iter().filter_map(find).collect();
        let left_flow = match lefts.as_slice() {
            [one] => one.clone(),
            [] => return Err(AnalysisError::UnknownColumn(ident.value.clone())),
            _ => return Err(AnalysisError::Ambiguous(format!("USING ({})", ident.value))),
        };
        self.record(&left_flow, true);
        self.record(&right_flow, true);
        if let (Some(a), Some(b)) = (single(&left_flow), single(&right_flow)) {
            self.key(a, b);
        }
        scope.using.push(self.dialect.fold(ident));
        Ok(())
    }

    /// Resolve a table name to a catalog table, refusing system catalogs.
    pub(super) fn base_table_name(&mut self, name: &mut ObjectName) -> Result<TableId, AnalysisError> {
        let parts: Vec<Ident> = name.0.iter().map(|p| p.as_ident().cloned().ok_or_else(|| unsupported("table function in a name"))).collect::<Result<_, _>>()?;
        let (schema, table) = match parts.as_slice() {
            [t] => (None, t),
            [s, t] => (Some(s), t),
            _ => return Err(unsupported(format!("table name {name} (use schema.table)"))),
        };
        if is_system_name(schema.map(|s| s.value.as_str()), &table.value) {
            return Err(AnalysisError::SystemCatalog(name.to_string()));
        }
        let found = self.schema.lookup(self.dialect, schema, table);
        let id = match found.as_slice() {
            [one] => *one,
            [] => return Err(AnalysisError::UnknownTable(name.to_string())),
            many => {
                let names: Vec<String> = many.iter().map(|&t| self.schema.table(t).sql_name()).collect();
                return Err(AnalysisError::Ambiguous(format!("table {name} could be {}; qualify it", names.join(" or "))));
            }
        };
        let def = self.schema.table(id);
        *name = ObjectName::from(vec![ident_for(&def.schema), ident_for(&def.name)]);
        self.read_table(id);
        Ok(id)
    }

    /// One relation of a FROM clause. `outer` is the scope a derived table
    /// may correlate with (the enclosing query's, not this FROM's).
    pub(super) fn table_factor(&mut self, factor: &mut TableFactor, outer: Option<&Scope>, may_substitute: bool) -> Result<Relation, AnalysisError> {
        match factor {
            TableFactor::Table { name, alias, args, with_hints, version, with_ordinality, partitions, json_path, sample, index_hints } => {
                if args.is_some() || !with_hints.is_empty() || version.is_some() || *with_ordinality || !partitions.is_empty() || json_path.is_some() || !index_hints.is_empty() {
                    return Err(unsupported(format!("table modifiers on {name}")));
                }
                if sample.is_some() {
                    self.sampled = true;
                }
                if let [ObjectNamePart::Identifier(single_name)] = name.0.as_slice()
                    && let Some(cte) = self.ctes.iter().rev().find(|c| self.dialect.same(&self.dialect.fold(&c.name), &self.dialect.fold(single_name)))
                {
                    let columns = cte.columns.clone();
                    let tables = cte.tables.clone();
                    let name = alias.as_ref().map(|a| a.name.clone()).unwrap_or_else(|| single_name.clone());
                    for &t in &tables {
                        self.read_table(t);
                    }
                    let columns = match alias {
                        Some(a) => rename_alias(columns, a, self.dialect)?,
                        None => columns,
                    };
                    return Ok(Relation { name: Some(name), schema: None, columns, base: None, tables });
                }
                let original = name.0.last().and_then(|p| p.as_ident()).cloned();
                let id = self.base_table_name(name)?;
                let def = self.schema.table(id);
                if alias.as_ref().is_some_and(|a| !a.columns.is_empty()) {
                    return Err(unsupported(format!("column aliases on table {}", def.sql_name())));
                }
                let (alias_ident, schema) = match alias {
                    Some(a) => (a.name.clone(), None),
                    None => {
                        let ident = original.unwrap_or_else(|| ident_for(&def.name));
                        *alias = Some(TableAlias { explicit: true, name: ident.clone(), columns: Vec::new(), at: None });
                        (ident, Some(def.schema.clone()))
                    }
                };
                let columns = def
                    .columns
                    .iter()
                    .enumerate()
                    .map(|(i, c)| RelColumn { name: c.name.clone(), flow: Flow::from([(ColRef { table: id, column: i }, Via::Raw)]) })
                    .collect();
                let relation = Relation { name: Some(alias_ident.clone()), schema, columns, base: Some(id), tables: [id].into() };
                if may_substitute
                    && self.substitute
                    && let Some(replacement) = self.hooks.source(id, &alias_ident, sample.as_ref())?
                {
                    *factor = replacement;
                }
                Ok(relation)
            }
            TableFactor::Derived { lateral, subquery, alias, sample } => {
                if *lateral {
                    return Err(unsupported("LATERAL"));
                }
                if sample.is_some() {
                    return Err(unsupported("TABLESAMPLE on a subquery"));
                }
                // A subquery in FROM without an alias (PostgreSQL 16 and
                // SQLite allow it) is named, so that `*`, the rewrite and
                // every dialect can refer to it. The query is analyzed as
                // it runs, with the name: a query that uses the name for
                // something else of its own fails as ambiguous or unknown.
                let alias = match alias {
                    Some(a) => a,
                    None => {
                        self.unnamed += 1;
                        alias.insert(TableAlias { explicit: true, name: Ident::new(format!("steward_subquery_{}", self.unnamed)), columns: Vec::new(), at: None })
                    }
                };
                let (columns, tables) = self.collecting(|a| a.query(subquery, outer))?;
                let columns = rename_alias(columns, alias, self.dialect)?;
                Ok(Relation { name: Some(alias.name.clone()), schema: None, columns, base: None, tables })
            }
            TableFactor::NestedJoin { .. } => Err(unsupported("parenthesized joins")),
            other => Err(unsupported(format!("FROM item {other}"))),
        }
    }
}

pub(super) fn rename_alias(columns: Vec<RelColumn>, alias: &TableAlias, dialect: crate::schema::Dialect) -> Result<Vec<RelColumn>, AnalysisError> {
    if alias.columns.is_empty() {
        return Ok(columns);
    }
    if alias.columns.len() != columns.len() {
        return Err(unsupported(format!("{} names {} columns for a relation of {}", alias.name.value, alias.columns.len(), columns.len())));
    }
    Ok(columns.into_iter().zip(&alias.columns).map(|(c, a)| RelColumn { name: dialect.fold(&a.name), flow: c.flow }).collect())
}

/// The one catalog column a flow is, unchanged, if it is one.
pub(super) fn single(flow: &Flow) -> Option<ColRef> {
    match flow.iter().collect::<Vec<_>>().as_slice() {
        [(c, Via::Raw)] => Some(**c),
        _ => None,
    }
}
