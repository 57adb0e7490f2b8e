//! An SOP built against `steward:guardrail@0.1.0`, as a plugin shipped
//! before 0.2.0 was: it imports `log@0.1.0` and `catalog@0.1.0` and must
//! keep loading and deciding beside 0.2.0 plugins.
//!
//! Agents may read an asset the catalog knows (looked up through the 0.1.0
//! catalog import) when they declare an intent; anything else is denied.
wit_bindgen::generate!({
    world: "sop",
    path: "../../../wit/v0.1.0",
});

use steward::guardrail::types::{Reason, ReasonCode, RiskCategory};
use steward::guardrail::{catalog, log};

struct Legacy;

fn deny(message: String) -> Verdict {
    Verdict::Deny(Reason { code: ReasonCode::NotPermitted, message })
}

impl Guest for Legacy {
    fn evaluate(request: Request) -> Verdict {
        log::emit(log::Level::Info, "legacy-sop deciding", &[log::Field { key: "request".into(), value: request.request_id.clone() }]);
        if request.action.category != RiskCategory::Read {
            return deny("legacy-sop: reads only".into());
        }
        if let Some(unknown) = request.assets.iter().find(|a| catalog::lookup(&a.path).is_none()) {
            return deny(format!("legacy-sop: {} is not in the catalog", unknown.path));
        }
        match request.intent.as_deref().map(str::trim) {
            Some(intent) if !intent.is_empty() => Verdict::Allow(vec![]),
            _ => deny("legacy-sop: declare an intent".into()),
        }
    }
}

export!(Legacy);
