//! PostgreSQL: every session is read-only (`default_transaction_read_only`)
//! with a statement timeout; values come back as text and are typed from
//! the prepared statement's column types.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio_postgres::types::Type;
use tokio_postgres::{Client, Config, NoTls, SimpleQueryMessage};

use crate::demo;
use crate::{ResultSet, WarehouseColumn, WarehouseError, quote_ident};

const CLIENTS: usize = 4;

pub struct PgWarehouse {
    clients: Vec<Client>,
    next: AtomicUsize,
}

async fn connect_one(config: &Config) -> Result<Client, WarehouseError> {
    let (client, connection) = config.connect(NoTls).await?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::warn!(error = %e, "warehouse connection closed");
        }
    });
    Ok(client)
}

impl PgWarehouse {
    pub async fn connect(url: &str, deadline: Duration) -> Result<PgWarehouse, WarehouseError> {
        let mut config: Config = url.parse()?;
        config.options(format!("-c default_transaction_read_only=on -c statement_timeout={}", deadline.as_millis().max(1)));
        config.application_name("steward");
        let mut clients = Vec::with_capacity(CLIENTS);
        for _ in 0..CLIENTS {
            clients.push(connect_one(&config).await?);
        }
        Ok(PgWarehouse { clients, next: AtomicUsize::new(0) })
    }

    fn client(&self) -> &Client {
        &self.clients[self.next.fetch_add(1, Ordering::Relaxed) % self.clients.len()]
    }

    pub async fn query(&self, sql: &str) -> Result<ResultSet, WarehouseError> {
        let client = self.client();
        let statement = client.prepare(sql).await.map_err(map_error)?;
        let types: Vec<Type> = statement.columns().iter().map(|c| c.type_().clone()).collect();
        let columns: Vec<String> = statement.columns().iter().map(|c| c.name().to_string()).collect();
        let mut rows = Vec::new();
        for message in client.simple_query(sql).await.map_err(map_error)? {
            if let SimpleQueryMessage::Row(row) = message {
                let mut out = Vec::with_capacity(types.len());
                for (i, ty) in types.iter().enumerate() {
                    out.push(typed(row.try_get(i)?, ty));
                }
                rows.push(out);
            }
        }
        Ok(ResultSet { columns, rows })
    }

    pub async fn columns(&self, schema: &str, table: &str) -> Result<Vec<WarehouseColumn>, WarehouseError> {
        let rows = self
            .client()
            .query(
                "SELECT column_name::text, data_type::text FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position",
                &[&schema, &table],
            )
            .await?;
        Ok(rows.iter().map(|r| WarehouseColumn { name: r.get(0), data_type: r.get(1) }).collect())
    }

    pub async fn sample(&self, schema: &str, table: &str, column: &str, n: usize) -> Result<Vec<String>, WarehouseError> {
        let c = quote_ident(column);
        let sql = format!("SELECT CAST({c} AS TEXT) FROM {}.{} WHERE {c} IS NOT NULL LIMIT {n}", quote_ident(schema), quote_ident(table));
        let rows = self.client().query(&sql, &[]).await?;
        Ok(rows.iter().map(|r| r.get::<_, String>(0)).collect())
    }
}

fn map_error(e: tokio_postgres::Error) -> WarehouseError {
    if e.code() == Some(&tokio_postgres::error::SqlState::QUERY_CANCELED) { WarehouseError::Timeout } else { WarehouseError::Postgres(e) }
}

fn typed(text: Option<&str>, ty: &Type) -> serde_json::Value {
    let Some(text) = text else { return serde_json::Value::Null };
    let number = [Type::INT2, Type::INT4, Type::INT8, Type::FLOAT4, Type::FLOAT8, Type::NUMERIC, Type::OID].contains(ty);
    if number {
        if let Ok(i) = text.parse::<i64>() {
            return serde_json::Value::from(i);
        }
        if let Ok(f) = text.parse::<f64>()
            && f.is_finite()
        {
            return serde_json::Value::from(f);
        }
    }
    if *ty == Type::BOOL {
        return serde_json::Value::from(text == "t");
    }
    serde_json::Value::from(text)
}

/// Load the demo warehouse into the database at `url` (read-write), one
/// PostgreSQL schema per demo schema. Existing demo schemas are replaced.
pub async fn load_demo(url: &str) -> Result<(), WarehouseError> {
    let config: Config = url.parse()?;
    let mut client = connect_one(&config).await?;
    let tx = client.transaction().await?;
    for schema in demo::SCHEMAS {
        tx.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}")).await?;
    }
    for table in demo::tables() {
        let columns: Vec<String> = table.columns.iter().map(|(c, ty)| format!("{c} {ty}")).collect();
        tx.batch_execute(&format!("CREATE TABLE {}.{} ({})", table.schema, table.name, columns.join(", "))).await?;
        for chunk in table.rows.chunks(500) {
            let values: Vec<String> = chunk.iter().map(|row| format!("({})", row.iter().map(demo::literal).collect::<Vec<_>>().join(", "))).collect();
            tx.batch_execute(&format!("INSERT INTO {}.{} VALUES {}", table.schema, table.name, values.join(", "))).await?;
        }
    }
    for view in demo::views() {
        tx.batch_execute(&format!("CREATE VIEW {}.{} AS {}", view.schema, view.name, view.postgres)).await?;
    }
    tx.commit().await?;
    Ok(())
}
