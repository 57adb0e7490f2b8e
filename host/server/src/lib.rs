//! The Steward server: wires policy, identity, the plugin runtime, the
//! decision pipeline and the audit log behind an HTTP API.

pub mod author;
pub mod decide;
pub mod http;
pub mod query;
pub mod schema;
pub mod state;
pub mod watch;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use steward_audit::{AuditWriter, Durability};
use steward_runtime::{Registry, Runtime, RuntimeConfig};

use steward_budget::BudgetStore;
use steward_warehouse::Warehouse;

use crate::state::{AppState, DataPlane, PolicyGeneration};

#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub policies: PathBuf,
    pub plugins: PathBuf,
    /// Audit log, generated admin token.
    pub data: PathBuf,
    /// Compiled plugins, keyed by digest and engine compatibility.
    pub cache_dir: PathBuf,
    /// `None`: read `data/admin.token`, or create it.
    pub admin_token: Option<String>,
    pub durability: Durability,
    pub watch_every: Duration,
    /// A PostgreSQL URL, or a directory of SQLite files (`None`: the demo
    /// warehouse in `data/warehouse`, created on first start).
    pub warehouse: Option<String>,
    /// How long one warehouse query may run.
    pub query_deadline: Duration,
    /// Rows one query returns at most.
    pub max_rows: u64,
}

/// Build the live state: policy, runtime, audit writer, and every plugin in
/// the plugins directory (refused ones are logged and skipped).
pub async fn build_state(config: &ServerConfig) -> anyhow::Result<Arc<AppState>> {
    let generation = PolicyGeneration::load(&config.policies).with_context(|| format!("loading policy from {}", config.policies.display()))?;
    let runtime = Runtime::new(RuntimeConfig { cache_dir: Some(config.cache_dir.clone()), ..RuntimeConfig::default() })
        .context("starting the plugin runtime")?;
    let audit = AuditWriter::start(&config.data.join("audit.db"), config.durability).context("opening the audit log")?;
    let admin_token = match &config.admin_token {
        Some(t) if !t.is_empty() => t.clone(),
        _ => admin_token_file(&config.data)?,
    };
    let warehouse_spec = match &config.warehouse {
        Some(spec) => spec.clone(),
        None => {
            let dir = config.data.join("warehouse");
            if steward_warehouse::sqlite::create_demo(&dir).context("creating the demo warehouse")? {
                tracing::info!(dir = %dir.display(), "created the demo warehouse");
            }
            dir.display().to_string()
        }
    };
    let warehouse = Warehouse::open(&warehouse_spec, config.query_deadline).await.with_context(|| format!("opening the warehouse {warehouse_spec}"))?;
    let budgets = BudgetStore::open(&config.data.join("budgets.db")).context("opening the budget store")?;
    let data = DataPlane { warehouse, budgets, max_rows: config.max_rows };
    let state = AppState::new(generation, Registry::new(runtime), audit, admin_token, config.policies.clone(), data);
    state.policy.load().check_sql(state.dialect()).context("checking the policy's SQL")?;
    Ok(Arc::new(state))
}

fn admin_token_file(data: &std::path::Path) -> anyhow::Result<String> {
    let path = data.join("admin.token");
    if let Ok(t) = std::fs::read_to_string(&path)
        && !t.trim().is_empty()
    {
        return Ok(t.trim().to_string());
    }
    std::fs::create_dir_all(data).with_context(|| format!("creating {}", data.display()))?;
    let token = hex::encode(rand::random::<[u8; 24]>());
    std::fs::write(&path, format!("{token}\n")).with_context(|| format!("writing {}", path.display()))?;
    tracing::info!(path = %path.display(), "generated an admin token");
    Ok(token)
}

/// Serve until ctrl-c / SIGTERM.
pub async fn serve(config: ServerConfig) -> anyhow::Result<()> {
    let state = build_state(&config).await?;
    let mut watcher = watch::PluginWatcher::new(config.plugins.clone());
    let refused = watcher.scan(&state).await;
    let live = state.registry.current().slots().count();
    tracing::info!(live, refused = refused.len(), dir = %config.plugins.display(), "plugins loaded");
    watch::spawn(state.clone(), watcher, config.watch_every);
    let listener = tokio::net::TcpListener::bind(config.listen).await.with_context(|| format!("binding {}", config.listen))?;
    tracing::info!(addr = %listener.local_addr()?, "steward listening");
    axum::serve(listener, http::router(state)).with_graceful_shutdown(shutdown_signal()).await.context("serving HTTP")?;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => return ctrl_c.await.unwrap_or(()),
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
