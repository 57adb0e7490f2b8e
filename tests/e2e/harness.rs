//! Start the real `steward` binary on a free loopback port with its own
//! data and plugins directories, and talk HTTP to it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use serde_json::{Value, json};
use steward_identity::{Actor, Claims, SigningKeyFile, mint};
use steward_runtime::PluginSignature;

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ sits in the repository").to_path_buf()
}

/// The `steward` binary of this build (`make test` builds it first).
pub fn steward_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    // target/<profile>/deps/e2e-<hash> -> target/<profile>/steward
    let bin = exe.parent().and_then(Path::parent).expect("target dir").join("steward");
    assert!(bin.exists(), "{} is missing: build it first (`cargo build -p steward`, as `make test` does)", bin.display());
    bin
}

/// The test guest components, built once per test run from tests/guests.
pub struct Guests {
    dir: PathBuf,
}

impl Guests {
    pub fn component(&self, crate_name: &str) -> Vec<u8> {
        let path = self.dir.join(format!("{}.wasm", crate_name.replace('-', "_")));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }
}

pub fn guests() -> &'static Guests {
    static GUESTS: OnceLock<Guests> = OnceLock::new();
    GUESTS.get_or_init(|| {
        let target_dir = repo().join("target/guests");
        let crates = [
            "hostile-sop",
            "hostile-classifier",
            "sneaky-sop",
            "swap-sop-v1",
            "swap-sop-v2",
            "reader-sop",
            "finance-sop",
            "legacy-sop",
            "context-sop",
            "laundering-tool",
            "query-tool",
            "generous-sop",
        ];
        let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        cmd.current_dir(repo())
            .args(["build", "--target", "wasm32-wasip2", "--profile", "plugin", "--target-dir"])
            .arg(&target_dir);
        for c in crates {
            cmd.args(["-p", c]);
        }
        let status = cmd.status().expect("running cargo to build the test guests");
        assert!(status.success(), "building the test guests failed");
        Guests { dir: target_dir.join("wasm32-wasip2/plugin") }
    })
}

/// A token signed with the demo key.
pub fn token(sub: &str) -> String {
    sign(claims(sub))
}

/// An agent token: `agent` acting for `human`.
pub fn agent_token(human: &str, agent: &str, turn: &str) -> String {
    let mut c = claims(human);
    c.act = Some(Actor { sub: agent.into(), act: None });
    c.sid = Some("session-e2e".into());
    c.turn = Some(turn.into());
    sign(c)
}

pub fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

pub fn claims(sub: &str) -> Claims {
    Claims::new("steward-demo", sub, "steward", now(), 3600)
}

pub fn sign(claims: Claims) -> String {
    let key = SigningKeyFile::read(&repo().join("policies/demo/issuer.key")).unwrap();
    mint(&key, "demo-2026", &claims)
}

pub struct Server {
    child: Option<Child>,
    pub base: String,
    pub data: tempfile::TempDir,
    pub plugins_dir: PathBuf,
    pub policies_dir: PathBuf,
    admin_token: String,
    agent: ureq::Agent,
    /// `steward serve`'s arguments, to start it again.
    args: Vec<std::ffi::OsString>,
}

/// Start `steward` with `args`, logging to `data/server.log` (appended).
fn spawn(args: &[std::ffi::OsString], data: &Path, admin_token: &str) -> Child {
    let log = std::fs::OpenOptions::new().create(true).append(true).open(data.join("server.log")).unwrap();
    Command::new(steward_bin())
        .args(args)
        .env("STEWARD_ADMIN_TOKEN", admin_token)
        .env("STEWARD_LOG", "info")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("starting steward")
}

pub struct Options<'a> {
    /// Folders of plugins/ copied into the server's plugins directory.
    pub plugins: &'a [&'a str],
    pub durability: &'a str,
    /// Copy the demo policies so the test may edit them.
    pub own_policies: bool,
    /// Edit the copied policies before the server starts (implies `own_policies`).
    pub edit_policies: Option<&'a dyn Fn(&Path)>,
    /// `--warehouse` (default: the demo SQLite warehouse in the data dir).
    pub warehouse: Option<&'a str>,
    /// Load the copied plugins in enforce mode, whatever their manifest says.
    pub enforce_all: bool,
    /// More `serve` arguments.
    pub extra_args: &'a [&'a str],
}

impl Default for Options<'_> {
    fn default() -> Self {
        Options {
            plugins: &["finance-sop", "significance-scorer"],
            durability: "process",
            own_policies: false,
            edit_policies: None,
            warehouse: None,
            enforce_all: false,
            extra_args: &[],
        }
    }
}

impl Server {
    pub fn start(opts: Options) -> Server {
        let data = tempfile::tempdir().unwrap();
        let plugins_dir = data.path().join("plugins");
        std::fs::create_dir_all(&plugins_dir).unwrap();
        for p in opts.plugins {
            copy_plugin(&repo().join("plugins").join(p), &plugins_dir.join(p));
            if opts.enforce_all {
                let manifest = plugins_dir.join(p).join("plugin.toml");
                let text = std::fs::read_to_string(&manifest).unwrap();
                std::fs::write(&manifest, text.replace("mode = \"shadow\"", "mode = \"enforce\"")).unwrap();
            }
        }
        let policies_dir = if opts.own_policies || opts.edit_policies.is_some() {
            let dir = data.path().join("policies");
            std::fs::create_dir_all(&dir).unwrap();
            for e in std::fs::read_dir(repo().join("policies")).unwrap() {
                let p = e.unwrap().path();
                if p.extension().is_some_and(|x| x == "toml") {
                    std::fs::copy(&p, dir.join(p.file_name().unwrap())).unwrap();
                }
            }
            if let Some(edit) = opts.edit_policies {
                edit(&dir);
            }
            dir
        } else {
            repo().join("policies")
        };
        let port = free_port();
        let admin_token = "e2e-admin-token".to_string();
        let mut args: Vec<std::ffi::OsString> =
            ["serve", "--listen", &format!("127.0.0.1:{port}"), "--watch-ms", "200", "--durability", opts.durability].map(Into::into).into();
        if let Some(w) = opts.warehouse {
            args.extend(["--warehouse".into(), w.into()]);
        }
        args.extend(opts.extra_args.iter().map(Into::into));
        args.extend([
            "--policies".into(),
            policies_dir.clone().into(),
            "--plugins".into(),
            plugins_dir.clone().into(),
            "--data".into(),
            data.path().join("var").into(),
            "--cache-dir".into(),
            compile_cache().into(),
        ]);
        let child = spawn(&args, data.path(), &admin_token);
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        let server =
            Server { child: Some(child), base: format!("http://127.0.0.1:{port}"), data, plugins_dir, policies_dir, admin_token, agent, args };
        server.wait_ready();
        server
    }

    /// Stop the server (SIGKILL) and start it again on the same port, data
    /// and folders.
    pub fn restart(&mut self) {
        self.kill();
        self.child = Some(spawn(&self.args, self.data.path(), &self.admin_token));
        self.wait_ready();
    }

    fn wait_ready(&self) {
        // The server answers once its plugins are loaded. On a fresh clone
        // the compile cache is empty: a debug build compiles each Python or
        // JavaScript component for ~30 s, one after another, while the
        // other tests share the two cores.
        let deadline = Instant::now() + Duration::from_secs(300);
        while Instant::now() < deadline {
            if let Ok(r) = self.agent.get(format!("{}/healthz", self.base)).call()
                && r.status() == 200
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("server did not start:\n{}", self.log());
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.data.path().join("server.log")).unwrap_or_default()
    }

    /// Every audit record so far, in order, as JSON.
    pub fn records(&self) -> Vec<Value> {
        let conn = rusqlite::Connection::open(self.audit_db()).unwrap();
        let mut statement = conn.prepare("SELECT body FROM audit ORDER BY seq").unwrap();
        let bodies = statement.query_map([], |row| row.get::<_, String>(0)).unwrap();
        bodies.map(|b| serde_json::from_str(&b.unwrap()).unwrap()).collect()
    }

    pub fn audit_db(&self) -> PathBuf {
        self.data.path().join("var/audit.db")
    }

    /// POST /v1/decide; returns (status, body).
    pub fn decide(&self, token: &str, body: Value) -> (u16, Value) {
        let mut r = self
            .agent
            .post(format!("{}/v1/decide", self.base))
            .header("Authorization", &format!("Bearer {token}"))
            .send_json(&body)
            .unwrap_or_else(|e| panic!("decide failed: {e}\n{}", self.log()));
        let status = r.status().as_u16();
        (status, r.body_mut().read_json().unwrap_or(Value::Null))
    }

    /// POST /v1/query; returns (status, the body as sent).
    pub fn query_text(&self, token: &str, body: &Value) -> (u16, String) {
        let mut r = self
            .agent
            .post(format!("{}/v1/query", self.base))
            .header("Authorization", &format!("Bearer {token}"))
            .send_json(body)
            .unwrap_or_else(|e| panic!("query failed: {e}\n{}", self.log()));
        let status = r.status().as_u16();
        (status, r.body_mut().read_to_string().unwrap_or_else(|e| panic!("reading the query answer: {e}")))
    }

    /// POST /v1/query; returns (status, body).
    pub fn query(&self, token: &str, body: Value) -> (u16, Value) {
        let (status, text) = self.query_text(token, &body);
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub fn admin(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        self.admin_as(&self.admin_token, method, path, body)
    }

    pub fn admin_as(&self, token: &str, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let url = format!("{}{path}", self.base);
        let auth = format!("Bearer {token}");
        let result = match (method, body) {
            ("GET", _) => self.agent.get(&url).header("Authorization", &auth).call(),
            ("DELETE", _) => self.agent.delete(&url).header("Authorization", &auth).call(),
            ("POST", Some(b)) => self.agent.post(&url).header("Authorization", &auth).send_json(&b),
            ("POST", None) => self.agent.post(&url).header("Authorization", &auth).send_empty(),
            other => panic!("unsupported {other:?}"),
        };
        let mut r = result.unwrap_or_else(|e| panic!("{method} {path} failed: {e}\n{}", self.log()));
        let status = r.status().as_u16();
        (status, r.body_mut().read_json().unwrap_or(Value::Null))
    }

    /// Upload a test guest through the admin API.
    pub fn upload(&self, crate_name: &str, manifest: &str, cases: &str, activate: bool) -> (u16, Value) {
        self.upload_signed(&guests().component(crate_name), manifest, cases, None, activate)
    }

    /// Upload a component with the text of its `plugin.sig`, if any.
    pub fn upload_signed(&self, component: &[u8], manifest: &str, cases: &str, signature: Option<&str>, activate: bool) -> (u16, Value) {
        let component = base64::engine::general_purpose::STANDARD.encode(component);
        self.admin(
            "POST",
            "/admin/plugins",
            Some(json!({ "manifest": manifest, "component_base64": component, "cases": cases, "signature": signature, "activate": activate })),
        )
    }

    /// SIGKILL: no shutdown path runs.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Whether the process is still running.
    /// POST /v1/decide, for callers that expect the connection may fail
    /// (a server shutting down).
    pub fn try_decide(&self, token: &str, body: Value) -> Result<u16, String> {
        self.agent
            .post(format!("{}/v1/decide", self.base))
            .header("Authorization", &format!("Bearer {token}"))
            .send_json(&body)
            .map(|r| r.status().as_u16())
            .map_err(|e| e.to_string())
    }

    /// GET a path without a token; returns (status, body text).
    pub fn get(&self, path: &str) -> (u16, String) {
        match self.agent.get(format!("{}{path}", self.base)).call() {
            Ok(mut r) => (r.status().as_u16(), r.body_mut().read_to_string().unwrap_or_default()),
            Err(e) => panic!("GET {path}: {e}"),
        }
    }

    /// GET a path with a bearer token; returns (status, body text).
    pub fn get_as(&self, path: &str, token: &str) -> (u16, String) {
        match self.agent.get(format!("{}{path}", self.base)).header("Authorization", &format!("Bearer {token}")).call() {
            Ok(mut r) => (r.status().as_u16(), r.body_mut().read_to_string().unwrap_or_default()),
            Err(e) => panic!("GET {path}: {e}"),
        }
    }

    /// POST a raw body with a bearer token; returns (status, body text).
    pub fn post_raw(&self, path: &str, token: &str, body: &str) -> (u16, String) {
        let r = self
            .agent
            .post(format!("{}{path}", self.base))
            .header("Authorization", &format!("Bearer {token}"))
            .header("content-type", "application/json")
            .send(body);
        match r {
            Ok(mut r) => (r.status().as_u16(), r.body_mut().read_to_string().unwrap_or_default()),
            Err(e) => panic!("POST {path}: {e}"),
        }
    }

    /// Send a signal (`TERM`, `INT`, ...) to the server process.
    pub fn signal(&self, name: &str) {
        let pid = self.child.as_ref().expect("the server runs").id();
        let status = Command::new("kill").arg(format!("-{name}")).arg(pid.to_string()).status().expect("running kill");
        assert!(status.success(), "kill -{name} {pid}");
    }

    pub fn alive(&mut self) -> bool {
        // An error (the child was already reaped) is not a live server.
        self.child.as_mut().is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// One compile cache for every server and CLI run of the suite: Python and
/// JavaScript components take seconds to compile, and are compiled once.
pub fn compile_cache() -> PathBuf {
    repo().join("target/test-compile-cache")
}

/// Copy a plugin folder: manifest, cases (as `cases.toml`, wherever the
/// manifest points), built component and its signature if it has one.
pub fn copy_plugin(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    let cases = steward_runtime::Manifest::read(from).unwrap().cases;
    let cases = cases.to_str().unwrap();
    let manifest = std::fs::read_to_string(from.join("plugin.toml")).unwrap();
    let manifest = manifest.replace(&format!("cases = \"{cases}\""), "cases = \"cases.toml\"");
    std::fs::write(to.join("plugin.toml"), manifest).unwrap();
    for (src, dest) in [(cases, "cases.toml"), ("plugin.wasm", "plugin.wasm")] {
        let src = from.join(src);
        assert!(src.exists(), "{} is missing (run `make plugins`)", src.display());
        std::fs::copy(&src, to.join(dest)).unwrap();
    }
    if from.join("plugin.sig").exists() {
        std::fs::copy(from.join("plugin.sig"), to.join("plugin.sig")).unwrap();
    }
    // The folder a `capabilities.read_dir` grants, one level deep.
    if let Some(dir) = steward_runtime::Manifest::read(from).unwrap().capabilities.read_dir {
        std::fs::create_dir_all(to.join(&dir)).unwrap();
        for entry in std::fs::read_dir(from.join(&dir)).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), to.join(&dir).join(entry.file_name())).unwrap();
        }
    }
}

/// A `plugin.sig` for `component`, by the demo finance signer.
pub fn demo_signature(component: &[u8]) -> String {
    let key = SigningKeyFile::read(&repo().join("policies/demo/plugin-signer.key")).unwrap();
    PluginSignature::sign(&key, "demo-finance", &steward_runtime::digest(component)).to_toml()
}

/// Poll `check` until it holds or `timeout` passes.
pub fn eventually(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    check()
}

pub fn decision(body: &Value) -> &str {
    body["decision"].as_str().unwrap_or("<none>")
}

pub fn reason_codes(body: &Value) -> Vec<String> {
    body["reasons"].as_array().map(|a| a.iter().filter_map(|r| r["code"].as_str().map(String::from)).collect()).unwrap_or_default()
}
