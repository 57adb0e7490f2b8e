//! `steward plugin ...`: the plugin author's tools. Scaffold a plugin,
//! build it into a component, run its cases in the host runtime without a
//! server, show what a component is, and sign it.

mod build;
mod scaffold;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, bail};
use steward_identity::SigningKeyFile;
use steward_policy::Policy;
use steward_runtime::signature::{self, PluginSignature, SIGNATURE_FILE};
use steward_runtime::{LoadError, Manifest, PluginSource, Registry, Runtime, RuntimeConfig, Signatures, inspect};

pub use build::{Built, build};

pub use scaffold::scaffold;

/// Run a plugin folder's cases in the host runtime, print one line per case
/// (PASS/FAIL, latency, what the plugin said or what differed) and the
/// signature status. Fails when a case fails or the plugin is refused.
pub async fn test(dir: &Path, policies: &Path, cache_dir: Option<PathBuf>) -> anyhow::Result<()> {
    let policy = Arc::new(read_policies(policies)?);
    let registry = Registry::new(Runtime::new(RuntimeConfig { cache_dir, ..RuntimeConfig::default() })?);
    let source = PluginSource::from_dir(dir)?;
    let label = format!("{}@{}", source.manifest.name, source.manifest.version);
    let signature_status = signature_status(&source, &policy);
    let outcomes = match registry.prove_with(source, &policy, Signatures::Skip).await {
        Ok(proven) => {
            println!(
                "{label}: {} world, steward:guardrail@{}, digest {}, loaded in {:.1} ms{}",
                proven.plugin.world().as_str(),
                proven.plugin.package_version.as_deref().unwrap_or("?"),
                proven.plugin.digest,
                proven.plugin.load_time.as_secs_f64() * 1e3,
                if proven.plugin.from_cache { " (compile cache)" } else { "" },
            );
            proven.outcomes
        }
        Err(LoadError::CasesFailed(outcomes)) => outcomes,
        Err(e) => bail!("{label}: refused: {e}"),
    };
    for o in &outcomes {
        println!("{} {:<56} {:>7} µs  {}", if o.passed { "PASS" } else { "FAIL" }, o.name, o.latency_us, o.detail);
    }
    println!("signature: {signature_status}");
    let failed: Vec<&str> = outcomes.iter().filter(|o| !o.passed).map(|o| o.name.as_str()).collect();
    if failed.is_empty() {
        println!("{label}: {} case(s) passed", outcomes.len());
        Ok(())
    } else {
        bail!("{label}: {} of {} case(s) failed: {}", failed.len(), outcomes.len(), failed.join("; "))
    }
}

/// The policy a plugin is tested against, or an error that names the
/// folder and says how to pass another.
fn read_policies(policies: &Path) -> anyhow::Result<Policy> {
    let shown = std::path::absolute(policies).unwrap_or_else(|_| policies.to_path_buf());
    if !policies.is_dir() {
        bail!(
            "no policies folder at {}: pass --policies DIR, the folder of policy .toml files your Steward server runs with \
             (the repository's is policies/)",
            shown.display()
        );
    }
    Policy::load_dir(policies).with_context(|| format!("reading the policies in {} (--policies)", shown.display()))
}

/// Where `plugin test` caches compiled components by default: the user's
/// cache folder, whatever the current folder is.
pub fn default_cache_dir() -> PathBuf {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("steward").join("compile-cache")
}

/// Whether the host would accept this plugin's signature under `policy`.
fn signature_status(source: &PluginSource, policy: &Policy) -> String {
    let parsed = match source.signature.as_deref().map(PluginSignature::parse).transpose() {
        Ok(s) => s,
        Err(e) => return format!("REFUSED: {e}"),
    };
    let digest = steward_runtime::digest(&source.component);
    match signature::check(parsed.as_ref(), &digest, &source.manifest.scope_globs(), policy) {
        Ok(Some(signer)) => format!("ok, signed by {signer}"),
        Ok(None) => "none (the policy requires none for this scope)".into(),
        Err(e) => format!("the server would refuse it: {e}"),
    }
}

/// What `steward plugin inspect` prints.
pub fn inspect(file: &Path) -> anyhow::Result<String> {
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let info = inspect::inspect(&bytes).map_err(anyhow::Error::msg).with_context(|| file.display().to_string())?;
    let mut out = String::new();
    let world = info.world.map(|w| w.as_str()).unwrap_or("none (exports match no steward:guardrail world)");
    out += &format!("file:     {}\n", file.display());
    out += &format!("world:    {world}\n");
    out += &format!(
        "package:  {}\n",
        match info.package_versions.as_slice() {
            [] => "none (imports nothing of steward:guardrail)".to_string(),
            versions => versions.iter().map(|v| format!("{}@{v}", inspect::PACKAGE)).collect::<Vec<_>>().join(", "),
        }
    );
    if let Err(e) = inspect::check_versions(&info) {
        out += &format!("          this host refuses it: {e}\n");
    }
    out += &format!("digest:   sha256:{}\n", steward_runtime::digest(&bytes));
    out += &format!("size:     {} bytes\n", bytes.len());
    out += "imports:\n";
    for name in &info.imports {
        out += &format!("  {name}\n");
    }
    let refused: Vec<&str> = info.imports.iter().map(String::as_str).filter(|n| !inspect::granted(n, false)).collect();
    if !refused.is_empty() {
        out += &refused_imports(&refused);
    }
    out += "exports:\n";
    for name in &info.exports {
        out += &format!("  {name}\n");
    }
    let sig = file.with_file_name(SIGNATURE_FILE);
    if let Ok(text) = std::fs::read_to_string(&sig) {
        match PluginSignature::parse(&text) {
            Ok(s) => out += &format!("signed:   by {} over {} ({})\n", s.signer, s.digest, sig.display()),
            Err(e) => out += &format!("signed:   {}: {e}\n", sig.display()),
        }
    }
    Ok(out)
}

/// What `inspect` says about imports the host would refuse.
fn refused_imports(refused: &[&str]) -> String {
    let only_fs = refused.iter().all(|n| n.starts_with("wasi:filesystem/"));
    let mut out = format!("refused:  the host would refuse this component at load: it imports {}\n", refused.join(", "));
    out += "          a plugin gets only steward:guardrail, wasi:io and wasi:cli";
    out += if only_fs {
        " (wasi:filesystem only with `capabilities.read_dir` in plugin.toml)\n"
    } else {
        "; build without the rest (componentize-py --stub-wasi, componentize-js --disable ..., no std::net or clocks in Rust)\n"
    };
    out
}

/// Sign a plugin folder's component with `key` as `signer`; writes
/// `plugin.sig` beside it. Returns its path.
pub fn sign(dir: &Path, key: &Path, signer: &str) -> anyhow::Result<PathBuf> {
    let manifest = Manifest::read(dir)?;
    let component = dir.join(&manifest.component);
    let bytes = std::fs::read(&component).with_context(|| format!("reading {} (build it first)", component.display()))?;
    let key = SigningKeyFile::read(key)?;
    let signature = PluginSignature::sign(&key, signer, &steward_runtime::digest(&bytes));
    let path = dir.join(SIGNATURE_FILE);
    std::fs::write(&path, signature.to_toml()).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}
