//! Watching the plugins and policies directories: a change is loaded and
//! swapped in without a restart; a bad change is refused with its reason
//! and the last good state keeps serving.
//!
//! Polling (by a fingerprint of file sizes and modification times) rather
//! than inotify: it works the same on every filesystem, and a refused
//! version is not retried until its files change again.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};
use steward_runtime::{Origin, PluginSource};

use crate::state::AppState;

/// sha256 over the names, sizes and modification times of `files`: cheap
/// enough to poll every second even for large components (their content
/// digest is computed once, when a change is loaded).
fn fingerprint(files: &[PathBuf]) -> String {
    let mut h = Sha256::new();
    for f in files {
        h.update(f.to_string_lossy().as_bytes());
        match std::fs::metadata(f) {
            Ok(m) => {
                h.update(m.len().to_le_bytes());
                let modified = m.modified().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()).unwrap_or_default();
                h.update(modified.as_nanos().to_le_bytes());
            }
            Err(_) => h.update(b"<missing>"),
        }
    }
    hex::encode(h.finalize())
}

fn plugin_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = vec![dir.join("plugin.toml")];
    if let Ok(m) = steward_runtime::Manifest::read(dir) {
        files.push(dir.join(&m.component));
        files.push(dir.join(&m.cases));
        files.push(dir.join(steward_runtime::signature::SIGNATURE_FILE));
    }
    files
}

fn policy_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|e| e == "toml")).collect())
        .unwrap_or_default();
    files.sort();
    files
}

/// Plugin folders (those with a `plugin.toml`) under `root`.
pub fn plugin_dirs(root: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.join("plugin.toml").is_file()).collect())
        .unwrap_or_default();
    dirs.sort();
    dirs
}

/// Keeps the live plugin set in step with a plugins directory.
pub struct PluginWatcher {
    root: PathBuf,
    /// Plugin folder -> fingerprint last acted on (loaded or refused).
    seen: HashMap<PathBuf, String>,
    /// Plugin folder -> plugin name it loaded.
    names: HashMap<PathBuf, String>,
    /// After the first scan (at start, before uploads are restored), a
    /// folder load is recorded as the latest change of its plugin.
    started: bool,
}

impl PluginWatcher {
    pub fn new(root: PathBuf) -> PluginWatcher {
        PluginWatcher { root, seen: HashMap::new(), names: HashMap::new(), started: false }
    }

    /// Load what changed since the last scan; remove plugins whose folder
    /// is gone. Returns the refusals (folder, reason) of this scan.
    /// After a policy change, prove again at the next scan the folders the
    /// old policy refused and those whose plugin the new one unloaded: the
    /// new policy may accept them (a newly trusted signer, say), or refuse
    /// them with a reason worth logging. Live plugins are left alone.
    pub fn retry_after_policy_change(&mut self, unloaded: &[String]) {
        self.names.retain(|_, name| !unloaded.contains(name));
        let names = &self.names;
        self.seen.retain(|dir, _| names.contains_key(dir));
    }

    pub async fn scan(&mut self, state: &AppState) -> Vec<(PathBuf, String)> {
        let mut refusals = Vec::new();
        let dirs = plugin_dirs(&self.root);
        for dir in &dirs {
            let fp = fingerprint(&plugin_files(dir));
            if self.seen.get(dir) == Some(&fp) {
                continue;
            }
            self.seen.insert(dir.clone(), fp);
            let policy = state.gate.policy.load_full().policy.clone();
            let result = match PluginSource::from_dir(dir) {
                Ok(source) => state.gate.registry.prove(source, &policy).await,
                Err(e) => Err(e),
            };
            match result {
                Ok(proven) => {
                    let (label, digest) = (proven.plugin.label().to_string(), proven.plugin.digest.clone());
                    let (from_cache, load_ms) = (proven.plugin.from_cache, proven.plugin.load_time.as_secs_f64() * 1e3);
                    self.names.insert(dir.clone(), proven.plugin.name().to_string());
                    let name = proven.plugin.name().to_string();
                    let replaced = state.gate.registry.activate(proven).await;
                    // A folder change after an upload is the latest change:
                    // it is what a restart restores.
                    if self.started {
                        state.record_uploads(&name);
                    }
                    tracing::info!(
                        plugin = %label,
                        digest = %digest,
                        from_cache,
                        load_ms,
                        replaced = replaced.as_ref().map(|p| p.label().to_string()),
                        "plugin loaded"
                    );
                }
                Err(e) => {
                    tracing::error!(dir = %dir.display(), error = %e, "plugin refused; the previous version (if any) keeps serving");
                    refusals.push((dir.clone(), e.to_string()));
                }
            }
        }
        // Folders that disappeared: remove what they loaded, unless the
        // live version came from somewhere else since.
        let gone: Vec<PathBuf> = self.seen.keys().filter(|d| !dirs.contains(d)).cloned().collect();
        for dir in gone {
            self.seen.remove(&dir);
            if let Some(name) = self.names.remove(&dir) {
                let from_here = state.gate.registry.current().slot(&name).is_some_and(|s| s.origin == Origin::Directory(dir.clone()));
                if from_here && state.gate.registry.remove(&name).await.is_ok() {
                    tracing::info!(plugin = %name, "plugin folder removed; plugin unloaded");
                }
            }
        }
        self.started = true;
        refusals
    }
}

/// Poll both directories until the process ends.
pub fn spawn(state: Arc<AppState>, mut plugins: PluginWatcher, every: Duration) {
    tokio::spawn(async move {
        let mut policy_fp = fingerprint(&policy_files(&state.policies_dir));
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let fp = fingerprint(&policy_files(&state.policies_dir));
            if fp != policy_fp {
                policy_fp = fp;
                if let Ok(unloaded) = state.reload_policy().await {
                    plugins.retry_after_policy_change(&unloaded);
                }
            }
            plugins.scan(&state).await;
        }
    });
}
