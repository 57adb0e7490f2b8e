//! `plugin.toml`: what a plugin is, which world it implements, which assets
//! it governs, its limits and its mode.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use steward_policy::PathGlob;

use crate::LoadError;

/// Upper bound on a plugin's linear memory; the pooling allocator reserves
/// slots of this size.
pub const MAX_MEMORY_MIB: u32 = 256;
/// Upper bound on a plugin's per-call deadline.
pub const MAX_TIMEOUT_MS: u32 = 1_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum World {
    Sop,
    Scorer,
    Tool,
    /// Tags warehouse columns the catalog does not describe (PII kinds).
    Classifier,
}

impl World {
    pub fn as_str(self) -> &'static str {
        match self {
            World::Sop => "sop",
            World::Scorer => "scorer",
            World::Tool => "tool",
            World::Classifier => "classifier",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Verdicts count.
    #[default]
    Enforce,
    /// Runs on live traffic; what it would have decided is recorded only.
    Shadow,
}

/// How instances are reused between calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Isolation {
    /// Instances are pooled and reused (up to `max_reuse` calls), so state a
    /// plugin keeps in its memory can carry from one call to the next.
    /// Any trap or timeout discards the instance.
    #[default]
    Reuse,
    /// A fresh instance for every call: nothing carries over, at ~50 µs more
    /// per call.
    PerCall,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u32,
    #[serde(default = "default_memory_mib")]
    pub memory_mib: u32,
    #[serde(default)]
    pub isolation: Isolation,
    #[serde(default = "default_max_reuse")]
    pub max_reuse: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            timeout_ms: default_timeout_ms(),
            memory_mib: default_memory_mib(),
            isolation: Isolation::default(),
            max_reuse: default_max_reuse(),
        }
    }
}

fn default_timeout_ms() -> u32 {
    10
}
fn default_memory_mib() -> u32 {
    16
}
fn default_max_reuse() -> u32 {
    10_000
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Capabilities {
    /// One directory, relative to the plugin folder, preopened read-only at
    /// `/data` inside the plugin.
    pub read_dir: Option<PathBuf>,
}

/// The language a plugin's source is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    Rust,
    Python,
    Js,
}

impl Language {
    pub fn as_str(self) -> &'static str {
        match self {
            Language::Rust => "rust",
            Language::Python => "python",
            Language::Js => "js",
        }
    }
}

/// How `steward plugin build` turns the folder into its component.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BuildSpec {
    pub language: Language,
    /// Python: the module file (`app.py`); JavaScript: the entry file
    /// (`app.js`); Rust: unused (the folder's `Cargo.toml` is built).
    pub source: Option<PathBuf>,
    /// The WIT folder, relative to the plugin folder.
    #[serde(default = "default_wit")]
    pub wit: PathBuf,
    /// Python only: more folders to find modules in.
    #[serde(default)]
    pub python_path: Vec<PathBuf>,
}

fn default_wit() -> PathBuf {
    PathBuf::from("wit")
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub name: String,
    pub version: String,
    pub world: World,
    #[serde(default)]
    pub description: String,
    /// The component file, relative to the plugin folder.
    #[serde(default = "default_component")]
    pub component: PathBuf,
    /// The test cases file, relative to the plugin folder.
    #[serde(default = "default_cases")]
    pub cases: PathBuf,
    /// Asset path globs this plugin governs. For a classifier: the tables
    /// whose columns it may classify.
    pub scope: Vec<String>,
    #[serde(default)]
    pub mode: Mode,
    #[serde(default)]
    pub limits: Limits,
    #[serde(default)]
    pub capabilities: Capabilities,
    /// For `steward plugin build`; the host itself only loads the component.
    pub build: Option<BuildSpec>,
}

fn default_component() -> PathBuf {
    PathBuf::from("plugin.wasm")
}
fn default_cases() -> PathBuf {
    PathBuf::from("cases.toml")
}

impl Manifest {
    pub fn parse(text: &str) -> Result<Manifest, LoadError> {
        let manifest: Manifest = toml::from_str(text).map_err(|e| LoadError::Manifest(e.message().trim().to_string()))?;
        manifest.validate()?;
        Ok(manifest)
    }

    pub fn read(dir: &Path) -> Result<Manifest, LoadError> {
        let path = dir.join("plugin.toml");
        let text = std::fs::read_to_string(&path).map_err(|e| LoadError::Io(format!("{}: {e}", path.display())))?;
        Manifest::parse(&text).map_err(|e| match e {
            LoadError::Manifest(m) => LoadError::Manifest(format!("{}: {m}", path.display())),
            other => other,
        })
    }

    fn validate(&self) -> Result<(), LoadError> {
        let bad = |m: String| Err(LoadError::Manifest(m));
        if self.name.is_empty() || !self.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            return bad(format!("name {:?}: use letters, digits, '-' and '_'", self.name));
        }
        if self.version.trim().is_empty() {
            return bad("version is empty".into());
        }
        if self.scope.is_empty() && self.world != World::Tool {
            return bad("scope lists no asset patterns".into());
        }
        for pattern in &self.scope {
            PathGlob::new(pattern).map_err(|e| LoadError::Manifest(format!("scope: {e}")))?;
        }
        let l = &self.limits;
        if l.timeout_ms == 0 || l.timeout_ms > MAX_TIMEOUT_MS {
            return bad(format!("limits.timeout_ms must be 1..={MAX_TIMEOUT_MS}"));
        }
        if l.memory_mib == 0 || l.memory_mib > MAX_MEMORY_MIB {
            return bad(format!("limits.memory_mib must be 1..={MAX_MEMORY_MIB}"));
        }
        if l.max_reuse == 0 {
            return bad("limits.max_reuse must be at least 1".into());
        }
        if let Some(dir) = &self.capabilities.read_dir
            && (dir.is_absolute() || dir.components().any(|c| matches!(c, std::path::Component::ParentDir)))
        {
            return bad("capabilities.read_dir must be a folder inside the plugin's own folder".into());
        }
        Ok(())
    }

    pub fn scope_globs(&self) -> Vec<PathGlob> {
        self.scope.iter().filter_map(|p| PathGlob::new(p).ok()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minimal_manifest_gets_defaults() {
        let m = Manifest::parse("name = \"x\"\nversion = \"1\"\nworld = \"sop\"\nscope = [\"finance/**\"]\n").unwrap();
        assert_eq!(m.limits.timeout_ms, 10);
        assert_eq!(m.mode, Mode::Enforce);
        assert_eq!(m.limits.isolation, Isolation::Reuse);
        assert_eq!(m.component, PathBuf::from("plugin.wasm"));
    }

    #[test]
    fn a_build_section_names_the_language() {
        let m = Manifest::parse(
            "name = \"x\"\nversion = \"1\"\nworld = \"sop\"\nscope = [\"finance/**\"]\n[build]\nlanguage = \"python\"\nsource = \"app.py\"\n",
        )
        .unwrap();
        let build = m.build.unwrap();
        assert_eq!(build.language, Language::Python);
        assert_eq!(build.wit, PathBuf::from("wit"));
        assert!(Manifest::parse("name = \"x\"\nversion = \"1\"\nworld = \"sop\"\nscope = [\"x\"]\n[build]\nlanguage = \"cobol\"\n").is_err());
    }

    #[test]
    fn classifier_is_a_world() {
        let m = Manifest::parse("name = \"c\"\nversion = \"1\"\nworld = \"classifier\"\nscope = [\"**\"]\n").unwrap();
        assert_eq!(m.world, World::Classifier);
        assert_eq!(m.world.as_str(), "classifier");
    }

    #[test]
    fn bad_manifests_are_refused() {
        let base = "version = \"1\"\nworld = \"sop\"\n";
        for bad in [
            format!("name = \"a b\"\n{base}scope = [\"x\"]"),
            format!("name = \"x\"\n{base}scope = []"),
            format!("name = \"x\"\n{base}scope = [\"a//b\"]"),
            format!("name = \"x\"\n{base}scope = [\"x\"]\n[limits]\ntimeout_ms = 0"),
            format!("name = \"x\"\n{base}scope = [\"x\"]\n[limits]\nmemory_mib = 100000"),
            format!("name = \"x\"\n{base}scope = [\"x\"]\n[capabilities]\nread_dir = \"../etc\""),
            format!("name = \"x\"\n{base}scope = [\"x\"]\nunknown = 1"),
            "name = \"x\"\nversion = \"1\"\nworld = \"nope\"\nscope = [\"x\"]".to_string(),
        ] {
            assert!(Manifest::parse(&bad).is_err(), "accepted: {bad}");
        }
    }
}
