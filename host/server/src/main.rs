//! `steward`: the server and the operator's tools.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, bail};
use clap::{Parser, Subcommand, ValueEnum};
use steward_audit::Durability;
use steward_identity::{Actor, Claims, SigningKeyFile, mint};
use steward_policy::Policy;
use steward::author;
use steward_runtime::{Language, World};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "steward", version, about = "The policy gate between AI agents and the data and infrastructure they act on")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve {
        #[arg(long, env = "STEWARD_LISTEN", default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        #[arg(long, env = "STEWARD_POLICIES", default_value = "policies")]
        policies: PathBuf,
        #[arg(long, env = "STEWARD_PLUGINS", default_value = "plugins")]
        plugins: PathBuf,
        /// Audit log, compile cache and the generated admin token.
        #[arg(long, env = "STEWARD_DATA", default_value = "var")]
        data: PathBuf,
        /// Where compiled plugins are cached (default: DATA/cache).
        #[arg(long, env = "STEWARD_CACHE_DIR")]
        cache_dir: Option<PathBuf>,
        /// The shared bootstrap admin token (default: the contents of
        /// DATA/admin.token, created if missing). Once an admin principal
        /// exists in policy, turn it off with --no-admin-token.
        #[arg(long, env = "STEWARD_ADMIN_TOKEN", hide_env_values = true)]
        admin_token: Option<String>,
        /// No shared admin token: admin calls need the token of a principal
        /// holding an admin role, so each one names its admin (any
        /// --admin-token or STEWARD_ADMIN_TOKEN is ignored).
        #[arg(long, env = "STEWARD_NO_ADMIN_TOKEN")]
        no_admin_token: bool,
        #[arg(long, value_enum, default_value = "full")]
        durability: DurabilityArg,
        /// The Ed25519 key that signs audit checkpoints (created if
        /// missing; default DATA/audit.key). Keep it where whoever can
        /// write the audit database cannot read it.
        #[arg(long, env = "STEWARD_AUDIT_KEY")]
        audit_key: Option<PathBuf>,
        /// Where signed checkpoints are written (default DATA/witness):
        /// somewhere the audit database's writers cannot rewrite.
        #[arg(long, env = "STEWARD_WITNESS")]
        witness: Option<PathBuf>,
        /// Sign a checkpoint at most this many ms after a record (0: only
        /// every --checkpoint-records records and at shutdown).
        #[arg(long, default_value_t = 2000)]
        checkpoint_ms: u64,
        /// Sign a checkpoint after at most this many records.
        #[arg(long, default_value_t = 10_000)]
        checkpoint_records: u64,
        /// How often the plugins and policies directories are checked, in ms.
        #[arg(long, default_value_t = 1000)]
        watch_ms: u64,
        /// Tokio worker threads (default: one per core).
        #[arg(long)]
        workers: Option<usize>,
        /// Where queries run: a PostgreSQL URL, or a directory of SQLite
        /// files (default: the demo warehouse in DATA/warehouse, created on
        /// first start).
        #[arg(long, env = "STEWARD_WAREHOUSE", hide_env_values = true)]
        warehouse: Option<String>,
        /// How long one warehouse query may run, in ms.
        #[arg(long, default_value_t = 5000)]
        query_timeout_ms: u64,
        /// Rows one query returns at most.
        #[arg(long, default_value_t = 1000)]
        max_rows: u64,
        /// MiB of memory the idle instances of one plugin version may hold
        /// (instances are reused only by the caller they served; more keeps
        /// more callers' Python and JavaScript instances warm).
        #[arg(long, env = "STEWARD_PLUGIN_IDLE_MIB", default_value_t = 256)]
        plugin_idle_mib: usize,
        /// Decisions a second whose shadow-mode SOPs are called (after the
        /// answer has left; the others' audit records say they were
        /// sampled out). 0 turns shadow calls off.
        #[arg(long, env = "STEWARD_SHADOW_PER_SECOND", default_value_t = steward_gate::DEFAULT_SHADOW_PER_SECOND)]
        shadow_per_second: u32,
        /// How clients reach this server, e.g. https://steward.example.com:
        /// the MCP resource id, and the Host and Origin values accepted
        /// (default: http:// + --listen).
        #[arg(long, env = "STEWARD_PUBLIC_URL")]
        public_url: Option<String>,
    },
    /// The demo warehouse.
    Warehouse {
        #[command(subcommand)]
        command: WarehouseCommand,
    },
    /// Bearer tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Signing keys.
    Key {
        #[command(subcommand)]
        command: KeyCommand,
    },
    /// The audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Plugin author tools.
    Plugin {
        #[command(subcommand)]
        command: PluginCommand,
    },
    /// The warehouse as a tree of what the token's principal may know
    /// exists (GET /v1/catalog on a running server).
    Catalog {
        #[arg(long, env = "STEWARD_URL", default_value = "http://127.0.0.1:8080")]
        server: String,
        /// The caller's token.
        #[arg(long, env = "STEWARD_TOKEN", hide_env_values = true)]
        token: String,
        /// Print every entry as JSON instead of the tree.
        #[arg(long)]
        json: bool,
    },
    /// Access requests: ask for access, and (as an owner) approve, deny or
    /// revoke it, through a running server, with your own token.
    Access {
        #[command(subcommand)]
        command: AccessCommand,
        #[arg(long, global = true, env = "STEWARD_URL", default_value = "http://127.0.0.1:8080")]
        server: String,
        /// Your token (an agent's, a human's or a service's).
        #[arg(long, global = true, env = "STEWARD_TOKEN", hide_env_values = true)]
        token: Option<String>,
    },
    /// Revoke credentials (in force within a second, cached tokens too),
    /// list and lift revocations, through a running server's admin API.
    Revoke {
        #[command(subcommand)]
        command: RevokeCommand,
        /// The server.
        #[arg(long, global = true, env = "STEWARD_URL", default_value = "http://127.0.0.1:8080")]
        server: String,
        /// An admin principal's token (default: the bootstrap token in
        /// var/admin.token).
        #[arg(long, global = true, env = "STEWARD_TOKEN", hide_env_values = true)]
        token: Option<String>,
    },
}

#[derive(Subcommand)]
enum AccessCommand {
    /// Ask for access: by hand, or from a draft (the draft-access-request
    /// tool's output) with --draft FILE ("-": standard input).
    Request {
        #[arg(long = "asset")]
        assets: Vec<String>,
        /// asset.column (repeat).
        #[arg(long = "column")]
        columns: Vec<String>,
        #[arg(long)]
        action: Option<String>,
        #[arg(long)]
        purpose: Option<String>,
        #[arg(long)]
        days: Option<u64>,
        /// For an agent: this session only.
        #[arg(long)]
        session_only: bool,
        /// For a human: on behalf of this agent of yours.
        #[arg(long)]
        agent: Option<String>,
        #[arg(long, conflicts_with_all = ["assets", "columns", "action", "purpose", "days"])]
        draft: Option<PathBuf>,
    },
    /// Requests you asked for, are asked for, or decide.
    List {
        #[arg(long)]
        state: Option<String>,
        /// mine or to-decide.
        #[arg(long)]
        role: Option<String>,
    },
    /// One request, with its digest.
    Show { id: String },
    /// Approve a request you were shown (its --digest, from `show`), with
    /// conditions of your own.
    Approve {
        id: String,
        #[arg(long)]
        digest: Option<String>,
        /// column:method (null, hash, last-four, redact); repeat.
        #[arg(long = "mask")]
        masks: Vec<String>,
        /// A SQL predicate rows must match; repeat.
        #[arg(long = "row-filter")]
        row_filters: Vec<String>,
        /// Aggregates only, over groups of at least this many rows.
        #[arg(long)]
        aggregate_only: Option<u32>,
        #[arg(long)]
        max_rows: Option<u32>,
        /// Grant it for fewer seconds than asked.
        #[arg(long)]
        seconds: Option<u64>,
        #[arg(long)]
        note: Option<String>,
    },
    /// Deny a pending request.
    Deny {
        id: String,
        #[arg(long)]
        note: Option<String>,
    },
    /// End a grant now (or withdraw a pending request).
    Revoke {
        id: String,
        #[arg(long)]
        note: Option<String>,
    },
}

#[derive(Subcommand)]
enum RevokeCommand {
    /// One token, by its jti.
    Token {
        id: String,
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Every token of one agent session (sid); the agent's other sessions
    /// and its human keep working.
    Session {
        id: String,
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Every token of one agent, for every human.
    Agent {
        id: String,
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Every token of a human (or service) and of every agent acting for them.
    Human {
        id: String,
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// The revocations in force.
    List,
    /// Lift a revocation.
    Lift {
        /// token, session, agent or human.
        kind: String,
        id: String,
    },
}

#[derive(Subcommand)]
enum WarehouseCommand {
    /// Load the demo warehouse (customers, orders, finance, HR, a synthetic
    /// set) into SQLite files in DIR, or into PostgreSQL.
    Init {
        #[arg(long, default_value = "var/warehouse", conflicts_with = "postgres")]
        dir: PathBuf,
        /// A PostgreSQL URL; its demo schemas are replaced.
        #[arg(long)]
        postgres: Option<String>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum DurabilityArg {
    /// fsync every commit (survives power loss).
    Full,
    /// Survives the process being killed, not power loss.
    Process,
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Sign a token with a private key file.
    Mint {
        /// The private key (base64 Ed25519 seed).
        #[arg(long)]
        key: PathBuf,
        /// Subject: the human or service; for an agent token, the human it acts for.
        #[arg(long)]
        sub: String,
        /// For agent tokens: the agent acting for SUB (needs --session and --turn).
        #[arg(long)]
        act: Option<String>,
        /// Agent session id (required with --act).
        #[arg(long)]
        session: Option<String>,
        /// Agent turn id (required with --act).
        #[arg(long)]
        turn: Option<String>,
        /// Lifetime in seconds.
        #[arg(long, default_value_t = 3600)]
        ttl: u64,
        /// Key id (default: the policy key matching the private key).
        #[arg(long)]
        kid: Option<String>,
        /// Where issuer, audience and key ids are read from.
        #[arg(long, default_value = "policies")]
        policies: PathBuf,
    },
}

#[derive(Subcommand)]
enum KeyCommand {
    /// Generate an Ed25519 key pair: the private key goes to OUT, the
    /// policy entry for its public half is printed.
    Generate {
        #[arg(long)]
        out: PathBuf,
        /// The key id ([[key]] kid, or [[plugin_signer]] id).
        #[arg(long)]
        kid: String,
        /// Print a [[plugin_signer]] entry (a key that signs plugins)
        /// instead of a token-verifying [[key]].
        #[arg(long)]
        plugin_signer: bool,
    },
    /// Generate the next token-signing key and print the policy lines that
    /// rotate to it: the new [[key]] valid from now, and the `not_after`
    /// that retires the current one once its tokens have expired.
    Rotate {
        #[arg(long)]
        out: PathBuf,
        /// The new key's id.
        #[arg(long)]
        kid: String,
        /// The key it replaces (its [[key]] kid in the policy).
        #[arg(long)]
        retire: String,
        /// Seconds both keys stay valid (default: 12 h, the demo's longest
        /// token lifetime), so tokens signed just before the switch expire
        /// before the old key retires.
        #[arg(long, default_value_t = 43_200)]
        overlap: u64,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check the hash chain and hold the log against the signed checkpoints;
    /// exit 1 naming each problem (edited, missing, inserted, reordered,
    /// rewritten, truncated, forged checkpoint, swapped database).
    Verify {
        #[arg(long, default_value = "var/audit.db")]
        db: PathBuf,
        /// The witness folder (default: witness next to the database).
        #[arg(long)]
        witness: Option<PathBuf>,
        /// The audit public key, base64 (a file, default: audit.pub next to
        /// the database). Pin your own copy: a writer who can replace it
        /// can sign their own checkpoints.
        #[arg(long)]
        public_key: Option<PathBuf>,
        /// A checkpoint anchored elsewhere (as `steward audit checkpoint`
        /// printed it) to check against as well; repeatable.
        #[arg(long)]
        anchor: Vec<PathBuf>,
        /// Check the hash chain only (no checkpoints): does not detect a
        /// rewritten or truncated log.
        #[arg(long, conflicts_with_all = ["witness", "public_key", "anchor"])]
        chain_only: bool,
    },
    /// Print the latest signed checkpoint, to anchor it elsewhere.
    Checkpoint {
        #[arg(long, default_value = "var/witness")]
        witness: PathBuf,
    },
    /// Print the last records as JSON lines.
    Tail {
        #[arg(long, default_value = "var/audit.db")]
        db: PathBuf,
        #[arg(short, long, default_value_t = 20)]
        n: usize,
    },
}

#[derive(Subcommand)]
enum PluginCommand {
    /// Scaffold a working plugin (source, manifest, test cases, WIT) in
    /// DIR/NAME.
    New {
        name: String,
        #[arg(long, value_enum)]
        lang: LangArg,
        #[arg(long, value_enum)]
        world: WorldArg,
        /// The folder to create it in.
        #[arg(long, default_value = ".")]
        dir: PathBuf,
    },
    /// Build a plugin folder into its component (the language's toolchain,
    /// as its manifest's [build] says).
    Build { dir: PathBuf },
    /// Load a plugin folder in the host runtime and run its test cases,
    /// without a server: pass/fail and latency per case.
    Test {
        dir: PathBuf,
        #[arg(long, default_value = "policies")]
        policies: PathBuf,
        /// Compiled components are cached here (Python and JavaScript take
        /// seconds to compile); default: $XDG_CACHE_HOME/steward/compile-cache
        /// (or ~/.cache/steward/compile-cache).
        #[arg(long, env = "STEWARD_CACHE_DIR")]
        cache_dir: Option<PathBuf>,
    },
    /// Show a component's world, steward:guardrail version, digest, imports
    /// and exports.
    Inspect { file: PathBuf },
    /// Sign a plugin folder's component (writes plugin.sig).
    Sign {
        dir: PathBuf,
        /// The signer's private key (base64 Ed25519 seed, as `steward key generate` writes).
        #[arg(long)]
        key: PathBuf,
        /// The signer's id in the policy's [[plugin_signer]].
        #[arg(long)]
        signer: String,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum LangArg {
    Rust,
    Python,
    Js,
}

#[derive(Clone, Copy, ValueEnum)]
enum WorldArg {
    Sop,
    Scorer,
    Tool,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("STEWARD_LOG").unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    match cli.command {
        Command::Serve {
            listen,
            policies,
            plugins,
            data,
            cache_dir,
            admin_token,
            no_admin_token,
            durability,
            audit_key,
            witness,
            checkpoint_ms,
            checkpoint_records,
            watch_ms,
            workers,
            warehouse,
            query_timeout_ms,
            max_rows,
            plugin_idle_mib,
            shadow_per_second,
            public_url,
        } => {
            let mut rt = tokio::runtime::Builder::new_multi_thread();
            // SQL analysis and rewrite recurse; bounds.rs sizes the stack
            // they need at the deepest statement accepted.
            rt.thread_stack_size(steward_sql::bounds::STACK_BYTES);
            if let Some(n) = workers {
                rt.worker_threads(n);
            }
            let rt = rt.enable_all().build().context("starting tokio")?;
            let config = steward::ServerConfig {
                listen,
                policies,
                plugins,
                cache_dir: cache_dir.unwrap_or_else(|| data.join("cache")),
                audit_key: audit_key.unwrap_or_else(|| data.join("audit.key")),
                witness: witness.unwrap_or_else(|| data.join("witness")),
                checkpoint_every: (checkpoint_ms > 0).then(|| Duration::from_millis(checkpoint_ms)),
                checkpoint_records,
                data,
                admin_token,
                bootstrap_admin_token: !no_admin_token,
                durability: match durability {
                    DurabilityArg::Full => Durability::Full,
                    DurabilityArg::Process => Durability::Process,
                },
                watch_every: Duration::from_millis(watch_ms.max(50)),
                warehouse,
                query_deadline: Duration::from_millis(query_timeout_ms.max(1)),
                max_rows: max_rows.max(1),
                plugin_idle_bytes: plugin_idle_mib.saturating_mul(1024 * 1024),
                shadow_per_second,
                public_url,
            };
            rt.block_on(steward::serve(config))
        }
        Command::Warehouse { command: WarehouseCommand::Init { dir, postgres } } => match postgres {
            Some(url) => {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().context("starting tokio")?;
                rt.block_on(steward_warehouse::postgres::load_demo(&url)).context("loading the demo warehouse into PostgreSQL")?;
                println!("demo warehouse loaded into PostgreSQL");
                Ok(())
            }
            None => {
                let created = steward_warehouse::sqlite::create_demo(&dir).context("creating the demo warehouse")?;
                println!("{} {}", if created { "created" } else { "already there:" }, dir.display());
                Ok(())
            }
        },
        Command::Token { command: TokenCommand::Mint { key, sub, act, session, turn, ttl, kid, policies } } => {
            let token = mint_token(&key, &sub, act, session, turn, ttl, kid, &policies)?;
            println!("{token}");
            Ok(())
        }
        Command::Key { command: KeyCommand::Generate { out, kid, plugin_signer } } => {
            let key = new_key_file(&out)?;
            println!("# private key written to {}; add this to a policy file:", out.display());
            let public_key = SigningKeyFile::public_key_base64(&key);
            if plugin_signer {
                println!("[[plugin_signer]]\nid = {kid:?}\npublic_key = {public_key:?}");
            } else {
                println!("[[key]]\nkid = {kid:?}\npublic_key = {public_key:?}");
            }
            Ok(())
        }
        Command::Key { command: KeyCommand::Rotate { out, kid, retire, overlap } } => {
            let key = new_key_file(&out)?;
            let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
            print!("{}", rotation_lines(&out, &kid, &SigningKeyFile::public_key_base64(&key), &retire, now, overlap));
            Ok(())
        }
        Command::Audit { command: AuditCommand::Verify { db, witness, public_key, anchor, chain_only } } => {
            audit_verify(&db, witness, public_key, &anchor, chain_only)
        }
        Command::Audit { command: AuditCommand::Checkpoint { witness } } => {
            let latest = steward_audit::Witness::new(&witness).latest().with_context(|| format!("reading {}", witness.display()))?;
            let Some(entry) = latest else { bail!("no checkpoint in {}: is this the server's --witness folder?", witness.display()) };
            let checkpoint = entry.checkpoint.map_err(anyhow::Error::msg)?;
            print!("{}", checkpoint.to_text());
            Ok(())
        }
        Command::Audit { command: AuditCommand::Tail { db, n } } => {
            for r in steward_audit::tail(&db, n).with_context(|| format!("reading {}", db.display()))? {
                println!("{}", serde_json::json!({ "seq": r.seq, "hash": r.hash, "record": r.record }));
            }
            Ok(())
        }
        Command::Plugin { command } => plugin_command(command),
        Command::Revoke { command, server, token } => revoke_command(command, &server, token),
        Command::Access { command, server, token } => access_command(command, &server, token),
        Command::Catalog { server, token, json } => {
            let answer = steward::client::ApiClient::new(&server, &token).send("GET", "/v1/catalog", None)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&answer["items"])?);
            } else {
                print!("{}", answer["tree"].as_str().unwrap_or_default());
            }
            Ok(())
        }
    }
}

fn audit_verify(db: &Path, witness: Option<PathBuf>, public_key: Option<PathBuf>, anchors: &[PathBuf], chain_only: bool) -> anyhow::Result<()> {
    let dir = db.parent().unwrap_or(Path::new("."));
    let report = if chain_only {
        steward_audit::verify(db).with_context(|| format!("reading {}", db.display()))?
    } else {
        let key_path = public_key.unwrap_or_else(|| dir.join("audit.pub"));
        let text = std::fs::read_to_string(&key_path).with_context(|| {
            format!("reading the audit public key {}: pass --public-key FILE (or --chain-only to check the hash chain alone)", key_path.display())
        })?;
        let key = SigningKeyFile::parse_public(&text).map_err(anyhow::Error::msg).with_context(|| format!("the audit public key {}", key_path.display()))?;
        let witness = witness.unwrap_or_else(|| dir.join("witness"));
        let mut entries = steward_audit::Witness::new(&witness).entries().with_context(|| format!("reading {}", witness.display()))?;
        for a in anchors {
            entries.push(steward_audit::checkpoint::read_entry(a).with_context(|| format!("reading {}", a.display()))?);
        }
        println!("audit key {} ({}), witness {}", steward_audit::checkpoint::key_id(&key), key_path.display(), witness.display());
        steward_audit::verify_with_checkpoints(db, &key, &entries).with_context(|| format!("reading {}", db.display()))?
    };
    for p in &report.problems {
        println!("TAMPERED {:?} at record {}: {}", p.kind, p.seq, p.detail);
    }
    if !report.ok() {
        println!("{} problem(s) in {} records", report.problems.len(), report.records);
        std::process::exit(1);
    }
    let mut line = format!("ok: {} records, chain intact, head {}", report.records, report.head_hash);
    if chain_only {
        line += " (checkpoints not checked)";
    } else {
        let through = report.checkpointed_through.unwrap_or(0);
        line += &match report.checkpointed_through {
            Some(seq) => format!("; {} checkpoint(s) verified, records 1..={seq} match them", report.checkpoints),
            None => format!("; {} checkpoint(s) verified, none covers a record yet", report.checkpoints),
        };
        if report.records > through {
            line += &format!("; {} later record(s) are covered by the chain only, until the next checkpoint", report.records - through);
        }
    }
    println!("{line}");
    Ok(())
}

fn revoke_command(command: RevokeCommand, server: &str, token: Option<String>) -> anyhow::Result<()> {
    let token = match token {
        Some(t) => t,
        None => std::fs::read_to_string("var/admin.token")
            .map(|t| t.trim().to_string())
            .context("no admin token: pass --token (or STEWARD_TOKEN) with an admin principal's token")?,
    };
    let client = steward::client::ApiClient::new(server, &token);
    let revoke = |kind: &str, id: String, reason: String| client.send("POST", "/admin/revocations", Some(serde_json::json!({ "kind": kind, "id": id, "reason": reason })));
    let answer = match command {
        RevokeCommand::Token { id, reason } => revoke("token", id, reason),
        RevokeCommand::Session { id, reason } => revoke("session", id, reason),
        RevokeCommand::Agent { id, reason } => revoke("agent", id, reason),
        RevokeCommand::Human { id, reason } => revoke("human", id, reason),
        RevokeCommand::List => client.send("GET", "/admin/revocations", None),
        RevokeCommand::Lift { kind, id } => client.send("DELETE", &format!("/admin/revocations/{}/{}", steward::client::encode(&kind), steward::client::encode(&id)), None),
    }?;
    println!("{}", serde_json::to_string_pretty(&answer)?);
    Ok(())
}

fn access_command(command: AccessCommand, server: &str, token: Option<String>) -> anyhow::Result<()> {
    use serde_json::{Value, json};
    let token = token.context("pass --token (or STEWARD_TOKEN): access requests are made and decided with your own token")?;
    let client = steward::client::ApiClient::new(server, &token);
    let path = |id: &str, what: &str| format!("/v1/access-requests/{}{what}", steward::client::encode(id));
    let answer = match command {
        AccessCommand::Request { assets, columns, action, purpose, days, session_only, agent, draft } => {
            let mut body = match draft {
                Some(file) => {
                    let text = if file.as_os_str() == "-" {
                        std::io::read_to_string(std::io::stdin()).context("reading the draft from standard input")?
                    } else {
                        std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?
                    };
                    serde_json::from_str::<Value>(&text).context("the draft is not JSON")?
                }
                None => {
                    let purpose = purpose.context("say what the access is for: --purpose")?;
                    json!({ "assets": assets, "columns": columns, "action": action, "purpose": purpose, "duration_days": days })
                }
            };
            if let Some(map) = body.as_object_mut() {
                let target = match map.get_mut("draft").and_then(Value::as_object_mut) {
                    Some(d) => d,
                    None => map,
                };
                if session_only {
                    target.insert("session_only".into(), json!(true));
                }
                if let Some(a) = agent {
                    target.insert("agent".into(), json!(a));
                }
                target.retain(|_, v| !v.is_null());
            }
            client.send("POST", "/v1/access-requests", Some(body))?
        }
        AccessCommand::List { state, role } => {
            let mut query = Vec::new();
            if let Some(s) = state {
                query.push(format!("state={}", steward::client::encode(&s)));
            }
            if let Some(r) = role {
                query.push(format!("role={}", steward::client::encode(&r)));
            }
            let q = if query.is_empty() { String::new() } else { format!("?{}", query.join("&")) };
            client.send("GET", &format!("/v1/access-requests{q}"), None)?
        }
        AccessCommand::Show { id } => client.send("GET", &path(&id, ""), None)?,
        AccessCommand::Approve { id, digest, masks, row_filters, aggregate_only, max_rows, seconds, note } => {
            let Some(digest) = digest else {
                let shown = client.send("GET", &path(&id, ""), None)?;
                println!("{}", serde_json::to_string_pretty(&shown)?);
                let digest = shown.get("digest").and_then(Value::as_str).unwrap_or("DIGEST");
                bail!("read the request above; to approve exactly it, run again with --digest {digest}");
            };
            let mut masked = Vec::new();
            for m in masks {
                let (column, method) = m.split_once(':').context("--mask column:method (null, hash, last-four, redact)")?;
                masked.push(json!({ "column": column, "method": method }));
            }
            let mut conditions = json!({ "masked": masked, "row_filters": row_filters });
            if let Some(k) = aggregate_only {
                conditions["aggregate_only"] = json!(k);
            }
            if let Some(n) = max_rows {
                conditions["max_rows"] = json!(n);
            }
            let mut body = json!({ "digest": digest, "conditions": conditions, "note": note });
            if let Some(secs) = seconds {
                body["duration_seconds"] = json!(secs);
            }
            client.send("POST", &path(&id, "/approve"), Some(body))?
        }
        AccessCommand::Deny { id, note } => client.send("POST", &path(&id, "/deny"), Some(json!({ "note": note })))?,
        AccessCommand::Revoke { id, note } => client.send("POST", &path(&id, "/revoke"), Some(json!({ "note": note })))?,
    };
    println!("{}", serde_json::to_string_pretty(&answer)?);
    Ok(())
}

fn plugin_command(command: PluginCommand) -> anyhow::Result<()> {
    match command {
        PluginCommand::New { name, lang, world, dir } => {
            let language = match lang {
                LangArg::Rust => Language::Rust,
                LangArg::Python => Language::Python,
                LangArg::Js => Language::Js,
            };
            let world = match world {
                WorldArg::Sop => World::Sop,
                WorldArg::Scorer => World::Scorer,
                WorldArg::Tool => World::Tool,
            };
            let created = author::scaffold(&dir, &name, language, world)?;
            println!("created {} ({} {} plugin)", created.display(), language.as_str(), world.as_str());
            println!("next: steward plugin build {0} && steward plugin test {0}", created.display());
            Ok(())
        }
        PluginCommand::Build { dir } => {
            let built = author::build(&dir)?;
            println!(
                "built {} ({} bytes, sha256:{}) in {:.1} s",
                built.component.display(),
                built.bytes,
                built.digest,
                built.took.as_secs_f64()
            );
            Ok(())
        }
        PluginCommand::Test { dir, policies, cache_dir } => {
            let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            let cache_dir = cache_dir.unwrap_or_else(author::default_cache_dir);
            rt.block_on(author::test(&dir, &policies, Some(cache_dir)))
        }
        PluginCommand::Inspect { file } => {
            print!("{}", author::inspect(&file)?);
            Ok(())
        }
        PluginCommand::Sign { dir, key, signer } => {
            let path = author::sign(&dir, &key, &signer)?;
            println!("signed as {signer}: {}", path.display());
            Ok(())
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn mint_token(
    key: &Path,
    sub: &str,
    act: Option<String>,
    session: Option<String>,
    turn: Option<String>,
    ttl: u64,
    kid: Option<String>,
    policies: &Path,
) -> anyhow::Result<String> {
    if act.is_some() && (session.is_none() || turn.is_none()) {
        bail!("{AGENT_TOKEN_NEEDS_SESSION}");
    }
    let signing = SigningKeyFile::read(key)?;
    let policy = Policy::load_dir(policies).with_context(|| format!("reading {}", policies.display()))?;
    let public = signing.verifying_key().to_bytes();
    let kid = match kid {
        Some(k) => k,
        None => policy
            .keys()
            .iter()
            .find(|k| k.ed25519 == public)
            .map(|k| k.kid.clone())
            .with_context(|| format!("no key in {} matches {}; pass --kid", policies.display(), key.display()))?,
    };
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let identity = policy.identity();
    let mut claims = Claims::new(&identity.issuer, sub, &identity.audience, now, ttl);
    claims.jti = Some(hex::encode(rand::random::<[u8; 8]>()));
    claims.act = act.map(|agent| Actor { sub: agent, act: None });
    claims.sid = session;
    claims.turn = turn;
    Ok(mint(&signing, &kid, &claims))
}

/// A new Ed25519 key written to `out`, which must not exist yet.
fn new_key_file(out: &Path) -> anyhow::Result<ed25519_dalek::SigningKey> {
    if out.exists() {
        bail!("{} exists; not overwriting a key", out.display());
    }
    let key = SigningKeyFile::generate();
    std::fs::write(out, format!("{}\n", SigningKeyFile::encode(&key))).with_context(|| format!("writing {}", out.display()))?;
    Ok(key)
}

/// `token mint --act` without `--session` or `--turn`.
const AGENT_TOKEN_NEEDS_SESSION: &str = "an agent token (--act) names the session and turn the agent acts in: \
pass --session ID and --turn ID (for example --session s1 --turn 1); Steward audits and budgets per session and turn";

/// What `steward key rotate` prints: the new key valid from `now`, and the
/// old key's retirement `overlap` seconds later.
fn rotation_lines(out: &Path, kid: &str, public_key: &str, retire: &str, now: u64, overlap: u64) -> String {
    use steward_model::time::rfc3339;
    format!(
        "# private key written to {}; sign new tokens with it (steward token mint --key {} ...).\n\
         # 1. Add the new key to the policy:\n\
         [[key]]\n\
         kid = {kid:?}\n\
         public_key = {public_key:?}\n\
         not_before = {}\n\
         # 2. Retire the old one once the tokens it signed have expired: add to the [[key]] with kid = {retire:?}:\n\
         not_after = {}\n",
        out.display(),
        out.display(),
        rfc3339(now),
        rfc3339(now.saturating_add(overlap)),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn key_rotation_prints_the_policy_lines() {
        let lines = super::rotation_lines(std::path::Path::new("next.key"), "demo-2027", "PUB", "demo-2026", 1_800_000_000, 43_200);
        assert_eq!(
            lines,
            "# private key written to next.key; sign new tokens with it (steward token mint --key next.key ...).\n\
             # 1. Add the new key to the policy:\n\
             [[key]]\nkid = \"demo-2027\"\npublic_key = \"PUB\"\nnot_before = 2027-01-15T08:00:00Z\n\
             # 2. Retire the old one once the tokens it signed have expired: add to the [[key]] with kid = \"demo-2026\":\n\
             not_after = 2027-01-15T20:00:00Z\n"
        );
    }
}
