//! One decision, end to end: run the pipeline on a snapshot of the live
//! state, then record it (stage 8) before anyone sees the answer.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use steward_audit::{AuditRecord, QueryRecord, RecordType};
use steward_model::{Decision, Reason, ReasonCode};
use steward_pipeline::{Context, DecideInput, Outcome};
use tracing::Instrument;

use crate::state::AppState;

/// Decide and record. If the record cannot be written the answer is a deny:
/// nothing leaves the host unrecorded.
pub async fn decide_and_record(state: &AppState, token: &str, input: &DecideInput) -> Outcome {
    let started = Instant::now();
    let request_id = state.next_request_id();
    let span = tracing::info_span!("decide", request_id = %request_id, action = %input.action);
    async move {
        let generation = state.policy.load_full();
        let plugins = state.registry.current();
        let ctx = Context { policy: &generation.policy, verifier: &generation.verifier, plugins: &*plugins };
        let mut outcome = steward_pipeline::decide(&ctx, token, input, request_id, unix_seconds()).await;
        let _ = record_or_deny(state, &mut outcome, started, None).instrument(tracing::debug_span!("record")).await;
        tracing::debug!(decision = outcome.decision.as_str(), "decided");
        outcome
    }
    .instrument(span)
    .await
}

/// A request the host could not read (a malformed body) or could not
/// finish (a panic) is still a decision: a deny, recorded with whatever
/// identity its token proves.
pub async fn refuse_and_record(state: &AppState, token: &str, code: ReasonCode, source: &str, message: String) -> Outcome {
    let started = Instant::now();
    let generation = state.policy.load_full();
    let mut outcome = Outcome::empty(state.next_request_id());
    outcome.principal = steward_pipeline::identity::authenticate(&generation.verifier, &generation.policy, token, unix_seconds()).ok();
    outcome.unauthenticated = outcome.principal.is_none();
    outcome.reasons.push(Reason::new(code, source, message));
    let _ = record_or_deny(state, &mut outcome, started, None).await;
    outcome
}

/// Append the outcome to the audit log; if that fails the answer becomes a
/// deny saying so (and `Err` tells the caller to drop any result).
pub(crate) async fn record_or_deny(state: &AppState, outcome: &mut Outcome, started: Instant, query: Option<QueryRecord>) -> Result<(), ()> {
    let mut record = audit_record(outcome, started.elapsed().as_micros() as u64);
    record.query = query;
    if let Err(e) = state.audit.append(record).await {
        tracing::error!(error = %e, "decision not recorded; answering deny");
        outcome.decision = Decision::Deny;
        outcome.obligations.clear();
        outcome.reasons = vec![Reason::new(ReasonCode::InternalError, "audit", format!("the decision could not be recorded: {e}"))];
        return Err(());
    }
    Ok(())
}

pub(crate) fn unix_seconds() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

pub fn audit_record(outcome: &Outcome, latency_us: u64) -> AuditRecord {
    let p = outcome.principal.as_ref();
    AuditRecord {
        record_type: RecordType::Decision,
        request_id: outcome.request_id.clone(),
        at_ms: SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0),
        principal: p.map(|p| p.id.clone()),
        kind: p.map(|p| p.kind),
        on_behalf_of: p.and_then(|p| p.on_behalf_of.clone()),
        session_id: p.and_then(|p| p.session_id.clone()),
        turn_id: p.and_then(|p| p.turn_id.clone()),
        action: outcome.action.clone(),
        assets: outcome.assets.clone(),
        intent: outcome.intent.clone(),
        decision: outcome.decision,
        reasons: outcome.reasons.clone(),
        obligations: outcome.obligations.clone(),
        decided_by: outcome.decided_by.clone(),
        shadow: outcome.shadow.iter().filter_map(|s| serde_json::to_value(s).ok()).collect(),
        risk: outcome.risk,
        latency_us,
        query: None,
    }
}
