//! A plugin's own test cases (`cases.toml` in its folder): requests in,
//! expected verdicts (or score ranges) out; for a classifier, columns in and
//! expected tags out. The host runs them against a new version before it may
//! replace the old one. The file's shape and parse live in
//! `steward-plugin-spec` and are re-exported here.

use std::sync::Arc;
use std::time::{Duration, Instant};

use steward_model as model;
use steward_policy::Policy;

use crate::manifest::World;
use crate::plugin::LoadedPlugin;
use crate::LoadError;

pub use steward_plugin_spec::cases::{Case, CaseColumn, CaseFile, CasePrincipal, CasesError};

#[derive(Debug, Clone, serde::Serialize)]
pub struct CaseOutcome {
    pub name: String,
    pub passed: bool,
    /// What differed, or what the plugin said.
    pub detail: String,
    pub latency_us: u64,
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
