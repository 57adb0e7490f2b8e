//! Column masks as SQL, per warehouse dialect.

use steward_policy::MaskSpec;

use crate::schema::Dialect;

/// The SQL expression that shows `column` (already a quoted or plain
/// identifier) masked.
pub fn expression(spec: &MaskSpec, column: &str, dialect: Dialect) -> String {
    match (spec, dialect) {
        (MaskSpec::Null, _) => "NULL".to_string(),
        (MaskSpec::Redact, _) => "'[redacted]'".to_string(),
        (MaskSpec::Hash, Dialect::Sqlite) => format!("steward_hash({column})"),
        (MaskSpec::Hash, _) => format!("encode(sha256(convert_to(CAST({column} AS TEXT), 'UTF8')), 'hex')"),
        (MaskSpec::LastFour, Dialect::Sqlite) => format!("'****' || substr(CAST({column} AS TEXT), -4)"),
        (MaskSpec::LastFour, _) => format!("'****' || right(CAST({column} AS TEXT), 4)"),
        (MaskSpec::Sql(template), _) => template.replace("{column}", column),
    }
}

/// Whether a value masked this way still tells something about the
/// original value (for budgets and the PII-join rule).
pub fn reveals(spec: &MaskSpec) -> bool {
    !matches!(spec, MaskSpec::Null | MaskSpec::Redact)
}
