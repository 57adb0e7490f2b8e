//! The Steward server: wires policy, identity, the plugin runtime, the
//! gate (decisions, queries, the audit log) behind its HTTP doors, the admin
//! API and the watchers.

pub mod author;
pub mod client;
pub mod http;
pub mod mcp;
pub mod revocations;
pub mod state;
pub mod uploads;
pub mod watch;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use steward_audit::{AuditWriter, Checkpointing, Durability, Witness};
use steward_identity::{Revocations, SigningKeyFile};
use steward_runtime::{Registry, Runtime, RuntimeConfig};

use steward_budget::BudgetStore;
use steward_warehouse::Warehouse;

use crate::revocations::{RevocationStore, SqliteRevocations};
use crate::state::{Access, AppState};
use steward_gate::{DataPlane, Gate, PolicyGeneration};

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
    /// `false`: no shared admin token at all; admin calls need the token
    /// of a principal holding an admin role.
    pub bootstrap_admin_token: bool,
    pub durability: Durability,
    /// The audit key that signs checkpoints (created if missing; its
    /// public half is written to `data/audit.pub`).
    pub audit_key: PathBuf,
    /// Where checkpoints are written: apart from the log.
    pub witness: PathBuf,
    /// Sign a checkpoint this long after a record at most (`None`: never
    /// on time, only every `checkpoint_records` and at shutdown).
    pub checkpoint_every: Option<Duration>,
    pub checkpoint_records: u64,
    pub watch_every: Duration,
    /// A PostgreSQL URL, or a directory of SQLite files (`None`: the demo
    /// warehouse in `data/warehouse`, created on first start).
    pub warehouse: Option<String>,
    /// How long one warehouse query may run.
    pub query_deadline: Duration,
    /// Rows one query returns at most.
    pub max_rows: u64,
    /// Bytes of memory the idle instances of one plugin version may hold.
    pub plugin_idle_bytes: usize,
    /// Decisions a second whose shadow SOP calls are made (after the answer).
    pub shadow_per_second: u32,
    /// How clients reach this server (`http://host:port`): the MCP
    /// resource id and the `Host`/`Origin` values accepted (`None`:
    /// `http://` + the listen address).
    pub public_url: Option<String>,
}

/// Build the live state: policy, runtime, audit writer, and every plugin in
/// the plugins directory (refused ones are logged and skipped).
pub async fn build_state(config: &ServerConfig) -> anyhow::Result<Arc<AppState>> {
    let revocation_store: Arc<dyn RevocationStore> = Arc::new(
        SqliteRevocations::open(&config.data.join("revocations.db")).context("opening the revocation store")?,
    );
    let revocations = Revocations::new();
    revocations::refresh(&*revocation_store, &revocations).context("reading the revocations")?;
    let generation = PolicyGeneration::load(&config.policies, revocations.clone())
        .with_context(|| format!("loading policy from {}", config.policies.display()))?;
    let runtime = Runtime::new(RuntimeConfig {
        cache_dir: Some(config.cache_dir.clone()),
        quarantine_dir: Some(config.data.join("quarantine")),
        idle_bytes: config.plugin_idle_bytes,
        ..RuntimeConfig::default()
    })
        .context("starting the plugin runtime")?;
    for (what, path) in [("audit key", &config.audit_key), ("witness folder", &config.witness)] {
        if path.starts_with(&config.data) {
            tracing::warn!(
                path = %path.display(),
                "the {what} is inside the data folder, next to the audit log: whoever can rewrite the log can then also re-sign \
                 or delete checkpoints. Put it elsewhere (--audit-key, --witness) for the checkpoints to prove anything"
            );
        }
    }
    let checkpointing = Checkpointing {
        key: audit_key(&config.audit_key, &config.data)?,
        witness: Witness::new(&config.witness),
        every: config.checkpoint_every.unwrap_or(Duration::MAX),
        every_records: config.checkpoint_records.max(1),
    };
    let audit = AuditWriter::start(&config.data.join("audit.db"), config.durability, Some(checkpointing)).context("opening the audit log")?;
    let admin_token = match &config.admin_token {
        _ if !config.bootstrap_admin_token => None,
        Some(t) if !t.is_empty() => Some(t.clone()),
        _ => Some(admin_token_file(&config.data)?),
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
    let access_store: Arc<dyn steward_access::AccessStore> =
        Arc::new(steward_access::SqliteAccessStore::open(&config.data.join("access.db")).context("opening the access-request store")?);
    let data = DataPlane { warehouse, budgets, access: access_store, max_rows: config.max_rows };
    let uploads = crate::uploads::UploadStore::new(config.data.join("uploads"));
    let access = Access { admin_token, revocations: revocations.clone(), revocation_store: revocation_store.clone() };
    let gate = Gate::new(generation, Registry::new(runtime), audit, data).with_shadow_rate(config.shadow_per_second);
    let state = AppState::new(gate, access, config.policies.clone(), uploads);
    revocations::spawn_poller(revocation_store, revocations);
    state.gate.policy.load().check_sql(state.gate.dialect()).context("checking the policy's SQL")?;
    state.gate.refresh_grants().await.map_err(anyhow::Error::msg).context("reading the live grants")?;
    Ok(Arc::new(state))
}

/// The audit key at `path`, created (readable by its owner only) if
/// missing; its public half goes to `data/audit.pub` for `steward audit
/// verify`.
fn audit_key(path: &std::path::Path, data: &std::path::Path) -> anyhow::Result<ed25519_dalek::SigningKey> {
    let key = if path.exists() {
        SigningKeyFile::read(path).with_context(|| format!("reading the audit key {}", path.display()))?
    } else {
        let key = SigningKeyFile::generate();
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        write_private(path, &format!("{}\n", SigningKeyFile::encode(&key)))?;
        tracing::info!(path = %path.display(), "generated the audit key");
        key
    };
    let public = data.join("audit.pub");
    let text = format!("{}\n", SigningKeyFile::public_key_base64(&key));
    if std::fs::read_to_string(&public).ok().as_deref() != Some(text.as_str()) {
        std::fs::create_dir_all(data).with_context(|| format!("creating {}", data.display()))?;
        std::fs::write(&public, text).with_context(|| format!("writing {}", public.display()))?;
    }
    tracing::info!(key_id = %steward_audit::checkpoint::key_id(&key.verifying_key()), public_key = %public.display(), "audit checkpoints are signed");
    Ok(key)
}

/// Write a file only its owner can read.
fn write_private(path: &std::path::Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).with_context(|| format!("creating {}", path.display()))?;
    file.write_all(text.as_bytes()).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
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
    let public_url = config.public_url.clone().unwrap_or_else(|| format!("http://{}", config.listen)).trim_end_matches('/').to_string();
    let mcp = mcp::McpConfig { public_url };
    mcp.check().map_err(anyhow::Error::msg)?;
    let state = build_state(&config).await?;
    let mut watcher = watch::PluginWatcher::new(config.plugins.clone());
    let refused = watcher.scan(&state).await;
    let restored = state.uploads.restore(&state).await;
    let live = state.gate.registry.current().slots().count();
    tracing::info!(live, refused = refused.len(), restored_uploads = restored, dir = %config.plugins.display(), "plugins loaded");
    watch::spawn(state.clone(), watcher, config.watch_every);
    spawn_access_sweeper(state.clone());
    warm_schema(&state).await;
    let listener = tokio::net::TcpListener::bind(config.listen).await.with_context(|| format!("binding {}", config.listen))?;
    tracing::info!(addr = %listener.local_addr()?, "steward listening");
    let stop = Arc::new(tokio::sync::Notify::new());
    watch_signals(stop.clone())?;
    axum::serve(listener, http::router(state.clone(), mcp)).with_graceful_shutdown(async move { stop.notified().await }).await.context("serving HTTP")?;
    match state.gate.audit.checkpoint().await {
        Ok(Some(cp)) => tracing::info!(seq = cp.seq, "audit checkpoint signed at shutdown"),
        Ok(None) => {}
        Err(e) => tracing::error!(error = %e, "no audit checkpoint at shutdown"),
    }
    Ok(())
}

/// How often grants past their end and undecided requests past their time
/// are ended (and the live grants read again if another host changed them).
pub const ACCESS_SWEEP: Duration = Duration::from_secs(1);

fn spawn_access_sweeper(state: Arc<AppState>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(ACCESS_SWEEP);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match state.gate.sweep_access().await {
                Ok(0) => {}
                Ok(ended) => tracing::info!(ended, "access requests and grants ended"),
                Err(e) => tracing::warn!(error = %e, "access sweep failed; retrying"),
            }
        }
    });
}

/// Classify the warehouse's columns before the first query, for at most
/// [`WARM_UP`]: queries never wait for a classifier, so until then the
/// columns it has to look at are withheld.
async fn warm_schema(state: &Arc<AppState>) {
    const WARM_UP: Duration = Duration::from_secs(10);
    let generation = state.gate.policy.load_full();
    let plugins = state.gate.registry.current();
    let started = std::time::Instant::now();
    state.gate.schemas.get(&state.gate.warehouse, &generation, &plugins).await;
    while !state.gate.schemas.complete() && started.elapsed() < WARM_UP {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    if !state.gate.schemas.complete() {
        tracing::warn!(waited_ms = WARM_UP.as_millis() as u64, "the classifiers are still working; their columns stay withheld until they finish");
    }
}

/// How long requests in flight may take to finish after SIGTERM or
/// ctrl-c before the process exits anyway.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Wait for SIGTERM or ctrl-c on a thread of its own, so a signal is seen
/// even when every worker is busy. The first one starts a graceful
/// shutdown (`stop` is notified); if the server has not stopped
/// [`SHUTDOWN_GRACE`] later, the process exits.
fn watch_signals(stop: Arc<tokio::sync::Notify>) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().context("starting the signal thread")?;
    std::thread::Builder::new()
        .name("steward-signals".into())
        .spawn(move || {
            runtime.block_on(async move {
                #[cfg(unix)]
                let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
                let next = async {
                    #[cfg(unix)]
                    if let Some(term) = term.as_mut() {
                        tokio::select! {
                            _ = tokio::signal::ctrl_c() => {}
                            _ = term.recv() => {}
                        }
                        return;
                    }
                    let _ = tokio::signal::ctrl_c().await;
                };
                let mut next = std::pin::pin!(next);
                next.as_mut().await;
                tracing::info!(grace_ms = SHUTDOWN_GRACE.as_millis() as u64, "shutting down");
                stop.notify_one();
                let _ = tokio::time::timeout(SHUTDOWN_GRACE, std::future::pending::<()>()).await;
                tracing::warn!("requests still running after the grace period; exiting");
                std::process::exit(1);
            })
        })
        .context("starting the signal thread")?;
    Ok(())
}
