//! `steward plugin new`: a working plugin folder from a template: source,
//! manifest with a `[build]` section, test cases, the WIT it builds
//! against, and (Python, JavaScript) the helper modules.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use steward_runtime::{Language, World};

/// The WIT a new SOP or scorer is built against...
const WIT: &str = include_str!("../../../../wit/v0.2.0/guardrail.wit");
/// ...and a new tool (it declares its action and calls back).
const WIT_TOOL: &str = include_str!("../../../../wit/v0.3.0/guardrail.wit");

/// (path in the new folder, template text) for each file.
type Files = &'static [(&'static str, &'static str)];

/// A world's template: its source (written as `$dest`), manifest and cases.
macro_rules! template {
    ($lang:literal, $world:literal, $source:literal => $dest:literal) => {
        &[
            ($dest, include_str!(concat!("../../../../sdk/", $lang, "/templates/", $world, "/", $source))),
            ("plugin.toml", include_str!(concat!("../../../../sdk/", $lang, "/templates/", $world, "/plugin.toml"))),
            ("cases.toml", include_str!(concat!("../../../../sdk/", $lang, "/templates/", $world, "/cases.toml"))),
        ]
    };
}

const IGNORE: &str = "plugin.wasm\ntarget/\n__pycache__/\nnode_modules/\n";

/// What every plugin of a language gets besides its world's template: the
/// crate manifest, or the SDK helpers it imports from beside its source.
fn language_files(language: Language) -> Files {
    match language {
        Language::Rust => &[("Cargo.toml", include_str!("../../../../sdk/rust/templates/Cargo.toml.tmpl"))],
        Language::Python => &[("steward_sdk.py", include_str!("../../../../sdk/python/steward_sdk.py"))],
        Language::Js => &[
            ("steward-sdk.js", include_str!("../../../../sdk/js/steward-sdk.js")),
            ("steward-context.js", include_str!("../../../../sdk/js/steward-context.js")),
            ("steward-gate.js", include_str!("../../../../sdk/js/steward-gate.js")),
        ],
    }
}

fn world_files(language: Language, world: World) -> anyhow::Result<Files> {
    Ok(match (language, world) {
        (Language::Rust, World::Sop) => template!("rust", "sop", "lib.rs" => "src/lib.rs"),
        (Language::Rust, World::Scorer) => template!("rust", "scorer", "lib.rs" => "src/lib.rs"),
        (Language::Rust, World::Tool) => template!("rust", "tool", "lib.rs" => "src/lib.rs"),
        (Language::Python, World::Sop) => template!("python", "sop", "app.py" => "app.py"),
        (Language::Python, World::Scorer) => template!("python", "scorer", "app.py" => "app.py"),
        (Language::Python, World::Tool) => template!("python", "tool", "app.py" => "app.py"),
        (Language::Js, World::Sop) => template!("js", "sop", "app.js" => "app.js"),
        (Language::Js, World::Scorer) => template!("js", "scorer", "app.js" => "app.js"),
        (Language::Js, World::Tool) => template!("js", "tool", "app.js" => "app.js"),
        (_, World::Classifier) => bail!("there is no template for the classifier world; start from plugins/pii-classifier"),
    })
}

/// Write a new plugin named `name` into `parent/name`. Refuses to touch a
/// folder that exists.
pub fn scaffold(parent: &Path, name: &str, language: Language, world: World) -> anyhow::Result<PathBuf> {
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') || name.starts_with(['-', '_']) {
        bail!("plugin name {name:?}: use letters, digits, '-' and '_', starting with a letter or digit");
    }
    let dir = parent.join(name);
    if dir.exists() {
        bail!("{} exists; not overwriting it", dir.display());
    }
    let world_files = world_files(language, world)?;
    let write = |rel: &str, text: &str| -> anyhow::Result<()> {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(&path, text.replace("{{name}}", name)).with_context(|| format!("writing {}", path.display()))
    };
    for (rel, text) in world_files.iter().chain(language_files(language)) {
        write(rel, text)?;
    }
    write("wit/guardrail.wit", if world == World::Tool { WIT_TOOL } else { WIT })?;
    write(".gitignore", IGNORE)?;
    Ok(dir)
}
