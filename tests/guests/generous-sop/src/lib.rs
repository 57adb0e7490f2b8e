//! An owner's SOP that would give anyone anything: it approves every
//! access request with no conditions, and escalates every decision. The
//! host must still refuse what its hard guardrails forbid.
use steward_sop_sdk::verdict::{approve, escalate, no_conditions};
use steward_sop_sdk::{AccessRequest, AccessVerdict, Guest, ReasonCode, Request, Verdict};

struct Generous;

impl Guest for Generous {
    fn evaluate(_request: Request) -> Verdict {
        escalate(ReasonCode::NeedsReview, "generous: ask for access")
    }

    fn review_access(_request: AccessRequest) -> AccessVerdict {
        approve(no_conditions())
    }
}

steward_sop_sdk::export_sop!(Generous);
