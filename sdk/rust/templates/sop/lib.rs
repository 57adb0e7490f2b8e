//! {{name}}: an owner's SOP. The host asks it about requests on the assets
//! its manifest's `scope` covers that no static grant allows.
//!
//! This one lets agents read during a declared task (an intent starting
//! with `task:`), capped at 500 rows, and sends everything else to review.
wit_bindgen::generate!({ world: "sop", path: "wit" });

use steward::guardrail::types::{IdentityKind, Obligation, Reason, ReasonCode, RiskCategory};

struct Plugin;

fn escalate(code: ReasonCode, message: &str) -> Verdict {
    Verdict::Escalate(Reason { code, message: message.to_string() })
}

impl Guest for Plugin {
    fn evaluate(request: Request) -> Verdict {
        if request.principal.kind != IdentityKind::Agent || request.action.category != RiskCategory::Read {
            return escalate(ReasonCode::NeedsReview, "{{name}}: only agents' reads are decided here; the owners review the rest");
        }
        match request.intent.as_deref().map(str::trim) {
            Some(intent) if intent.starts_with("task:") => Verdict::Allow(vec![Obligation::MaxRows(500)]),
            _ => escalate(ReasonCode::OutsideTask, "{{name}}: declare the business task (intent \"task: ...\")"),
        }
    }
}

export!(Plugin);
