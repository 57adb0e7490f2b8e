//! Plugins uploaded through the admin API, kept in the data directory so
//! they survive a restart:
//!
//! ```text
//! data/uploads/NAME/slot.json          which uploaded versions are active, previous, staged
//! data/uploads/NAME/DIGEST/plugin.toml each uploaded version's files, as uploaded
//!                         /plugin.wasm
//!                         /cases.toml
//!                         /plugin.sig  (when signed)
//! ```
//!
//! After every admin change to a plugin (and every watched-folder load of a
//! plugin that has uploads), `slot.json` is rewritten from the live slot and
//! version folders it no longer names are deleted, so the disk holds at
//! most the active, previous and staged versions.
//!
//! At start, uploads are restored after the watched folder's first scan,
//! each version proven again under the current policy: the latest
//! deliberate change wins. An uploaded version that was live when the host
//! stopped replaces the folder's version of the same name (logged); a
//! folder change made while the host runs replaces an uploaded version, and
//! that is what is restored next time.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use steward_runtime::{Origin, PluginSource, Slot};

use crate::state::AppState;

const SLOT_FILE: &str = "slot.json";


/// Which uploaded versions (by digest) a plugin's slot holds.
#[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
struct SlotRecord {
    active: Option<String>,
    previous: Option<String>,
    #[serde(default)]
    staged: Vec<String>,
}

#[derive(Debug)]
pub struct UploadStore {
    root: PathBuf,
    /// Versions kept and still being proven (name, digest): `record` leaves
    /// their folders alone while their [`Kept`] guard lives.
    in_flight: std::sync::Mutex<Vec<(String, String)>>,
}

/// An upload kept on disk and still being proven; dropping it lets
/// `record` prune the version like any other.
pub struct Kept<'a> {
    store: &'a UploadStore,
    name: String,
    digest: String,
}

impl Drop for Kept<'_> {
    fn drop(&mut self) {
        if let Ok(mut in_flight) = self.store.in_flight.lock() {
            in_flight.retain(|(n, d)| !(n == &self.name && d == &self.digest));
        }
    }
}

impl UploadStore {
    pub fn new(root: PathBuf) -> UploadStore {
        UploadStore { root, in_flight: Default::default() }
    }

    fn version_dir(&self, name: &str, digest: &str) -> PathBuf {
        self.root.join(name).join(digest)
    }

    /// `name`'s folder, if `name` is a plugin name (ASCII letters, digits,
    /// `-`, `_`): never a path that leaves the uploads folder.
    fn plugin_dir(&self, name: &str) -> Option<PathBuf> {
        let ok = !name.is_empty() && name.len() <= 128 && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        ok.then(|| self.root.join(name))
    }

    /// Write an uploaded version's files (before it is proven: if the host
    /// stops between, the next `record` prunes it). Hold the guard until
    /// the version is proven or refused.
    pub fn keep(&self, source: &PluginSource, manifest_text: &str, digest: &str) -> std::io::Result<Kept<'_>> {
        let name = &source.manifest.name;
        let plugin_dir = self.plugin_dir(name).ok_or_else(|| std::io::Error::other(format!("{name:?} is not a plugin name")))?;
        // The manifest as uploaded, with its component and cases under the
        // names it gives them (checked before anything is written).
        let (component, cases) = (safe_file(&source.manifest.component)?, safe_file(&source.manifest.cases)?);
        let dir = plugin_dir.join(digest);
        let tmp = plugin_dir.join(format!(".{digest}.tmp{}", std::process::id()));
        if let Ok(mut in_flight) = self.in_flight.lock() {
            in_flight.push((name.clone(), digest.to_string()));
        }
        let kept = Kept { store: self, name: name.clone(), digest: digest.to_string() };
        let write = || -> std::io::Result<()> {
            let _ = std::fs::remove_dir_all(&tmp);
            std::fs::create_dir_all(&tmp)?;
            std::fs::write(tmp.join("plugin.toml"), manifest_text)?;
            std::fs::write(tmp.join(component), &source.component)?;
            std::fs::write(tmp.join(cases), &source.cases)?;
            if let Some(sig) = &source.signature {
                std::fs::write(tmp.join(steward_runtime::signature::SIGNATURE_FILE), sig)?;
            }
            // The same component again, perhaps with another signature,
            // manifest or cases: the newest upload's files are what a
            // restart restores.
            if dir.exists() {
                std::fs::remove_dir_all(&dir)?;
            }
            std::fs::rename(&tmp, &dir)
        };
        if let Err(e) = write() {
            // Leave nothing behind: the temporary folder, and the plugin's
            // folder if this was its only upload.
            let _ = std::fs::remove_dir_all(&tmp);
            let _ = std::fs::remove_dir(&plugin_dir);
            return Err(e);
        }
        Ok(kept)
    }

    /// Rewrite `name`'s record from its live slot (`None`: it was removed)
    /// and delete the version folders it no longer names.
    pub fn record(&self, name: &str, slot: Option<&Slot>) -> std::io::Result<()> {
        let Some(dir) = self.plugin_dir(name) else { return Ok(()) };
        if !dir.is_dir() {
            return Ok(());
        }
        let uploaded = |digest: &str| self.version_dir(name, digest).join("plugin.toml").is_file().then(|| digest.to_string());
        let record = match slot {
            Some(slot) => SlotRecord {
                active: uploaded(&slot.active.digest),
                previous: slot.previous.as_ref().and_then(|p| uploaded(&p.digest)),
                staged: slot.staged.iter().filter_map(|p| uploaded(&p.digest)).collect(),
            },
            None => SlotRecord::default(),
        };
        let text = serde_json::to_string_pretty(&record).map_err(std::io::Error::other)?;
        let tmp = dir.join(format!(".{SLOT_FILE}.tmp{}", std::process::id()));
        std::fs::write(&tmp, text)?;
        std::fs::rename(&tmp, dir.join(SLOT_FILE))?;
        let named: Vec<&String> = record.active.iter().chain(&record.previous).chain(&record.staged).collect();
        for entry in std::fs::read_dir(&dir)?.flatten() {
            let file_name = entry.file_name().to_string_lossy().to_string();
            // An upload still being proven (kept, not yet in the slot),
            // and its temporary folder, are left alone.
            let in_flight = self.in_flight.lock().map(|f| f.iter().any(|(n, d)| n == name && file_name.contains(d.as_str()))).unwrap_or(false);
            if file_name != SLOT_FILE && !in_flight && !named.iter().any(|d| **d == file_name) {
                let path = entry.path();
                if path.is_dir() { std::fs::remove_dir_all(&path)? } else { std::fs::remove_file(&path)? }
            }
        }
        // Nothing uploaded is left (and nothing in flight): forget the name.
        if record == SlotRecord::default() && std::fs::read_dir(&dir)?.flatten().all(|e| e.file_name() == SLOT_FILE) {
            std::fs::remove_dir_all(&dir)?;
        }
        Ok(())
    }

    /// Names with a record.
    fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.root)
            .map(|rd| {
                rd.flatten()
                    .filter(|e| e.path().join(SLOT_FILE).is_file())
                    .map(|e| e.file_name().to_string_lossy().to_string())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    fn source(&self, name: &str, digest: &str) -> Result<PluginSource, String> {
        let dir = self.version_dir(name, digest);
        let mut source = PluginSource::from_dir(&dir).map_err(|e| e.to_string())?;
        if steward_runtime::digest(&source.component) != digest {
            return Err(format!("{}: the component's digest is not {digest} (edited on disk?)", dir.display()));
        }
        source.origin = Origin::Upload;
        source.base_dir = None;
        Ok(source)
    }

    /// Load every recorded upload again: previous, then active (so the
    /// rollback target is what it was), then staged. A version the current
    /// policy refuses is logged and skipped.
    pub async fn restore(&self, state: &AppState) -> usize {
        let mut restored = 0;
        for name in self.names() {
            let record: SlotRecord = match std::fs::read_to_string(self.root.join(&name).join(SLOT_FILE))
                .map_err(|e| e.to_string())
                .and_then(|t| serde_json::from_str(&t).map_err(|e| e.to_string()))
            {
                Ok(r) => r,
                Err(e) => {
                    tracing::error!(plugin = %name, error = %e, "cannot read the record of an uploaded plugin; not restored");
                    continue;
                }
            };
            let folder = state.gate.registry.current().slot(&name).map(|s| (s.origin.clone(), s.active.label().to_string()));
            let prove = async |digest: &String| {
                let policy = state.gate.policy.load_full().policy.clone();
                let proven = match self.source(&name, digest) {
                    Ok(source) => state.gate.registry.prove(source, &policy).await.map_err(|e| e.to_string()),
                    Err(e) => Err(e),
                };
                proven.inspect_err(|e| tracing::error!(plugin = %name, digest = %digest, error = %e, "uploaded plugin refused at restore")).ok()
            };
            // Only an active upload that proves again goes live; its
            // predecessor then goes in first, to be the rollback target.
            let Some(active) = (match &record.active {
                Some(digest) => prove(digest).await,
                None => None,
            }) else {
                continue;
            };
            if let Some(previous) = match &record.previous {
                Some(digest) => prove(digest).await,
                None => None,
            } {
                state.gate.registry.activate(previous).await;
                restored += 1;
            }
            tracing::info!(plugin = %active.plugin.label(), digest = %active.plugin.digest, "uploaded plugin restored");
            state.gate.registry.activate(active).await;
            restored += 1;
            for digest in &record.staged {
                if let Some(staged) = prove(digest).await {
                    state.gate.registry.stage(staged).await;
                    restored += 1;
                }
            }
            if let (Some((Origin::Directory(dir), replaced)), Some(slot)) = (folder, state.gate.registry.current().slot(&name))
                && slot.origin == Origin::Upload
            {
                tracing::warn!(
                    plugin = %name,
                    folder = %dir.display(),
                    replaced = %replaced,
                    active = %slot.active.label(),
                    "the uploaded version was live when the host stopped, so it wins over the watched folder's; \
                     roll back or remove it through the admin API to serve the folder's"
                );
            }
            if let Err(e) = self.record(&name, state.gate.registry.current().slot(&name)) {
                tracing::warn!(plugin = %name, error = %e, "could not rewrite the uploads record");
            }
        }
        restored
    }
}

/// A file name from a manifest, kept to one path component.
fn safe_file(name: &Path) -> std::io::Result<&Path> {
    let mut parts = name.components();
    match (parts.next(), parts.next()) {
        (Some(std::path::Component::Normal(_)), None) => Ok(name),
        _ => Err(std::io::Error::other(format!("{} must be a plain file name for an uploaded plugin", name.display()))),
    }
}
