//! `steward plugin build`: turn a plugin folder into its component, with the
//! toolchain of the language its manifest's `[build]` names.
//!
//! - rust: `cargo build --release --target wasm32-wasip2` on the folder's
//!   `Cargo.toml`; the `.wasm` cargo reports is copied to the component path.
//! - python: `componentize-py --stub-wasi` (PyPI; `pip install -r
//!   sdk/python/requirements.txt`): the interpreter's WASI imports become
//!   trapping stubs; `print` traps, log through `steward_sdk` instead.
//! - js: `componentize-js` (npm; `npm ci --prefix sdk/js`), found in a
//!   `node_modules/.bin` above the folder or in `sdk/js`, or on `PATH`.
//!   Set `STEWARD_COMPONENTIZE_PY` / `STEWARD_COMPONENTIZE_JS` to use
//!   another binary.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use steward_runtime::{BuildSpec, Language, Manifest};

pub struct Built {
    pub component: PathBuf,
    pub bytes: usize,
    pub digest: String,
    pub took: Duration,
}

pub fn build(dir: &Path) -> anyhow::Result<Built> {
    let manifest = Manifest::read(dir)?;
    let label = format!("{}@{}", manifest.name, manifest.version);
    let spec = manifest
        .build
        .as_ref()
        .with_context(|| format!("{label}: plugin.toml has no [build] section saying which language to build"))?;
    let out = dir.join(&manifest.component);
    let started = Instant::now();
    match spec.language {
        Language::Rust => rust(dir, &out),
        Language::Python => python(dir, spec, manifest.world.as_str(), &out),
        Language::Js => js(dir, spec, manifest.world.as_str(), &out),
    }
    .with_context(|| format!("{label}: {} build failed", spec.language.as_str()))?;
    let took = started.elapsed();
    let bytes = std::fs::read(&out).with_context(|| format!("reading {}", out.display()))?;
    Ok(Built { component: out, bytes: bytes.len(), digest: steward_runtime::digest(&bytes), took })
}

/// Run a build tool; `missing` is the error when it cannot be found.
fn run(mut cmd: Command, what: &str, missing: &str) -> anyhow::Result<()> {
    let status = match cmd.status() {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!("{missing}"),
        Err(e) => return Err(e).with_context(|| format!("running {what}")),
    };
    if !status.success() {
        bail!("{what} failed ({status})");
    }
    Ok(())
}

fn source(dir: &Path, spec: &BuildSpec, default: &str) -> anyhow::Result<PathBuf> {
    let source = spec.source.clone().unwrap_or_else(|| PathBuf::from(default));
    if !dir.join(&source).is_file() {
        bail!("the source {} is missing", dir.join(&source).display());
    }
    Ok(source)
}

fn rust(dir: &Path, out: &Path) -> anyhow::Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut child = Command::new(cargo)
        .args(["build", "--release", "--target", "wasm32-wasip2", "--message-format=json-render-diagnostics", "--manifest-path"])
        .arg(dir.join("Cargo.toml"))
        .stdout(Stdio::piped())
        .spawn()
        .context("running cargo")?;
    let mut wasm = None;
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines() {
            let Ok(msg) = serde_json::from_str::<serde_json::Value>(&line?) else { continue };
            if msg["reason"] == "compiler-artifact"
                && msg["target"]["kind"].as_array().is_some_and(|k| k.iter().any(|k| k == "cdylib"))
                && let Some(path) = msg["filenames"].as_array().into_iter().flatten().filter_map(|f| f.as_str()).find(|f| f.ends_with(".wasm"))
            {
                wasm = Some(PathBuf::from(path));
            }
        }
    }
    let status = child.wait().context("waiting for cargo")?;
    if !status.success() {
        bail!("cargo build failed ({status}); is the target installed? `rustup target add wasm32-wasip2`");
    }
    let wasm = wasm.context("cargo built no .wasm: is the crate a `cdylib`?")?;
    std::fs::copy(&wasm, out).with_context(|| format!("copying {} to {}", wasm.display(), out.display()))?;
    Ok(())
}

fn python(dir: &Path, spec: &BuildSpec, world: &str, out: &Path) -> anyhow::Result<()> {
    let source = source(dir, spec, "app.py")?;
    let module = source.with_extension("");
    let module = module.to_str().context("the source path is not UTF-8")?.replace('/', ".");
    let bin = std::env::var("STEWARD_COMPONENTIZE_PY").unwrap_or_else(|_| "componentize-py".into());
    let mut cmd = Command::new(&bin);
    // `--stub-wasi`: the interpreter's WASI imports (clocks, random,
    // filesystem, sockets) become trapping stubs, so the component imports
    // only steward:guardrail, the one thing the host grants a plugin.
    cmd.current_dir(dir).arg("-d").arg(&spec.wit).args(["-w", world, "componentize", "--stub-wasi", &module, "-p", "."]);
    for extra in &spec.python_path {
        cmd.arg("-p").arg(extra);
    }
    cmd.arg("-o").arg(absolute(out)?);
    run(cmd, &bin, &componentize_py_missing(&bin))
}

fn js(dir: &Path, spec: &BuildSpec, world: &str, out: &Path) -> anyhow::Result<()> {
    let source = source(dir, spec, "app.js")?;
    // componentize-js loads only modules under its working directory: run
    // it from the project that holds its node_modules (a plugin of this
    // repository imports `../../sdk/js/...`), else from the plugin folder.
    let (bin, root) = match std::env::var_os("STEWARD_COMPONENTIZE_JS") {
        Some(bin) => (PathBuf::from(bin), absolute(dir)?),
        None => find_componentize_js(dir).unwrap_or_else(|| (PathBuf::from("componentize-js"), dir.to_path_buf())),
    };
    // Every WASI feature is disabled, so the component imports only
    // steward:guardrail (`Date.now()` is then the build time: use the
    // request context's `received-at-ms`).
    let mut cmd = Command::new(&bin);
    cmd.current_dir(&root)
        .arg(absolute(&dir.join(&source))?)
        .arg("--wit")
        .arg(absolute(&dir.join(&spec.wit))?)
        .args(["--world-name", world])
        .args(["--disable", "stdio", "--disable", "clocks", "--disable", "random", "--disable", "http", "--disable", "fetch-event"])
        .arg("-o")
        .arg(absolute(out)?);
    run(cmd, &bin.display().to_string(), &componentize_js_missing(dir, &bin))
}

/// Why `componentize-py` could not be run, and how to fix it.
fn componentize_py_missing(bin: &str) -> String {
    format!(
        "{bin} was not found: install it with `pip install componentize-py` (in the Steward repository: \
         `pip install -r sdk/python/requirements.txt`), or set STEWARD_COMPONENTIZE_PY to its path"
    )
}

/// Why `componentize-js` could not be run, and how to fix it.
fn componentize_js_missing(dir: &Path, bin: &Path) -> String {
    if std::env::var_os("STEWARD_COMPONENTIZE_JS").is_some() {
        return format!("STEWARD_COMPONENTIZE_JS is {}, which does not exist: point it at the componentize-js binary", bin.display());
    }
    format!(
        "componentize-js was not found in node_modules/.bin of {} or any folder above it, nor on PATH: \
         install it there (`npm install @bytecodealliance/componentize-js`), or set STEWARD_COMPONENTIZE_JS \
         to its path (in the Steward repository: `npm ci --prefix sdk/js`, then \
         STEWARD_COMPONENTIZE_JS=sdk/js/node_modules/.bin/componentize-js)",
        absolute(dir).unwrap_or_else(|_| dir.to_path_buf()).display()
    )
}

/// `node_modules/.bin/componentize-js` in the folder or above it, or in an
/// `sdk/js` beside any of those folders (a plugin inside the repository),
/// and the folder that holds it.
fn find_componentize_js(dir: &Path) -> Option<(PathBuf, PathBuf)> {
    let start = absolute(dir).ok()?;
    start.ancestors().find_map(|d| {
        [d.join("node_modules/.bin/componentize-js"), d.join("sdk/js/node_modules/.bin/componentize-js")]
            .into_iter()
            .find(|p| p.is_file())
            .map(|bin| (bin, d.to_path_buf()))
    })
}

fn absolute(path: &Path) -> anyhow::Result<PathBuf> {
    std::path::absolute(path).with_context(|| format!("resolving {}", path.display()))
}
