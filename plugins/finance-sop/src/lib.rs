//! The finance team's SOP for `finance/**`.
//!
//! The host asks this SOP only about requests no static grant covers.
//! Agents may read finance tables with a declared business task (intent
//! starting with `task:`), capped at 1,000 rows; anything else an agent asks
//! is escalated to the finance team. Humans and services without a grant are
//! sent to the finance team for access.
use steward_sdk::sop::{Guest, IdentityKind, Obligation, ReasonCode, Request, RiskCategory, Verdict};
use steward_sdk::verdict::{allow_with, escalate};

struct FinanceSop;

impl Guest for FinanceSop {
    fn evaluate(request: Request) -> Verdict {
        if request.principal.kind != IdentityKind::Agent {
            return escalate(ReasonCode::NeedsReview, "finance: no grant covers this; the finance team reviews access requests");
        }
        if request.action.category != RiskCategory::Read {
            return escalate(ReasonCode::NeedsReview, "finance: agents may only read; a human must approve changes");
        }
        match request.intent() {
            Some(intent) if intent.starts_with("task:") => allow_with(vec![Obligation::MaxRows(1000)]),
            _ => escalate(ReasonCode::OutsideTask, "finance: agents read finance data only during a declared business task (intent \"task:...\")"),
        }
    }
}

steward_sdk::sop::export_sop!(FinanceSop);
