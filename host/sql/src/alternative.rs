//! Rewrites of a statement a viewer may not run as it is, on its tree:
//! the same query over the columns the viewer may read. These are only
//! candidates: the gate runs each through a dry run as the viewer and
//! offers only those allowed, so nothing here has to be a proof.

use std::ops::ControlFlow;

use sqlparser::ast::{Expr, Ident, SelectItem, SetExpr, Statement, visit_expressions};

use crate::{Dialect, parse};

/// `sql` with the output items that name a column `readable` refuses
/// dropped, and a bare `*` spelled out as `wildcard` (the columns the
/// viewer may read). `None` when nothing would change, when nothing would
/// be left, or when the statement is not one plain `SELECT`.
pub fn over_readable_columns(dialect: Dialect, sql: &str, readable: &dyn Fn(&str) -> bool, wildcard: &[String]) -> Option<String> {
    let mut statement = parse(dialect, sql).ok()?;
    let Statement::Query(query) = &mut statement else { return None };
    let SetExpr::Select(select) = query.body.as_mut() else { return None };
    let mut changed = false;
    let mut kept = Vec::new();
    for item in std::mem::take(&mut select.projection) {
        match item {
            SelectItem::Wildcard(_) => {
                changed = true;
                kept.extend(wildcard.iter().map(|c| SelectItem::UnnamedExpr(Expr::Identifier(Ident::new(c)))));
            }
            // `t.*` in a join: which columns are whose is the analyzer's
            // business; no candidate.
            SelectItem::QualifiedWildcard(..) => return None,
            SelectItem::UnnamedExpr(ref e) | SelectItem::ExprWithAlias { expr: ref e, .. } | SelectItem::ExprWithAliases { expr: ref e, .. } => {
                if columns_named(e, dialect).iter().all(|c| readable(c)) {
                    kept.push(item);
                } else {
                    changed = true;
                }
            }
        }
    }
    if !changed || kept.is_empty() {
        return None;
    }
    select.projection = kept;
    Some(statement.to_string())
}

/// The column names an expression refers to (the last part of a
/// compound name), folded as the dialect folds them.
fn columns_named(expr: &Expr, dialect: Dialect) -> Vec<String> {
    let mut names = Vec::new();
    let _ = visit_expressions(expr, |e| {
        match e {
            Expr::Identifier(i) => names.push(dialect.fold(i)),
            Expr::CompoundIdentifier(parts) => names.extend(parts.last().map(|i| dialect.fold(i))),
            _ => {}
        }
        ControlFlow::<()>::Continue(())
    });
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewrite(sql: &str, wildcard: &[&str]) -> Option<String> {
        let readable = |c: &str| !["email", "phone"].contains(&c);
        let wildcard: Vec<String> = wildcard.iter().map(|s| s.to_string()).collect();
        over_readable_columns(Dialect::Sqlite, sql, &readable, &wildcard)
    }

    #[test]
    fn unreadable_output_items_are_dropped() {
        assert_eq!(
            rewrite("SELECT name, email, upper(phone) AS p, region FROM sales.customers WHERE region = 'emea'", &[]).as_deref(),
            Some("SELECT name, region FROM sales.customers WHERE region = 'emea'")
        );
        assert_eq!(rewrite("SELECT c.email, c.region FROM sales.customers AS c", &[]).as_deref(), Some("SELECT c.region FROM sales.customers AS c"));
    }

    #[test]
    fn a_star_is_spelled_out_as_the_readable_columns() {
        assert_eq!(rewrite("SELECT * FROM sales.customers", &["name", "region"]).as_deref(), Some("SELECT name, region FROM sales.customers"));
    }

    #[test]
    fn no_candidate_when_nothing_changes_or_nothing_is_left() {
        assert_eq!(rewrite("SELECT name FROM sales.customers", &[]), None);
        assert_eq!(rewrite("SELECT email FROM sales.customers", &[]), None);
        assert_eq!(rewrite("SELECT email FROM a UNION SELECT name FROM b", &[]), None);
        assert_eq!(rewrite("not sql", &[]), None);
    }
}
