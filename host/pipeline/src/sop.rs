//! Stage 5, owner SOPs: every asset no grant covers goes to the SOP plugins
//! whose scope covers it. Each plugin is called once with the uncovered
//! assets it governs. An asset with no enforcing SOP is denied; a plugin
//! that fails is a deny naming the plugin. Shadow plugins are called and
//! recorded, never counted.

use std::sync::Arc;

use steward_model::{Decision, Reason, ReasonCode, Request, Verdict, Voter};
use steward_policy::Policy;

use crate::{PluginHandle, Plugins, ShadowVote};

pub struct SopVotes {
    pub verdicts: Vec<Verdict>,
    pub shadow: Vec<ShadowVote>,
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
        let result = plugin.evaluate(&scoped, policy).await;
        if plugin.is_shadow() {
            shadow.push(match result {
                Ok(v) => ShadowVote { voter: plugin.voter(), would: v.decision(), detail: verdict_detail(&v) },
                Err(e) => ShadowVote { voter: plugin.voter(), would: Decision::Deny, detail: e.to_string() },
            });
            continue;
        }
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

fn verdict_detail(v: &Verdict) -> String {
    match v {
        Verdict::Allow { obligations } => format!("allow with {} obligation(s)", obligations.len()),
        Verdict::Deny { reason } | Verdict::Escalate { reason } => reason.message.clone(),
    }
}
