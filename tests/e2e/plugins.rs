//! Plugins from outside Rust and across WIT versions, as the server runs
//! them: the Python and JavaScript twins decide like the Rust SOP,
//! `steward:guardrail@0.1.0` and `@0.2.0` plugins load side by side, and
//! signatures are checked at load.

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};

use crate::harness::{Options, Server, agent_token, compile_cache, decision, demo_signature, guests, reason_codes, repo, steward_bin, token};

/// What two plugins must agree on: the decision, the reason codes and
/// the obligations.
fn verdict(answer: &Value) -> (String, Vec<String>, Value) {
    (decision(answer).to_string(), reason_codes(answer), answer["obligations"].clone())
}

#[test]
fn python_and_javascript_twins_decide_like_the_rust_sop() {
    let agent = agent_token("alice", "copilot", "t1");
    let agent_for_bob = agent_token("bob", "copilot", "t2");
    let bob = token("bob");
    let decide = |tok: &str, action: &str, assets: &[&str], intent: Option<&str>| {
        let mut body = json!({ "action": action, "assets": assets });
        if let Some(i) = intent {
            body["intent"] = json!(i);
        }
        (tok.to_string(), "/v1/decide", body)
    };
    let query = |tok: &str, sql: &str, intent: Option<&str>| {
        let mut body = json!({ "sql": sql, "mode": "full" });
        if let Some(i) = intent {
            body["intent"] = json!(i);
        }
        (tok.to_string(), "/v1/query", body)
    };
    let requests = [
        decide(&agent, "sql.read", &["finance/ledger"], Some("task: Q3 close")),
        decide(&agent, "sql.read", &["finance/ledger"], Some("   task: padded intent  ")),
        decide(&agent, "sql.read", &["finance/ledger"], Some("Task: wrong case")),
        decide(&agent, "sql.read", &["finance/ledger"], Some("   ")),
        decide(&agent, "sql.read", &["finance/ledger"], None),
        decide(&agent, "sql.write", &["finance/ledger"], Some("task: fix a posting")),
        decide(&agent, "sql.read", &["finance/ledger", "finance/invoices"], Some("task: audit")),
        decide(&bob, "sql.read", &["finance/ledger"], None),
        decide(&agent_for_bob, "dashboard.view", &["finance/revenue-dashboard"], None),
        query(&agent, "select count(*) from finance.ledger", Some("task: Q3 close")),
        query(&agent, "select count(*) from finance.ledger", None),
    ];
    let mut answers: Vec<(String, Vec<(String, Vec<String>, Value)>)> = Vec::new();
    for plugin in ["finance-sop", "finance-sop-py", "finance-sop-js"] {
        let server = Server::start(Options { plugins: &[plugin], enforce_all: true, ..Default::default() });
        // The server loads its plugins folder before it listens.
        let (_, listed) = server.admin("GET", "/admin/plugins", None);
        assert_eq!(listed["plugins"][0]["active"]["name"], plugin, "{plugin} did not load:\n{}", server.log());
        assert_eq!(listed["plugins"][0]["active"]["mode"], "enforce", "{listed}");
        let mut verdicts = Vec::new();
        for (tok, path, body) in &requests {
            let (status, answer) = match *path {
                "/v1/decide" => server.decide(tok, body.clone()),
                _ => server.query(tok, body.clone()),
            };
            assert!(status == 200 || status == 403, "{plugin} {body}: {status} {answer}");
            verdicts.push(verdict(&answer));
            if answer["decision"] != "allow" {
                let source = answer["reasons"][0]["source"].as_str().unwrap_or_default();
                assert!(source.starts_with(&format!("plugin:{plugin}@")), "{plugin} {body}: the SOP must be what decided: {answer}");
            }
        }
        answers.push((plugin.to_string(), verdicts));
    }
    let (rust, expected) = &answers[0];
    // The requests cover every branch of the SOP.
    let decisions: Vec<&str> = expected.iter().map(|v| v.0.as_str()).collect();
    assert!(decisions.contains(&"allow") && decisions.contains(&"escalate"), "{decisions:?}");
    for (twin, got) in &answers[1..] {
        for ((req, want), have) in requests.iter().zip(expected).zip(got) {
            assert_eq!(have, want, "{twin} and {rust} disagree on {} {}", req.1, req.2);
        }
    }
}

const LEGACY_MANIFEST: &str = "name = \"legacy-sop\"\nversion = \"0.1.0\"\nworld = \"sop\"\nscope = [\"lab/**\"]\n";

const LEGACY_CASES: &str = r#"
[[case]]
name = "an agent with an intent reads a catalog table"
principal = { id = "copilot", kind = "agent", on_behalf_of = "alice" }
action = "sql.read"
assets = ["lab/synthetic_people"]
intent = "task: test data"
expect = "allow"

[[case]]
name = "no intent"
principal = { id = "copilot", kind = "agent", on_behalf_of = "alice" }
action = "sql.read"
assets = ["lab/synthetic_people"]
expect = "deny"
"#;

const CONTEXT_MANIFEST: &str = "name = \"context-sop\"\nversion = \"0.2.0\"\nworld = \"sop\"\nscope = [\"hr/employees\"]\n";

const CONTEXT_CASES: &str = r#"
[[case]]
name = "an agent for a human in emea"
principal = { id = "scout", kind = "agent", on_behalf_of = "bob" }
action = "sql.read"
assets = ["hr/employees"]
expect = "allow"

[[case]]
name = "an agent for a human without a region"
principal = { id = "copilot", kind = "agent", on_behalf_of = "alice" }
action = "sql.read"
assets = ["hr/employees"]
expect = "deny"

[[case]]
name = "a row-level query, context given by the case"
principal = { id = "scout", kind = "agent", on_behalf_of = "bob" }
action = "sql.read"
assets = ["hr/employees"]
context = { received_at_ms = 1, attributes = { region = "emea" }, query = { statement = "read", sql = "select name from hr.employees", tables = ["hr/employees"], output_columns = ["hr/employees.name"], aggregated = false } }
expect = "deny"
"#;

#[test]
fn plugins_built_against_0_1_0_and_0_2_0_load_and_decide_side_by_side() {
    let server = Server::start(Options { plugins: &[], ..Default::default() });
    let (status, body) = server.upload("legacy-sop", LEGACY_MANIFEST, LEGACY_CASES, true);
    assert_eq!(status, 200, "{body}");
    let (status, body) = server.upload("context-sop", CONTEXT_MANIFEST, CONTEXT_CASES, true);
    assert_eq!(status, 200, "{body}");
    let (_, listed) = server.admin("GET", "/admin/plugins", None);
    let version_of = |name: &str| {
        listed["plugins"].as_array().unwrap().iter().find(|p| p["active"]["name"] == name).map(|p| p["active"]["package_version"].clone())
    };
    assert_eq!(version_of("legacy-sop"), Some(json!("0.1.0")), "{listed}");
    assert_eq!(version_of("context-sop"), Some(json!("0.2.0")), "{listed}");

    let scout = agent_token("bob", "scout", "t1");
    let copilot = agent_token("alice", "copilot", "t2");
    // The 0.1.0 plugin, through its 0.1.0 catalog import (copilot has no
    // grant on lab/**, so the SOP decides).
    let (_, a) = server.decide(&copilot, json!({ "action": "sql.read", "assets": ["lab/synthetic_people"], "intent": "task: fixtures" }));
    assert_eq!(decision(&a), "allow", "{a}");
    assert!(a["decided_by"].as_array().unwrap().iter().any(|v| v["name"] == "legacy-sop"), "{a}");
    let (_, a) = server.decide(&copilot, json!({ "action": "sql.read", "assets": ["lab/synthetic_people"] }));
    assert_eq!(decision(&a), "deny", "{a}");
    assert_eq!(a["reasons"][0]["message"], "legacy-sop: declare an intent", "{a}");
    // The 0.2.0 plugin reads the caller's attributes from the context.
    let before = crate::harness::now() * 1000;
    let (_, a) = server.decide(&scout, json!({ "action": "sql.read", "assets": ["hr/employees"] }));
    assert_eq!(decision(&a), "allow", "{a}");
    let note = a["obligations"].as_array().and_then(|o| o.iter().find_map(|o| o["message"].as_str())).unwrap_or_default().to_string();
    let at: u64 = note.trim_start_matches("received at ").trim_end_matches(" ms").parse().unwrap_or_else(|_| panic!("{a}"));
    assert!(at >= before && at <= (crate::harness::now() + 1) * 1000, "received-at {at} is not the request's time: {a}");
    let (_, a) = server.decide(&copilot, json!({ "action": "sql.read", "assets": ["hr/employees"] }));
    assert_eq!(decision(&a), "deny", "{a}");
    assert_eq!(a["reasons"][0]["message"], "context-sop: only callers in region emea", "{a}");
    // Both in one request: each decides for its own asset; the 0.1.0 one
    // allows, the 0.2.0 one denies, and deny wins.
    let (_, a) = server.decide(&copilot, json!({ "action": "sql.read", "assets": ["hr/employees", "lab/synthetic_people"], "intent": "task: x" }));
    assert_eq!(decision(&a), "deny", "{a}");
    assert_eq!(a["reasons"][0]["source"], "plugin:context-sop@0.2.0", "{a}");
    let voters: Vec<&str> = a["decided_by"].as_array().unwrap().iter().filter_map(|v| v["name"].as_str()).collect();
    assert!(voters.contains(&"legacy-sop") && voters.contains(&"context-sop"), "{a}");
    // The query summary reaches the 0.2.0 plugin: row-level output is refused by it.
    let (_, a) = server.query(&scout, json!({ "sql": "select name from hr.employees", "mode": "full" }));
    assert_eq!(decision(&a), "deny", "{a}");
    assert_eq!(a["reasons"][0]["source"], "plugin:context-sop@0.2.0", "{a}");
    assert!(a["reasons"][0]["message"].as_str().unwrap_or_default().contains("hr/employees.name"), "{a}");
    let (_, a) = server.query(&scout, json!({ "sql": "select department, count(*) from hr.employees group by department", "mode": "full" }));
    let by_sop = a["reasons"].as_array().unwrap().iter().any(|r| r["source"] == "plugin:context-sop@0.2.0");
    assert!(!by_sop, "an aggregated query passes the SOP: {a}");
}

#[test]
fn signatures_are_checked_at_load() {
    let server = Server::start(Options { plugins: &[], ..Default::default() });
    let dir = repo().join("plugins/finance-sop");
    let manifest = std::fs::read_to_string(dir.join("plugin.toml")).unwrap();
    let cases = std::fs::read_to_string(dir.join("cases.toml")).unwrap();
    let component = guests().component("finance-sop");
    let refused = |signature: Option<&str>, component: &[u8]| {
        let (status, body) = server.upload_signed(component, &manifest, &cases, signature, true);
        assert_eq!(status, 422, "{body}");
        body["error"].as_str().unwrap_or_default().to_string()
    };
    // Missing where the policy requires one (policies/plugins.toml: finance/**).
    let why = refused(None, &component);
    assert!(why.contains("unsigned") && why.contains("finance/**") && why.contains("demo-finance"), "{why}");
    // Signed with a key the policy does not list for that signer.
    let other_key = ed25519_dalek::SigningKey::from_bytes(&[42; 32]);
    let forged = steward_runtime::PluginSignature::sign(&other_key, "demo-finance", &steward_runtime::digest(&component)).to_toml();
    let why = refused(Some(&forged), &component);
    assert!(why.contains("does not verify"), "{why}");
    // A valid signature, then the component changed after signing: a
    // custom section appended is still a valid component, with another digest.
    let signature = demo_signature(&component);
    let mut tampered = component.clone();
    tampered.extend_from_slice(&[0x00, 0x04, 0x03, b'e', b'v', b'l']);
    let why = refused(Some(&signature), &tampered);
    assert!(why.contains("changed after signing"), "{why}");
    assert_eq!(server.admin("GET", "/admin/plugins", None).1["plugins"], json!([]));
    // The valid signature loads, and the listing says who signed it.
    let (status, body) = server.upload_signed(&component, &manifest, &cases, Some(&signature), true);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["plugin"]["signed_by"], "demo-finance", "{body}");
    let (_, a) = server.decide(&agent_token("alice", "copilot", "t1"), json!({ "action": "sql.read", "assets": ["finance/ledger"] }));
    assert_eq!(a["reasons"][0]["source"], "plugin:finance-sop@1.0.0", "{a}");
}

#[test]
fn a_policy_that_starts_requiring_signatures_unloads_unsigned_plugins() {
    // The sales SOP is unsigned and loads: nothing requires a signature for sales/**.
    let server = Server::start(Options { plugins: &[], own_policies: true, ..Default::default() });
    let manifest = "name = \"swap-sop\"\nversion = \"1\"\nworld = \"sop\"\nscope = [\"sales/**\"]\n[limits]\ntimeout_ms = 500\n";
    let cases = "[[case]]\nname = \"c\"\nprincipal = { id = \"copilot\", kind = \"agent\", on_behalf_of = \"alice\" }\naction = \"sql.read\"\nassets = [\"sales/orders\"]\nexpect = \"allow\"\n";
    let (status, body) = server.upload("swap-sop-v1", manifest, cases, true);
    assert_eq!(status, 200, "{body}");
    let path = server.policies_dir.join("plugins.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replace("scope = [\"finance/**\"]", "scope = [\"finance/**\", \"sales/**\"]")).unwrap();
    let unloaded = crate::harness::eventually(std::time::Duration::from_secs(10), || {
        server.admin("GET", "/admin/plugins", None).1["plugins"] == json!([])
    });
    assert!(unloaded, "the unsigned sales SOP is still live:\n{}", server.log());
    assert!(server.log().contains("the new policy refuses its signature"), "{}", server.log());
}

fn steward(args: &[&str], dir: &Path) -> (bool, String) {
    let out = Command::new(steward_bin())
        .args(args)
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", repo().join("target/scaffold"))
        .env("STEWARD_CACHE_DIR", compile_cache())
        .env("STEWARD_COMPONENTIZE_JS", repo().join("sdk/js/node_modules/.bin/componentize-js"))
        .env_remove("RUST_BACKTRACE")
        .output()
        .expect("running steward");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

/// `steward plugin new`, `build` and `test` on a fresh `lang` plugin of
/// `world` in `work`; each must succeed and no case may fail. Returns the
/// plugin's name and what `test` printed.
fn scaffold_build_test(work: &Path, lang: &str, world: &str, policies: &str) -> (String, String) {
    let name = format!("first-{lang}-{world}");
    let (ok, out) = steward(&["plugin", "new", "--lang", lang, "--world", world, &name], work);
    assert!(ok, "{lang} {world}: new: {out}");
    let (ok, out) = steward(&["plugin", "build", &name], work);
    assert!(ok, "{lang} {world}: build: {out}");
    // Deadlines count the plugin's own CPU time, so the whole suite running
    // beside it on two cores does not fail its cases: no retry.
    let (ok, out) = steward(&["plugin", "test", &name, "--policies", policies], work);
    assert!(ok && !out.contains("FAIL"), "{lang} {world}: test: {out}");
    (name, out)
}

#[test]
fn scaffold_build_test_round_trip_in_each_language() {
    let work = tempfile::tempdir().unwrap();
    let policies = repo().join("policies");
    let policies = policies.to_str().unwrap();
    for lang in ["rust", "python", "js"] {
        let (name, out) = scaffold_build_test(work.path(), lang, "sop", policies);
        assert!(out.contains("PASS"), "{lang}: {out}");
        let (ok, out) = steward(&["plugin", "inspect", &format!("{name}/plugin.wasm")], work.path());
        assert!(ok && out.contains("world:    sop") && out.contains("steward:guardrail@0.2.0"), "{lang}: inspect: {out}");
        // A case whose expectation is wrong fails, naming the plugin, the case and what differed.
        let cases = work.path().join(&name).join("cases.toml");
        let text = std::fs::read_to_string(&cases).unwrap();
        let first_expect = text.find("expect = ").expect("the template has a case");
        let (head, tail) = text.split_at(first_expect);
        let line_end = tail.find('\n').unwrap_or(tail.len());
        let wrong = if tail[..line_end].contains("\"deny\"") { "expect = \"allow\"" } else { "expect = \"deny\"" };
        std::fs::write(&cases, format!("{head}{wrong}{}", &tail[line_end..])).unwrap();
        let (ok, out) = steward(&["plugin", "test", &name, "--policies", policies], work.path());
        assert!(!ok, "{lang}: a wrong expectation passed: {out}");
        assert!(out.contains("FAIL") && out.contains(&name) && out.contains("expected "), "{lang}: {out}");
        // The scorer and tool templates build and pass their own cases too.
        for world in ["scorer", "tool"] {
            scaffold_build_test(work.path(), lang, world, policies);
        }
    }
}

/// Each message an outside plugin author met says what to do next
/// (golden strings): `plugin test` without a policies folder, `plugin
/// build` without componentize-js, `plugin inspect` on a component the host
/// would refuse, `token mint --act` without a session and turn.
#[test]
fn author_messages_say_what_to_do_next() {
    let work = tempfile::tempdir().unwrap();
    let work_dir = std::path::absolute(work.path()).unwrap();
    let plain = |args: &[&str]| {
        let out = Command::new(steward_bin())
            .args(args)
            .current_dir(&work_dir)
            .env_remove("STEWARD_COMPONENTIZE_JS")
            .env_remove("STEWARD_CACHE_DIR")
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", work_dir.join("home"))
            .output()
            .expect("running steward");
        (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
    };

    let (ok, out) = plain(&["plugin", "new", "--lang", "js", "--world", "sop", "outside"]);
    assert!(ok, "{out}");
    let (ok, out) = plain(&["plugin", "test", "outside"]);
    assert!(!ok);
    let golden = format!(
        "no policies folder at {}: pass --policies DIR, the folder of policy .toml files your Steward server runs with \
         (the repository's is policies/)",
        work_dir.join("policies").display()
    );
    assert!(out.contains(&golden), "{out}");

    let (ok, out) = plain(&["plugin", "build", "outside"]);
    assert!(!ok);
    let golden = format!(
        "componentize-js was not found in node_modules/.bin of {} or any folder above it, nor on PATH: install it there \
         (`npm install @bytecodealliance/componentize-js`), or set STEWARD_COMPONENTIZE_JS to its path (in the Steward \
         repository: `npm ci --prefix sdk/js`, then STEWARD_COMPONENTIZE_JS=sdk/js/node_modules/.bin/componentize-js)",
        work_dir.join("outside").display()
    );
    assert!(out.contains(&golden), "{out}");

    let sneaky = work_dir.join("sneaky.wasm");
    std::fs::write(&sneaky, guests().component("sneaky-sop")).unwrap();
    let (ok, out) = plain(&["plugin", "inspect", sneaky.to_str().unwrap()]);
    assert!(ok, "{out}");
    let refused = out.lines().find(|l| l.starts_with("refused:")).unwrap_or_else(|| panic!("no refused line: {out}"));
    assert!(refused.starts_with("refused:  the host would refuse this component at load: it imports "), "{out}");
    assert!(refused.contains("wasi:filesystem/") && refused.contains("wasi:clocks/"), "{out}");
    assert!(
        out.contains(
            "\n          a plugin gets only steward:guardrail, wasi:io and wasi:cli; build without the rest \
             (componentize-py --stub-wasi, componentize-js --disable ..., no std::net or clocks in Rust)\n"
        ),
        "{out}"
    );
    let finance = work_dir.join("finance.wasm");
    std::fs::write(&finance, guests().component("finance-sop")).unwrap();
    let (ok, out) = plain(&["plugin", "inspect", finance.to_str().unwrap()]);
    assert!(ok && !out.contains("refused:"), "a plugin the host loads is not flagged: {out}");

    let key = repo().join("policies/demo/issuer.key");
    let policies = repo().join("policies");
    let mint = ["token", "mint", "--key", key.to_str().unwrap(), "--policies", policies.to_str().unwrap(), "--sub", "alice", "--act", "copilot"];
    let (ok, out) = plain(&mint);
    assert!(!ok, "{out}");
    assert!(
        out.contains(
            "an agent token (--act) names the session and turn the agent acts in: pass --session ID and --turn ID \
             (for example --session s1 --turn 1); Steward audits and budgets per session and turn"
        ),
        "{out}"
    );
    let (ok, out) = plain(&[&mint[..], &["--session", "s1", "--turn", "1"]].concat());
    assert!(ok && out.trim().split('.').count() == 3, "with a session and turn it mints: {out}");
}
