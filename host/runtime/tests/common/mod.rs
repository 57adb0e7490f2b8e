//! What the runtime's integration tests share: the repository, the demo
//! policy (without its signature rules), the Rust test guests (built once
//! per test binary for wasm32-wasip2, as the end-to-end harness does), and
//! the Python and JavaScript test guests `make test-guests` builds.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, OnceLock};

use steward_model as model;
use steward_policy::Policy;
use steward_runtime::{Manifest, Origin, PluginSource, Registry, Runtime, RuntimeConfig};

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("the repository")
}

/// Guest crates the runtime's tests use.
const GUESTS: [&str; 4] = ["pii-classifier", "hostile-classifier", "significance-scorer", "drifting-sop"];

/// A Rust guest component, built once per test binary.
pub fn component(crate_name: &str) -> Vec<u8> {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    let dir = BUILT.get_or_init(|| {
        let target_dir = repo().join("target/guests");
        let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        cmd.current_dir(repo()).args(["build", "--target", "wasm32-wasip2", "--profile", "plugin", "--target-dir"]).arg(&target_dir);
        for c in GUESTS {
            cmd.args(["-p", c]);
        }
        let status = cmd.status().expect("running cargo to build the guests");
        assert!(status.success(), "building the guests failed (is the wasm32-wasip2 target installed? `make setup`)");
        target_dir.join("wasm32-wasip2/plugin")
    });
    let path = dir.join(format!("{}.wasm", crate_name.replace('-', "_")));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A Python or JavaScript test guest of tests/polyglot, as `make
/// test-guests` built it.
pub fn polyglot(name: &str) -> PluginSource {
    let dir = repo().join("tests/polyglot").join(name);
    let mut source = PluginSource::from_dir(&dir).unwrap_or_else(|e| panic!("{e} (run `make test-guests`)"));
    source.origin = Origin::Upload;
    source
}

/// The demo policies without `plugins.toml`: these tests are not about
/// signatures (tests/e2e/plugins.rs covers those).
pub fn policy() -> Arc<Policy> {
    let mut files: Vec<(PathBuf, String)> = std::fs::read_dir(repo().join("policies"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml") && !p.ends_with("plugins.toml"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            (p, text)
        })
        .collect();
    files.sort();
    Arc::new(Policy::load_texts(files).expect("the demo policies load"))
}

pub fn registry() -> Registry {
    Registry::new(Runtime::new(RuntimeConfig::default()).expect("a runtime"))
}

/// A registry whose compile cache is the suite's (an 18 MB Python
/// component compiles once).
pub fn cached_registry() -> Registry {
    Registry::new(
        Runtime::new(RuntimeConfig { cache_dir: Some(repo().join("target/test-compile-cache")), ..RuntimeConfig::default() }).unwrap(),
    )
}

/// A plugin folder of the repository, with the freshly built component.
pub fn shipped(name: &str) -> PluginSource {
    let dir = repo().join("plugins").join(name);
    let manifest = Manifest::read(&dir).unwrap();
    let cases = std::fs::read_to_string(dir.join(&manifest.cases)).unwrap();
    PluginSource { manifest, component: component(name), cases, signature: None, base_dir: Some(dir.clone()), origin: Origin::Directory(dir) }
}

pub fn uploaded(crate_name: &str, manifest: &str, cases: &str) -> PluginSource {
    PluginSource {
        manifest: Manifest::parse(manifest).unwrap(),
        component: component(crate_name),
        cases: cases.to_string(),
        signature: None,
        base_dir: None,
        origin: Origin::Upload,
    }
}

/// `agent` acting for `human` (or a human, when `agent` is `None`).
pub fn caller(human: &str, agent: Option<&str>) -> model::Principal {
    let policy = policy();
    let roles = |id: &str| policy.principal(id).map(|p| p.roles.clone()).unwrap_or_default();
    match agent {
        Some(agent) => model::Principal {
            id: agent.into(),
            kind: model::IdentityKind::Agent,
            on_behalf_of: Some(human.into()),
            roles: roles(agent),
            session_id: Some("s1".into()),
            turn_id: Some("t1".into()),
        },
        None => model::Principal {
            id: human.into(),
            kind: model::IdentityKind::Human,
            on_behalf_of: None,
            roles: roles(human),
            session_id: None,
            turn_id: None,
        },
    }
}

/// A `sql.read` of `asset` by `principal` with `intent`, as the pipeline
/// would build it.
pub fn read_request(policy: &Policy, principal: model::Principal, asset: &str, intent: &str, n: usize) -> model::Request {
    let context = steward_pipeline::request_context(policy, &principal, None);
    model::Request {
        request_id: format!("test-{n}"),
        principal,
        action: policy.action("sql.read").expect("the demo policy has sql.read").clone(),
        assets: vec![policy.asset(asset).expect("the asset is in the demo catalog")],
        intent: Some(intent.into()),
        context: Arc::new(context),
    }
}

/// The drifting SOP (tests/guests/drifting-sop) as an upload: scope
/// `sales/**`, with a CPU budget of `timeout_ms` and 64 MiB, and one case:
/// scout (for bob) reads `sales/customers` with `intent`, escalated.
pub fn drifting_sop(timeout_ms: u32, case_name: &str, intent: &str) -> PluginSource {
    let manifest = format!(
        "name = \"drifting-sop\"\nversion = \"1.0.0\"\nworld = \"sop\"\nscope = [\"sales/**\"]\n\
         [limits]\ntimeout_ms = {timeout_ms}\nmemory_mib = 64\n"
    );
    let case = format!(
        "[[case]]\nname = {case_name:?}\n\
         principal = {{ id = \"scout\", kind = \"agent\", on_behalf_of = \"bob\", session_id = \"s1\", turn_id = \"t1\" }}\n\
         action = \"sql.read\"\nassets = [\"sales/customers\"]\nintent = {intent:?}\nexpect = \"escalate\"\n"
    );
    uploaded("drifting-sop", &manifest, &case)
}

/// Each of `callers` in a task of its own, all at once: `calls` reads of
/// `sales/customers`, the n-th with `intent(i, n)` for caller `i`. Each
/// task's handle yields that caller's answers, in order.
pub fn spawn_callers(
    plugin: &Arc<steward_runtime::LoadedPlugin>,
    policy: &Arc<Policy>,
    callers: &[model::Principal],
    calls: usize,
    intent: impl Fn(usize, usize) -> String + Clone + Send + 'static,
) -> Vec<tokio::task::JoinHandle<Vec<Result<model::Verdict, model::PluginError>>>> {
    callers
        .iter()
        .enumerate()
        .map(|(i, who)| {
            let (plugin, policy, who, intent) = (plugin.clone(), policy.clone(), who.clone(), intent.clone());
            tokio::spawn(async move {
                let mut answers = Vec::with_capacity(calls);
                for n in 0..calls {
                    let request = read_request(&policy, who.clone(), "sales/customers", &intent(i, n), n);
                    answers.push(plugin.evaluate(&request, &policy).await);
                }
                answers
            })
        })
        .collect()
}
