//! Stage 5, owner SOPs: every asset no grant covers goes to the SOP plugins
//! whose scope covers it. Each plugin is called once with the uncovered
//! assets it governs. An asset with no enforcing SOP is denied; a plugin
//! that fails is a deny naming the plugin. Shadow plugins never count: their
//! calls are handed back ([`ShadowCall`]) for the host to make after the
//! answer has left ([`evaluate_shadow`]), so they never cost it latency.

use std::sync::Arc;

use steward_model::{Decision, Reason, ReasonCode, Request, Verdict, Voter};
use steward_policy::Policy;

use crate::{PluginHandle, Plugins, ShadowCall, ShadowVote};

pub struct SopVotes {
    pub verdicts: Vec<Verdict>,
    pub shadow: Vec<ShadowCall>,
}

pub async fn consult<P: Plugins>(
    plugins: &P,
    policy: &Arc<Policy>,
    request: &Request,
    uncovered: &[String],
    voters: &mut Vec<Voter>,
) -> SopVotes {
    let mut verdicts = Vec::new();
    let mut shadow = Vec::new();
    // Group the uncovered assets by the plugin governing them, keeping order.
    let mut calls: Vec<(&P::Plugin, Vec<String>)> = Vec::new();
    for path in uncovered {
        let governing = plugins.sops_for(path);
        if !governing.iter().any(|p| !p.is_shadow()) {
            let rule = Voter::Rule { id: "grants".into() };
            if !voters.contains(&rule) {
                voters.push(rule);
            }
            verdicts.push(Verdict::Deny {
                reason: Reason::new(
                    ReasonCode::NotPermitted,
                    "grants",
                    format!("no grant covers {:?} on {path}, and no owner SOP governs it", request.action.name),
                ),
            });
        }
        for plugin in governing {
            match calls.iter_mut().find(|(p, _)| p.digest() == plugin.digest()) {
                Some((_, assets)) => assets.push(path.clone()),
                None => calls.push((plugin, vec![path.clone()])),
            }
        }
    }
    for (plugin, assets) in calls {
        let mut scoped = request.clone();
        scoped.assets.retain(|a| assets.contains(&a.path));
        if plugin.is_shadow() {
            shadow.push(ShadowCall { digest: plugin.digest().to_string(), voter: plugin.voter(), request: scoped });
            continue;
        }
        let result = plugin.evaluate(&scoped, policy).await;
        voters.push(plugin.voter());
        verdicts.push(match result {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!(plugin = plugin.label(), failure = e.failure.kind(), error = %e, "plugin failed; denying");
                Verdict::Deny { reason: Reason::new(ReasonCode::PluginFailure, format!("plugin:{}", plugin.label()), e.to_string()) }
            }
        });
    }
    SopVotes { verdicts, shadow }
}

/// Make the shadow calls of one decision on `plugins` (the set it was
/// decided on): what each would have decided. A plugin no longer in the set
/// is a vote saying so.
pub async fn evaluate_shadow<P: Plugins>(plugins: &P, policy: &Arc<Policy>, calls: Vec<ShadowCall>) -> Vec<ShadowVote> {
    let mut votes = Vec::with_capacity(calls.len());
    for call in calls {
        let plugin = call.request.assets.first().and_then(|a| plugins.sops_for(&a.path).into_iter().find(|p| p.digest() == call.digest));
        votes.push(match plugin {
            None => ShadowVote { voter: call.voter, would: Decision::Deny, detail: "not evaluated: the plugin was unloaded before its shadow call".into() },
            Some(plugin) => match plugin.evaluate(&call.request, policy).await {
                Ok(v) => ShadowVote { voter: call.voter, would: v.decision(), detail: verdict_detail(&v) },
                Err(e) => ShadowVote { voter: call.voter, would: Decision::Deny, detail: e.to_string() },
            },
        });
    }
    votes
}

fn verdict_detail(v: &Verdict) -> String {
    match v {
        Verdict::Allow { obligations } => format!("allow with {} obligation(s)", obligations.len()),
        Verdict::Deny { reason } | Verdict::Escalate { reason } => reason.message.clone(),
    }
}
