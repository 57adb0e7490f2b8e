//! A tool plugin's invocation with one nested query, in each language a
//! tool can be written in (Rust, Python, JavaScript: the query-tool test
//! guests, which run the SQL they are given with one call-back), against
//! the same query through the gate directly. In process, no HTTP: what
//! the tool door and the call-back add. Each sample is one whole
//! invocation as the agent scout (for bob): the invocation decided and
//! recorded, the tool run on a warm instance, its call-back decided,
//! rewritten, run on the demo warehouse and recorded.
//!
//! Build the guests first (`make test-guests`, and the Rust one with
//! `cargo build --target wasm32-wasip2 --profile plugin --target-dir
//! target/guests -p query-tool`), then `cargo bench -p steward --bench
//! tools`. Prints p50/p99 in microseconds; asserts the answers are allows.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use steward_gate::{Door, QueryInput};
use support::{repo, report};

const WARMUP: usize = 100;
const SAMPLES: usize = 1_000;
const SQL: &str = "SELECT order_id, region, total FROM sales.orders WHERE total > 500 ORDER BY total DESC LIMIT 10";

/// A plugin folder for `name` with `component`; its manifest as the test
/// guest's own (the Rust guest has none: it is written here).
fn install(plugins: &std::path::Path, name: &str, component: &std::path::Path, manifest: Option<&std::path::Path>) -> anyhow::Result<()> {
    let dir = plugins.join(name);
    std::fs::create_dir_all(&dir)?;
    let bytes = std::fs::read(component).map_err(|e| anyhow::anyhow!("{}: {e} (build the guests first: see this bench's header)", component.display()))?;
    std::fs::write(dir.join("plugin.wasm"), bytes)?;
    let text = match manifest {
        Some(m) => std::fs::read_to_string(m)?,
        None => format!("name = \"{name}\"\nversion = \"1\"\nworld = \"tool\"\nscope = []\n[limits]\ntimeout_ms = 500\nmax_calls = 1\n"),
    };
    std::fs::write(dir.join("plugin.toml"), text)?;
    std::fs::write(dir.join("cases.toml"), "")?;
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let data = std::env::temp_dir().join(format!("steward-bench-tools-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    let policies = support::bench_policies(&data)?;
    let plugins = data.join("plugins");
    let root = repo();
    install(&plugins, "query-tool", &root.join("target/guests/wasm32-wasip2/plugin/query_tool.wasm"), None)?;
    for name in ["query-tool-py", "query-tool-js"] {
        let folder = root.join("tests/polyglot").join(name);
        install(&plugins, name, &folder.join("plugin.wasm"), Some(&folder.join("plugin.toml")))?;
    }
    let config = support::server_config(&data, policies, plugins, "127.0.0.1:0".parse()?);
    let state = rt.block_on(steward::build_state(&config))?;
    // Load and prove the three tools as the server's watcher would.
    let tools = ["query-tool", "query-tool-py", "query-tool-js"];
    let policy = state.gate.policy.load().policy.clone();
    for name in tools {
        let source = steward_runtime::PluginSource::from_dir(&config.plugins.join(name)).map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
        let proven = rt.block_on(state.gate.registry.prove(source, &policy)).map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
        rt.block_on(state.gate.registry.activate(proven));
    }
    let token = support::agent_token("bob", "scout");
    let gate = state.gate.clone();
    let caller = Arc::new(gate.authenticate(&token));
    let input = QueryInput { sql: SQL.into(), mode: Default::default(), intent: None };
    let arguments = json!({ "sql": SQL });

    let direct = |samples: &mut Vec<Duration>| {
        let t = Instant::now();
        let answer = rt.block_on(gate.query(&caller, &input, Door::Http));
        samples.push(t.elapsed());
        assert_eq!(answer.outcome.decision, steward_model::Decision::Allow, "{:?}", answer.outcome.reasons);
    };
    let invoke = |tool: &str, samples: &mut Vec<Duration>| {
        let t = Instant::now();
        let answer = rt.block_on(gate.invoke_tool(&caller, tool, &arguments, Door::Http));
        samples.push(t.elapsed());
        assert_eq!(answer.outcome.decision, steward_model::Decision::Allow, "{tool}: {:?}", answer.outcome.reasons);
        assert_eq!(answer.output.as_ref().and_then(|o| o["decision"].as_str()), Some("allow"), "{tool}");
    };
    let mut sink = Vec::new();
    for _ in 0..WARMUP {
        direct(&mut sink);
        for tool in tools {
            invoke(tool, &mut sink);
        }
    }
    let mut samples: Vec<Vec<Duration>> = vec![Vec::with_capacity(SAMPLES); 1 + tools.len()];
    for _ in 0..SAMPLES {
        direct(&mut samples[0]);
        for (i, tool) in tools.iter().enumerate() {
            invoke(tool, &mut samples[i + 1]);
        }
    }
    let base = report("the query through the gate directly", samples.remove(0));
    for (tool, s) in tools.iter().zip(samples) {
        let p50 = report(&format!("{tool}: invoke with one nested query"), s);
        println!("{:<48} p50 {:>8.1} µs", format!("  {tool} adds"), p50 - base);
    }
    let _ = std::fs::remove_dir_all(&data);
    Ok(())
}
