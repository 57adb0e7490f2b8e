//! The set of live plugins and its changes: load (compile, link, run the
//! version's own cases), activate, stage, roll back, remove.
//!
//! The live set is an immutable [`PluginSet`] behind an `ArcSwap`: a request
//! takes one snapshot and finishes on the versions it holds, whatever is
//! swapped in meanwhile. Changes are serialized by one lock and never block
//! readers.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use arc_swap::ArcSwap;
use steward_policy::Policy;

use crate::cases::{self, CaseFile, CaseOutcome};
use crate::engine::Runtime;
use crate::manifest::{Manifest, World};
use crate::inspect;
use crate::plugin::LoadedPlugin;
use crate::signature::{self, PluginSignature, SIGNATURE_FILE, SignatureError};
use crate::{LoadError, RegistryError};

/// Staged versions kept per plugin; staging one more drops the oldest.
pub const MAX_STAGED: usize = 8;

/// Where a plugin version came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A folder of the watched plugins directory.
    Directory(PathBuf),
    /// The admin API.
    Upload,
}

/// Everything needed to load one plugin version.
pub struct PluginSource {
    pub manifest: Manifest,
    pub component: Vec<u8>,
    /// The text of its cases file.
    pub cases: String,
    /// The text of its `plugin.sig`, if it is signed.
    pub signature: Option<String>,
    /// The folder its `capabilities.read_dir` resolves against.
    pub base_dir: Option<PathBuf>,
    pub origin: Origin,
}

impl PluginSource {
    /// Read a plugin folder: `plugin.toml`, its component and its cases.
    pub fn from_dir(dir: &std::path::Path) -> Result<PluginSource, LoadError> {
        let manifest = Manifest::read(dir)?;
        let component_path = dir.join(&manifest.component);
        let component = std::fs::read(&component_path)
            .map_err(|e| LoadError::Io(format!("{}: {e} (was the plugin built?)", component_path.display())))?;
        let cases_path = dir.join(&manifest.cases);
        let cases = std::fs::read_to_string(&cases_path).map_err(|e| LoadError::Io(format!("{}: {e}", cases_path.display())))?;
        let signature_path = dir.join(SIGNATURE_FILE);
        let signature = match std::fs::read_to_string(&signature_path) {
            Ok(text) => Some(text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(LoadError::Io(format!("{}: {e}", signature_path.display()))),
        };
        Ok(PluginSource {
            manifest,
            component,
            cases,
            signature,
            base_dir: Some(dir.to_path_buf()),
            origin: Origin::Directory(dir.to_path_buf()),
        })
    }
}

#[derive(Clone)]
pub struct Slot {
    pub active: Arc<LoadedPlugin>,
    /// What `rollback` returns to.
    pub previous: Option<Arc<LoadedPlugin>>,
    /// Versions uploaded and proven but not activated.
    pub staged: Vec<Arc<LoadedPlugin>>,
    pub origin: Origin,
}

/// An immutable snapshot of the live plugins.
#[derive(Clone, Default)]
pub struct PluginSet {
    slots: BTreeMap<String, Slot>,
}

impl PluginSet {
    pub fn slot(&self, name: &str) -> Option<&Slot> {
        self.slots.get(name)
    }

    pub fn slots(&self) -> impl Iterator<Item = (&String, &Slot)> {
        self.slots.iter()
    }

    /// The enforcing scorer for `asset_path` (the first by name).
    pub fn scorer_for(&self, asset_path: &str) -> Option<&Arc<LoadedPlugin>> {
        self.slots
            .values()
            .map(|s| &s.active)
            .find(|p| p.world() == World::Scorer && !p.is_shadow() && p.governs(asset_path))
    }

    pub fn tool(&self, name: &str) -> Option<&Arc<LoadedPlugin>> {
        self.slots.get(name).map(|s| &s.active).filter(|p| p.world() == World::Tool)
    }

    /// The active tool plugins, by name.
    pub fn tools(&self) -> impl Iterator<Item = &Arc<LoadedPlugin>> {
        self.slots.values().map(|s| &s.active).filter(|p| p.world() == World::Tool)
    }

    /// The active enforce-mode classifiers, by name. A shadow classifier
    /// is never used: its tags would count.
    pub fn classifiers(&self) -> impl Iterator<Item = &Arc<LoadedPlugin>> {
        self.slots.values().map(|s| &s.active).filter(|p| p.world() == World::Classifier && !p.is_shadow())
    }

    /// The column classifier for the table at `table_path`: the first (by
    /// name) active enforce-mode classifier whose scope covers the table.
    pub fn classifier_for(&self, table_path: &str) -> Option<&Arc<LoadedPlugin>> {
        self.slots
            .values()
            .map(|s| &s.active)
            .find(|p| p.world() == World::Classifier && !p.is_shadow() && p.governs(table_path))
    }
}

/// What [`Registry::stage`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Staged {
    Staged,
    ActivatedAsFirstVersion,
}

/// Whether [`Registry::prove_with`] checks signatures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signatures {
    Enforce,
    /// Only for `steward plugin test`: the result must not go live.
    Skip,
}

/// A version that compiled, linked and passed its cases.
pub struct Proven {
    pub plugin: Arc<LoadedPlugin>,
    pub outcomes: Vec<CaseOutcome>,
    pub origin: Origin,
}

pub struct Registry {
    runtime: Arc<Runtime>,
    live: ArcSwap<PluginSet>,
    changes: tokio::sync::Mutex<()>,
    request_ids: Arc<steward_model::RequestIds>,
}

impl Registry {
    pub fn new(runtime: Arc<Runtime>) -> Registry {
        Registry {
            runtime,
            live: ArcSwap::from_pointee(PluginSet::default()),
            changes: tokio::sync::Mutex::new(()),
            request_ids: Arc::new(steward_model::RequestIds::new(rand::random())),
        }
    }

    /// The process's request ids: live requests and plugin test requests
    /// draw from this one sequence.
    pub fn request_ids(&self) -> &steward_model::RequestIds {
        &self.request_ids
    }

    pub fn runtime(&self) -> &Arc<Runtime> {
        &self.runtime
    }

    /// The live set, for one request.
    pub fn current(&self) -> Arc<PluginSet> {
        self.live.load_full()
    }

    /// Compile, link and prove a version with its own cases. Does not
    /// change the live set.
    ///
    /// Before anything is compiled: the component must target a
    /// `steward:guardrail` version this host knows and the manifest's
    /// world, and carry the signature the policy requires for its scope.
    pub async fn prove(&self, source: PluginSource, policy: &Arc<Policy>) -> Result<Proven, LoadError> {
        self.prove_with(source, policy, Signatures::Enforce).await
    }

    /// [`Registry::prove`], optionally without the signature check (for an
    /// author testing a plugin before it is signed). Use `Skip` only where
    /// the result never goes live.
    pub async fn prove_with(&self, source: PluginSource, policy: &Arc<Policy>, signatures: Signatures) -> Result<Proven, LoadError> {
        let case_file = CaseFile::parse(&source.cases)?;
        let info = inspect::inspect(&source.component).map_err(LoadError::Compile)?;
        inspect::check_versions(&info).map_err(LoadError::Version)?;
        if let Some(world) = info.world.filter(|w| *w != source.manifest.world) {
            return Err(LoadError::WrongWorld(format!(
                "the manifest says world `{}`, but the component implements `{}`",
                source.manifest.world.as_str(),
                world.as_str()
            )));
        }
        inspect::check_call_backs(&info, source.manifest.world).map_err(LoadError::Link)?;
        let signature = source.signature.as_deref().map(PluginSignature::parse).transpose()?;
        let digest = crate::engine::digest(&source.component);
        if let Some((why, record)) = self.runtime.quarantined(&digest) {
            return Err(LoadError::Quarantined { why, record });
        }
        let signed_by = match signatures {
            Signatures::Enforce => signature::check(signature.as_ref(), &digest, &source.manifest.scope_globs(), policy)?,
            Signatures::Skip => None,
        };
        let runtime = self.runtime.clone();
        let read_dir = match (&source.manifest.capabilities.read_dir, &source.base_dir) {
            (Some(dir), Some(base)) => Some(base.join(dir)),
            _ => None,
        };
        let PluginSource { manifest, component, origin, .. } = source;
        let request_ids = self.request_ids.clone();
        let mut plugin = tokio::task::spawn_blocking(move || LoadedPlugin::prepare(&runtime, request_ids, manifest, &component, digest, read_dir))
            .await
            .map_err(|e| LoadError::Compile(format!("compile task failed: {e}")))??;
        plugin.package_version = info.package_version().map(str::to_string);
        plugin.signature = signature;
        plugin.signed_by = signed_by;
        let outcomes = cases::run(&plugin, &case_file, policy).await?;
        if outcomes.iter().any(|o| !o.passed) {
            return Err(LoadError::CasesFailed(outcomes));
        }
        plugin.cases = Some((Arc::new(case_file), policy.clone()));
        Ok(Proven { plugin: Arc::new(plugin), outcomes, origin })
    }

    /// Make a proven version live. The old active version becomes the
    /// rollback target. Returns the version it replaced.
    pub async fn activate(&self, proven: Proven) -> Option<Arc<LoadedPlugin>> {
        let _guard = self.changes.lock().await;
        let mut set = (**self.live.load()).clone();
        let name = proven.plugin.name().to_string();
        let replaced = match set.slots.get_mut(&name) {
            Some(slot) => {
                slot.staged.retain(|p| p.digest != proven.plugin.digest);
                let old = std::mem::replace(&mut slot.active, proven.plugin);
                slot.origin = proven.origin;
                // Re-activating the same digest keeps the rollback target.
                (old.digest != slot.active.digest).then(|| {
                    slot.previous = Some(old.clone());
                    old
                })
            }
            None => {
                set.slots.insert(name, Slot { active: proven.plugin, previous: None, staged: Vec::new(), origin: proven.origin });
                None
            }
        };
        self.live.store(Arc::new(set));
        replaced
    }

    /// Keep a proven version beside the active one, to activate later.
    /// A plugin not yet live has nothing to stand beside: it is activated.
    pub async fn stage(&self, proven: Proven) -> Staged {
        let guard = self.changes.lock().await;
        let mut set = (**self.live.load()).clone();
        let Some(slot) = set.slots.get_mut(proven.plugin.name()) else {
            drop(guard);
            self.activate(proven).await;
            return Staged::ActivatedAsFirstVersion;
        };
        if slot.active.digest != proven.plugin.digest && !slot.staged.iter().any(|p| p.digest == proven.plugin.digest) {
            if slot.staged.len() >= MAX_STAGED {
                slot.staged.remove(0);
            }
            slot.staged.push(proven.plugin);
        }
        self.live.store(Arc::new(set));
        Staged::Staged
    }

    /// Activate a known version (staged or previous) by digest.
    pub async fn activate_digest(&self, name: &str, digest: &str) -> Result<Arc<LoadedPlugin>, RegistryError> {
        let _guard = self.changes.lock().await;
        let mut set = (**self.live.load()).clone();
        let slot = set.slots.get_mut(name).ok_or_else(|| RegistryError::UnknownPlugin(name.to_string()))?;
        if slot.active.digest == digest {
            return Ok(slot.active.clone());
        }
        let target = if let Some(i) = slot.staged.iter().position(|p| p.digest == digest) {
            slot.staged.remove(i)
        } else if slot.previous.as_ref().is_some_and(|p| p.digest == digest) {
            slot.previous.take().expect("checked above")
        } else {
            return Err(RegistryError::UnknownVersion { plugin: name.to_string(), digest: digest.to_string() });
        };
        let old = std::mem::replace(&mut slot.active, target.clone());
        slot.previous = Some(old);
        self.live.store(Arc::new(set));
        Ok(target)
    }

    /// Swap back to the previous version (twice returns to where it was).
    pub async fn rollback(&self, name: &str) -> Result<Arc<LoadedPlugin>, RegistryError> {
        let _guard = self.changes.lock().await;
        let mut set = (**self.live.load()).clone();
        let slot = set.slots.get_mut(name).ok_or_else(|| RegistryError::UnknownPlugin(name.to_string()))?;
        let previous = slot.previous.take().ok_or_else(|| RegistryError::NoPrevious(name.to_string()))?;
        let old = std::mem::replace(&mut slot.active, previous.clone());
        slot.previous = Some(old);
        self.live.store(Arc::new(set));
        Ok(previous)
    }

    /// After a policy change: unload every active version whose signature
    /// the new policy does not accept (fail closed: its assets lose their
    /// SOP), and forget staged and previous versions it does not accept, so
    /// they cannot be activated or rolled back to. Returns the plugins
    /// unloaded and why.
    pub async fn enforce_signatures(&self, policy: &Policy) -> Vec<(String, SignatureError)> {
        let _guard = self.changes.lock().await;
        let mut set = (**self.live.load()).clone();
        let check = |p: &LoadedPlugin| signature::check(p.signature.as_ref(), &p.digest, &p.scope, policy);
        let mut unloaded = Vec::new();
        let mut changed = false;
        set.slots.retain(|name, slot| match check(&slot.active) {
            Ok(_) => {
                let staged = slot.staged.len();
                slot.staged.retain(|p| check(p).is_ok());
                changed |= slot.staged.len() != staged;
                if slot.previous.as_ref().is_some_and(|p| check(p).is_err()) {
                    slot.previous = None;
                    changed = true;
                }
                true
            }
            Err(e) => {
                unloaded.push((name.clone(), e));
                false
            }
        });
        if changed || !unloaded.is_empty() {
            self.live.store(Arc::new(set));
        }
        unloaded
    }

    pub async fn remove(&self, name: &str) -> Result<(), RegistryError> {
        let _guard = self.changes.lock().await;
        let mut set = (**self.live.load()).clone();
        set.slots.remove(name).ok_or_else(|| RegistryError::UnknownPlugin(name.to_string()))?;
        self.live.store(Arc::new(set));
        Ok(())
    }
}
