//! One decision, end to end: run the pipeline for the authenticated caller
//! on its policy generation and the live plugins, then record it (stage 8)
//! before anyone sees the answer.

use std::time::Instant;

use steward_audit::{AuditRecord, QueryRecord, RecordType};
use steward_model::{Decision, Reason, ReasonCode};
use steward_pipeline::{Context, DecideInput, Outcome};
use tracing::Instrument;

use crate::{Caller, Door, Gate};

impl Gate {
    /// Decide and record. If the record cannot be written the answer is a
    /// deny: nothing leaves the host unrecorded.
    pub async fn decide(&self, caller: &Caller, input: &DecideInput, door: Door) -> Outcome {
        let started = Instant::now();
        let request_id = self.next_request_id();
        let span = tracing::info_span!("decide", request_id = %request_id, action = %input.action, door = door.as_str());
        async move {
            let mut outcome = match &caller.identity {
                Ok(principal) => {
                    let plugins = self.registry.current();
                    let grants = self.grants.live.load();
                    let ctx = Context { policy: &caller.generation.policy, plugins: &*plugins, grants: &grants };
                    steward_pipeline::decide(&ctx, principal, input, request_id).await
                }
                Err(e) => steward_pipeline::unauthenticated(input, request_id, e),
            };
            let _ = self.record_or_deny(&mut outcome, started, &door, None, RecordType::Decision).instrument(tracing::debug_span!("record")).await;
            tracing::debug!(decision = outcome.decision.as_str(), "decided");
            outcome
        }
        .instrument(span)
        .await
    }

    /// A request the host could not read (a malformed body) or could not
    /// finish (a panic) is still a decision: a deny, recorded with whatever
    /// identity its token proves.
    pub async fn refuse(&self, caller: &Caller, code: ReasonCode, source: &str, message: String, door: Door) -> Outcome {
        let started = Instant::now();
        let mut outcome = Outcome::empty(self.next_request_id());
        outcome.principal = caller.principal().cloned();
        outcome.unauthenticated = outcome.principal.is_none();
        outcome.reasons.push(Reason::new(code, source, message));
        let _ = self.record_or_deny(&mut outcome, started, &door, None, RecordType::Decision).await;
        outcome
    }

    /// Append the outcome to the audit log; if that fails the answer
    /// becomes a deny saying so (and `Err` tells the caller to drop any
    /// result).
    pub(crate) async fn record_or_deny(
        &self,
        outcome: &mut Outcome,
        started: Instant,
        door: &Door,
        query: Option<QueryRecord>,
        kind: RecordType,
    ) -> Result<(), ()> {
        let mut record = audit_record(outcome, started.elapsed().as_micros() as u64);
        record.record_type = kind;
        record.door = Some(door.as_str().to_string());
        record.tool = door.tool().map(str::to_string);
        record.parent = door.parent().map(str::to_string);
        record.query = query;
        let calls = std::mem::take(&mut outcome.shadow);
        let slot = if calls.is_empty() { None } else { Some(self.shadows.reserve(&self.audit)) };
        if let Some(slot) = &slot {
            record.shadow = crate::shadow::noted(&calls, slot);
        }
        // The shadow record starts as a copy of this one.
        let shadow = match slot {
            Some(Ok(slot)) => Some((slot, record.clone())),
            _ => None,
        };
        if let Err(e) = self.audit.append(record).await {
            tracing::error!(error = %e, "decision not recorded; answering deny");
            outcome.decision = Decision::Deny;
            outcome.obligations.clear();
            outcome.reasons = vec![Reason::new(ReasonCode::InternalError, "audit", format!("the decision could not be recorded: {e}"))];
            return Err(());
        }
        if let Some((slot, decision)) = shadow {
            crate::shadow::queue(slot, decision, self.next_request_id(), calls, self.registry.current(), self.policy.load().policy.clone());
        }
        Ok(())
    }
}

/// The audit record of an outcome (no door, no query: the gate adds them).
pub fn audit_record(outcome: &Outcome, latency_us: u64) -> AuditRecord {
    let p = outcome.principal.as_ref();
    AuditRecord {
        record_type: RecordType::Decision,
        request_id: outcome.request_id.clone(),
        at_ms: crate::unix_millis(),
        principal: p.map(|p| p.id.clone()),
        kind: p.map(|p| p.kind),
        on_behalf_of: p.and_then(|p| p.on_behalf_of.clone()),
        session_id: p.and_then(|p| p.session_id.clone()),
        turn_id: p.and_then(|p| p.turn_id.clone()),
        door: None,
        tool: None,
        parent: None,
        action: outcome.action.clone(),
        assets: outcome.assets.clone(),
        intent: outcome.intent.clone(),
        decision: outcome.decision,
        reasons: outcome.reasons.clone(),
        obligations: outcome.obligations.clone(),
        decided_by: outcome.decided_by.clone(),
        shadow: Vec::new(),
        risk: outcome.risk,
        latency_us,
        query: None,
        access: None,
    }
}
