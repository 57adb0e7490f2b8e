//! The trust boundary against hostile input and hostile plugins: deep and
//! long SQL, oversized plugin answers, log floods, classifiers outside
//! their scope or with odd tags, a classifier that never answers, and
//! SIGTERM. Each is refused or contained, and the host keeps answering
//! within the bound each test states.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::harness::{Options, Server, agent_token, decision, eventually, reason_codes, token};
use crate::hostile::{BENIGN_CASE, ask};

/// How long the host may take to answer `/healthz` or an unrelated
/// decision while a hostile plugin or query is being handled.
const RESPONSIVE: Duration = Duration::from_secs(5);

fn healthz(server: &Server) -> Duration {
    let started = Instant::now();
    let (status, _) = server.get("/healthz");
    assert_eq!(status, 200);
    started.elapsed()
}

/// An unrelated decision (alice on the finance ledger), answered in time.
fn unrelated_decision_answers(server: &Server) {
    let started = Instant::now();
    let (status, body) = server.decide(&token("alice"), json!({"action": "sql.read", "assets": ["finance/ledger"]}));
    assert_eq!(status, 200, "{body}");
    assert!(started.elapsed() < RESPONSIVE, "an unrelated decision took {:?}", started.elapsed());
}

#[test]
fn deep_and_long_queries_are_refused_and_the_server_answers_the_next_one() {
    let mut server = Server::start(Options { plugins: &[], ..Default::default() });
    let bob = token("bob");
    let chain = |op: &str, term: &str, bytes: usize| vec![term; bytes / (op.len() + term.len())].join(op);
    let body_limit = 250 * 1024;
    let queries = [
        format!("SELECT {} FROM sales.orders", chain(" + ", "1", 12 * 1024)),
        format!("SELECT {} FROM sales.orders", chain("+", "1", body_limit)),
        format!("SELECT region FROM sales.orders WHERE {}", chain(" AND ", "total > 1", 12 * 1024)),
        format!("SELECT region FROM sales.orders WHERE {}", chain(" OR ", "total > 1", body_limit)),
        format!("SELECT {} FROM sales.orders", chain(" || ", "region", body_limit)),
        chain(" UNION ", "SELECT region FROM sales.orders", 12 * 1024),
        chain(" UNION ", "SELECT region FROM sales.orders", body_limit),
        format!("SELECT {}1{} FROM sales.orders", "(SELECT ".repeat(2_000), ")".repeat(2_000)),
        format!("SELECT {}1{}", "CASE WHEN 1 THEN ".repeat(5_000), " END".repeat(5_000)),
        format!("SELECT {}1{}", "abs(".repeat(20_000), ")".repeat(20_000)),
        format!("SELECT region FROM sales.orders WHERE total IN ({})", vec!["1"; 60_000].join(",")),
        format!("SELECT o0.region FROM {}", (0..2_000).map(|i| format!("sales.orders o{i}")).collect::<Vec<_>>().join(", ")),
        format!("SELECT {} FROM sales.orders", vec!["region"; 30_000].join(",")),
    ];
    for sql in &queries {
        assert!(sql.len() < 256 * 1024, "{} bytes", sql.len());
        let (status, answer) = server.query(&bob, json!({ "sql": sql }));
        assert_eq!(status, 200, "{}: {answer}", &sql[..60]);
        assert_eq!(decision(&answer), "deny", "{}", &sql[..60]);
        let message = answer["reasons"][0]["message"].as_str().unwrap_or_default();
        assert!(message.contains("too complex") || message.contains("does not parse"), "{}: {message}", &sql[..60]);
        assert!(server.alive(), "the server died on {}:\n{}", &sql[..60], server.log());
        let (status, next) = server.query(&bob, json!({"sql": "SELECT region FROM sales.orders LIMIT 1"}));
        assert_eq!((status, decision(&next)), (200, "allow"), "{next}");
    }
    // /v1/decide: deeply nested JSON and a flood of assets.
    let nested = format!("{{\"action\": {}1{}, \"assets\": []}}", "[".repeat(50_000), "]".repeat(50_000));
    let (status, _) = server.post_raw("/v1/decide", &bob, &nested);
    assert_eq!(status, 400);
    let assets: Vec<String> = (0..10_000).map(|i| format!("sales/t{i}")).collect();
    let (status, answer) = server.decide(&bob, json!({"action": "sql.read", "assets": assets}));
    assert_eq!((status, decision(&answer)), (200, "deny"), "{answer}");
    let (status, answer) = server.decide(&bob, json!({"action": "sql.read", "assets": ["sales/orders"], "intent": "x".repeat(200_000)}));
    assert_eq!((status, decision(&answer)), (200, "deny"), "{answer}");
    assert!(server.alive());
    unrelated_decision_answers(&server);
}

const HOSTILE_SOP: &str = r#"
name = "hostile"
version = "6.6.6"
world = "sop"
scope = ["sales/**"]
[limits]
timeout_ms = 1000
memory_mib = 128
"#;

fn file_size(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

#[test]
fn oversized_plugin_answers_are_cut_or_fail_closed_and_the_host_stays_responsive() {
    let mut server = Server::start(Options { plugins: &[], ..Default::default() });
    let (status, body) = server.upload("hostile-sop", HOSTILE_SOP, BENIGN_CASE, true);
    assert_eq!(status, 200, "{body}");

    // A 50 MB reason: the deny stands, the reason is cut, the audit log
    // does not grow by the plugin's answer.
    let before = file_size(&server.audit_db());
    for _ in 0..3 {
        let answer = ask(&server, "huge-reason");
        assert_eq!(decision(&answer), "deny", "{}", &answer.to_string()[..200]);
        let message = answer["reasons"][0]["message"].as_str().unwrap();
        assert!(message.len() < 4096 && message.contains("truncated from 52428800 bytes"), "{}", message.len());
    }
    let grown = file_size(&server.audit_db()).saturating_sub(before);
    assert!(grown < 1 << 20, "the audit log grew by {grown} bytes for three decisions");

    // A million obligations: fails closed, and the host keeps answering
    // while it is refused.
    let hostile = std::thread::scope(|s| {
        let call = s.spawn(|| ask(&server, "many-obligations"));
        std::thread::sleep(Duration::from_millis(50));
        assert!(healthz(&server) < RESPONSIVE);
        unrelated_decision_answers(&server);
        call.join().unwrap()
    });
    assert_eq!(decision(&hostile), "deny");
    assert_eq!(reason_codes(&hostile), vec!["plugin-failure"]);
    assert!(hostile["reasons"][0]["message"].as_str().unwrap().contains("1000000 obligations"), "{hostile}");

    // A log flood with megabyte keys and values: the host log stays small.
    let log_before = server.log().len();
    let answer = ask(&server, "log-flood");
    // It ends with its loop or at its deadline; either way the host log
    // holds at most its per-call and per-second share.
    assert!(matches!(decision(&answer), "allow" | "deny"), "{answer}");
    let log = server.log();
    let logged = &log[log_before.min(log.len())..];
    assert!(logged.len() < 1 << 20, "a flooding call wrote {} bytes of host log", logged.len());
    assert!(!logged.lines().any(|l| l.starts_with("line ")), "a plugin forged a host log line");
    assert!(server.alive());
    assert_eq!(decision(&ask(&server, "benign")), "allow");
}

#[test]
fn sigterm_stops_the_server_promptly_even_while_plugins_misbehave() {
    let mut server = Server::start(Options { plugins: &[], ..Default::default() });
    let looping = HOSTILE_SOP.replace("timeout_ms = 1000", "timeout_ms = 500");
    let (status, body) = server.upload("hostile-sop", &looping, BENIGN_CASE, true);
    assert_eq!(status, 200, "{body}");
    let started = std::thread::scope(|s| {
        for intent in ["loop", "many-obligations"] {
            let server = &server;
            s.spawn(move || {
                let _ = server.try_decide(&agent_token("bob", "copilot", "t"), json!({"action": "sql.read", "assets": ["sales/customers"], "intent": intent}));
            });
        }
        std::thread::sleep(Duration::from_millis(100));
        server.signal("TERM");
        Instant::now()
    });
    // Exited and reaped, within the grace period and a margin.
    assert!(eventually(Duration::from_secs(10), || !server.alive()), "SIGTERM did not stop the server:\n{}", server.log());
    assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
}

const CLASSIFIER_MANIFEST: &str = r#"
name = "hostile-classifier"
version = "6.6.6"
world = "classifier"
scope = ["sales/**"]
[limits]
timeout_ms = 50
"#;

const NOT_PII_CASE: &str = r#"
[[case]]
name = "benign column"
column = { table = "sales/orders", column = "region", data_type = "text", values = ["emea"] }
expect_tags = []
"#;

/// The demo warehouse, with columns the catalog does not list: email
/// addresses under names the hostile classifier tags oddly, a column it
/// never answers for, and a column of a table outside its scope.
fn warehouse_with_discovered_columns(dir: &Path) {
    steward_warehouse::sqlite::create_demo(dir).unwrap();
    let sales = rusqlite::Connection::open(dir.join("sales.db")).unwrap();
    for column in ["email_upper", "email_kind_only", "email_zero_width", "loop_notes"] {
        sales.execute_batch(&format!("ALTER TABLE customers ADD COLUMN {column} TEXT; UPDATE customers SET {column} = email;")).unwrap();
    }
    let finance = rusqlite::Connection::open(dir.join("finance.db")).unwrap();
    finance.execute_batch("ALTER TABLE ledger ADD COLUMN memo_out TEXT; UPDATE ledger SET memo_out = 'secret-' || entry_id;").unwrap();
}

#[test]
fn a_classifier_only_tightens_inside_its_scope_and_never_blocks_queries() {
    let warehouse = tempfile::tempdir().unwrap();
    warehouse_with_discovered_columns(warehouse.path());
    let url = warehouse.path().display().to_string();
    let server = Server::start(Options { plugins: &[], warehouse: Some(&url), ..Default::default() });
    // The signature rules apply to classifiers like any plugin: unsigned,
    // it may not reach finance/**.
    let finance = CLASSIFIER_MANIFEST.replace("sales/**", "finance/**");
    let (status, body) = server.upload("hostile-classifier", &finance, NOT_PII_CASE, true);
    assert_eq!(status, 422, "{body}");
    assert!(body["error"].as_str().unwrap_or_default().contains("sign"), "{body}");
    let (status, body) = server.upload("hostile-classifier", CLASSIFIER_MANIFEST, NOT_PII_CASE, true);
    assert_eq!(status, 200, "{body}");
    let (bob, alice) = (token("bob"), token("alice"));

    // Queries never wait for the classifier, which loops on `loop_notes`
    // (every call times out) and is asked in the background.
    for (who, sql) in [(&alice, "SELECT * FROM finance.ledger LIMIT 2"), (&bob, "SELECT * FROM sales.customers LIMIT 2"), (&bob, "SELECT region FROM sales.orders LIMIT 1")] {
        let started = Instant::now();
        let (status, answer) = server.query(who, json!({ "sql": sql }));
        assert_eq!(status, 200, "{answer}");
        assert!(started.elapsed() < RESPONSIVE, "{sql} took {:?}", started.elapsed());
    }

    // Once the classifier has answered what it can: the odd tags PII/EMAIL
    // and a bare `email` count as PII (hashed for bob like the catalog's
    // own email column), `pii` + a zero-width space keeps the column
    // withheld, and the column it never answers for stays withheld.
    let classified = |answer: &Value| answer["columns"].as_array().is_some_and(|c| c.iter().any(|c| c == "email_upper"));
    let mut answer = Value::Null;
    assert!(
        eventually(Duration::from_secs(20), || {
            answer = server.query(&bob, json!({"sql": "SELECT * FROM sales.customers LIMIT 5"})).1;
            classified(&answer)
        }),
        "the classifier's columns never appeared: {answer}\n{}",
        server.log()
    );
    assert_eq!(decision(&answer), "allow", "{answer}");
    let columns: Vec<&str> = answer["columns"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    for raw_email_column in ["email_upper", "email_kind_only"] {
        let i = columns.iter().position(|c| *c == raw_email_column).unwrap_or_else(|| panic!("{raw_email_column}: {answer}"));
        for row in answer["rows"].as_array().unwrap() {
            let cell = row[i].as_str().unwrap_or_default();
            assert!(!cell.contains('@'), "{raw_email_column} came back raw: {cell}");
        }
    }
    for withheld in ["email_zero_width", "loop_notes"] {
        assert!(!columns.contains(&withheld), "{withheld} reached bob: {answer}");
        assert!(answer["withheld"].to_string().contains(withheld), "{withheld} is reported withheld: {answer}");
    }

    // Out of its scope, the classifier is never asked: the finance column
    // it would call harmless stays withheld for alice.
    let (_, ledger) = server.query(&alice, json!({"sql": "SELECT * FROM finance.ledger LIMIT 2"}));
    assert_eq!(decision(&ledger), "allow", "{ledger}");
    assert!(!ledger["columns"].to_string().contains("memo_out"), "{ledger}");
    assert!(ledger["withheld"].to_string().contains("memo_out"), "{ledger}");
}

#[test]
fn deep_policy_sql_is_refused_on_reload_and_the_last_good_policy_keeps_serving() {
    let server = Server::start(Options { plugins: &[], own_policies: true, ..Default::default() });
    let bob = token("bob");
    let data = server.policies_dir.join("data.toml");
    let text = std::fs::read_to_string(&data).unwrap();
    let chain = vec!["region = {principal.region}"; 5_000].join(" AND ");
    std::fs::write(&data, text.replace("filter = \"region = {principal.region}\"", &format!("filter = \"{chain}\""))).unwrap();
    let (status, body) = server.admin("POST", "/admin/policy/reload", None);
    assert_ne!(status, 200, "{body}");
    assert!(body.to_string().contains("too complex"), "{body}");
    assert!(eventually(Duration::from_secs(15), || server.log().contains("too complex")), "{}", server.log());
    let (status, answer) = server.query(&bob, json!({"sql": "SELECT region FROM sales.orders LIMIT 1"}));
    assert_eq!((status, decision(&answer)), (200, "allow"), "{answer}");
    assert_eq!(answer["row_filters"], json!(["row_filter:sales-own-region"]), "the last good filter still applies: {answer}");
}
