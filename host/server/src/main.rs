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
        /// Admin API token (default: the contents of DATA/admin.token, created if missing).
        #[arg(long, env = "STEWARD_ADMIN_TOKEN", hide_env_values = true)]
        admin_token: Option<String>,
        #[arg(long, value_enum, default_value = "full")]
        durability: DurabilityArg,
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
    /// Check the hash chain; exit 1 naming each tampered record.
    Verify {
        #[arg(long, default_value = "var/audit.db")]
        db: PathBuf,
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
        Command::Serve { listen, policies, plugins, data, cache_dir, admin_token, durability, watch_ms, workers, warehouse, query_timeout_ms, max_rows, plugin_idle_mib } => {
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
                data,
                admin_token,
                durability: match durability {
                    DurabilityArg::Full => Durability::Full,
                    DurabilityArg::Process => Durability::Process,
                },
                watch_every: Duration::from_millis(watch_ms.max(50)),
                warehouse,
                query_deadline: Duration::from_millis(query_timeout_ms.max(1)),
                max_rows: max_rows.max(1),
                plugin_idle_bytes: plugin_idle_mib.saturating_mul(1024 * 1024),
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
            if out.exists() {
                bail!("{} exists; not overwriting a key", out.display());
            }
            let key = SigningKeyFile::generate();
            std::fs::write(&out, format!("{}\n", SigningKeyFile::encode(&key))).with_context(|| format!("writing {}", out.display()))?;
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
            if out.exists() {
                bail!("{} exists; not overwriting a key", out.display());
            }
            let key = SigningKeyFile::generate();
            std::fs::write(&out, format!("{}\n", SigningKeyFile::encode(&key))).with_context(|| format!("writing {}", out.display()))?;
            let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
            print!("{}", rotation_lines(&out, &kid, &SigningKeyFile::public_key_base64(&key), &retire, now, overlap));
            Ok(())
        }
        Command::Audit { command: AuditCommand::Verify { db } } => {
            let report = steward_audit::verify(&db).with_context(|| format!("reading {}", db.display()))?;
            for p in &report.problems {
                println!("TAMPERED {:?} at record {}: {}", p.kind, p.seq, p.detail);
            }
            if report.ok() {
                println!("ok: {} records, chain intact, head {}", report.records, report.head_hash);
                Ok(())
            } else {
                println!("{} problem(s) in {} records", report.problems.len(), report.records);
                std::process::exit(1);
            }
        }
        Command::Audit { command: AuditCommand::Tail { db, n } } => {
            for r in steward_audit::tail(&db, n).with_context(|| format!("reading {}", db.display()))? {
                println!("{}", serde_json::json!({ "seq": r.seq, "hash": r.hash, "record": r.record }));
            }
            Ok(())
        }
        Command::Plugin { command } => plugin_command(command),
    }
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
