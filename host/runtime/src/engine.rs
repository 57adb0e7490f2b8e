//! The one wasmtime `Engine` of the process: pooling allocator (with a
//! fallback), epoch interruption driven by a ticker thread, the linkers that
//! define what plugins may import, the compile cache, and the sweeper that
//! drops instances left idle too long.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use wasmtime::component::{Component, HasData, HasSelf, Linker, ResourceTable};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use crate::bindings;
use crate::manifest::MAX_MEMORY_MIB;
use crate::plugin::Instance;
use crate::pool::Pool;
use crate::state::PluginState;

/// The epoch advances this often; deadlines are checked at each tick.
pub const EPOCH_TICK: Duration = Duration::from_millis(1);
/// How often idle instances are checked for expiry.
const SWEEP_EVERY: Duration = Duration::from_millis(500);

type Pools = Mutex<Vec<Weak<Mutex<Pool<Instance>>>>>;

#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// Where compiled components are cached (`None`: no cache).
    pub cache_dir: Option<PathBuf>,
    /// Concurrent plugin instances the pooling allocator reserves.
    pub max_instances: u32,
    /// Where quarantined versions are remembered across restarts (`None`:
    /// only in memory).
    pub quarantine_dir: Option<PathBuf>,
    /// Bytes of linear memory the idle instances of one plugin version may
    /// hold (default [`crate::MAX_IDLE_BYTES`]). More keeps more callers'
    /// instances warm (a Python or JavaScript instance costs 1-2.5 ms to
    /// start, and holds 9-14 MiB, of which 2-5 MiB resident).
    pub idle_bytes: usize,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig { cache_dir: None, max_instances: 512, quarantine_dir: None, idle_bytes: crate::MAX_IDLE_BYTES }
    }
}

pub struct Runtime {
    pub(crate) engine: Engine,
    /// Imports every plugin gets: steward log, catalog and context (0.1.0
    /// and 0.2.0 names), and the parts of
    /// wasi:cli / wasi:io a Rust or Python guest's standard library links
    /// (with an empty environment and null stdio).
    pub(crate) linker: Linker<PluginState>,
    /// The same plus wasi:filesystem, for plugins whose manifest grants a
    /// read-only directory.
    pub(crate) linker_with_fs: Linker<PluginState>,
    cache_dir: Option<PathBuf>,
    quarantine_dir: Option<PathBuf>,
    pub(crate) idle_bytes: usize,
    /// Idle instances across versions: at most half the allocator's slots,
    /// so calls always find one free.
    pub(crate) idle_total: crate::pool::IdleTotal,
    compat_hash: String,
    pub pooling: bool,
    stop_ticker: Arc<AtomicBool>,
    /// The idle pools of every loaded version, for the sweeper.
    pools: Arc<Pools>,
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.stop_ticker.store(true, Ordering::Relaxed);
    }
}

struct HasTable;
impl HasData for HasTable {
    type Data<'a> = &'a mut ResourceTable;
}

impl Runtime {
    pub fn new(config: RuntimeConfig) -> anyhow::Result<Arc<Runtime>> {
        let (engine, pooling) = match Engine::new(&engine_config(Some(config.max_instances))) {
            Ok(engine) => (engine, true),
            Err(e) => {
                tracing::warn!(error = %e, "pooling allocator unavailable; falling back to on-demand instances");
                (Engine::new(&engine_config(None)).map_err(anyhow::Error::from)?, false)
            }
        };
        let linker = base_linker(&engine).map_err(anyhow::Error::from)?;
        let mut linker_with_fs = base_linker(&engine).map_err(anyhow::Error::from)?;
        {
            use wasmtime_wasi::filesystem::{WasiFilesystem, WasiFilesystemView};
            use wasmtime_wasi::p2::bindings::filesystem;
            filesystem::types::add_to_linker::<PluginState, WasiFilesystem>(&mut linker_with_fs, PluginState::filesystem)
                .map_err(anyhow::Error::from)?;
            filesystem::preopens::add_to_linker::<PluginState, WasiFilesystem>(&mut linker_with_fs, PluginState::filesystem)
                .map_err(anyhow::Error::from)?;
        }
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        let compat_hash = format!("{:016x}", hasher.finish());

        let stop_ticker = Arc::new(AtomicBool::new(false));
        {
            let engine = engine.clone();
            let stop = stop_ticker.clone();
            std::thread::Builder::new()
                .name("steward-epoch".into())
                .spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        std::thread::sleep(EPOCH_TICK);
                        engine.increment_epoch();
                    }
                })?;
        }
        let pools: Arc<Pools> = Arc::default();
        {
            let pools = pools.clone();
            let stop = stop_ticker.clone();
            std::thread::Builder::new().name("steward-sweeper".into()).spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(SWEEP_EVERY);
                    sweep(&pools);
                }
            })?;
        }
        Ok(Arc::new(Runtime {
            engine,
            linker,
            linker_with_fs,
            cache_dir: config.cache_dir,
            quarantine_dir: config.quarantine_dir,
            idle_bytes: config.idle_bytes,
            idle_total: crate::pool::IdleTotal::new(config.max_instances as usize / 2),
            compat_hash,
            pooling,
            stop_ticker,
            pools,
        }))
    }

    /// Have the sweeper expire `pool`'s idle instances (until it is dropped).
    pub(crate) fn expire_idle(&self, pool: &Arc<Mutex<Pool<Instance>>>) {
        if let Ok(mut pools) = self.pools.lock() {
            pools.push(Arc::downgrade(pool));
        }
    }

    /// Compile `bytes` (whose sha256 is `digest`), through the cache when
    /// there is one. Returns the component and whether it came from cache.
    pub fn compile(&self, bytes: &[u8], digest: &str) -> anyhow::Result<(Component, bool)> {
        let Some(dir) = &self.cache_dir else {
            return Ok((Component::new(&self.engine, bytes).map_err(anyhow::Error::from)?, false));
        };
        let path = dir.join(format!("{digest}-{}.cwasm", self.compat_hash));
        if path.exists() {
            // SAFETY: files in the cache directory are written only by this
            // host (below), from components it compiled itself, and are
            // keyed by the engine's compatibility hash.
            match unsafe { Component::deserialize_file(&self.engine, &path) } {
                Ok(component) => return Ok((component, true)),
                Err(e) => tracing::warn!(path = %path.display(), error = %e, "dropping unusable cache entry"),
            }
        }
        let compiled = self.engine.precompile_component(bytes).map_err(anyhow::Error::from)?;
        if let Err(e) = write_atomically(dir, &path, &compiled) {
            tracing::warn!(path = %path.display(), error = %e, "could not write compile cache");
        }
        // SAFETY: `compiled` was produced by this engine just above.
        let component = unsafe { Component::deserialize(&self.engine, &compiled) }.map_err(anyhow::Error::from)?;
        Ok((component, false))
    }

    /// Remember that version `digest` was quarantined, and why, so it is
    /// refused at its next load (after a restart too).
    pub(crate) fn remember_quarantine(&self, digest: &str, label: &str, why: &str) {
        let Some(dir) = &self.quarantine_dir else { return };
        let text = format!("{label}: {why}\n");
        if let Err(e) = write_atomically(dir, &dir.join(digest), text.as_bytes()) {
            tracing::error!(plugin = %label, error = %e, "could not record the quarantine; a restart would load the version again");
        }
    }

    /// Why version `digest` was quarantined, if it was (and where that is
    /// recorded).
    pub fn quarantined(&self, digest: &str) -> Option<(String, PathBuf)> {
        let path = self.quarantine_dir.as_ref()?.join(digest);
        let why = std::fs::read_to_string(&path).ok()?;
        Some((why.trim().to_string(), path))
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }
}

/// Drop instances idle past their time, and forget pools of versions that
/// are gone. Instances are dropped outside the pools' locks.
fn sweep(pools: &Pools) {
    let live: Vec<Arc<Mutex<Pool<Instance>>>> = match pools.lock() {
        Ok(mut pools) => {
            pools.retain(|p| p.strong_count() > 0);
            pools.iter().filter_map(Weak::upgrade).collect()
        }
        Err(_) => return,
    };
    let now = Instant::now();
    for pool in live {
        let expired = pool.lock().map(|mut p| p.expire(now)).unwrap_or_default();
        drop(expired);
    }
}

fn write_atomically(dir: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(tmp, path)
}

fn engine_config(pool_instances: Option<u32>) -> Config {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    config.cranelift_opt_level(wasmtime::OptLevel::Speed);
    if let Some(instances) = pool_instances {
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(instances);
        // A counter, not preallocated: a Python component (componentize-py)
        // is 38 core instances, a Rust one 3.
        pool.total_core_instances(instances * 64);
        pool.total_memories(instances * 2);
        pool.total_tables(instances * 2);
        pool.total_stacks(instances);
        pool.max_memory_size(MAX_MEMORY_MIB as usize * 1024 * 1024);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    }
    config
}

fn base_linker(engine: &Engine) -> wasmtime::Result<Linker<PluginState>> {
    use wasmtime_wasi::cli::{WasiCli, WasiCliView};
    use wasmtime_wasi::p2::bindings::cli;
    use wasmtime_wasi::WasiView;

    let mut l = Linker::new(engine);
    bindings::log::add_to_linker::<PluginState, HasSelf<PluginState>>(&mut l, |s| s)?;
    bindings::catalog::add_to_linker::<PluginState, HasSelf<PluginState>>(&mut l, |s| s)?;
    bindings::context::add_to_linker::<PluginState, HasSelf<PluginState>>(&mut l, |s| s)?;
    bindings::wit::add_to_linker::<PluginState, HasSelf<PluginState>>(&mut l, |s| s)?;
    // Plugins built against steward:guardrail@0.1.0 import these names.
    bindings::v0_1::log::add_to_linker::<PluginState, HasSelf<PluginState>>(&mut l, |s| s)?;
    bindings::v0_1::catalog::add_to_linker::<PluginState, HasSelf<PluginState>>(&mut l, |s| s)?;
    l.instance("steward:guardrail/types@0.1.0")?;
    // Tools built against 0.3.0: the same imports under its names, and the
    // call-backs (refused for other worlds at load).
    bindings::v0_3::log::add_to_linker::<PluginState, HasSelf<PluginState>>(&mut l, |s| s)?;
    bindings::v0_3::catalog::add_to_linker::<PluginState, HasSelf<PluginState>>(&mut l, |s| s)?;
    bindings::v0_3::context::add_to_linker::<PluginState, HasSelf<PluginState>>(&mut l, |s| s)?;
    bindings::v0_3::gate::add_to_linker::<PluginState, HasSelf<PluginState>>(&mut l, |s| s)?;
    l.instance("steward:guardrail/types@0.3.0")?;
    // 0.4.0: the same again, and the access interface (types only).
    bindings::v0_4::log::add_to_linker::<PluginState, HasSelf<PluginState>>(&mut l, |s| s)?;
    bindings::v0_4::catalog::add_to_linker::<PluginState, HasSelf<PluginState>>(&mut l, |s| s)?;
    bindings::v0_4::context::add_to_linker::<PluginState, HasSelf<PluginState>>(&mut l, |s| s)?;
    bindings::v0_4_tool::gate::add_to_linker::<PluginState, HasSelf<PluginState>>(&mut l, |s| s)?;
    l.instance("steward:guardrail/types@0.4.0")?;
    l.instance("steward:guardrail/access@0.4.0")?;

    use wasmtime_wasi_io::bindings::wasi::io;
    io::error::add_to_linker::<PluginState, HasTable>(&mut l, |s| s.ctx().table)?;
    io::poll::add_to_linker::<PluginState, HasTable>(&mut l, |s| s.ctx().table)?;
    io::streams::add_to_linker::<PluginState, HasTable>(&mut l, |s| s.ctx().table)?;

    cli::exit::add_to_linker::<PluginState, WasiCli>(&mut l, PluginState::cli)?;
    cli::environment::add_to_linker::<PluginState, WasiCli>(&mut l, PluginState::cli)?;
    cli::stdin::add_to_linker::<PluginState, WasiCli>(&mut l, PluginState::cli)?;
    cli::stdout::add_to_linker::<PluginState, WasiCli>(&mut l, PluginState::cli)?;
    cli::stderr::add_to_linker::<PluginState, WasiCli>(&mut l, PluginState::cli)?;
    cli::terminal_input::add_to_linker::<PluginState, WasiCli>(&mut l, PluginState::cli)?;
    cli::terminal_output::add_to_linker::<PluginState, WasiCli>(&mut l, PluginState::cli)?;
    cli::terminal_stdin::add_to_linker::<PluginState, WasiCli>(&mut l, PluginState::cli)?;
    cli::terminal_stdout::add_to_linker::<PluginState, WasiCli>(&mut l, PluginState::cli)?;
    cli::terminal_stderr::add_to_linker::<PluginState, WasiCli>(&mut l, PluginState::cli)?;
    Ok(l)
}

/// sha256 of a component, lowercase hex: a plugin version's identity.
pub fn digest(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}
