//! A plugin's own test cases (`cases.toml` in its folder): requests in,
//! expected verdicts (or score ranges) out; for a classifier, columns in and
//! expected tags out. This is the file's shape and its parse; the runtime
//! runs the cases against a new version before it may replace the old one.

use serde::Deserialize;
use steward_model::{self as model, IdentityKind};

/// Why a cases file was refused.
#[derive(Debug, thiserror::Error)]
pub enum CasesError {
    /// Not TOML, or not a cases file's shape (an unknown field, a wrong
    /// type, an unknown verdict or identity kind).
    #[error("{0}")]
    Syntax(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseFile {
    #[serde(rename = "case", default)]
    pub cases: Vec<Case>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    pub name: String,
    /// `sop`, `scorer`: the request's principal, action (a catalog action
    /// name) and assets (catalog paths).
    pub principal: Option<CasePrincipal>,
    pub action: Option<String>,
    #[serde(default)]
    pub assets: Vec<String>,
    pub intent: Option<String>,
    /// `sop`: the request context a 0.2.0 plugin reads (`received_at_ms`,
    /// `attributes`, `on_behalf_of_attributes`, `query`). Without it: the
    /// principals' attributes from the policy, and now.
    pub context: Option<model::RequestContext>,
    /// `sop`: "allow" | "deny" | "escalate".
    pub expect: Option<model::Decision>,
    /// `sop` (0.4.0): an access-request case instead: what `review-access`
    /// answers for the principal asking for `action` on `assets`.
    pub expect_access: Option<AccessExpect>,
    /// An access case's purpose (default: empty).
    #[serde(default)]
    pub purpose: String,
    /// An access case's duration (default: 7 days).
    pub duration_seconds: Option<u64>,
    /// An access case's columns, `asset.column`.
    #[serde(default)]
    pub columns: Vec<String>,
    /// `scorer`: the significance must fall in [min, max].
    pub expect_significance: Option<[f32; 2]>,
    /// `classifier`: the column to classify.
    pub column: Option<CaseColumn>,
    /// `classifier`: the tags expected, in any order; `[]` means not PII.
    pub expect_tags: Option<Vec<String>>,
}

/// What an SOP's access review must answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccessExpect {
    Approve,
    Deny,
    Escalate,
}

impl AccessExpect {
    pub fn as_str(self) -> &'static str {
        match self {
            AccessExpect::Approve => "approve",
            AccessExpect::Deny => "deny",
            AccessExpect::Escalate => "escalate",
        }
    }
}

/// A column sample, for a classifier case.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseColumn {
    pub table: String,
    pub column: String,
    pub data_type: String,
    #[serde(default)]
    pub values: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CasePrincipal {
    pub id: String,
    pub kind: IdentityKind,
    pub on_behalf_of: Option<String>,
    #[serde(default)]
    pub roles: Vec<String>,
    pub session_id: Option<String>,
    pub turn_id: Option<String>,
}

impl CaseFile {
    pub fn parse(text: &str) -> Result<CaseFile, CasesError> {
        toml::from_str(text).map_err(|e| CasesError::Syntax(e.message().trim().to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sop_scorer_and_classifier_cases_parse() {
        let file = CaseFile::parse(
            r#"
[[case]]
name = "allow"
principal = { id = "alice", kind = "human", roles = ["finance-analyst"] }
action = "sql.read"
assets = ["finance/ledger"]
expect = "allow"

[[case]]
name = "score"
principal = { id = "bob", kind = "agent", on_behalf_of = "alice", session_id = "s", turn_id = "t" }
action = "sql.read"
assets = ["finance/ledger"]
expect_significance = [0.5, 1.0]

[[case]]
name = "email"
column = { table = "sales.customers", column = "email", data_type = "text", values = ["a@b.c"] }
expect_tags = ["pii", "email"]
"#,
        )
        .unwrap();
        assert_eq!(file.cases.len(), 3);
        assert_eq!(file.cases[0].expect, Some(model::Decision::Allow));
        assert_eq!(file.cases[1].principal.as_ref().unwrap().kind, IdentityKind::Agent);
        assert_eq!(file.cases[1].expect_significance, Some([0.5, 1.0]));
        assert_eq!(file.cases[2].column.as_ref().unwrap().values, ["a@b.c"]);
    }

    #[test]
    fn an_empty_file_has_no_cases() {
        assert!(CaseFile::parse("").unwrap().cases.is_empty());
    }

    #[test]
    fn bad_case_files_are_refused() {
        for bad in [
            "[[case]]\nname = \"x\"\nunknown = 1",
            "[[case]]\nexpect = \"allow\"",
            "[[case]]\nname = \"x\"\nexpect = \"maybe\"",
            "[[case]]\nname = \"x\"\nprincipal = { id = \"a\", kind = \"robot\" }",
            "[[case]]\nname = \"x\"\nexpect_significance = [0.5]",
            "case = 1",
            "[[case]\n",
        ] {
            assert!(matches!(CaseFile::parse(bad), Err(CasesError::Syntax(_))), "accepted: {bad}");
        }
    }
}
