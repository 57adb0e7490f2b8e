//! `POST /v1/query`: planted canaries never leave, row filters and masks
//! hold however the query is written, budgets hold under concurrency, the
//! same guarantees on PostgreSQL, and a denied agent is told what it can
//! do instead.

use std::path::Path;
use std::sync::Barrier;
use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{Options, Server, agent_token, decision, reason_codes, token};

/// What the policy must answer to one query.
enum Want {
    /// Refused outright.
    Deny,
    /// Allowed, with these columns masked and these withheld (listed as
    /// `schema.table.column`, as the answer names them).
    Allow { masked: &'static [&'static str], withheld: &'static [&'static str] },
}

/// The PII columns of sales.customers bob and scout never get, in any form.
const CUSTOMERS_WITHHELD: &[&str] =
    &["sales.customers.national_id", "sales.customers.address", "sales.customers.card_number", "sales.customers.backup_contact"];

struct Case {
    who: &'static str,
    mode: &'static str,
    intent: Option<&'static str>,
    sql: &'static str,
    want: Want,
}

fn case(who: &'static str, mode: &'static str, sql: &'static str, want: Want) -> Case {
    Case { who, mode, intent: None, sql, want }
}

const fn masked(masked: &'static [&'static str]) -> Want {
    Want::Allow { masked, withheld: CUSTOMERS_WITHHELD }
}

fn body(mode: &str, sql: &str, intent: Option<&str>) -> Value {
    let mut b = json!({ "sql": sql, "mode": mode });
    if let Some(i) = intent {
        b["intent"] = json!(i);
    }
    b
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array().map(|a| a.iter().filter_map(|s| s.as_str().map(String::from)).collect()).unwrap_or_default()
}

fn is_hex64(v: &Value) -> bool {
    v.as_str().is_some_and(|s| s.len() == 64 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
}

/// The tokens of the demo principals, by name.
struct Tokens {
    bob: String,
    scout: String,
    copilot: String,
    carol: String,
}

impl Tokens {
    fn new() -> Tokens {
        Tokens { bob: token("bob"), scout: agent_token("bob", "scout", "t1"), copilot: agent_token("alice", "copilot", "t1"), carol: token("carol") }
    }

    fn of(&self, who: &str) -> &str {
        match who {
            "bob" => &self.bob,
            "scout" => &self.scout,
            "copilot" => &self.copilot,
            "carol" => &self.carol,
            other => panic!("no token for {other}"),
        }
    }
}

#[test]
fn canaries_never_leave_when_denied_or_masked() {
    // The finance SOP decides the invoices joins below; the risk scorer is
    // left out (its 10 ms deadline can pass on a loaded machine, and that
    // fail-closed deny would make the allow cases flaky).
    let server = Server::start(Options { plugins: &["finance-sop"], ..Default::default() });
    let tokens = Tokens::new();
    let canaries = steward_warehouse::demo::canaries();
    assert!(canaries.len() >= 20, "the demo plants canaries");

    // Control: the canaries are in the warehouse, and the check finds them
    // when the policy does let a column through (bob may read names).
    let (status, text) = server.query_text(&tokens.bob, &body("full", "select name from sales.customers where customer_id = 3", None));
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("Canary Quill-3"), "the planted canary row is visible to the control query: {text}");

    // bob: sales analyst (region emea); email hashed, phone last four, names
    // plain, everything else of customers withheld. scout: an agent acting for
    // bob; the same, and names masked too (queries stay small: agents have a
    // PII-cell budget). copilot: acting for alice; preview only on sales.
    // carol: HR aggregates only.
    let mut cases = vec![
        // Withheld columns, however they are named.
        case("bob", "full", "select national_id from sales.customers", Want::Deny),
        case("bob", "full", "select card_number from sales.customers", Want::Deny),
        case("bob", "full", "select address from sales.customers", Want::Deny),
        case("bob", "full", "select NATIONAL_ID from SALES.CUSTOMERS", Want::Deny),
        case("bob", "full", "select \"national_id\" from sales.\"customers\"", Want::Deny),
        case("bob", "full", "select c.national_id from sales.customers as c", Want::Deny),
        case("bob", "full", "select national_id from customers", Want::Deny),
        case("bob", "full", "select substr(national_id, 1, 20) from sales.customers", Want::Deny),
        case("bob", "full", "select backup_contact from sales.customers", Want::Deny),
        case("bob", "full", "select customer_id, region from sales.customers where backup_contact is not null", Want::Deny),
        // Masked columns, plainly and under every disguise.
        case("bob", "full", "select customer_id, email, phone, region from sales.customers", masked(&["sales.customers.email", "sales.customers.phone"])),
        case("bob", "full", "select * from sales.customers where 1 = 0", masked(&["sales.customers.email", "sales.customers.phone"])),
        case("bob", "full", "select email as contact from sales.customers", masked(&["sales.customers.email"])),
        case("bob", "full", "with c as (select email, phone from sales.customers) select * from c", masked(&["sales.customers.email", "sales.customers.phone"])),
        case("bob", "full", "with c as (select customer_id, national_id from sales.customers) select customer_id from c", Want::Deny),
        case("bob", "full", "select customer_id from sales.customers union select national_id from sales.customers", Want::Deny),
        case("bob", "full", "select email from sales.customers union all select email from lab.synthetic_people", Want::Deny),
        case("bob", "full", "select x from (select email as x from sales.customers) as s", masked(&["sales.customers.email"])),
        case("bob", "full", "select customer_id from sales.customers where customer_id in (select customer_id from sales.customers where national_id like '9%')", Want::Deny),
        case("bob", "full", "select (select card_number from sales.customers limit 1)", Want::Deny),
        case("bob", "full", "select case when region = 'emea' then email else phone end from sales.customers", masked(&["sales.customers.email", "sales.customers.phone"])),
        case("bob", "full", "select case when customer_id = 3 then address else 'x' end from sales.customers", Want::Deny),
        case("bob", "full", "select lower(email), upper(phone) from sales.customers", masked(&["sales.customers.email", "sales.customers.phone"])),
        case("bob", "full", "select hex(email), printf('%s', phone) from sales.customers where customer_id <= 3", masked(&["sales.customers.email", "sales.customers.phone"])),
        case("bob", "full", "select group_concat(email, ',') from sales.customers", Want::Deny),
        case("bob", "full", "select min(email) over () from sales.customers", masked(&["sales.customers.email"])),
        case("bob", "full", "select customer_id, email from sales.customers order by email", masked(&["sales.customers.email"])),
        case("bob", "full", "select customer_id from sales.customers order by national_id", Want::Deny),
        case("bob", "full", "select customer_id from sales.customers group by customer_id having max(card_number) > ''", Want::Deny),
        case("bob", "full", "select o.order_id, c.email, c.phone from sales.orders o join sales.customers c on o.customer_id = c.customer_id", masked(&["sales.customers.email", "sales.customers.phone"])),
        case("bob", "full", "select o.order_id, c.national_id from sales.orders o join sales.customers c on o.customer_id = c.customer_id", Want::Deny),
        // Predicate-only: usable in WHERE, never returned.
        case("bob", "full", "select customer_id, signup_ip from sales.customers", Want::Deny),
        // Comments hide nothing; several statements, system catalogs and
        // unsupported syntax are refused.
        case("bob", "full", "select /* national_id */ email -- card_number\n from sales.customers", masked(&["sales.customers.email"])),
        case("bob", "full", "select customer_id from sales.customers; select national_id from sales.customers", Want::Deny),
        case("bob", "full", "select 1; select card_number from sales.customers", Want::Deny),
        case("bob", "full", "select name, sql from sqlite_master", Want::Deny),
        case("bob", "full", "select * from sqlite_schema", Want::Deny),
        case("bob", "full", "select * from sales.sqlite_master", Want::Deny),
        case("bob", "full", "select * from pragma_table_info('customers')", Want::Deny),
        case("bob", "full", "select * from sales.customers natural join sales.orders", Want::Deny),
        case("bob", "full", "attach database ':memory:' as x", Want::Deny),
        // Other teams' tables.
        case("bob", "full", "select * from hr.employees", Want::Deny),
        // scout: names masked for agents.
        case("scout", "full", "select name from sales.customers where customer_id <= 3", masked(&["sales.customers.name"])),
        case("scout", "full", "select upper(name), email from sales.customers where customer_id <= 3", masked(&["sales.customers.name", "sales.customers.email"])),
        case("scout", "full", "select * from sales.customers where customer_id <= 3", masked(&["sales.customers.name", "sales.customers.email", "sales.customers.phone"])),
        case("scout", "full", "select c.name, o.total from sales.customers c join sales.orders o on c.customer_id = o.customer_id where c.customer_id <= 3", masked(&["sales.customers.name"])),
        case("scout", "full", "select national_id from sales.customers", Want::Deny),
        case("scout", "full", "select customer_id from sales.customers where customer_id <= 3 and backup_contact like 'canary%'", Want::Deny),
        // copilot: no full reads on sales; previews mask every PII column.
        case("copilot", "full", "select * from sales.customers", Want::Deny),
        case("copilot", "full", "select email from sales.customers", Want::Deny),
        case("copilot", "full", "select * from hr.employees", Want::Deny),
        case(
            "copilot",
            "preview",
            "select * from sales.customers",
            Want::Allow {
                masked: &[
                    "sales.customers.name",
                    "sales.customers.email",
                    "sales.customers.phone",
                    "sales.customers.national_id",
                    "sales.customers.address",
                    "sales.customers.card_number",
                    "sales.customers.backup_contact",
                ],
                withheld: &[],
            },
        ),
        case(
            "copilot",
            "preview",
            "select name, email, phone, national_id, address, card_number, backup_contact from sales.customers where customer_id <= 3",
            Want::Allow {
                masked: &[
                    "sales.customers.name",
                    "sales.customers.email",
                    "sales.customers.phone",
                    "sales.customers.national_id",
                    "sales.customers.address",
                    "sales.customers.card_number",
                    "sales.customers.backup_contact",
                ],
                withheld: &[],
            },
        ),
        // carol: HR rows never, HR PII never, aggregates in groups of five.
        case("carol", "full", "select * from hr.employees", Want::Deny),
        case("carol", "full", "select name, email from hr.employees", Want::Deny),
        case("carol", "full", "select health_notes from hr.employees", Want::Deny),
        case("carol", "full", "select department, max(health_notes) from hr.employees group by department", Want::Deny),
        case("carol", "full", "select health_notes, count(*) from hr.employees group by health_notes", Want::Deny),
        case("carol", "full", "select department, group_concat(email) from hr.employees group by department", Want::Deny),
        case("carol", "full", "select department, count(*) from hr.employees where name like 'Canary%' group by department", Want::Deny),
        case("carol", "full", "select e.name, s.salary from hr.employees e join hr.salaries s on e.employee_id = s.employee_id", Want::Deny),
        case(
            "carol",
            "full",
            "select department, count(*) from hr.employees group by department",
            Want::Allow { masked: &[], withheld: &["hr.employees.name", "hr.employees.email", "hr.employees.health_notes"] },
        ),
        case("carol", "full", "select * from sales.customers", Want::Deny),
    ];
    // The customers-invoices join rule forbids customers' PII next to
    // invoices, even during a declared task that opens finance to the agent.
    cases.push(Case {
        who: "scout",
        mode: "full",
        intent: Some("task: Q3 close"),
        sql: "select c.email, c.name, i.amount from sales.customers c join finance.invoices i on c.customer_id = i.customer_id",
        want: Want::Deny,
    });
    cases.push(Case {
        who: "copilot",
        mode: "preview",
        intent: Some("task: Q3 close"),
        sql: "select c.email, c.name, i.amount from sales.customers c join finance.invoices i on c.customer_id = i.customer_id",
        want: Want::Allow { masked: &["sales.customers.name", "sales.customers.email"], withheld: &[] },
    });
    assert!(cases.len() >= 25);

    let mut failures = Vec::new();
    for c in &cases {
        let (status, text) = server.query_text(tokens.of(c.who), &body(c.mode, c.sql, c.intent));
        let what = format!("{} ({}) {:?}", c.who, c.mode, c.sql);
        let leaked: Vec<&String> = canaries.iter().filter(|k| text.contains(k.as_str())).collect();
        if !leaked.is_empty() {
            failures.push(format!("LEAK {what}: {leaked:?} in {text}"));
            continue;
        }
        let answer: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        match &c.want {
            Want::Deny => {
                if status != 200 || decision(&answer) != "deny" || answer["row_count"] != 0 || answer["rows"] != json!([]) {
                    failures.push(format!("{what}: wanted a deny, got {status} {text}"));
                }
            }
            Want::Allow { masked, withheld } => {
                if status != 200 || decision(&answer) != "allow" {
                    failures.push(format!("{what}: wanted an allow, got {status} {text}"));
                    continue;
                }
                let (got_masked, got_withheld) = (strings(&answer["masked"]), strings(&answer["withheld"]));
                for m in *masked {
                    if !got_masked.iter().any(|g| g == m) {
                        failures.push(format!("{what}: {m} is not masked: {text}"));
                    }
                }
                for w in *withheld {
                    if !got_withheld.iter().any(|g| g == w) {
                        failures.push(format!("{what}: {w} is not withheld: {text}"));
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "{} of {} queries failed:\n{}", failures.len(), cases.len(), failures.join("\n"));
}

#[test]
fn row_filters_and_masks_hold_in_subqueries_ctes_and_joins() {
    let server = Server::start(Options { plugins: &[], ..Default::default() });
    let bob = token("bob");
    // (query, at least this many rows); every row is (region, email).
    let queries: &[(&str, usize)] = &[
        ("select region, email from sales.customers", 100),
        ("select region, email from (select region, email from sales.customers) as s", 100),
        ("select s.region, s.email from (select * from (select region, email from sales.customers) as inner_s) as s", 100),
        ("with c as (select customer_id, region, email from sales.customers) select region, email from c", 100),
        ("with c as (select * from sales.customers where region <> 'emea') select region, email from c", 0),
        ("select c.region, c.email from sales.orders o join sales.customers c on o.customer_id = c.customer_id", 100),
        ("select o.region, c.email from sales.customers c left join sales.orders o on o.customer_id = c.customer_id where o.order_id is not null", 100),
        ("select c.region, c.email from sales.customers c where exists (select 1 from sales.orders o where o.customer_id = c.customer_id)", 50),
        (
            "select c.region, c.email from sales.customers c where not exists (select 1 from sales.orders o where o.customer_id = c.customer_id and o.region = 'emea')",
            0,
        ),
        ("select region, email from sales.customers where region = 'amer' or 1 = 1", 100),
        ("select region, email from sales.customers where customer_id in (select customer_id from sales.orders)", 50),
        ("select region, email from sales.customers union all select region, email from sales.customers", 200),
    ];
    let mut failures = Vec::new();
    for (sql, at_least) in queries {
        let (status, answer) = server.query(&bob, json!({ "sql": sql, "mode": "full" }));
        if status != 200 || decision(&answer) != "allow" {
            failures.push(format!("{sql}: wanted an allow, got {status} {answer}"));
            continue;
        }
        let rows = answer["rows"].as_array().unwrap();
        if rows.len() < *at_least || answer["row_count"] != rows.len() {
            failures.push(format!("{sql}: {} rows (row_count {}), wanted at least {at_least}", rows.len(), answer["row_count"]));
        }
        if !strings(&answer["row_filters"]).iter().any(|f| f == "row_filter:sales-own-region") {
            failures.push(format!("{sql}: the region filter is not reported: {}", answer["row_filters"]));
        }
        for row in rows {
            let (region, email) = (&row[0], &row[1]);
            if region != "emea" {
                failures.push(format!("{sql}: a row of region {region}: {row}"));
                break;
            }
            if !is_hex64(email) || email.as_str().is_some_and(|e| e.contains('@')) {
                failures.push(format!("{sql}: email is not a 64-hex hash: {row}"));
                break;
            }
        }
    }
    // The filter holds inside scalar subqueries too: no other region counts.
    let (_, answer) = server.query(&bob, json!({ "sql": "select (select count(*) from sales.customers c2 where c2.region <> 'emea'), (select count(*) from sales.orders o where o.region <> 'emea')", "mode": "full" }));
    if decision(&answer) != "allow" || answer["rows"] != json!([[0, 0]]) {
        failures.push(format!("scalar subqueries see other regions: {answer}"));
    }
    // Aggregates count only the region's rows (the demo has 100 emea customers).
    let (_, answer) = server.query(&bob, json!({ "sql": "select region, count(*) from sales.customers group by region", "mode": "full" }));
    if answer["rows"] != json!([["emea", 100]]) {
        failures.push(format!("group by region sees other regions: {answer}"));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn budgets_hold_under_concurrency() {
    const LIMIT: u64 = 100;
    const QUERIES: usize = 48;
    let tighten = |dir: &Path| {
        let path = dir.join("data.toml");
        let mut data = std::fs::read_to_string(&path).unwrap();
        // The tightest budget that applies wins: this one, for agents.
        data.push_str(&format!("\n[[budget]]\nid = \"e2e-agents-tight\"\nkinds = [\"agent\"]\nrows_per_day = {LIMIT}\npii_cells_per_day = 500\nqueries_per_day = 500\n"));
        std::fs::write(&path, data).unwrap();
    };
    // No plugins: under this load a plugin may miss its deadline, and that
    // deny (fail closed) is not what this test is about.
    let server = Server::start(Options { plugins: &[], edit_policies: Some(&tighten), ..Default::default() });
    let scout = agent_token("bob", "scout", "t1");
    let sql = "select order_id from sales.orders";

    let barrier = Barrier::new(QUERIES);
    let answers: Vec<(u16, Value)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..QUERIES)
            .map(|_| {
                s.spawn(|| {
                    barrier.wait();
                    server.query(&scout, json!({ "sql": sql, "mode": "full" }))
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });

    let mut allowed_rows = 0u64;
    let mut allowed = 0;
    for (status, answer) in &answers {
        assert_eq!(*status, 200, "{answer}");
        match decision(answer) {
            "allow" => {
                allowed += 1;
                let n = answer["row_count"].as_u64().unwrap();
                assert_eq!(n as usize, answer["rows"].as_array().unwrap().len(), "{answer}");
                allowed_rows += n;
            }
            "deny" => {
                assert_eq!(answer["reasons"][0]["source"], "budget", "a deny after exhaustion names the budget: {answer}");
                assert!(answer["reasons"][0]["message"].as_str().unwrap().contains("scout's daily rows budget is spent"), "{answer}");
                assert_eq!(answer["rows"], json!([]), "{answer}");
                assert_eq!(answer["budget"]["scout"]["rows"], 0, "{answer}");
            }
            other => panic!("unexpected decision {other}: {answer}"),
        }
    }
    assert!(allowed >= 1, "some query ran");
    assert!(allowed_rows <= LIMIT, "{allowed_rows} rows returned against a budget of {LIMIT}");
    assert_eq!(allowed_rows, LIMIT, "the budget is used up exactly ({allowed} queries allowed)");

    // Afterwards: exhausted, and the answer says so.
    let (status, answer) = server.query(&scout, json!({ "sql": sql, "mode": "full" }));
    assert_eq!(status, 200);
    assert_eq!(decision(&answer), "deny", "{answer}");
    assert!(reason_codes(&answer).contains(&"not-permitted".to_string()), "{answer}");
    assert_eq!(answer["reasons"][0]["source"], "budget", "{answer}");
    assert_eq!(answer["budget"]["scout"]["rows"], 0, "{answer}");
    // bob was charged the same rows, against his own (much larger) budget.
    assert_eq!(answer["budget"]["bob"]["rows"], 100_000 - LIMIT, "{answer}");
    // bob himself is unaffected by his agent's budget.
    let (_, answer) = server.query(&token("bob"), json!({ "sql": "select count(*) from sales.orders", "mode": "full" }));
    assert_eq!(decision(&answer), "allow", "{answer}");
}

/// A scratch PostgreSQL database, dropped at the end.
struct ScratchDb {
    admin_url: String,
    name: String,
    url: String,
}

impl ScratchDb {
    fn block_on<T>(f: impl std::future::Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
    }

    async fn admin(url: &str) -> Result<tokio_postgres::Client, String> {
        let connect = tokio_postgres::connect(url, tokio_postgres::NoTls);
        let (client, connection) = tokio::time::timeout(Duration::from_secs(5), connect)
            .await
            .map_err(|_| format!("connecting to {url} timed out"))?
            .map_err(|e| format!("connecting to {url}: {e:?}"))?;
        tokio::spawn(connection);
        Ok(client)
    }

    /// Create the database, or say why not.
    fn create(admin_url: &str) -> Result<ScratchDb, String> {
        let name = format!("steward_e2e_{}", std::process::id());
        let (base, query) = match admin_url.split_once('?') {
            Some((b, q)) => (b, format!("?{q}")),
            None => (admin_url, String::new()),
        };
        let prefix = base.rsplit_once('/').map(|(p, _)| p).filter(|p| p.contains("://") && !p.ends_with('/')).ok_or_else(|| format!("{admin_url}: expected postgres://user@host:port/db"))?;
        let url = format!("{prefix}/{name}{query}");
        Self::block_on(async {
            let client = Self::admin(admin_url).await?;
            client.batch_execute(&format!("DROP DATABASE IF EXISTS {name}")).await.map_err(|e| format!("{e:?}"))?;
            client.batch_execute(&format!("CREATE DATABASE {name}")).await.map_err(|e| format!("creating {name}: {e:?}"))
        })?;
        Ok(ScratchDb { admin_url: admin_url.to_string(), name, url })
    }
}

impl Drop for ScratchDb {
    fn drop(&mut self) {
        let result = Self::block_on(async {
            let client = Self::admin(&self.admin_url).await?;
            client.batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name)).await.map_err(|e| format!("{e:?}"))
        });
        if let Err(e) = result {
            eprintln!("dropping the scratch database {}: {e}", self.name);
        }
    }
}

#[test]
fn postgres_backend() {
    let admin_url = std::env::var("STEWARD_E2E_POSTGRES").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let db = match ScratchDb::create(&admin_url) {
        Ok(db) => db,
        Err(e) if std::env::var_os("CI").is_none() => {
            eprintln!("postgres_backend: skipped, PostgreSQL is not reachable ({e}); set STEWARD_E2E_POSTGRES to an admin URL");
            return;
        }
        Err(e) => panic!("PostgreSQL is required on CI: {e}"),
    };
    let out = std::process::Command::new(crate::harness::steward_bin()).args(["warehouse", "init", "--postgres", &db.url]).output().unwrap();
    assert!(out.status.success(), "warehouse init failed: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));

    let server = Server::start(Options { plugins: &[], warehouse: Some(&db.url), ..Default::default() });
    let canaries = steward_warehouse::demo::canaries();
    let (bob, carol) = (token("bob"), token("carol"));

    // bob: emea rows only, email hashed.
    let (status, text) = server.query_text(&bob, &body("full", "select customer_id, region, email from sales.customers order by customer_id", None));
    assert_eq!(status, 200, "{text}");
    let answer: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(decision(&answer), "allow", "{answer}");
    assert!(answer["rewritten_sql"].as_str().unwrap().contains("sha256"), "hashed in PostgreSQL's dialect: {}", answer["rewritten_sql"]);
    let rows = answer["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 100, "the emea customers: {answer}");
    for row in rows {
        assert_eq!(row[1], "emea", "{row}");
        assert!(is_hex64(&row[2]), "{row}");
    }
    // The same hash as SQLite's: masking does not depend on the backend.
    assert_eq!(rows[0][0], 3);
    assert_eq!(rows[0][2], "cc5f70dc012b1a10070b9845c391a55e05d2cc469c0fcb3f8b71691c90bf54f8");
    assert!(!canaries.iter().any(|c| text.contains(c.as_str())), "{text}");

    // Joins and subqueries keep the filter.
    let (_, answer) = server.query(&bob, json!({ "sql": "select c.region, c.email from sales.orders o join sales.customers c on o.customer_id = c.customer_id where exists (select 1 from sales.customers c2 where c2.customer_id = o.customer_id)", "mode": "full" }));
    assert_eq!(decision(&answer), "allow", "{answer}");
    let rows = answer["rows"].as_array().unwrap();
    assert!(!rows.is_empty());
    assert!(rows.iter().all(|r| r[0] == "emea" && is_hex64(&r[1])), "{answer}");

    // carol: aggregates, in groups of at least five.
    let (_, answer) = server.query(&carol, json!({ "sql": "select department, avg(salary) from hr.salaries group by department", "mode": "full" }));
    assert_eq!(decision(&answer), "allow", "{answer}");
    assert!(answer["rewritten_sql"].as_str().unwrap().contains("HAVING count(*) >= 5"), "{answer}");
    assert_eq!(answer["row_count"], 5, "{answer}");

    // Grouping sets run on PostgreSQL, and every row of every grouping set,
    // the totals too, is a group of at least five. Grouping by employee
    // gives groups of one: none of them comes back.
    for sql in [
        "select department, grouping(department) as total, count(*) as n, avg(salary) from hr.salaries group by rollup(department)",
        "select department, employee_id, count(*) as n, avg(salary) from hr.salaries group by grouping sets ((department), (department, employee_id), ())",
        "select department, employee_id, count(*) as n from hr.salaries group by cube(department, employee_id)",
    ] {
        let (_, answer) = server.query(&carol, json!({ "sql": sql, "mode": "full" }));
        assert_eq!(decision(&answer), "allow", "{sql}: {answer}");
        let n = answer["columns"].as_array().unwrap().iter().position(|c| c == "n").expect("a count column");
        let rows = answer["rows"].as_array().unwrap();
        assert!(rows.len() >= 6, "the departments and the total: {answer}");
        assert!(rows.iter().all(|r| r[n].as_i64().is_some_and(|n| n >= 5)), "every group has at least five rows: {answer}");
        assert!(rows.iter().any(|r| r[0].is_null()), "the grand total is a group of its own: {answer}");
    }

    // Denied, and nothing planted leaves, in PostgreSQL's error paths either.
    for (tok, sql) in [
        (&bob, "select national_id from sales.customers"),
        (&bob, "select customer_id from sales.customers where cast(national_id as integer) > 0"),
        (&carol, "select name, health_notes from hr.employees"),
        (&bob, "select name from pg_catalog.pg_class"),
        (&bob, "select * from information_schema.columns"),
    ] {
        let (status, text) = server.query_text(tok, &body("full", sql, None));
        let answer: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(status, 200, "{sql}: {text}");
        assert_eq!(decision(&answer), "deny", "{sql}: {text}");
        assert!(!canaries.iter().any(|c| text.contains(c.as_str())), "{sql}: {text}");
    }
    // A query the warehouse rejects (a cast over masked values) is a deny
    // that carries no data.
    let (_, text) = server.query_text(&bob, &body("full", "select customer_id from sales.customers where cast(email as integer) > 0", None));
    let answer: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(decision(&answer), "deny", "{text}");
    assert_eq!(answer["rows"], json!([]), "{text}");
    assert!(!canaries.iter().any(|c| text.contains(c.as_str())), "{text}");

    drop(server);
    drop(db);
}

#[test]
fn instead_suggestions_on_denial() {
    let server = Server::start(Options { plugins: &[], ..Default::default() });
    let copilot = agent_token("alice", "copilot", "t1");
    let canaries = steward_warehouse::demo::canaries();

    let (status, answer) = server.query(&copilot, json!({ "sql": "select * from sales.customers", "mode": "full" }));
    assert_eq!(status, 200);
    assert_eq!(decision(&answer), "deny", "{answer}");
    assert_eq!(answer["rows"], json!([]), "{answer}");
    let instead = &answer["instead"];
    let readable = strings(&instead["readable_columns"]["sales/customers"]);
    assert!(!readable.is_empty(), "readable columns are listed: {answer}");
    for c in ["customer_id", "region"] {
        assert!(readable.iter().any(|r| r == c), "{c} is readable: {readable:?}");
    }
    for c in ["national_id", "card_number", "address", "backup_contact"] {
        assert!(!readable.iter().any(|r| r.starts_with(c)), "{c} is not listed as readable: {readable:?}");
    }
    // The curated sales/customers_public is no way out for alice's agent
    // (alice may only preview sales): its dry run was denied, so it is
    // not offered.
    assert!(instead["alternatives"].as_array().is_none_or(Vec::is_empty), "nothing denied is offered: {answer}");
    assert!(instead["preview"].as_str().is_some_and(|p| p.contains("preview")), "{answer}");

    let (status, text) = server.query_text(&copilot, &body("preview", "select * from sales.customers", None));
    assert_eq!(status, 200, "{text}");
    let answer: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(decision(&answer), "allow", "{answer}");
    assert_eq!(answer["mode"], "preview");
    let rows = answer["rows"].as_array().unwrap();
    assert!(!rows.is_empty() && rows.len() <= 10, "{} rows", rows.len());
    let masked = strings(&answer["masked"]);
    for c in ["name", "email", "phone", "national_id", "address", "card_number"] {
        assert!(masked.contains(&format!("sales.customers.{c}")), "{c} is masked: {masked:?}");
    }
    let columns = strings(&answer["columns"]);
    let email = columns.iter().position(|c| c == "email").expect("an email column");
    assert!(rows.iter().all(|r| r[email].as_str().is_some_and(|e| !e.contains('@'))), "{answer}");
    assert!(!canaries.iter().any(|c| text.contains(c.as_str())), "{text}");
}

/// carol may read HR only aggregated, in groups of at least 5: an aggregate
/// over an expression that keeps one person must not return that person's
/// salary.
fn assert_no_individual_salary(server: &Server, queries: &[&str]) {
    let carol = token("carol");
    let mut failures = Vec::new();
    for sql in queries {
        let (_, answer) = server.query(&carol, json!({ "sql": sql, "mode": "full" }));
        // Only employee 5 survives the expression: a value between 0 and the
        // largest salary is that person's salary (whole departments sum to more).
        let individual = answer["rows"].as_array().is_some_and(|rows| rows.iter().any(|r| r[1].as_f64().is_some_and(|v| v > 0.0 && v < 200_000.0)));
        if decision(&answer) != "deny" && individual {
            failures.push(format!("{sql}: one person's salary came back: {}", answer["rows"]));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn aggregate_only_does_not_single_out_one_person() {
    let server = Server::start(Options { plugins: &[], ..Default::default() });
    assert_no_individual_salary(
        &server,
        &[
            "select department, avg(case when employee_id = 5 then salary end) from hr.salaries group by department",
            "select department, sum(salary * (employee_id = 5)) from hr.salaries group by department",
            "select department, sum(iif(employee_id = 5, salary, 0)) from hr.salaries group by department",
            "select department, sum(salary) filter (where employee_id = 5) from hr.salaries group by department",
            "select department, sum(salary * (employee_id in (5))) from hr.salaries group by department",
            "select department, sum(coalesce(nullif(employee_id, 5) * 0, salary)) from hr.salaries group by department",
        ],
    );
}

/// Selectors written as arithmetic or as a function call inside the
/// aggregate: on an aggregate-only table an aggregate hides values only
/// over plain columns.
#[test]
fn aggregate_only_does_not_single_out_one_person_by_arithmetic() {
    let server = Server::start(Options { plugins: &[], ..Default::default() });
    assert_no_individual_salary(
        &server,
        &[
            "select department, sum(salary * glob('5', employee_id)) from hr.salaries group by department",
            "select department, sum(salary * (1 / (abs(employee_id - 5) + 1))) from hr.salaries group by department",
            "select department, sum(salary * (1 - sign(abs(employee_id - 5)))) from hr.salaries group by department",
        ],
    );
}

/// Known limitation: the difference of two allowed aggregates (a group and
/// the same group without one person) reveals that person. A minimum group
/// size cannot stop differencing; that needs noise (differential privacy)
/// or query auditing, which Steward does not have yet.
#[test]
#[ignore = "known limitation: differencing two aggregates, each over a group of at least k"]
fn aggregate_only_does_not_single_out_one_person_by_differencing() {
    let server = Server::start(Options { plugins: &[], ..Default::default() });
    assert_no_individual_salary(
        &server,
        &["select department, sum(salary) - (select sum(salary) from hr.salaries s2 where s2.department = s.department and s2.employee_id <> 5) from hr.salaries s group by department"],
    );
}

/// An aggregate that packs many rows into one cell (group_concat) would be
/// charged as one row: such aggregates are refused.
#[test]
fn budgets_count_values_packed_into_one_cell() {
    let tighten = |dir: &Path| {
        let path = dir.join("data.toml");
        let mut data = std::fs::read_to_string(&path).unwrap();
        data.push_str("\n[[budget]]\nid = \"e2e-agents-tight\"\nkinds = [\"agent\"]\nrows_per_day = 100\npii_cells_per_day = 50\nqueries_per_day = 500\n");
        std::fs::write(&path, data).unwrap();
    };
    let server = Server::start(Options { plugins: &[], edit_policies: Some(&tighten), ..Default::default() });
    let scout = agent_token("bob", "scout", "t1");
    for (sql, limit) in [("select group_concat(order_id, ',') from sales.orders", 100), ("select group_concat(email, ',') from sales.customers", 50)] {
        let (_, answer) = server.query(&scout, json!({ "sql": sql, "mode": "full" }));
        assert_eq!(answer["decision"], "deny", "{sql}: packing aggregates are refused: {answer}");
        let packed = answer["rows"][0][0].as_str().map_or(0, |s| s.split(',').count());
        assert!(packed <= limit, "{sql}: {packed} values returned against a daily budget of {limit}: budget left {}", answer["budget"]);
    }
}
