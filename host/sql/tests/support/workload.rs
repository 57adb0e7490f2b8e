//! The TPC-H and TPC-DS workloads as the workload test (`tests/workloads.rs`)
//! and the analysis bench (`benches/tpch.rs`) both run them: where each
//! one's catalog and queries are, and the rules they run under.
//!
//! TPC-H comes from `benches/tpch/`. TPC-DS is not kept in the repository:
//! `make workloads` (scripts/fetch-workloads.sh) writes it into
//! `target/workloads/tpcds/` from sqlglot's source distribution.

use std::path::{Path, PathBuf};

use steward_policy::Policy;
use steward_sql::Schema;

/// Read access and PII redacted for analysts, on the workload's folder
/// `{folder}`; the row filters ([`Workload::filters`]) and the principals
/// are added per use. One workload at a time: both have a `customer`
/// table, which an unqualified name could not tell apart, and the loader
/// refuses a rule whose assets match nothing in the catalog.
const POLICY: &str = r#"
[identity]
issuer = "workloads"
audience = "workloads"

[[key]]
kid = "workloads"
public_key = "WO9WT20h9eQLF23X1eV9Q3dH5GtvRDNJaUJkNLTStSM="

[[action]]
name = "sql.read"
category = "read"
risk = 0.3

[[role]]
name = "analyst"

[[role.grant]]
actions = ["sql.read"]
assets = ["{folder}/**"]

[[column_rule]]
id = "pii-redacted"
roles = ["analyst"]
assets = ["{folder}/**"]
columns = ["tag:pii"]
effect = "mask"
mask = "redact"
"#;

pub struct Workload {
    /// `tpch` or `tpcds`: the catalog folder; query names are `<name> q<n>`.
    pub name: &'static str,
    /// Holds `catalog.toml` and `q01.sql` ..
    pub dir: PathBuf,
    pub queries: usize,
    /// (rule id, asset, predicate), for analysts. Each predicate is written
    /// as the rewrite prints it back, so it can be found in the rewritten SQL.
    pub filters: &'static [(&'static str, &'static str, &'static str)],
}

pub fn tpch() -> Workload {
    Workload {
        name: "tpch",
        dir: Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/tpch"),
        queries: 22,
        filters: &[("tpch-open-orders", "tpch/orders", "o_orderstatus <> 'X'"), ("tpch-segmented-customers", "tpch/customer", "c_mktsegment <> 'NONE'")],
    }
}

pub fn tpcds() -> Workload {
    Workload {
        name: "tpcds",
        dir: Path::new(env!("CARGO_MANIFEST_DIR")).ancestors().nth(2).expect("host/sql is two levels below the workspace root").join("target/workloads/tpcds"),
        queries: 99,
        filters: &[
            ("tpcds-known-stores", "tpcds/store", "s_store_sk > 0"),
            ("tpcds-known-customers", "tpcds/customer", "c_customer_sk > 0"),
            ("tpcds-modern-dates", "tpcds/date_dim", "d_year >= 1900"),
        ],
    }
}

impl Workload {
    /// Whether its files are there (TPC-DS only after `make workloads`).
    pub fn is_fetched(&self) -> bool {
        self.dir.join("catalog.toml").exists() && self.dir.join(format!("q{:02}.sql", self.queries)).exists()
    }

    /// The rules, with `more` (principals, further rules) after them.
    pub fn policy_text(&self, more: &str) -> String {
        let mut text = POLICY.replace("{folder}", self.name);
        for (id, asset, filter) in self.filters {
            text.push_str(&format!("\n[[row_filter]]\nid = {id:?}\nroles = [\"analyst\"]\nassets = [{asset:?}]\nfilter = {filter:?}\n"));
        }
        text.push_str(more);
        text
    }

    /// The catalog and [`Workload::policy_text`], loaded.
    pub fn load(&self, more: &str) -> (Policy, Schema) {
        let catalog_path = self.dir.join("catalog.toml");
        let catalog = std::fs::read_to_string(&catalog_path).unwrap_or_else(|e| panic!("cannot read {}: {e}", catalog_path.display()));
        let policy = Policy::load_texts(vec![(catalog_path, catalog), (PathBuf::from("workloads.toml"), self.policy_text(more))])
            .unwrap_or_else(|e| panic!("the {} workload policy does not load: {e}", self.name));
        let schema = Schema::from_policy(&policy);
        (policy, schema)
    }

    /// Query `n` (1-based), without its trailing `;`.
    pub fn query(&self, n: usize) -> Result<String, String> {
        let path = self.dir.join(format!("q{n:02}.sql"));
        std::fs::read_to_string(&path).map(|s| s.trim().trim_end_matches(';').to_string()).map_err(|e| format!("cannot read {}: {e}", path.display()))
    }
}
