//! `plugin.toml`: what a plugin is, which world it implements, which assets
//! it governs, its limits and its mode. [`Manifest::parse`] refuses a bad
//! manifest with a [`ManifestError`] saying which field is wrong.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use steward_policy::PathGlob;

/// Upper bound on a plugin's linear memory; the pooling allocator reserves
/// slots of this size.
pub const MAX_MEMORY_MIB: u32 = 256;
/// Upper bound on a plugin's per-call CPU-time budget (`limits.timeout_ms`).
pub const MAX_TIMEOUT_MS: u32 = 1_000;
/// Upper bound on the call-backs one tool invocation may make
/// (`limits.max_calls`).
pub const MAX_CALLS: u32 = 64;

/// Why a manifest was refused.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// Not TOML, or not a manifest's shape (a missing or unknown field, a
    /// wrong type, an unknown world or language).
    #[error("{0}")]
    Syntax(String),
    #[error("name {0:?}: use letters, digits, '-' and '_'")]
    Name(String),
    #[error("version is empty")]
    EmptyVersion,
    #[error("scope lists no asset patterns")]
    EmptyScope,
    /// A scope pattern that is not an asset glob.
    #[error("scope: {0}")]
    Scope(String),
    #[error("limits.timeout_ms must be 1..={}", MAX_TIMEOUT_MS)]
    TimeoutMs,
    #[error("limits.memory_mib must be 1..={}", MAX_MEMORY_MIB)]
    MemoryMib,
    #[error("limits.max_reuse must be at least 1")]
    MaxReuse,
    #[error("limits.max_calls must be 0..={}", MAX_CALLS)]
    MaxCalls,
    #[error("capabilities.read_dir must be a folder inside the plugin's own folder")]
    ReadDir,
    /// `plugin.toml` could not be read.
    #[error("{}: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    /// A refusal of the manifest read from `path`.
    #[error("{}: {error}", path.display())]
    In { path: PathBuf, error: Box<ManifestError> },
}

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
    /// Instances are pooled and reused (up to `max_reuse` calls) by the
    /// caller that used them and nobody else, so state a plugin keeps in its
    /// memory carries over only between calls of one caller. Any failed
    /// call discards its instance. There is no setting that shares more.
    #[default]
    Reuse,
    /// A fresh instance for every call: nothing carries over, at ~25 µs
    /// (Rust) to a few ms (Python, JavaScript) more per call.
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
    /// Tools only: how many call-backs (query, decide, catalog,
    /// alternatives) one invocation may make; the next is refused.
    #[serde(default = "default_max_calls")]
    pub max_calls: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            timeout_ms: default_timeout_ms(),
            memory_mib: default_memory_mib(),
            isolation: Isolation::default(),
            max_reuse: default_max_reuse(),
            max_calls: default_max_calls(),
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
fn default_max_calls() -> u32 {
    8
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
    pub fn parse(text: &str) -> Result<Manifest, ManifestError> {
        let manifest: Manifest = toml::from_str(text).map_err(|e| ManifestError::Syntax(e.message().trim().to_string()))?;
        manifest.validate()?;
        Ok(manifest)
    }

    /// Read and parse `dir/plugin.toml`.
    pub fn read(dir: &Path) -> Result<Manifest, ManifestError> {
        let path = dir.join("plugin.toml");
        let text = std::fs::read_to_string(&path).map_err(|source| ManifestError::Read { path: path.clone(), source })?;
        Manifest::parse(&text).map_err(|e| ManifestError::In { path, error: Box::new(e) })
    }

    fn validate(&self) -> Result<(), ManifestError> {
        if self.name.is_empty() || !self.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            return Err(ManifestError::Name(self.name.clone()));
        }
        if self.version.trim().is_empty() {
            return Err(ManifestError::EmptyVersion);
        }
        if self.scope.is_empty() && self.world != World::Tool {
            return Err(ManifestError::EmptyScope);
        }
        for pattern in &self.scope {
            PathGlob::new(pattern).map_err(ManifestError::Scope)?;
        }
        let l = &self.limits;
        if l.timeout_ms == 0 || l.timeout_ms > MAX_TIMEOUT_MS {
            return Err(ManifestError::TimeoutMs);
        }
        if l.memory_mib == 0 || l.memory_mib > MAX_MEMORY_MIB {
            return Err(ManifestError::MemoryMib);
        }
        if l.max_reuse == 0 {
            return Err(ManifestError::MaxReuse);
        }
        if l.max_calls > MAX_CALLS {
            return Err(ManifestError::MaxCalls);
        }
        if let Some(dir) = &self.capabilities.read_dir
            && (dir.is_absolute() || dir.components().any(|c| matches!(c, std::path::Component::ParentDir)))
        {
            return Err(ManifestError::ReadDir);
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

    #[test]
    fn refusals_name_the_field() {
        let base = "name = \"x\"\nversion = \"1\"\nworld = \"sop\"\nscope = [\"x\"]\n";
        assert!(matches!(Manifest::parse(&format!("{base}[limits]\ntimeout_ms = 0")), Err(ManifestError::TimeoutMs)));
        assert!(matches!(Manifest::parse(&format!("{base}[limits]\nmax_reuse = 0")), Err(ManifestError::MaxReuse)));
        assert!(matches!(Manifest::parse(&format!("{base}[limits]\nmax_calls = 65")), Err(ManifestError::MaxCalls)));
        assert!(matches!(Manifest::parse(&format!("{base}[capabilities]\nread_dir = \"/etc\"")), Err(ManifestError::ReadDir)));
        assert!(matches!(Manifest::parse("name = \"x\"\nversion = \" \"\nworld = \"sop\"\nscope = [\"x\"]"), Err(ManifestError::EmptyVersion)));
        assert!(matches!(Manifest::parse("name = \"x\""), Err(ManifestError::Syntax(_))));
        let e = Manifest::parse(&format!("{base}[limits]\nmemory_mib = 0")).unwrap_err();
        assert_eq!(e.to_string(), format!("limits.memory_mib must be 1..={MAX_MEMORY_MIB}"));
    }

    #[test]
    fn a_tool_needs_no_scope() {
        let m = Manifest::parse("name = \"t\"\nversion = \"1\"\nworld = \"tool\"\nscope = []\n").unwrap();
        assert_eq!(m.world, World::Tool);
        assert!(matches!(Manifest::parse("name = \"t\"\nversion = \"1\"\nworld = \"sop\"\nscope = []\n"), Err(ManifestError::EmptyScope)));
    }

    #[test]
    fn read_names_the_file() {
        let dir = std::env::temp_dir().join(format!("steward-plugin-spec-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let missing = Manifest::read(&dir).unwrap_err();
        assert!(matches!(missing, ManifestError::Read { .. }), "{missing}");
        std::fs::write(dir.join("plugin.toml"), "name = \"a b\"\nversion = \"1\"\nworld = \"sop\"\nscope = [\"x\"]\n").unwrap();
        let bad = Manifest::read(&dir).unwrap_err();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(matches!(&bad, ManifestError::In { error, .. } if matches!(**error, ManifestError::Name(_))), "{bad}");
        assert!(bad.to_string().contains("plugin.toml: name \"a b\""), "{bad}");
    }
}
