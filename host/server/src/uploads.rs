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

#[derive(Debug, Clone)]
pub struct UploadStore {
    root: PathBuf,
}

impl UploadStore {
    pub fn new(root: PathBuf) -> UploadStore {
        UploadStore { root }
    }

    fn version_dir(&self, name: &str, digest: &str) -> PathBuf {
        self.root.join(name).join(digest)
    }

    /// Write an uploaded version's files (before it is proven: if the host
    /// stops between, the next `record` prunes it).
    pub fn keep(&self, source: &PluginSource, manifest_text: &str, digest: &str) -> std::io::Result<()> {
        let dir = self.version_dir(&source.manifest.name, digest);
        if dir.join("plugin.toml").is_file() {
            return Ok(());
        }
        let tmp = self.root.join(&source.manifest.name).join(format!(".{digest}.tmp{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(&tmp)?;
        // The manifest as uploaded, with its component and cases under the
        // names it gives them.
        std::fs::write(tmp.join("plugin.toml"), manifest_text)?;
        std::fs::write(tmp.join(safe_file(&source.manifest.component)?), &source.component)?;
        std::fs::write(tmp.join(safe_file(&source.manifest.cases)?), &source.cases)?;
        if let Some(sig) = &source.signature {
            std::fs::write(tmp.join(steward_runtime::signature::SIGNATURE_FILE), sig)?;
        }
        std::fs::rename(&tmp, &dir)
    }

    /// Rewrite `name`'s record from its live slot (`None`: it was removed)
    /// and delete the version folders it no longer names.
    pub fn record(&self, name: &str, slot: Option<&Slot>) -> std::io::Result<()> {
        let dir = self.root.join(name);
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
        if record == SlotRecord::default() {
            return std::fs::remove_dir_all(&dir);
        }
        let text = serde_json::to_string_pretty(&record).map_err(std::io::Error::other)?;
        let tmp = dir.join(format!(".{SLOT_FILE}.tmp{}", std::process::id()));
        std::fs::write(&tmp, text)?;
        std::fs::rename(&tmp, dir.join(SLOT_FILE))?;
        let named: Vec<&String> = record.active.iter().chain(&record.previous).chain(&record.staged).collect();
        for entry in std::fs::read_dir(&dir)?.flatten() {
            let file_name = entry.file_name().to_string_lossy().to_string();
            if file_name != SLOT_FILE && !named.iter().any(|d| **d == file_name) {
                let path = entry.path();
                if path.is_dir() { std::fs::remove_dir_all(&path)? } else { std::fs::remove_file(&path)? }
            }
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
            let folder = state.registry.current().slot(&name).map(|s| (s.origin.clone(), s.active.label().to_string()));
            let live = record.active.iter().map(|d| (d, true));
            let order = record.previous.iter().map(|d| (d, true)).filter(|_| record.active.is_some()).chain(live);
            for (digest, activate) in order.chain(record.staged.iter().map(|d| (d, false))) {
                let policy = state.policy.load_full().policy.clone();
                let proven = match self.source(&name, digest) {
                    Ok(source) => state.registry.prove(source, &policy).await.map_err(|e| e.to_string()),
                    Err(e) => Err(e),
                };
                match proven {
                    Ok(proven) => {
                        let label = proven.plugin.label().to_string();
                        if activate {
                            state.registry.activate(proven).await;
                        } else {
                            state.registry.stage(proven).await;
                        }
                        restored += 1;
                        tracing::info!(plugin = %label, digest = %digest, activate, "uploaded plugin restored");
                    }
                    Err(e) => tracing::error!(plugin = %name, digest = %digest, error = %e, "uploaded plugin refused at restore"),
                }
            }
            if let (Some((Origin::Directory(dir), replaced)), Some(slot)) = (folder, state.registry.current().slot(&name))
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
            if let Err(e) = self.record(&name, state.registry.current().slot(&name)) {
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
