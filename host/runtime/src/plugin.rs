//! One loaded plugin version: its manifest, digest, `InstancePre`, and the
//! idle instances its callers may reuse.
//!
//! Instance strategy (see `pool`): a fresh instance costs ~25 µs for a Rust
//! plugin and 1-6 ms for a Python or JavaScript one, a call on a warm one
//! ~2 µs, so instances are reused, but only by the caller that used them.
//! A call that fails in any way discards its instance; so does one whose
//! memory grew more than [`RECYCLE_GROWTH`], or that reached
//! `limits.max_reuse` calls. `limits.isolation = "per-call"` gives every
//! call a fresh instance.
//!
//! What a plugin is tested on is what serves: its load-time cases run on
//! fresh instances that are thrown away, with request ids drawn from the
//! same sequence as live ones, and every reused instance is spot-checked
//! with one of the version's own cases at random points of its life. A
//! version that answers a spot check differently from its case is
//! quarantined: every later call fails closed.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use rand::Rng;
use steward_model as model;
use steward_policy::{PathGlob, Policy};
use wasmtime::component::{Component, InstancePre};
use wasmtime::{Store, Trap, UpdateDeadline};
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

use crate::bindings::classifier::{Classifier, ClassifierPre};
use crate::bindings::{self, scorer::Scorer, scorer::ScorerPre, sop::Sop, sop::SopPre, tool::Tool, tool::ToolPre};
use crate::bindings::v0_3::{Tool as ToolV3, ToolPre as ToolV3Pre};
use crate::bindings::v0_4::{Sop as SopV4, SopPre as SopV4Pre};
use crate::tool::{Invocation, ToolDeclaration, ToolHost, ToolSpec};
use crate::cases::{self, CaseFile};
use crate::clock::{Expired, backstop_for, metered};
use crate::engine::Runtime;
use crate::limiter::MemoryLimiter;
use crate::manifest::{Isolation, Manifest, Mode, World};
use crate::pool::{Lane, Pool};
use crate::state::{LOG_LINES_PER_CALL, LogRate, PluginState};
use crate::{LoadError, PluginError, PluginFailure, TrapCause, answer};

/// An instance whose memory grew more than this since it started is not
/// reused: its memory returns to the host.
pub const RECYCLE_GROWTH: usize = 8 * 1024 * 1024;
/// A reused instance is spot-checked after a random number of calls, on
/// average this many.
pub const SPOT_CHECK_MEAN: u32 = 16;

enum Pre {
    Sop(SopPre<PluginState>),
    /// An SOP built against 0.4.0: it reviews access requests too.
    SopV4(SopV4Pre<PluginState>),
    Scorer(ScorerPre<PluginState>),
    Tool(ToolPre<PluginState>),
    /// A tool built against 0.3.0: it declares its action and may call back.
    ToolV3(ToolV3Pre<PluginState>),
    Classifier(ClassifierPre<PluginState>),
}

pub(crate) enum Exports {
    Sop(Sop),
    SopV4(SopV4),
    Scorer(Scorer),
    Tool(Tool),
    ToolV3(ToolV3),
    Classifier(Classifier),
}

pub(crate) struct Instance {
    store: Store<PluginState>,
    exports: Exports,
    uses: u32,
    /// The use count at which the next spot check runs.
    next_check: u32,
}

/// Which instance a call runs on.
pub(crate) enum Lease<'a> {
    /// One of `lane`'s idle instances, or a new one kept for `lane` after.
    Pool(Lane),
    /// A new instance, thrown away after the call.
    Fresh,
    /// This one (a spot check on the instance that just served).
    On(&'a mut Instance),
}

/// What a scorer said about an asset.
#[derive(Debug, Clone, PartialEq)]
pub struct Score {
    pub significance: f32,
    pub rationale: String,
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
    /// Its own cases, for spot checks of live instances, and the policy it
    /// was proven under (for worlds whose calls carry none: classifiers).
    pub(crate) cases: Option<(Arc<CaseFile>, Arc<Policy>)>,
    /// Where the ids of the requests it is tested with come from: the
    /// live sequence.
    request_ids: Arc<model::RequestIds>,
    label: String,
    runtime: Arc<Runtime>,
    pre: Pre,
    read_dir: Option<PathBuf>,
    idle: Arc<Mutex<Pool<Instance>>>,
    /// Log lines of this version across all its instances, per second.
    log_rate: Arc<LogRate>,
    calls: AtomicU64,
    failures: AtomicU64,
    spot_checks: AtomicU64,
    quarantined: OnceLock<String>,
    /// A tool's description of itself, read when its cases ran.
    spec: OnceLock<ToolSpec>,
}

impl std::fmt::Debug for LoadedPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedPlugin").field("label", &self.label).field("digest", &self.digest).finish()
    }
}

impl LoadedPlugin {
    /// Compile and link a component (`digest`: its sha256, hex). Fails when
    /// it does not implement the manifest's world or imports anything it
    /// was not granted. Its test requests take their ids from
    /// `request_ids`.
    pub fn prepare(
        runtime: &Arc<Runtime>,
        request_ids: Arc<model::RequestIds>,
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
            // An SOP that exports `review-access` was built against 0.4.0.
            World::Sop if exports(&component, runtime, "review-access") => Pre::SopV4(SopV4Pre::new(instance_pre).map_err(world_error)?),
            World::Sop => Pre::Sop(SopPre::new(instance_pre).map_err(world_error)?),
            World::Scorer => Pre::Scorer(ScorerPre::new(instance_pre).map_err(world_error)?),
            // A tool that exports `declare` was built against 0.3.0.
            World::Tool if exports(&component, runtime, "declare") => Pre::ToolV3(ToolV3Pre::new(instance_pre).map_err(world_error)?),
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
        let idle = Arc::new(Mutex::new(Pool::new(runtime.idle_bytes, runtime.idle_total.clone())));
        runtime.expire_idle(&idle);
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
            cases: None,
            request_ids,
            runtime: runtime.clone(),
            pre,
            read_dir,
            idle,
            log_rate: Arc::default(),
            calls: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            spot_checks: AtomicU64::new(0),
            quarantined: OnceLock::new(),
            spec: OnceLock::new(),
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

    /// Spot checks run on live instances so far.
    pub fn spot_checks(&self) -> u64 {
        self.spot_checks.load(Ordering::Relaxed)
    }

    /// Why the version was quarantined, if it was.
    pub fn quarantined(&self) -> Option<&str> {
        self.quarantined.get().map(String::as_str)
    }

    /// Idle instances kept for reuse now.
    pub fn idle_instances(&self) -> usize {
        self.idle.lock().map(|p| p.len()).unwrap_or(0)
    }

    /// A request id for a test request, from the live sequence.
    pub(crate) fn next_request_id(&self) -> String {
        self.request_ids.next()
    }

    fn fail(&self, failure: PluginFailure) -> PluginError {
        self.failures.fetch_add(1, Ordering::Relaxed);
        PluginError { plugin: self.label.clone(), digest: self.digest.clone(), failure }
    }

    fn budget(&self) -> Duration {
        Duration::from_millis(self.manifest.limits.timeout_ms as u64)
    }

    fn new_store(&self) -> Result<Store<PluginState>, PluginFailure> {
        let mut wasi = WasiCtxBuilder::new();
        if let Some(dir) = &self.read_dir {
            wasi.preopened_dir(dir, "/data", FsPerms::ReadOnly)
                .map_err(|e| PluginFailure::Instantiate(format!("preopen {}: {e}", dir.display())))?;
        }
        let state = PluginState {
            wasi: wasi.build(),
            table: Default::default(),
            limiter: MemoryLimiter::new(self.manifest.limits.memory_mib as usize * 1024 * 1024),
            policy: None,
            context: None,
            label: self.label.clone(),
            log_budget: LOG_LINES_PER_CALL,
            log_rate: self.log_rate.clone(),
            clock: Arc::default(),
            is_tool: self.manifest.world == World::Tool,
            invocation: None,
        };
        let mut store = Store::new(self.runtime.engine(), state);
        store.limiter(|s| &mut s.limiter);
        // Yield to tokio at every epoch tick; end the call once it used its
        // CPU budget or ran past the wall-clock backstop.
        store.epoch_deadline_callback(|ctx| match ctx.data().clock.check() {
            Some(_) => Ok(UpdateDeadline::Interrupt),
            None => Ok(UpdateDeadline::Yield(1)),
        });
        Ok(store)
    }

    /// Set up a store for one call. `policy` is the snapshot the catalog
    /// import reads (`None` for a classifier, which has no catalog);
    /// `context` what the context import returns.
    fn arm(&self, store: &mut Store<PluginState>, policy: Option<&Arc<Policy>>, context: Option<Arc<model::RequestContext>>) {
        let state = store.data_mut();
        state.clock.arm(self.budget());
        state.policy = policy.cloned();
        state.context = context;
        state.log_budget = LOG_LINES_PER_CALL;
        store.set_epoch_deadline(1);
    }

    async fn instantiate(&self, store: &mut Store<PluginState>) -> wasmtime::Result<Exports> {
        match &self.pre {
            Pre::Sop(pre) => pre.instantiate_async(store).await.map(Exports::Sop),
            Pre::SopV4(pre) => pre.instantiate_async(store).await.map(Exports::SopV4),
            Pre::Scorer(pre) => pre.instantiate_async(store).await.map(Exports::Scorer),
            Pre::Tool(pre) => pre.instantiate_async(store).await.map(Exports::Tool),
            Pre::ToolV3(pre) => pre.instantiate_async(store).await.map(Exports::ToolV3),
            Pre::Classifier(pre) => pre.instantiate_async(store).await.map(Exports::Classifier),
        }
    }

    /// A new instance, armed; its start counts against the call's budget.
    async fn fresh(&self, policy: Option<&Arc<Policy>>, context: Option<Arc<model::RequestContext>>) -> Result<Instance, PluginError> {
        let mut store = self.new_store().map_err(|f| self.fail(f))?;
        self.arm(&mut store, policy, context);
        let started = metered(store.data().clock.clone(), self.instantiate(&mut store)).await;
        match started {
            Ok(exports) => {
                let limiter = &mut store.data_mut().limiter;
                limiter.baseline = limiter.held;
                let next_check = rand::thread_rng().gen_range(1..=2 * SPOT_CHECK_MEAN);
                Ok(Instance { store, exports, uses: 0, next_check })
            }
            Err(e) => Err(self.fail(match self.failure(&e, &store, "instantiation") {
                // Not the plugin's code trapping: the host could not start it
                // (no free slot in the instance pool, say).
                PluginFailure::Trap { cause: TrapCause::Other(why), .. } => PluginFailure::Instantiate(why),
                failure => failure,
            })),
        }
    }

    /// Whether the manifest lets `instance` serve another call.
    fn may_reuse(&self, instance: &Instance) -> bool {
        let limits = &self.manifest.limits;
        limits.isolation == Isolation::Reuse && instance.uses < limits.max_reuse
    }

    fn checkin(&self, lane: Lane, mut instance: Instance) {
        if !self.may_reuse(&instance) {
            return;
        }
        let state = instance.store.data_mut();
        state.policy = None;
        state.context = None;
        if state.limiter.growth() > RECYCLE_GROWTH {
            return;
        }
        let held = state.limiter.held;
        let evicted = match self.idle.lock() {
            Ok(mut idle) => idle.put(lane, instance, held),
            Err(_) => return,
        };
        drop(evicted);
    }

    /// Run one call of `during` on the instance `lease` names. The call's
    /// clock starts when the instance is armed (for a new one, before it
    /// starts). A failed call drops its instance.
    async fn call<R>(
        &self,
        lease: Lease<'_>,
        policy: Option<&Arc<Policy>>,
        context: Option<Arc<model::RequestContext>>,
        during: &str,
        run: impl AsyncFnOnce(&mut Store<PluginState>, &Exports) -> wasmtime::Result<R>,
    ) -> Result<(R, Option<(Lane, Instance)>), PluginError> {
        if let Some(why) = self.quarantined.get() {
            return Err(self.fail(PluginFailure::Quarantined(why.clone())));
        }
        self.calls.fetch_add(1, Ordering::Relaxed);
        let (mut owned, lane) = match lease {
            Lease::On(instance) => {
                self.arm(&mut instance.store, policy, context);
                let result = self.run_on(instance, during, run).await;
                return result.map(|r| (r, None));
            }
            Lease::Fresh => (self.fresh(policy, context).await?, None),
            Lease::Pool(lane) => {
                let reused = match self.manifest.limits.isolation {
                    Isolation::PerCall => None,
                    Isolation::Reuse => self.idle.lock().ok().and_then(|mut idle| idle.take(&lane)),
                };
                match reused {
                    Some(mut instance) => {
                        self.arm(&mut instance.store, policy, context);
                        (instance, Some(lane))
                    }
                    None => (self.fresh(policy, context).await?, Some(lane)),
                }
            }
        };
        let result = self.run_on(&mut owned, during, run).await?;
        owned.uses += 1;
        Ok((result, lane.map(|lane| (lane, owned))))
    }

    async fn run_on<R>(
        &self,
        instance: &mut Instance,
        during: &str,
        run: impl AsyncFnOnce(&mut Store<PluginState>, &Exports) -> wasmtime::Result<R>,
    ) -> Result<R, PluginError> {
        let Instance { store, exports, .. } = instance;
        let result = metered(store.data().clock.clone(), run(&mut *store, &*exports)).await;
        result.map_err(|e| self.fail(self.failure(&e, store, during)))
    }

    /// After a live call: spot-check the instance if it is due, then keep
    /// it for its caller. A failed check quarantines the version and fails
    /// this call too (its answer came from the same instance).
    async fn finish(&self, kept: Option<(Lane, Instance)>, policy: Option<&Arc<Policy>>) -> Result<(), PluginError> {
        let Some((lane, mut instance)) = kept else { return Ok(()) };
        if self.may_reuse(&instance) && instance.uses >= instance.next_check {
            instance.next_check = instance.uses + rand::thread_rng().gen_range(1..=2 * SPOT_CHECK_MEAN);
            if let Some((file, proven_under)) = self.cases.clone() {
                let policy = policy.unwrap_or(&proven_under);
                self.spot_checks.fetch_add(1, Ordering::Relaxed);
                let uses = instance.uses;
                match Box::pin(cases::spot_check(self, &mut instance, &file, policy)).await {
                    cases::Spot::Passed => {}
                    // The instance is dropped; the live answer stands.
                    cases::Spot::Inconclusive => return Ok(()),
                    cases::Spot::Differed(why) => {
                        let why = format!("after {uses} calls on one live instance, {why}");
                        tracing::error!(plugin = %self.label, reason = %why, "plugin failed a spot check of its own cases; quarantined");
                        if self.quarantined.set(why.clone()).is_ok() {
                            self.runtime.remember_quarantine(&self.digest, &self.label, &why);
                        }
                        return Err(self.fail(PluginFailure::Quarantined(why)));
                    }
                }
            }
        }
        self.checkin(lane, instance);
        Ok(())
    }

    /// Ask an SOP plugin for its verdict.
    pub async fn evaluate(&self, request: &model::Request, policy: &Arc<Policy>) -> Result<model::Verdict, PluginError> {
        self.evaluate_in(Lease::Pool(Lane::of(&request.principal)), request, policy).await
    }

    pub(crate) async fn evaluate_in(&self, lease: Lease<'_>, request: &model::Request, policy: &Arc<Policy>) -> Result<model::Verdict, PluginError> {
        self.expect_world(World::Sop)?;
        let wit_request = bindings::request_to_wit(request);
        let (verdict, kept) = self
            .call(lease, Some(policy), Some(request.context.clone()), "evaluate", async |store, exports| match exports {
                Exports::Sop(sop) => sop.call_evaluate(store, &wit_request).await,
                Exports::SopV4(sop) => sop.call_evaluate(store, &wit_request).await,
                _ => wasmtime::bail!("not an sop"),
            })
            .await?;
        let verdict = bindings::verdict_from_wit(verdict, &format!("plugin:{}", self.label));
        let verdict = answer::verdict(verdict).map_err(|m| self.fail(PluginFailure::InvalidOutput(m)))?;
        self.finish(kept, Some(policy)).await?;
        Ok(verdict)
    }

    /// Whether the SOP reviews access requests (it was built against 0.4.0
    /// or later); older SOPs do not take part.
    pub fn reviews_access(&self) -> bool {
        matches!(self.pre, Pre::SopV4(_))
    }

    /// Ask an SOP built against 0.4.0 to review an access request for
    /// assets it governs; `Ok(None)` when the SOP is older and does not
    /// take part. Fails closed like every call.
    pub async fn review_access(&self, review: &model::AccessReview, policy: &Arc<Policy>) -> Result<Option<model::AccessVerdict>, PluginError> {
        self.expect_world(World::Sop)?;
        if !self.reviews_access() {
            return Ok(None);
        }
        let wit_review = bindings::review_to_wit(review);
        // Reviews run on fresh instances: they are rare, and nothing of one
        // requester's request may stay in an instance another one reuses.
        let (verdict, _) = self
            .call(Lease::Fresh, Some(policy), None, "review-access", async |store, exports| match exports {
                Exports::SopV4(sop) => sop.call_review_access(store, &wit_review).await,
                _ => wasmtime::bail!("not a 0.4.0 sop"),
            })
            .await?;
        let verdict = bindings::access_verdict_from_wit(verdict, &format!("plugin:{}", self.label));
        answer::access_verdict(verdict).map(Some).map_err(|m| self.fail(PluginFailure::InvalidOutput(m)))
    }

    /// Ask a scorer plugin how significant `asset` is for `action`, on an
    /// instance of `caller`'s (which assets a caller asks about is its own
    /// data).
    pub async fn score(&self, caller: &model::Principal, asset: &model::Asset, action: &model::Action, policy: &Arc<Policy>) -> Result<Score, PluginError> {
        self.score_in(Lease::Pool(Lane::of(caller)), asset, action, policy).await
    }

    pub(crate) async fn score_in(
        &self,
        lease: Lease<'_>,
        asset: &model::Asset,
        action: &model::Action,
        policy: &Arc<Policy>,
    ) -> Result<Score, PluginError> {
        self.expect_world(World::Scorer)?;
        let (wit_asset, wit_action) = (bindings::asset_to_wit(asset), bindings::action_to_wit(action));
        let (score, kept) = self
            .call(lease, Some(policy), None, "score-asset", async |store, exports| match exports {
                Exports::Scorer(scorer) => scorer.call_score_asset(store, &wit_asset, &wit_action).await,
                _ => wasmtime::bail!("not a scorer"),
            })
            .await?;
        if !(score.significance.is_finite() && (0.0..=1.0).contains(&score.significance)) {
            return Err(self.fail(PluginFailure::InvalidOutput(format!(
                "significance {} is outside [0, 1]",
                score.significance
            ))));
        }
        self.finish(kept, Some(policy)).await?;
        Ok(Score { significance: score.significance, rationale: answer::truncate(score.rationale, answer::MAX_REASON_BYTES) })
    }

    /// What a tool said about itself when it was proven (`None` before,
    /// and for other worlds).
    pub fn tool_spec(&self) -> Option<&ToolSpec> {
        self.spec.get()
    }

    /// Ask a tool to describe (and, from 0.3.0, declare) itself. Checked:
    /// its name is the manifest's and not a built-in tool's, its schema a
    /// JSON object, its risk in [0, 1]. The first answer is kept
    /// ([`LoadedPlugin::tool_spec`]).
    pub(crate) async fn describe_in(&self, lease: Lease<'_>, policy: &Arc<Policy>) -> Result<ToolSpec, PluginError> {
        self.expect_world(World::Tool)?;
        let ((d, declared), kept) = self
            .call(lease, Some(policy), None, "describe", async |store, exports| match exports {
                Exports::Tool(tool) => Ok((tool.call_describe(&mut *store).await?, None)),
                Exports::ToolV3(tool) => {
                    let d = tool.call_describe(&mut *store).await?;
                    Ok((d, Some(tool.call_declare(&mut *store).await?)))
                }
                _ => wasmtime::bail!("not a tool"),
            })
            .await?;
        let invalid = |m: String| self.fail(PluginFailure::InvalidOutput(m));
        let text = |what, t| answer::tool_text(what, t).map_err(invalid);
        let name = text("name", d.name)?;
        if name != self.manifest.name {
            return Err(invalid(format!("describes itself as {name:?}, but its manifest names it {:?}", self.manifest.name)));
        }
        if crate::tool::RESERVED_NAMES.contains(&name.as_str()) {
            return Err(invalid(format!("{name:?} is the name of a built-in tool")));
        }
        let schema_text = text("input schema", d.input_schema)?;
        let input_schema: serde_json::Value = serde_json::from_str(&schema_text)
            .ok()
            .filter(serde_json::Value::is_object)
            .ok_or_else(|| invalid("its input schema is not a JSON object".into()))?;
        let declaration = match declared {
            None => None,
            Some(d) => {
                let action = answer::tool_text("action", d.action).map_err(invalid)?;
                if action.len() > 128 || !action.chars().all(|c| c.is_ascii_alphanumeric() || ".-_:".contains(c)) {
                    return Err(invalid(format!("declares the action {:?}: use at most 128 letters, digits and . - _ :", answer::truncate(action, 64))));
                }
                if !(d.risk_score.is_finite() && (0.0..=1.0).contains(&d.risk_score)) {
                    return Err(invalid(format!("declares a risk score of {}, outside [0, 1]", d.risk_score)));
                }
                Some(ToolDeclaration { action, category: bindings::risk_category_from_wit(d.category), risk_score: d.risk_score })
            }
        };
        let spec = ToolSpec { name, summary: text("summary", d.summary)?, input_schema, declaration };
        let _ = self.spec.set(spec.clone());
        if let Some((lane, instance)) = kept {
            self.checkin(lane, instance);
        }
        Ok(spec)
    }

    /// Run a tool plugin as `caller`: every call-back it makes goes to
    /// `host`, which acts as `caller`. The outer error is the plugin
    /// failing (a trap, its deadline, a bad answer); the inner one is the
    /// tool refusing.
    pub async fn invoke(
        &self,
        caller: &model::Principal,
        arguments: &str,
        policy: &Arc<Policy>,
        host: Arc<dyn ToolHost>,
    ) -> Result<Result<String, ToolError>, PluginError> {
        self.expect_world(World::Tool)?;
        let principal = bindings::principal_to_wit(caller);
        let max_calls = self.manifest.limits.max_calls;
        let invocation = Invocation { host, calls_left: max_calls, max_calls };
        let (out, kept) = self
            .call(Lease::Pool(Lane::of(caller)), Some(policy), None, "invoke", async |store, exports| {
                store.data_mut().invocation = Some(invocation);
                let out = match exports {
                    Exports::Tool(tool) => tool.call_invoke(&mut *store, &principal, arguments).await,
                    Exports::ToolV3(tool) => tool.call_invoke(&mut *store, &principal, arguments).await,
                    _ => Err(wasmtime::format_err!("not a tool")),
                };
                // Nothing of this caller's survives into the instance's
                // next call.
                store.data_mut().invocation = None;
                out
            })
            .await?;
        use bindings::wit::ToolError as W;
        let out = match out {
            Ok(text) => Ok(answer::tool_text("output", text).map_err(|m| self.fail(PluginFailure::InvalidOutput(m)))?),
            Err(e) => Err(e),
        };
        if let Some((lane, instance)) = kept {
            self.checkin(lane, instance);
        }
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
        self.classify_in(Lease::Pool(Lane::shared()), sample).await
    }

    pub(crate) async fn classify_in(&self, lease: Lease<'_>, sample: &model::ColumnSample) -> Result<Vec<String>, PluginError> {
        self.expect_world(World::Classifier)?;
        let wit_sample = bindings::column_sample_to_wit(sample);
        let (tags, kept) = self
            .call(lease, None, None, "classify-column", async |store, exports| match exports {
                Exports::Classifier(classifier) => classifier.call_classify_column(store, &wit_sample).await,
                _ => wasmtime::bail!("not a classifier"),
            })
            .await?;
        let tags = answer::tags(tags).map_err(|m| self.fail(PluginFailure::InvalidOutput(m)))?;
        self.finish(kept, None).await?;
        Ok(tags)
    }

    fn expect_world(&self, wanted: World) -> Result<(), PluginError> {
        if self.manifest.world == wanted {
            return Ok(());
        }
        Err(self.fail(PluginFailure::WrongWorld(format!(
            "called as a `{}` plugin but it implements `{}`",
            wanted.as_str(),
            self.manifest.world.as_str()
        ))))
    }

    /// What made a call fail, from the store's own records first (memory
    /// limiter, clock), then the trap.
    fn failure(&self, e: &wasmtime::Error, store: &Store<PluginState>, during: &str) -> PluginFailure {
        let state = store.data();
        // A memory-limit hit is one even when the clock ran out after it (a
        // loaded host can make an allocation loop slow).
        if state.limiter.hit {
            return PluginFailure::MemoryLimit { limit_mib: self.manifest.limits.memory_mib };
        }
        match state.clock.expired() {
            Some(Expired::Cpu) => return PluginFailure::CpuDeadline { budget_ms: self.manifest.limits.timeout_ms },
            Some(Expired::Wall) => {
                return PluginFailure::WallDeadline { backstop_ms: backstop_for(self.budget()).as_millis() as u32 };
            }
            None => {}
        }
        let cause = match e.downcast_ref::<Trap>() {
            Some(Trap::StackOverflow) => TrapCause::StackOverflow,
            Some(Trap::UnreachableCodeReached) => TrapCause::Unreachable,
            Some(Trap::MemoryOutOfBounds | Trap::HeapMisaligned | Trap::TableOutOfBounds | Trap::ArrayOutOfBounds) => {
                TrapCause::MemoryOutOfBounds
            }
            Some(Trap::IntegerDivisionByZero) => TrapCause::DivisionByZero,
            Some(Trap::IntegerOverflow) => TrapCause::IntegerOverflow,
            Some(Trap::BadConversionToInteger) => TrapCause::BadConversion,
            Some(Trap::IndirectCallToNull | Trap::BadSignature | Trap::NullReference) => TrapCause::BadCall,
            Some(Trap::Interrupt) => return PluginFailure::CpuDeadline { budget_ms: self.manifest.limits.timeout_ms },
            Some(other) => TrapCause::Other(other.to_string()),
            None => match e.downcast_ref::<wasmtime_wasi::I32Exit>() {
                Some(exit) => TrapCause::Exit(exit.0),
                // Not a wasm trap: the first line of the error, without the
                // wasm backtrace that follows it.
                None => TrapCause::Other(answer::truncate(
                    e.to_string().lines().next().unwrap_or("unknown error").to_string(),
                    answer::MAX_REASON_BYTES,
                )),
            },
        };
        PluginFailure::Trap { during: during.to_string(), cause }
    }
}

/// Whether `component` exports `name` (`declare`: a 0.3.0 tool;
/// `review-access`: a 0.4.0 SOP).
fn exports(component: &Component, runtime: &Runtime, name: &str) -> bool {
    component.component_type().exports(runtime.engine()).any(|(export, _)| export == name)
}

/// Name the imports of `component` the host does not provide.
fn import_error(component: &Component, runtime: &Runtime, fs_granted: bool, e: wasmtime::Error) -> String {
    let ty = component.component_type();
    let names: Vec<String> = ty.imports(runtime.engine()).map(|(name, _)| name.to_string()).collect();
    let refused: Vec<&String> = names.iter().filter(|n| !crate::inspect::granted(n, fs_granted)).collect();
    if refused.is_empty() {
        format!("{e}")
    } else {
        format!("imports not granted to this plugin: {}", refused.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", "))
    }
}
