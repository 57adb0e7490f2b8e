//! A plugin's own test cases (`cases.toml` in its folder): requests in,
//! expected verdicts (or score ranges) out; for a classifier, columns in and
//! expected tags out. The host runs them against a new version before it may
//! replace the old one.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Deserialize;
use steward_model::{self as model, IdentityKind};
use steward_policy::Policy;

use crate::manifest::World;
use crate::plugin::LoadedPlugin;
use crate::LoadError;

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
    /// `scorer`: the significance must fall in [min, max].
    pub expect_significance: Option<[f32; 2]>,
    /// `classifier`: the column to classify.
    pub column: Option<CaseColumn>,
    /// `classifier`: the tags expected, in any order; `[]` means not PII.
    pub expect_tags: Option<Vec<String>>,
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

#[derive(Debug, Clone, serde::Serialize)]
pub struct CaseOutcome {
    pub name: String,
    pub passed: bool,
    /// What differed, or what the plugin said.
    pub detail: String,
    pub latency_us: u64,
}

impl CaseFile {
    pub fn parse(text: &str) -> Result<CaseFile, LoadError> {
        toml::from_str(text).map_err(|e| LoadError::Cases(e.message().trim().to_string()))
    }
}

/// Run every case; the version is refused unless all pass. A plugin that
/// ships no cases is refused too: nothing unproven goes live.
pub async fn run(plugin: &LoadedPlugin, file: &CaseFile, policy: &Arc<Policy>) -> Result<Vec<CaseOutcome>, LoadError> {
    if file.cases.is_empty() && plugin.world() != World::Tool {
        return Err(LoadError::Cases("the plugin ships no test cases".into()));
    }
    let mut outcomes = Vec::with_capacity(file.cases.len());
    for case in &file.cases {
        outcomes.push(run_case(plugin, case, policy).await?);
    }
    Ok(outcomes)
}

/// The request an `sop` or `scorer` case describes.
fn case_request(case: &Case, policy: &Policy) -> Result<model::Request, LoadError> {
    let bad = |m: String| LoadError::Cases(format!("case {:?}: {m}", case.name));
    let name = case.action.as_ref().ok_or_else(|| bad("needs an `action`".into()))?;
    let action = policy.action(name).cloned().ok_or_else(|| bad(format!("unknown action {name:?}")))?;
    let assets = case
        .assets
        .iter()
        .map(|p| policy.asset(p).ok_or_else(|| bad(format!("asset {p:?} is not in the catalog"))))
        .collect::<Result<Vec<_>, _>>()?;
    let p = case.principal.as_ref().ok_or_else(|| bad("needs a `principal`".into()))?;
    let principal = model::Principal {
        id: p.id.clone(),
        kind: p.kind,
        on_behalf_of: p.on_behalf_of.clone(),
        roles: p.roles.clone(),
        session_id: p.session_id.clone(),
        turn_id: p.turn_id.clone(),
    };
    let context = match &case.context {
        Some(given) => given.clone(),
        None => steward_pipeline::request_context(policy, &principal, None),
    };
    Ok(model::Request {
        request_id: format!("case:{}", case.name),
        principal,
        action,
        assets,
        intent: case.intent.clone(),
        context: Arc::new(context),
    })
}

/// Tags as a set: sorted, without repeats.
fn tag_set(tags: &[String]) -> Vec<&str> {
    let mut set: Vec<&str> = tags.iter().map(String::as_str).collect();
    set.sort_unstable();
    set.dedup();
    set
}

async fn run_case(plugin: &LoadedPlugin, case: &Case, policy: &Arc<Policy>) -> Result<CaseOutcome, LoadError> {
    let bad = |m: String| LoadError::Cases(format!("case {:?}: {m}", case.name));
    let request = match plugin.world() {
        World::Sop | World::Scorer => Some(case_request(case, policy)?),
        World::Tool | World::Classifier => None,
    };
    let started = Instant::now();
    let (passed, detail) = match plugin.world() {
        World::Sop => {
            let request = request.as_ref().expect("built above");
            let expect = case.expect.ok_or_else(|| bad("an sop case needs `expect`".into()))?;
            match plugin.evaluate(request, policy).await {
                Ok(v) => {
                    let got = v.decision();
                    let said = match &v {
                        model::Verdict::Allow { obligations } => format!("allow with {} obligation(s)", obligations.len()),
                        model::Verdict::Deny { reason } | model::Verdict::Escalate { reason } => {
                            format!("{}: {}", got.as_str(), reason.message)
                        }
                    };
                    if got == expect {
                        (true, said)
                    } else {
                        (false, format!("expected {}, got {said}", expect.as_str()))
                    }
                }
                Err(e) => (false, format!("expected {}, plugin failed: {e}", expect.as_str())),
            }
        }
        World::Scorer => {
            let request = request.as_ref().expect("built above");
            let [min, max] = case.expect_significance.ok_or_else(|| bad("a scorer case needs `expect_significance`".into()))?;
            let asset = request.assets.first().ok_or_else(|| bad("a scorer case needs one asset".into()))?;
            match plugin.score(asset, &request.action, policy).await {
                Ok(s) if (min..=max).contains(&s.significance) => (true, format!("{} ({})", s.significance, s.rationale)),
                Ok(s) => (false, format!("expected significance in [{min}, {max}], got {} ({})", s.significance, s.rationale)),
                Err(e) => (false, format!("plugin failed: {e}")),
            }
        }
        World::Tool => match plugin.describe(policy).await {
            Ok(d) => (true, format!("describes itself as {:?}", d.name)),
            Err(e) => (false, format!("plugin failed: {e}")),
        },
        World::Classifier => {
            let c = case.column.as_ref().ok_or_else(|| bad("a classifier case needs a `column`".into()))?;
            let expect = case.expect_tags.as_ref().ok_or_else(|| bad("a classifier case needs `expect_tags`".into()))?;
            let sample = model::ColumnSample {
                table: c.table.clone(),
                column: c.column.clone(),
                data_type: c.data_type.clone(),
                values: c.values.clone(),
            };
            match plugin.classify(&sample).await {
                Ok(tags) if tag_set(&tags) == tag_set(expect) => (true, format!("{tags:?}")),
                Ok(tags) => (false, format!("expected tags {expect:?}, got {tags:?}")),
                Err(e) => (false, format!("expected tags {expect:?}, plugin failed: {e}")),
            }
        }
    };
    let latency: Duration = started.elapsed();
    Ok(CaseOutcome { name: case.name.clone(), passed, detail, latency_us: latency.as_micros() as u64 })
}
