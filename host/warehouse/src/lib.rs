//! Warehouse backends. Queries Steward has already analyzed and rewritten
//! run here, read-only, with a deadline; the host also reads the
//! warehouse's own schema (to find columns the catalog does not know) and
//! sample values (for the column classifier).
//!
//! - [`sqlite`]: the embedded demo warehouse, one database file per schema
//!   attached read-only.
//! - [`postgres`]: a PostgreSQL server.
//! - [`demo`]: the demo data both are loaded with.

pub mod demo;
pub mod postgres;
pub mod sqlite;

use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum WarehouseError {
    #[error("warehouse: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("warehouse: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    #[error("warehouse: {0}")]
    Refused(String),
    #[error("warehouse: cannot prepare {path}: {source}")]
    Io { path: std::path::PathBuf, source: std::io::Error },
    #[error("warehouse: the query ran past its deadline")]
    Timeout,
}

/// What a query returned.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ResultSet {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<serde_json::Value>>,
}

/// A column as the warehouse has it.
#[derive(Debug, Clone, PartialEq)]
pub struct WarehouseColumn {
    pub name: String,
    pub data_type: String,
}

/// Which engine, and so which SQL dialect the analyzer parses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

pub enum Warehouse {
    Sqlite(sqlite::SqliteWarehouse),
    Postgres(postgres::PgWarehouse),
}

impl Warehouse {
    /// `postgres://…` / `postgresql://…`, or a directory for SQLite
    /// (`sqlite:DIR` or a bare path).
    pub async fn open(spec: &str, deadline: std::time::Duration) -> Result<Warehouse, WarehouseError> {
        if spec.starts_with("postgres://") || spec.starts_with("postgresql://") || spec.contains("host=") {
            Ok(Warehouse::Postgres(postgres::PgWarehouse::connect(spec, deadline).await?))
        } else {
            let dir = spec.strip_prefix("sqlite:").unwrap_or(spec);
            Ok(Warehouse::Sqlite(sqlite::SqliteWarehouse::open(std::path::Path::new(dir), deadline)?))
        }
    }

    pub fn engine(&self) -> Engine {
        match self {
            Warehouse::Sqlite(_) => Engine::Sqlite,
            Warehouse::Postgres(_) => Engine::Postgres,
        }
    }

    /// Run one read-only query.
    pub async fn query(&self, sql: &str) -> Result<ResultSet, WarehouseError> {
        self.query_within(sql, None).await
    }

    /// Run one read-only query, ended at `within` if that is sooner than
    /// the warehouse's own deadline (a tool's call-back gets what is left
    /// of the tool's).
    pub async fn query_within(&self, sql: &str, within: Option<std::time::Duration>) -> Result<ResultSet, WarehouseError> {
        match self {
            Warehouse::Sqlite(w) => w.query(sql, within).await,
            Warehouse::Postgres(w) => match within {
                None => w.query(sql).await,
                // The server still ends it at its statement_timeout; the
                // connection discards the answer that comes after.
                Some(d) => tokio::time::timeout(d, w.query(sql)).await.unwrap_or(Err(WarehouseError::Timeout)),
            },
        }
    }

    /// The columns the warehouse has for `schema.table`, empty if it has
    /// no such table.
    pub async fn columns(&self, schema: &str, table: &str) -> Result<Vec<WarehouseColumn>, WarehouseError> {
        match self {
            Warehouse::Sqlite(w) => w.columns(schema, table).await,
            Warehouse::Postgres(w) => w.columns(schema, table).await,
        }
    }

    /// Up to `n` non-null values of a column, as text.
    pub async fn sample(&self, schema: &str, table: &str, column: &str, n: usize) -> Result<Vec<String>, WarehouseError> {
        match self {
            Warehouse::Sqlite(w) => w.sample(schema, table, column, n).await,
            Warehouse::Postgres(w) => w.sample(schema, table, column, n).await,
        }
    }
}

/// `"name"` with embedded quotes doubled: for identifiers the host itself
/// puts in SQL (introspection, samples), never for agents' SQL.
pub(crate) fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
