//! What the MCP door adds: the same query through `tools/call query` on
//! `/mcp` (protocol revision 2026-07-28, stateless) and through
//! `/v1/query`, both over loopback HTTP to the server running in this
//! process, one request at a time, in turn; and `resources/list` paging
//! through a catalog of 10,000 more assets.
//!
//! Run with `cargo bench -p steward --bench mcp`. Prints p50/p99 in
//! microseconds; asserts nothing but that the answers are allows.

mod support;

use std::time::Instant;

use serde_json::{Value, json};
use steward_identity::{Claims, SigningKeyFile, mint};
use support::{repo, report};

const WARMUP: usize = 200;
const SAMPLES: usize = 2_000;
const EXTRA_ASSETS: usize = 10_000;
const SQL: &str = "SELECT c.customer_id, c.email, o.total FROM sales.customers c JOIN sales.orders o ON o.customer_id = c.customer_id WHERE o.total > 900 ORDER BY o.total DESC LIMIT 10";

fn mcp(agent: &ureq::Agent, base: &str, auth: &str, method: &str, name: Option<&str>, params: Value) -> Value {
    let mut params = params;
    params["_meta"] = json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {}});
    let mut request = agent
        .post(format!("{base}/mcp"))
        .header("Authorization", auth)
        .header("Content-Type", "application/json")
        .header("Accept", "application/json, text/event-stream")
        .header("MCP-Protocol-Version", "2026-07-28")
        .header("Mcp-Method", method);
    if let Some(n) = name {
        request = request.header("Mcp-Name", n);
    }
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    let mut r = request.send(body.to_string()).expect("MCP request");
    r.body_mut().read_json().expect("an MCP JSON answer")
}

fn main() -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let data = std::env::temp_dir().join(format!("steward-bench-mcp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    let policies = support::bench_policies(&data)?;
    let mut catalog = std::fs::read_to_string(policies.join("catalog.toml"))?;
    catalog += "\n[[folder]]\npath = \"bulk\"\nowner = \"data-team\"\ndiscoverable = true\n";
    for i in 0..EXTRA_ASSETS {
        catalog += &format!("\n[[resource]]\npath = \"bulk/d{i:05}\"\nkind = \"dashboard\"\ndescription = \"dashboard {i}\"\n");
    }
    std::fs::write(policies.join("catalog.toml"), catalog)?;
    let plugins = data.join("plugins");
    std::fs::create_dir_all(&plugins)?;
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let addr = listener.local_addr()?;
    let config = support::server_config(&data, policies, plugins, addr);
    let state = rt.block_on(steward::build_state(&config))?;
    let base = format!("http://{addr}");
    let router = steward::http::router(state, steward::mcp::McpConfig { public_url: base.clone() });
    rt.spawn(async move { axum::serve(listener, router).await });

    let key = SigningKeyFile::read(&repo().join("policies/demo/issuer.key")).map_err(anyhow::Error::msg)?;
    let token = mint(&key, "demo-2026", &Claims::new("steward-demo", "bob", "steward", support::unix_seconds(), 3600));
    let auth = format!("Bearer {token}");
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let v1 = || {
        let mut r = agent.post(format!("{base}/v1/query")).header("Authorization", &auth).send_json(json!({"sql": SQL})).expect("/v1/query");
        let v: Value = r.body_mut().read_json().expect("JSON");
        assert_eq!(v["decision"], "allow", "{v}");
    };
    let via_mcp = || {
        let v = mcp(&agent, &base, &auth, "tools/call", Some("query"), json!({"name": "query", "arguments": {"sql": SQL}}));
        assert_eq!(v["result"]["structuredContent"]["decision"], "allow", "{v}");
    };
    for _ in 0..WARMUP {
        v1();
        via_mcp();
    }
    let (mut a, mut b) = (Vec::with_capacity(SAMPLES), Vec::with_capacity(SAMPLES));
    for _ in 0..SAMPLES {
        let t = Instant::now();
        v1();
        a.push(t.elapsed());
        let t = Instant::now();
        via_mcp();
        b.push(t.elapsed());
    }
    let direct = report("POST /v1/query", a);
    let door = report("MCP tools/call query (2026-07-28)", b);
    println!("{:<52} p50 {:>8.1} µs", "the MCP door's overhead", door - direct);

    // resources/list through the whole catalog, page by page.
    let mut pages = Vec::new();
    let mut totals = Vec::new();
    let mut seen = 0;
    for round in 0..5 {
        let started = Instant::now();
        let mut cursor: Option<String> = None;
        seen = 0;
        loop {
            let params = match &cursor {
                Some(c) => json!({"cursor": c}),
                None => json!({}),
            };
            let t = Instant::now();
            let v = mcp(&agent, &base, &auth, "resources/list", None, params);
            if round > 0 {
                pages.push(t.elapsed());
            }
            seen += v["result"]["resources"].as_array().map_or(0, Vec::len);
            cursor = v["result"]["nextCursor"].as_str().map(str::to_string);
            if cursor.is_none() {
                break;
            }
        }
        if round > 0 {
            totals.push(started.elapsed());
        }
    }
    report(&format!("resources/list, one page of 100 ({seen} entries)"), pages);
    report("resources/list, every page", totals);
    let _ = std::fs::remove_dir_all(&data);
    Ok(())
}
