//! One loaded plugin version: its manifest, digest, `InstancePre`, and a
//! bounded pool of instances to call.
//!
//! Instance strategy: a fresh instance costs ~50-100 µs, a call on a warm
//! one ~1-2 µs, so by default instances are pooled and reused up to
//! `limits.max_reuse` calls. A call that traps, times out or hits its memory
//! limit discards its instance (it is never returned to the pool). State a
//! plugin keeps in its own memory can carry over between calls on a reused
//! instance; `limits.isolation = "per-call"` gives every call a fresh one.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use steward_model as model;
use steward_policy::{PathGlob, Policy};
use wasmtime::component::{Component, InstancePre};
use wasmtime::{Store, StoreLimitsBuilder, Trap, UpdateDeadline};
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

use crate::bindings::classifier::{Classifier, ClassifierPre};
use crate::bindings::{self, scorer::Scorer, scorer::ScorerPre, sop::Sop, sop::SopPre, tool::Tool, tool::ToolPre};
use crate::engine::Runtime;
use crate::manifest::{Isolation, Manifest, Mode, World};
use crate::state::{LOG_LINES_PER_CALL, LogRate, PluginState};
use crate::{LoadError, PluginError, PluginFailure, answer};

/// Idle instances kept per plugin version.
const MAX_IDLE: usize = 64;

enum Pre {
    Sop(SopPre<PluginState>),
    Scorer(ScorerPre<PluginState>),
    Tool(ToolPre<PluginState>),
    Classifier(ClassifierPre<PluginState>),
}

enum Exports {
    Sop(Sop),
    Scorer(Scorer),
    Tool(Tool),
    Classifier(Classifier),
}

struct Instance {
    store: Store<PluginState>,
    exports: Exports,
    uses: u32,
}

/// What a scorer said about an asset.
#[derive(Debug, Clone, PartialEq)]
pub struct Score {
    pub significance: f32,
    pub rationale: String,
}

/// A tool's self-description.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ToolDescription {
    pub name: String,
    pub summary: String,
    pub input_schema: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ToolError {
    InvalidArguments(String),
    AccessDenied(String),
    Other(String),
}

pub struct LoadedPlugin {
    pub manifest: Manifest,
    pub digest: String,
    pub scope: Vec<PathGlob>,
    /// Whether the compiled code came from the compile cache.
    pub from_cache: bool,
    /// Time to compile (or load from cache) and pre-instantiate.
    pub load_time: Duration,
    /// The `steward:guardrail` version the component imports (`None`: it
    /// imports nothing of the package).
    pub package_version: Option<String>,
    /// Its signature, kept to check again when the policy changes.
    pub signature: Option<crate::signature::PluginSignature>,
    /// The policy signer whose signature verified.
    pub signed_by: Option<String>,
    label: String,
    runtime: Arc<Runtime>,
    pre: Pre,
    read_dir: Option<PathBuf>,
    idle: Mutex<Vec<Instance>>,
    /// Log lines of this version across all its instances, per second.
    log_rate: Arc<LogRate>,
    calls: AtomicU64,
    failures: AtomicU64,
}

impl std::fmt::Debug for LoadedPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedPlugin").field("label", &self.label).field("digest", &self.digest).finish()
    }
}

impl LoadedPlugin {
    /// Compile and link a component (`digest`: its sha256, hex). Fails when
    /// it does not implement the manifest's world or imports anything it
    /// was not granted.
    pub fn prepare(
        runtime: &Arc<Runtime>,
        manifest: Manifest,
        bytes: &[u8],
        digest: String,
        read_dir: Option<PathBuf>,
    ) -> Result<LoadedPlugin, LoadError> {
        let started = Instant::now();
        let (component, from_cache) =
            runtime.compile(bytes, &digest).map_err(|e| LoadError::Compile(format!("{e:#}")))?;
        let linker = if manifest.capabilities.read_dir.is_some() { &runtime.linker_with_fs } else { &runtime.linker };
        let instance_pre: InstancePre<PluginState> =
            linker.instantiate_pre(&component).map_err(|e| {
                LoadError::Link(import_error(&component, runtime, manifest.capabilities.read_dir.is_some(), e))
            })?;
        let world_error = |e: wasmtime::Error| {
            LoadError::WrongWorld(format!("does not implement the `{}` world: {e}", manifest.world.as_str()))
        };
        let pre = match manifest.world {
            World::Sop => Pre::Sop(SopPre::new(instance_pre).map_err(world_error)?),
            World::Scorer => Pre::Scorer(ScorerPre::new(instance_pre).map_err(world_error)?),
            World::Tool => Pre::Tool(ToolPre::new(instance_pre).map_err(world_error)?),
            World::Classifier => Pre::Classifier(ClassifierPre::new(instance_pre).map_err(world_error)?),
        };
        let read_dir = match (&manifest.capabilities.read_dir, read_dir) {
            (Some(_), Some(dir)) if dir.is_dir() => Some(dir),
            (Some(granted), _) => {
                return Err(LoadError::Manifest(format!("capabilities.read_dir {granted:?} is not a folder")));
            }
            (None, _) => None,
        };
        Ok(LoadedPlugin {
            scope: manifest.scope_globs(),
            label: format!("{}@{}", manifest.name, manifest.version),
            manifest,
            digest,
            from_cache,
            load_time: started.elapsed(),
            package_version: None,
            signature: None,
            signed_by: None,
            runtime: runtime.clone(),
            pre,
            read_dir,
            idle: Mutex::new(Vec::new()),
            log_rate: Arc::default(),
            calls: AtomicU64::new(0),
            failures: AtomicU64::new(0),
        })
    }

    /// `name@version`
    pub fn label(&self) -> &str {
        &self.label
    }

    pub fn name(&self) -> &str {
        &self.manifest.name
    }

    pub fn world(&self) -> World {
        self.manifest.world
    }

    pub fn is_shadow(&self) -> bool {
        self.manifest.mode == Mode::Shadow
    }

    pub fn governs(&self, asset_path: &str) -> bool {
        self.scope.iter().any(|g| g.matches(asset_path))
    }

    pub fn voter(&self) -> model::Voter {
        model::Voter::Plugin {
            name: self.manifest.name.clone(),
            version: self.manifest.version.clone(),
            digest: self.digest.clone(),
            shadow: self.is_shadow(),
        }
    }

    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    pub fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }

    fn fail(&self, failure: PluginFailure) -> PluginError {
        self.failures.fetch_add(1, Ordering::Relaxed);
        PluginError { plugin: self.label.clone(), digest: self.digest.clone(), failure }
    }

    fn new_store(&self) -> Result<Store<PluginState>, PluginFailure> {
        let mut wasi = WasiCtxBuilder::new();
        if let Some(dir) = &self.read_dir {
            wasi.preopened_dir(dir, "/data", FsPerms::ReadOnly)
                .map_err(|e| PluginFailure::Instantiate(format!("preopen {}: {e}", dir.display())))?;
        }
        let limits = StoreLimitsBuilder::new()
            .memory_size(self.manifest.limits.memory_mib as usize * 1024 * 1024)
            .instances(64)
            .tables(64)
            .memories(16)
            .trap_on_grow_failure(true)
            .build();
        let state = PluginState {
            wasi: wasi.build(),
            table: Default::default(),
            limits,
            policy: None,
            context: None,
            label: self.label.clone(),
            log_budget: LOG_LINES_PER_CALL,
            log_rate: self.log_rate.clone(),
            deadline: Instant::now(),
        };
        let mut store = Store::new(self.runtime.engine(), state);
        store.limiter(|s| &mut s.limits);
        // Yield to tokio at every epoch tick; end the call once its deadline
        // has passed.
        store.epoch_deadline_callback(|ctx| {
            if Instant::now() >= ctx.data().deadline {
                Ok(UpdateDeadline::Interrupt)
            } else {
                Ok(UpdateDeadline::Yield(1))
            }
        });
        Ok(store)
    }

    /// Set up a store for one call. `policy` is the snapshot the catalog
    /// import reads (`None` for a classifier, which has no catalog);
    /// `context` what the context import returns.
    fn arm(&self, store: &mut Store<PluginState>, policy: Option<&Arc<Policy>>, context: Option<Arc<model::RequestContext>>) {
        let state = store.data_mut();
        state.deadline = Instant::now() + Duration::from_millis(self.manifest.limits.timeout_ms as u64);
        state.policy = policy.cloned();
        state.context = context;
        state.log_budget = LOG_LINES_PER_CALL;
        store.set_epoch_deadline(1);
    }

    async fn checkout(&self, policy: Option<&Arc<Policy>>, context: Option<Arc<model::RequestContext>>) -> Result<Instance, PluginError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let reused = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        if let Some(mut instance) = reused {
            self.arm(&mut instance.store, policy, context);
            return Ok(instance);
        }
        let mut store = self.new_store().map_err(|f| self.fail(f))?;
        self.arm(&mut store, policy, context);
        let exports = match &self.pre {
            Pre::Sop(pre) => pre.instantiate_async(&mut store).await.map(Exports::Sop),
            Pre::Scorer(pre) => pre.instantiate_async(&mut store).await.map(Exports::Scorer),
            Pre::Tool(pre) => pre.instantiate_async(&mut store).await.map(Exports::Tool),
            Pre::Classifier(pre) => pre.instantiate_async(&mut store).await.map(Exports::Classifier),
        };
        match exports {
            Ok(exports) => Ok(Instance { store, exports, uses: 0 }),
            Err(e) => Err(self.fail(classify_failure(&e, &store, "instantiation"))),
        }
    }

    fn checkin(&self, mut instance: Instance) {
        instance.uses += 1;
        let state = instance.store.data_mut();
        state.policy = None;
        state.context = None;
        if self.manifest.limits.isolation == Isolation::PerCall || instance.uses >= self.manifest.limits.max_reuse {
            return;
        }
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < MAX_IDLE
        {
            idle.push(instance);
        }
    }

    fn wrong_world(&self, wanted: World) -> PluginError {
        self.fail(PluginFailure::WrongWorld(format!(
            "called as a `{}` plugin but it implements `{}`",
            wanted.as_str(),
            self.manifest.world.as_str()
        )))
    }

    /// Ask an SOP plugin for its verdict.
    pub async fn evaluate(&self, request: &model::Request, policy: &Arc<Policy>) -> Result<model::Verdict, PluginError> {
        let wit_request = bindings::request_to_wit(request);
        let mut instance = self.checkout(Some(policy), Some(request.context.clone())).await?;
        let Instance { store, exports, .. } = &mut instance;
        let Exports::Sop(sop) = exports else { return Err(self.wrong_world(World::Sop)) };
        let result = sop.call_evaluate(&mut *store, &wit_request).await;
        let verdict = match result {
            Ok(v) => v,
            Err(e) => return Err(self.fail(classify_failure(&e, store, "evaluate"))),
        };
        self.checkin(instance);
        let verdict = bindings::verdict_from_wit(verdict, &format!("plugin:{}", self.label));
        answer::verdict(verdict).map_err(|m| self.fail(PluginFailure::InvalidOutput(m)))
    }

    /// Ask a scorer plugin how significant `asset` is for `action`.
    pub async fn score(&self, asset: &model::Asset, action: &model::Action, policy: &Arc<Policy>) -> Result<Score, PluginError> {
        let (wit_asset, wit_action) = (bindings::asset_to_wit(asset), bindings::action_to_wit(action));
        let mut instance = self.checkout(Some(policy), None).await?;
        let Instance { store, exports, .. } = &mut instance;
        let Exports::Scorer(scorer) = exports else { return Err(self.wrong_world(World::Scorer)) };
        let score = match scorer.call_score_asset(&mut *store, &wit_asset, &wit_action).await {
            Ok(s) => s,
            Err(e) => return Err(self.fail(classify_failure(&e, store, "score-asset"))),
        };
        self.checkin(instance);
        if !(score.significance.is_finite() && (0.0..=1.0).contains(&score.significance)) {
            return Err(self.fail(PluginFailure::InvalidOutput(format!(
                "significance {} is outside [0, 1]",
                score.significance
            ))));
        }
        Ok(Score { significance: score.significance, rationale: answer::truncate(score.rationale, answer::MAX_REASON_BYTES) })
    }

    pub async fn describe(&self, policy: &Arc<Policy>) -> Result<ToolDescription, PluginError> {
        let mut instance = self.checkout(Some(policy), None).await?;
        let Instance { store, exports, .. } = &mut instance;
        let Exports::Tool(tool) = exports else { return Err(self.wrong_world(World::Tool)) };
        let d = match tool.call_describe(&mut *store).await {
            Ok(d) => d,
            Err(e) => return Err(self.fail(classify_failure(&e, store, "describe"))),
        };
        self.checkin(instance);
        let text = |what, t| answer::tool_text(what, t).map_err(|m| self.fail(PluginFailure::InvalidOutput(m)));
        Ok(ToolDescription { name: text("name", d.name)?, summary: text("summary", d.summary)?, input_schema: text("input schema", d.input_schema)? })
    }

    /// Run a tool plugin. The outer error is the plugin failing; the inner
    /// one is the tool refusing.
    pub async fn invoke(
        &self,
        caller: &model::Principal,
        arguments: &str,
        policy: &Arc<Policy>,
    ) -> Result<Result<String, ToolError>, PluginError> {
        let principal = bindings::principal_to_wit(caller);
        let mut instance = self.checkout(Some(policy), None).await?;
        let Instance { store, exports, .. } = &mut instance;
        let Exports::Tool(tool) = exports else { return Err(self.wrong_world(World::Tool)) };
        let out = match tool.call_invoke(&mut *store, &principal, arguments).await {
            Ok(out) => out,
            Err(e) => return Err(self.fail(classify_failure(&e, store, "invoke"))),
        };
        self.checkin(instance);
        use bindings::wit::ToolError as W;
        let out = match out {
            Ok(text) => Ok(answer::tool_text("output", text).map_err(|m| self.fail(PluginFailure::InvalidOutput(m)))?),
            Err(e) => Err(e),
        };
        Ok(out.map_err(|e| match e {
            W::InvalidArguments(m) => ToolError::InvalidArguments(answer::truncate(m, answer::MAX_REASON_BYTES)),
            W::AccessDenied(m) => ToolError::AccessDenied(answer::truncate(m, answer::MAX_REASON_BYTES)),
            W::Other(m) => ToolError::Other(answer::truncate(m, answer::MAX_REASON_BYTES)),
        }))
    }

    /// Ask a classifier plugin for a column's tags: `pii` plus its kind
    /// (`email`, `phone`, ...), or none when the column is not PII. Repeated
    /// tags are dropped; an empty, over-long or whitespace-bearing tag, or
    /// more than 16 of them, is an invalid answer. Fails closed like every
    /// call: a timeout, trap or invalid answer is an error naming the plugin.
    pub async fn classify(&self, sample: &model::ColumnSample) -> Result<Vec<String>, PluginError> {
        let wit_sample = bindings::column_sample_to_wit(sample);
        let mut instance = self.checkout(None, None).await?;
        let Instance { store, exports, .. } = &mut instance;
        let Exports::Classifier(classifier) = exports else { return Err(self.wrong_world(World::Classifier)) };
        let tags = match classifier.call_classify_column(&mut *store, &wit_sample).await {
            Ok(tags) => tags,
            Err(e) => return Err(self.fail(classify_failure(&e, store, "classify-column"))),
        };
        self.checkin(instance);
        answer::tags(tags).map_err(|m| self.fail(PluginFailure::InvalidOutput(m)))
    }
}

fn classify_failure(e: &wasmtime::Error, store: &Store<PluginState>, during: &str) -> PluginFailure {
    let text = format!("{e:?}");
    // A memory trap is one even when it comes after the deadline (a loaded
    // host can make an allocation loop slow).
    if e.downcast_ref::<Trap>() == Some(&Trap::Interrupt) {
        PluginFailure::Timeout
    } else if text.contains("forcing a memory growth failure") || text.contains("forcing trap when growing memory") {
        PluginFailure::MemoryLimit
    } else if Instant::now() >= store.data().deadline {
        PluginFailure::Timeout
    } else {
        let first = format!("{e}");
        PluginFailure::Trap(format!("{during}: {first}"))
    }
}

/// Name the imports of `component` the host does not provide.
fn import_error(component: &Component, runtime: &Runtime, fs_granted: bool, e: wasmtime::Error) -> String {
    let ty = component.component_type();
    let names: Vec<String> = ty.imports(runtime.engine()).map(|(name, _)| name.to_string()).collect();
    let allowed = |n: &str| {
        n.starts_with("steward:guardrail/")
            || n.starts_with("wasi:io/")
            || n.starts_with("wasi:cli/")
            || (fs_granted && n.starts_with("wasi:filesystem/"))
    };
    let refused: Vec<&String> = names.iter().filter(|n| !allowed(n)).collect();
    if refused.is_empty() {
        format!("{e}")
    } else {
        format!("imports not granted to this plugin: {}", refused.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", "))
    }
}
