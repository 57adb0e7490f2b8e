//! Checks of the SQL inside a policy (row filters, mask expressions)
//! against the schema, at load time, so a bad rule is refused with its
//! file and line instead of failing queries later.

use steward_policy::{ColumnEffect, MaskSpec, Policy};

use crate::analyze::{NoHooks, analyze, parse};
use crate::error::AnalysisError;
use crate::schema::{Dialect, Schema, TableId};

/// A predicate must be one expression over the table's own columns.
pub fn check_filter(schema: &Schema, dialect: Dialect, table: TableId, predicate: &str) -> Result<(), AnalysisError> {
    let sql = format!("SELECT 1 FROM {} WHERE {predicate}", schema.table(table).sql_name());
    let mut statement = parse(dialect, &sql)?;
    analyze(schema, dialect, &mut statement, &NoHooks).map(|_| ())
}

/// Every row filter and SQL mask in the policy, against every table it
/// covers.
pub fn check_policy(policy: &Policy, schema: &Schema, dialect: Dialect) -> Result<(), String> {
    for rule in policy.row_filters() {
        // Checked with a stand-in literal for every principal attribute.
        let sample = crate::plan::fill_placeholders(&rule.filter, |_| Ok("x".into())).map_err(|e| format!("{}:{}: row_filter {}: {e}", rule.file.display(), rule.line, rule.id))?;
        for (t, def) in schema.tables().iter().enumerate() {
            if rule.assets.iter().any(|g| g.matches(&def.asset)) {
                check_filter(schema, dialect, t, &sample).map_err(|e| format!("{}:{}: row_filter {} on {}: {e}", rule.file.display(), rule.line, rule.id, def.asset))?;
            }
        }
    }
    for rule in policy.column_rules() {
        let ColumnEffect::Mask(MaskSpec::Sql(template)) = &rule.effect else { continue };
        for (t, def) in schema.tables().iter().enumerate() {
            if !rule.assets.iter().any(|g| g.matches(&def.asset)) {
                continue;
            }
            for c in def.columns.iter().filter(|c| rule.columns.iter().any(|s| s.matches(&c.name, &c.tags))) {
                let expr = crate::mask::expression(&MaskSpec::Sql(template.clone()), &c.name, dialect);
                let sql = format!("SELECT {expr} FROM {}", schema.table(t).sql_name());
                let mut statement = parse(dialect, &sql).map_err(|e| format!("column_rule {}: {e}", rule.id))?;
                let shape = analyze(schema, dialect, &mut statement, &NoHooks).map_err(|e| format!("column_rule {}: {e}", rule.id))?;
                if shape.tables.iter().any(|a| a.columns.iter().any(|(name, u)| name != &c.name && u.reaches_output())) {
                    return Err(format!("column_rule {}: a mask may only use the column it masks", rule.id));
                }
            }
        }
    }
    Ok(())
}
