//! The decision pipeline. This is the only place that knows the order of
//! the stages:
//!
//! identity -> parse -> score -> hard guardrails -> grants -> owner SOPs ->
//! output guardrail
//!
//! (recording is the caller's: it appends the [`Outcome`] to the audit log
//! before answering.) Any stage can stop the request, and every failure is a
//! deny with a reason.

pub mod grants;
pub mod guardrails;
pub mod identity;
pub mod reach;
pub mod output;
pub mod parse;
pub mod score;
pub mod sop;

use std::future::Future;
use std::sync::Arc;

use serde::Serialize;
use steward_model::{Action, Asset, Decision, Obligation, PluginError, Principal, QuerySummary, Reason, ReasonCode, Request, RequestContext, Verdict, Voter};
use steward_policy::Policy;
use tracing::Instrument;

/// A plugin version as the pipeline sees it.
pub trait PluginHandle: Sync {
    fn digest(&self) -> &str;
    /// `name@version`
    fn label(&self) -> &str;
    fn voter(&self) -> Voter;
    fn is_shadow(&self) -> bool;
    /// An SOP's verdict; `Err` is the typed failure, naming the plugin.
    fn evaluate(&self, request: &Request, policy: &Arc<Policy>) -> impl Future<Output = Result<Verdict, PluginError>> + Send;
    /// A scorer's significance for `asset` when `caller` asks for `action`
    /// (the caller only chooses the instance: which assets a caller asks
    /// about is its data too); `Err` names the plugin.
    fn score(&self, caller: &Principal, asset: &Asset, action: &Action, policy: &Arc<Policy>) -> impl Future<Output = Result<f32, PluginError>> + Send;
}

/// The live plugins, as one snapshot for one request.
pub trait Plugins: Sync {
    type Plugin: PluginHandle;
    fn sops_for(&self, asset_path: &str) -> Vec<&Self::Plugin>;
    fn scorer_for(&self, asset_path: &str) -> Option<&Self::Plugin>;
}

/// What the caller asks.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecideInput {
    pub action: String,
    pub assets: Vec<String>,
    #[serde(default)]
    pub intent: Option<String>,
    /// Set by the host for `/v1/query` (never read from the caller's body):
    /// what the statement touches, for plugins' request context.
    #[serde(skip)]
    pub query: Option<steward_model::QuerySummary>,
}

/// A shadow-mode SOP's call, left for after the answer: the plugin (by
/// digest) and the request as it would have seen it.
#[derive(Debug, Clone)]
pub struct ShadowCall {
    pub digest: String,
    pub voter: Voter,
    pub request: Request,
}

/// What a shadow-mode plugin would have decided.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ShadowVote {
    pub voter: Voter,
    pub would: Decision,
    pub detail: String,
}

/// A finished decision, ready to be recorded and answered.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub request_id: String,
    pub decision: Decision,
    pub reasons: Vec<Reason>,
    pub obligations: Vec<Obligation>,
    pub decided_by: Vec<Voter>,
    /// The shadow SOPs' calls, made after the answer
    /// ([`sop::evaluate_shadow`]); their votes are recorded on their own.
    #[serde(skip)]
    pub shadow: Vec<ShadowCall>,
    /// The time-bounded grants (approved access requests) that covered
    /// assets, with the conditions the query path enforces on them.
    #[serde(skip_serializing_if = "Vec::is_empty", serialize_with = "grants::serialize_used")]
    pub grants: Vec<Arc<steward_access::ActiveGrant>>,
    #[serde(skip)]
    pub principal: Option<Principal>,
    #[serde(skip)]
    pub action: String,
    #[serde(skip)]
    pub assets: Vec<String>,
    #[serde(skip)]
    pub intent: Option<String>,
    #[serde(skip)]
    pub risk: Option<f32>,
    /// Whether the request failed authentication.
    #[serde(skip)]
    pub unauthenticated: bool,
}

impl Outcome {
    /// A deny for a caller whose token was refused, saying why (any door,
    /// any request kind).
    pub fn refused_identity(request_id: String, error: &identity::IdentityError) -> Outcome {
        let mut outcome = Outcome::empty(request_id);
        outcome.unauthenticated = true;
        outcome.reasons.push(Reason::new(ReasonCode::Unauthenticated, "identity", error.to_string()));
        outcome
    }

    /// A deny with no reasons, nothing asked and nobody voting yet.
    pub fn empty(request_id: String) -> Outcome {
        Outcome {
            request_id,
            decision: Decision::Deny,
            reasons: Vec::new(),
            obligations: Vec::new(),
            decided_by: Vec::new(),
            shadow: Vec::new(),
            grants: Vec::new(),
            principal: None,
            action: String::new(),
            assets: Vec::new(),
            intent: None,
            risk: None,
            unauthenticated: false,
        }
    }
}

/// Everything one decision reads: a policy generation and a snapshot of
/// the live plugins. The caller is authenticated before (once per request,
/// by whichever door it came through: [`identity::authenticate`]).
pub struct Context<'a, P: Plugins> {
    pub policy: &'a Arc<Policy>,
    pub plugins: &'a P,
    /// The live time-bounded grants ([`steward_access::ActiveGrants::none`]
    /// when there are none).
    pub grants: &'a steward_access::ActiveGrants,
}

/// Decide `input` for an authenticated `principal`.
pub async fn decide<P: Plugins>(ctx: &Context<'_, P>, principal: &Principal, input: &DecideInput, request_id: String) -> Outcome {
    let mut outcome = Outcome::empty(request_id);
    outcome.action = input.action.clone();
    outcome.assets = input.assets.clone();
    outcome.intent = input.intent.clone();
    outcome.principal = Some(principal.clone());
    match run_stages(ctx, principal.clone(), input, &mut outcome).await {
        Ok(combined) => {
            outcome.decision = combined.decision;
            outcome.reasons = combined.reasons;
            outcome.obligations = combined.obligations;
        }
        Err(reason) => {
            outcome.decision = Decision::Deny;
            outcome.reasons = vec![reason];
            outcome.obligations.clear();
        }
    }
    outcome
}

/// The answer to a decision whose token was refused: a deny naming why.
pub fn unauthenticated(input: &DecideInput, request_id: String, error: &identity::IdentityError) -> Outcome {
    let mut outcome = Outcome::refused_identity(request_id, error);
    outcome.action = input.action.clone();
    outcome.assets = input.assets.clone();
    outcome.intent = input.intent.clone();
    outcome
}

async fn run_stages<P: Plugins>(ctx: &Context<'_, P>, principal: Principal, input: &DecideInput, outcome: &mut Outcome) -> Result<output::Combined, Reason> {
    let voters = &mut outcome.decided_by;
    let (action, mut assets) = tracing::debug_span!("parse").in_scope(|| parse::resolve(ctx.policy, &input.action, &input.assets, input.intent.as_deref()))?;
    score::apply(ctx.plugins, ctx.policy, &principal, &action, &mut assets, voters).instrument(tracing::debug_span!("score")).await?;
    let ceiling = tracing::debug_span!("guardrails").in_scope(|| guardrails::check(ctx.policy, &principal, &action, &assets, voters))?;
    outcome.risk = Some(ceiling.risk);
    let context = Arc::new(request_context(ctx.policy, &principal, input.query.clone()));
    let coverage = tracing::debug_span!("grants")
        .in_scope(|| grants::check(ctx.policy, ctx.grants, &principal, &action.name, &assets, context.received_at_ms, voters));
    outcome.grants = coverage.dynamic;
    let request = Request {
        request_id: outcome.request_id.clone(),
        principal,
        action,
        assets,
        intent: input.intent.clone(),
        context,
    };
    let votes = sop::consult(ctx.plugins, ctx.policy, &request, &coverage.uncovered, voters).instrument(tracing::debug_span!("sop")).await;
    outcome.shadow = votes.shadow;
    Ok(tracing::debug_span!("output").in_scope(|| output::combine(votes.verdicts, &ceiling)))
}

/// The hard ceiling `principal` stands under for `action` on `assets`
/// (stages parse, score and hard guardrails, exactly as a request runs
/// them): what no grant and no plugin may lift. An access request is held
/// against it before anything is granted. The outer `Err` is a request
/// that cannot be resolved; the inner one the guardrails' deny. An
/// `escalate` ceiling means every use would need a human anyway.
pub async fn ceiling<P: Plugins>(
    ctx: &Context<'_, P>,
    principal: &Principal,
    action: &str,
    assets: &[String],
) -> Result<(Action, Vec<Asset>, Result<guardrails::Ceiling, Reason>), Reason> {
    let mut voters = Vec::new();
    let (action, mut assets) = parse::resolve(ctx.policy, action, assets, None)?;
    score::apply(ctx.plugins, ctx.policy, principal, &action, &mut assets, &mut voters).await?;
    let ceiling = guardrails::check(ctx.policy, principal, &action, &assets, &mut voters);
    Ok((action, assets, ceiling))
}

/// What plugins see through `steward:guardrail@0.2.0`'s `context`: now as
/// the time the request arrived, the caller's (and its human's) attributes
/// from the policy, and the query, if there is one.
pub fn request_context(policy: &Policy, principal: &Principal, query: Option<QuerySummary>) -> RequestContext {
    let attributes_of = |id: &str| policy.principal(id).map(|p| p.attributes.clone()).unwrap_or_default();
    RequestContext {
        received_at_ms: RequestContext::now_ms(),
        attributes: attributes_of(&principal.id),
        on_behalf_of_attributes: principal.on_behalf_of.as_deref().map(attributes_of).unwrap_or_default(),
        query,
    }
}

#[cfg(test)]
mod tests;
