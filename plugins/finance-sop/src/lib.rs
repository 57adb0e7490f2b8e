//! The finance team's SOP for `finance/**`.
//!
//! Decisions: the host asks this SOP only about requests no grant covers.
//! Agents may read finance tables with a declared business task (intent
//! starting with `task:`), capped at 1,000 rows; anything else an agent asks
//! is escalated to the finance team. Humans and services without a grant are
//! sent to the finance team for access.
//!
//! Access requests (`steward:guardrail@0.4.0`): an agent's request to read
//! for a declared task, for a day or less, is approved at once as
//! aggregates only (groups of at least 5 rows, at most 1,000 rows); every
//! other request goes to the finance team's humans, and requests to change
//! finance data by an agent are refused.
use steward_sop_sdk::verdict::{allow_with, approve, escalate, refuse, to_owners};
use steward_sop_sdk::{AccessRequest, AccessVerdict, GrantConditions, Guest, IdentityKind, Obligation, ReasonCode, Request, RiskCategory, Verdict};

/// The longest grant this SOP approves by itself.
const AUTO_APPROVE_SECONDS: u64 = 86_400;

struct FinanceSop;

impl Guest for FinanceSop {
    fn evaluate(request: Request) -> Verdict {
        if request.principal.kind != IdentityKind::Agent {
            return escalate(ReasonCode::NeedsReview, "finance: no grant covers this; ask the finance team for access (request_access)");
        }
        if request.action.category != RiskCategory::Read {
            return escalate(ReasonCode::NeedsReview, "finance: agents may only read; a human must approve changes");
        }
        match request.intent() {
            Some(intent) if intent.starts_with("task:") => allow_with(vec![Obligation::MaxRows(1000)]),
            _ => escalate(ReasonCode::OutsideTask, "finance: agents read finance data only during a declared business task (intent \"task:...\")"),
        }
    }

    fn review_access(request: AccessRequest) -> AccessVerdict {
        let agent = request.principal.kind == IdentityKind::Agent;
        if agent && request.action.category != RiskCategory::Read {
            return refuse(ReasonCode::NotPermitted, "finance: agents are never granted changes to finance data");
        }
        let for_task = request.purpose.trim_start().starts_with("task:");
        if agent && request.action.category == RiskCategory::Read && for_task && request.duration_seconds <= AUTO_APPROVE_SECONDS {
            return approve(GrantConditions { masked: Vec::new(), row_filters: Vec::new(), aggregate_only: Some(5), max_rows: Some(1000) });
        }
        to_owners(
            ReasonCode::NeedsReview,
            "finance: the finance team reviews this request (approved at once only: an agent reading for a declared task, for a day or less, as aggregates)",
        )
    }
}

steward_sop_sdk::export_sop!(FinanceSop);
