//! The schema the analyzer resolves names against: the catalog's tables
//! and their columns, with each column's classification.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;
use sqlparser::ast::Ident;

/// Which SQL dialect queries are parsed as, and how identifiers fold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    /// Case-insensitive identifiers, quoted or not.
    Generic,
    /// Unquoted identifiers fold to lower case; quoted ones match exactly.
    Postgres,
    /// Case-insensitive identifiers, quoted or not.
    Sqlite,
}

impl Dialect {
    pub fn parser_dialect(self) -> Box<dyn sqlparser::dialect::Dialect> {
        match self {
            Dialect::Generic => Box::new(sqlparser::dialect::GenericDialect {}),
            Dialect::Postgres => Box::new(sqlparser::dialect::PostgreSqlDialect {}),
            Dialect::Sqlite => Box::new(sqlparser::dialect::SQLiteDialect {}),
        }
    }

    /// Whether `ident`, as written in a query, names `name` from the catalog.
    pub fn matches(self, ident: &Ident, name: &str) -> bool {
        match self {
            Dialect::Postgres if ident.quote_style.is_some() => ident.value == name,
            Dialect::Postgres => ident.value.to_lowercase() == name,
            Dialect::Generic | Dialect::Sqlite => ident.value.eq_ignore_ascii_case(name),
        }
    }

    /// Whether two names given in a query (aliases) are the same name.
    pub fn same(self, a: &str, b: &str) -> bool {
        match self {
            Dialect::Postgres => a == b,
            Dialect::Generic | Dialect::Sqlite => a.eq_ignore_ascii_case(b),
        }
    }

    /// The name an identifier stands for once folded.
    pub fn fold(self, ident: &Ident) -> String {
        match self {
            Dialect::Postgres if ident.quote_style.is_none() => ident.value.to_lowercase(),
            _ => ident.value.clone(),
        }
    }
}

impl std::str::FromStr for Dialect {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "generic" => Ok(Dialect::Generic),
            "postgres" | "postgresql" => Ok(Dialect::Postgres),
            "sqlite" => Ok(Dialect::Sqlite),
            other => Err(format!("unknown SQL dialect {other:?} (generic, postgres, sqlite)")),
        }
    }
}

/// Index of a table in its [`Schema`].
pub type TableId = usize;

/// Whose word a column's tags are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Classification {
    /// Listed in the catalog by its owner.
    Catalog,
    /// Found in the warehouse and classified by the classifier plugin.
    Classifier,
    /// Found in the warehouse, not classified yet: protected.
    Unclassified,
}

#[derive(Debug, Clone, Serialize)]
pub struct ColumnDef {
    pub name: String,
    pub data_type: String,
    pub tags: Vec<String>,
    pub classification: Classification,
}

impl ColumnDef {
    pub fn is_pii(&self) -> bool {
        self.tags.iter().any(|t| t == "pii")
    }

    pub fn is_classified(&self) -> bool {
        self.classification != Classification::Unclassified
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct TableDef {
    /// Catalog path, e.g. `sales/customers`.
    pub asset: String,
    /// SQL schema, e.g. `sales`.
    pub schema: String,
    /// SQL table name, e.g. `customers`.
    pub name: String,
    pub columns: Vec<ColumnDef>,
    pub tags: Vec<String>,
    /// Curated alternatives the catalog knows for this table (asset paths).
    pub alternatives: Vec<String>,
}

impl TableDef {
    pub fn sql_name(&self) -> String {
        format!("{}.{}", self.schema, self.name)
    }

    pub fn column(&self, name: &str) -> Option<(usize, &ColumnDef)> {
        self.columns.iter().enumerate().find(|(_, c)| c.name == name)
    }
}

/// System catalogs no query may read.
const SYSTEM_SCHEMAS: &[&str] = &["information_schema", "pg_catalog", "pg_toast", "sqlite_temp", "temp"];
const SYSTEM_TABLES: &[&str] = &["sqlite_master", "sqlite_schema", "sqlite_temp_master", "sqlite_temp_schema", "sqlite_sequence", "sqlite_stat1"];

pub fn is_system_name(schema: Option<&str>, table: &str) -> bool {
    let table = table.to_ascii_lowercase();
    schema.is_some_and(|s| SYSTEM_SCHEMAS.contains(&s.to_ascii_lowercase().as_str()))
        || SYSTEM_TABLES.contains(&table.as_str())
        || table.starts_with("pg_")
        || table.starts_with("sqlite_")
}

#[derive(Debug, Clone, Default)]
pub struct Schema {
    tables: Vec<TableDef>,
    by_asset: HashMap<String, TableId>,
    /// Unique within the process for each content a schema has had (a
    /// clone shares it): what cached analyses are keyed on.
    generation: u64,
}

static SCHEMA_GENERATIONS: AtomicU64 = AtomicU64::new(1);

impl Schema {
    pub fn new(tables: Vec<TableDef>) -> Schema {
        let by_asset = tables.iter().enumerate().map(|(i, t)| (t.asset.clone(), i)).collect();
        Schema { tables, by_asset, generation: SCHEMA_GENERATIONS.fetch_add(1, Ordering::Relaxed) }
    }

    /// Changes whenever the tables do ([`Schema::table_mut`]).
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The catalog's tables. A table resource `a/b/c` is SQL table `b.c`
    /// (dashes become underscores).
    pub fn from_policy(policy: &steward_policy::Policy) -> Schema {
        let tables = policy
            .catalog_entries()
            .filter(|e| e.kind == steward_model::AssetKind::Table)
            .map(|e| {
                let mut parts = e.path.rsplit('/');
                let name = parts.next().unwrap_or_default().replace('-', "_");
                let schema = parts.next().unwrap_or("main").replace('-', "_");
                TableDef {
                    asset: e.path.clone(),
                    schema,
                    name,
                    columns: e
                        .columns
                        .iter()
                        .map(|c| ColumnDef {
                            name: c.name.clone(),
                            data_type: c.data_type.clone(),
                            tags: c.tags.clone(),
                            classification: Classification::Catalog,
                        })
                        .collect(),
                    tags: policy.asset(&e.path).map(|a| a.tags).unwrap_or_default(),
                    alternatives: e.alternatives.clone(),
                }
            })
            .collect();
        Schema::new(tables)
    }

    pub fn tables(&self) -> &[TableDef] {
        &self.tables
    }

    pub fn table(&self, id: TableId) -> &TableDef {
        &self.tables[id]
    }

    pub fn by_asset(&self, asset: &str) -> Option<TableId> {
        self.by_asset.get(asset).copied()
    }

    /// The tables of `asset`: itself, or every table under it for a folder.
    pub fn tables_under<'a>(&'a self, asset: &'a str) -> impl Iterator<Item = TableId> + 'a {
        self.tables
            .iter()
            .enumerate()
            .filter(move |(_, t)| steward_model::is_within(&t.asset, asset))
            .map(|(i, _)| i)
    }

    pub fn table_mut(&mut self, id: TableId) -> &mut TableDef {
        self.generation = SCHEMA_GENERATIONS.fetch_add(1, Ordering::Relaxed);
        &mut self.tables[id]
    }

    /// Tables a (possibly schema-qualified) name can mean.
    pub fn lookup(&self, dialect: Dialect, schema: Option<&Ident>, name: &Ident) -> Vec<TableId> {
        self.tables
            .iter()
            .enumerate()
            .filter(|(_, t)| dialect.matches(name, &t.name) && schema.is_none_or(|s| dialect.matches(s, &t.schema)))
            .map(|(i, _)| i)
            .collect()
    }
}
