//! A plugin's own test cases (`cases.toml` in its folder): requests in,
//! expected verdicts (or score ranges) out; for a classifier, columns in and
//! expected tags out. The host runs them against a new version before it may
//! replace the old one, each on a fresh instance that is thrown away after,
//! and again at random on live instances ([`spot_check`]). A case request
//! looks like a live one: its id comes from the live sequence and its
//! context is built the same way. The file's shape and parse live in
//! `steward-plugin-spec` and are re-exported here.

use std::sync::Arc;
use std::time::{Duration, Instant};

use steward_model as model;
use steward_policy::Policy;

use crate::manifest::World;
use crate::plugin::{Instance, Lease, LoadedPlugin};
use crate::{LoadError, PluginFailure};

pub use steward_plugin_spec::cases::{AccessExpect, Case, CaseColumn, CaseFile, CasePrincipal, CasesError};

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
    let mut outcomes = Vec::with_capacity(file.cases.len() + 1);
    if plugin.world() == World::Tool {
        // A tool must describe (and from 0.3.0 declare) itself, checked,
        // before anything else: what it says is kept for the doors.
        let started = Instant::now();
        let (passed, detail) = match plugin.describe_in(Lease::Fresh, policy).await {
            Ok(spec) => (true, format!("describes itself as {:?}, declaring {:?}", spec.name, spec.declaration.as_ref().map(|d| d.action.as_str()))),
            Err(e) => (false, format!("its description was refused: {e}")),
        };
        outcomes.push(CaseOutcome { name: "describe".into(), passed, detail, latency_us: started.elapsed().as_micros() as u64 });
    }
    for case in &file.cases {
        let started = Instant::now();
        let (passed, detail, _) = check(plugin, Lease::Fresh, case, policy).await?;
        let latency: Duration = started.elapsed();
        outcomes.push(CaseOutcome { name: case.name.clone(), passed, detail, latency_us: latency.as_micros() as u64 });
    }
    Ok(outcomes)
}

/// Whether a case passed, what the plugin said or how it differed, and
/// how the call failed if it did.
type Checked = (bool, String, Option<PluginFailure>);

/// What a spot check found.
pub(crate) enum Spot {
    Passed,
    /// The live instance answered its own case differently (or failed on
    /// it) while a fresh instance still answers it as the case says.
    Differed(String),
    /// Nothing to conclude about the plugin: the host could not run the
    /// check to the end (the wall-clock backstop), or a fresh instance does
    /// not pass the case either (the policy changed under it). The
    /// instance is dropped.
    Inconclusive,
}

/// Run one of the version's cases, chosen at random, on a live instance;
/// when it differs, run it again on a fresh instance to tell a plugin that
/// drifted from a case that no longer holds.
pub(crate) async fn spot_check(plugin: &LoadedPlugin, instance: &mut Instance, file: &CaseFile, policy: &Arc<Policy>) -> Spot {
    use rand::seq::SliceRandom;
    let Some(case) = file.cases.choose(&mut rand::thread_rng()) else { return Spot::Passed };
    let detail = match check(plugin, Lease::On(instance), case, policy).await {
        Ok((true, _, _)) => return Spot::Passed,
        Ok((false, _, Some(PluginFailure::WallDeadline { .. }))) => return Spot::Inconclusive,
        Ok((false, detail, _)) => detail,
        // The case no longer applies to this policy (an asset or action it
        // names is gone): nothing to compare.
        Err(_) => return Spot::Passed,
    };
    match check(plugin, Lease::Fresh, case, policy).await {
        Ok((true, _, _)) => Spot::Differed(format!("its case {:?} {detail} (a fresh instance passes it)", case.name)),
        _ => {
            tracing::warn!(
                plugin = %plugin.label(),
                case = %case.name,
                "a fresh instance fails this case too: it no longer holds under the current policy; prove the plugin again"
            );
            Spot::Inconclusive
        }
    }
}

/// The request an `sop` or `scorer` case describes.
fn case_request(plugin: &LoadedPlugin, case: &Case, policy: &Policy) -> Result<model::Request, LoadError> {
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
        request_id: plugin.next_request_id(),
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

/// Run `case` on the instance `lease` names.
async fn check(plugin: &LoadedPlugin, lease: Lease<'_>, case: &Case, policy: &Arc<Policy>) -> Result<Checked, LoadError> {
    let bad = |m: String| LoadError::Cases(format!("case {:?}: {m}", case.name));
    let request = match plugin.world() {
        World::Sop | World::Scorer => Some(case_request(plugin, case, policy)?),
        World::Tool | World::Classifier => None,
    };
    Ok(match plugin.world() {
        World::Sop if case.expect_access.is_some() => {
            let request = request.as_ref().expect("built above");
            let expect = case.expect_access.expect("checked by the guard");
            if !plugin.reviews_access() {
                // An older SOP takes no part in access reviews (its twin's
                // cases may hold some): nothing to run.
                return Ok((true, "skipped: built before steward:guardrail@0.4.0, it does not review access requests".into(), None));
            }
            let review = model::AccessReview {
                id: format!("ar-{}", request.request_id),
                principal: request.principal.clone(),
                requested_by: request.principal.id.clone(),
                action: request.action.clone(),
                assets: request.assets.clone(),
                columns: case.columns.clone(),
                purpose: case.purpose.clone(),
                duration_secs: case.duration_seconds.unwrap_or(7 * 86_400),
            };
            match plugin.review_access(&review, policy).await {
                Ok(Some(v)) => {
                    let (got, said) = match &v {
                        model::AccessVerdict::Approve { conditions } => (AccessExpect::Approve, format!("approve with {conditions:?}")),
                        model::AccessVerdict::Deny { reason } => (AccessExpect::Deny, format!("deny: {}", reason.message)),
                        model::AccessVerdict::Escalate { reason } => (AccessExpect::Escalate, format!("escalate: {}", reason.message)),
                    };
                    if got == expect { (true, said, None) } else { (false, format!("expected {}, got {said}", expect.as_str()), None) }
                }
                Ok(None) => (false, "the plugin does not review access requests".into(), None),
                Err(e) => (false, format!("expected {}, plugin failed: {e}", expect.as_str()), Some(e.failure.clone())),
            }
        }
        World::Sop => {
            let request = request.as_ref().expect("built above");
            let expect = case.expect.ok_or_else(|| bad("an sop case needs `expect`".into()))?;
            match plugin.evaluate_in(lease, request, policy).await {
                Ok(v) => {
                    let got = v.decision();
                    let said = match &v {
                        model::Verdict::Allow { obligations } => format!("allow with {} obligation(s)", obligations.len()),
                        model::Verdict::Deny { reason } | model::Verdict::Escalate { reason } => {
                            format!("{}: {}", got.as_str(), reason.message)
                        }
                    };
                    if got == expect {
                        (true, said, None)
                    } else {
                        (false, format!("expected {}, got {said}", expect.as_str()), None)
                    }
                }
                Err(e) => (false, format!("expected {}, plugin failed: {e}", expect.as_str()), Some(e.failure.clone())),
            }
        }
        World::Scorer => {
            let request = request.as_ref().expect("built above");
            let [min, max] = case.expect_significance.ok_or_else(|| bad("a scorer case needs `expect_significance`".into()))?;
            let asset = request.assets.first().ok_or_else(|| bad("a scorer case needs one asset".into()))?;
            match plugin.score_in(lease, asset, &request.action, policy).await {
                Ok(s) if (min..=max).contains(&s.significance) => (true, format!("{} ({})", s.significance, s.rationale), None),
                Ok(s) => (false, format!("expected significance in [{min}, {max}], got {} ({})", s.significance, s.rationale), None),
                Err(e) => (false, format!("plugin failed: {e}"), Some(e.failure.clone())),
            }
        }
        World::Tool => match plugin.describe_in(lease, policy).await {
            Ok(d) => (true, format!("describes itself as {:?}", d.name), None),
            Err(e) => (false, format!("plugin failed: {e}"), Some(e.failure.clone())),
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
            match plugin.classify_in(lease, &sample).await {
                Ok(tags) if tag_set(&tags) == tag_set(expect) => (true, format!("{tags:?}"), None),
                Ok(tags) => (false, format!("expected tags {expect:?}, got {tags:?}"), None),
                Err(e) => (false, format!("expected tags {expect:?}, plugin failed: {e}"), Some(e.failure.clone())),
            }
        }
    })
}
