//! The embedded demo warehouse: one SQLite file per schema in a directory,
//! attached read-only to every connection, so `sales.customers` names the
//! same table here as in PostgreSQL.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rusqlite::functions::FunctionFlags;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};
use sha2::{Digest, Sha256};

use crate::demo::{self, Cell};
use crate::{ResultSet, WarehouseColumn, WarehouseError, quote_ident};

pub struct SqliteWarehouse {
    dir: PathBuf,
    schemas: Vec<String>,
    deadline: Duration,
    idle: Mutex<Vec<Connection>>,
}

/// Create the demo warehouse in `dir` unless it is there already.
pub fn create_demo(dir: &Path) -> Result<bool, WarehouseError> {
    if dir.join("sales.db").exists() {
        return Ok(false);
    }
    std::fs::create_dir_all(dir).map_err(|source| WarehouseError::Io { path: dir.to_path_buf(), source })?;
    for schema in demo::SCHEMAS {
        let path = dir.join(format!("{schema}.db"));
        let tmp = dir.join(format!("{schema}.db.tmp"));
        let _ = std::fs::remove_file(&tmp);
        let mut conn = Connection::open(&tmp)?;
        let tx = conn.transaction()?;
        for table in demo::tables().iter().filter(|t| t.schema == *schema) {
            let columns: Vec<String> = table.columns.iter().map(|(c, ty)| format!("{c} {ty}")).collect();
            tx.execute_batch(&format!("CREATE TABLE {} ({})", table.name, columns.join(", ")))?;
            let placeholders = vec!["?"; table.columns.len()].join(", ");
            let mut insert = tx.prepare(&format!("INSERT INTO {} VALUES ({placeholders})", table.name))?;
            for row in &table.rows {
                let values: Vec<rusqlite::types::Value> = row
                    .iter()
                    .map(|c| match c {
                        Cell::Int(i) => rusqlite::types::Value::Integer(*i),
                        Cell::Num(n) => rusqlite::types::Value::Real(*n),
                        Cell::Text(s) => rusqlite::types::Value::Text(s.clone()),
                    })
                    .collect();
                insert.execute(rusqlite::params_from_iter(values))?;
            }
        }
        for view in demo::views().iter().filter(|v| v.schema == *schema) {
            tx.execute_batch(&format!("CREATE VIEW {} AS {}", view.name, view.sqlite))?;
        }
        tx.commit()?;
        drop(conn);
        std::fs::rename(&tmp, &path).map_err(|source| WarehouseError::Io { path: path.clone(), source })?;
    }
    Ok(true)
}

/// `steward_hash(x)`: hex SHA-256 of the value as text, the `hash` mask.
fn register_functions(conn: &Connection) -> rusqlite::Result<()> {
    conn.create_scalar_function("steward_hash", 1, FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC, |ctx| {
        let text = match ctx.get_raw(0) {
            ValueRef::Null => return Ok(None),
            ValueRef::Integer(i) => i.to_string(),
            ValueRef::Real(r) => r.to_string(),
            ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
            ValueRef::Blob(b) => hex::encode(b),
        };
        Ok(Some(hex::encode(Sha256::digest(text.as_bytes()))))
    })
}

impl SqliteWarehouse {
    /// Open the warehouse in `dir`: every `<schema>.db` there is attached
    /// read-only as `<schema>`.
    pub fn open(dir: &Path, deadline: Duration) -> Result<SqliteWarehouse, WarehouseError> {
        let mut schemas = Vec::new();
        let entries = std::fs::read_dir(dir).map_err(|source| WarehouseError::Io { path: dir.to_path_buf(), source })?;
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(schema) = name.strip_suffix(".db")
                && schema.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            {
                schemas.push(schema.to_string());
            }
        }
        schemas.sort();
        if schemas.is_empty() {
            return Err(WarehouseError::Refused(format!("no <schema>.db files in {}", dir.display())));
        }
        let warehouse = SqliteWarehouse { dir: dir.to_path_buf(), schemas, deadline, idle: Mutex::new(Vec::new()) };
        let conn = warehouse.connect()?;
        warehouse.check_in(conn);
        Ok(warehouse)
    }

    fn connect(&self) -> Result<Connection, WarehouseError> {
        let conn = Connection::open_with_flags(":memory:", OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_URI | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
        for schema in &self.schemas {
            let path = self.dir.join(format!("{schema}.db"));
            let uri = format!("file:{}?mode=ro", path.display());
            conn.execute("ATTACH DATABASE ?1 AS ?2", rusqlite::params![uri, schema])?;
        }
        conn.execute_batch("PRAGMA query_only = ON")?;
        register_functions(&conn)?;
        Ok(conn)
    }

    fn check_out(&self) -> Result<Connection, WarehouseError> {
        let idle = self.idle.lock().map_err(|_| WarehouseError::Refused("connection pool poisoned".into()))?.pop();
        match idle {
            Some(c) => Ok(c),
            None => self.connect(),
        }
    }

    fn check_in(&self, conn: Connection) {
        if let Ok(mut idle) = self.idle.lock() {
            idle.push(conn);
        }
    }

    async fn with_connection<T: Send + 'static>(&self, f: impl FnOnce(&Connection) -> Result<T, WarehouseError> + Send + 'static) -> Result<T, WarehouseError> {
        let conn = self.check_out()?;
        let (conn, out) = tokio::task::spawn_blocking(move || {
            let out = f(&conn);
            (conn, out)
        })
        .await
        .map_err(|e| WarehouseError::Refused(format!("query task failed: {e}")))?;
        self.check_in(conn);
        out
    }

    pub async fn query(&self, sql: &str, within: Option<Duration>) -> Result<ResultSet, WarehouseError> {
        let sql = sql.to_string();
        let deadline = within.map_or(self.deadline, |w| w.min(self.deadline));
        self.with_connection(move |conn| {
            let started = Instant::now();
            conn.progress_handler(10_000, Some(move || started.elapsed() > deadline));
            let result = run(conn, &sql);
            conn.progress_handler(0, None::<fn() -> bool>);
            match result {
                Err(WarehouseError::Sqlite(rusqlite::Error::SqliteFailure(e, _))) if e.code == rusqlite::ErrorCode::OperationInterrupted => Err(WarehouseError::Timeout),
                other => other,
            }
        })
        .await
    }

    pub async fn columns(&self, schema: &str, table: &str) -> Result<Vec<WarehouseColumn>, WarehouseError> {
        if !self.schemas.iter().any(|s| s == schema) {
            return Ok(Vec::new());
        }
        let sql = format!("PRAGMA {}.table_info({})", quote_ident(schema), quote_ident(table));
        self.with_connection(move |conn| {
            let mut stmt = conn.prepare(&sql)?;
            let rows = stmt.query_map([], |r| Ok(WarehouseColumn { name: r.get(1)?, data_type: r.get::<_, String>(2)?.to_lowercase() }))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    pub async fn sample(&self, schema: &str, table: &str, column: &str, n: usize) -> Result<Vec<String>, WarehouseError> {
        let (s, t, c) = (quote_ident(schema), quote_ident(table), quote_ident(column));
        let sql = format!("SELECT CAST({c} AS TEXT) FROM {s}.{t} WHERE {c} IS NOT NULL LIMIT {n}");
        self.with_connection(move |conn| {
            let mut stmt = conn.prepare(&sql)?;
            let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }
}

fn run(conn: &Connection, sql: &str) -> Result<ResultSet, WarehouseError> {
    let mut stmt = conn.prepare(sql)?;
    if !stmt.readonly() {
        return Err(WarehouseError::Refused("only read-only statements run on the warehouse".into()));
    }
    let columns: Vec<String> = stmt.column_names().iter().map(|s| s.to_string()).collect();
    let width = columns.len();
    let mut rows = Vec::new();
    let mut cursor = stmt.query([])?;
    while let Some(row) = cursor.next()? {
        let mut out = Vec::with_capacity(width);
        for i in 0..width {
            out.push(match row.get_ref(i)? {
                ValueRef::Null => serde_json::Value::Null,
                ValueRef::Integer(v) => serde_json::Value::from(v),
                ValueRef::Real(v) => serde_json::Value::from(v),
                ValueRef::Text(v) => serde_json::Value::from(String::from_utf8_lossy(v).into_owned()),
                ValueRef::Blob(v) => serde_json::Value::from(hex::encode(v)),
            });
        }
        rows.push(out);
    }
    Ok(ResultSet { columns, rows })
}
