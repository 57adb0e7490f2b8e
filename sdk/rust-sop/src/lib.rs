//! Write Steward SOP plugins in Rust against the `sop` world of
//! `steward:guardrail@0.4.0` (`wit/v0.4.0`): an owner's SOP decides the
//! requests on the assets it governs (`evaluate`) and reviews the access
//! requests for them (`review_access`) before the owning team's humans see
//! them: approve with conditions, refuse, or send to the humans.
//!
//! ```ignore
//! use steward_sop_sdk::{AccessRequest, AccessVerdict, Guest, ReasonCode, Request, Verdict};
//! use steward_sop_sdk::verdict::{allow, to_owners};
//!
//! struct MySop;
//! impl Guest for MySop {
//!     fn evaluate(request: Request) -> Verdict { allow() }
//!     fn review_access(request: AccessRequest) -> AccessVerdict {
//!         to_owners(ReasonCode::NeedsReview, "the team decides")
//!     }
//! }
//! steward_sop_sdk::export_sop!(MySop);
//! ```
//!
//! A crate of its own, apart from `steward-sdk` (0.2.0): a component
//! imports one version of the package, and two `sop` worlds cannot share a
//! crate.

#![allow(clippy::too_many_arguments)]

pub mod bindings {
    wit_bindgen::generate!({
        world: "sop",
        path: "../../wit/v0.4.0",
        pub_export_macro: true,
        export_macro_name: "export_sop",
        default_bindings_module: "steward_sop_sdk::bindings",
    });
}

pub use bindings::steward::guardrail::access::{AccessRequest, AccessVerdict, GrantConditions};
pub use bindings::steward::guardrail::types::*;
pub use bindings::steward::guardrail::{catalog, context, log};
pub use bindings::{Guest, export_sop};

/// Shorthands for building verdicts and access verdicts.
pub mod verdict {
    use super::{AccessVerdict, GrantConditions, Obligation, Reason, ReasonCode, Verdict};

    pub fn allow() -> Verdict {
        Verdict::Allow(Vec::new())
    }

    pub fn allow_with(obligations: Vec<Obligation>) -> Verdict {
        Verdict::Allow(obligations)
    }

    pub fn deny(code: ReasonCode, message: impl Into<String>) -> Verdict {
        Verdict::Deny(Reason { code, message: message.into() })
    }

    pub fn escalate(code: ReasonCode, message: impl Into<String>) -> Verdict {
        Verdict::Escalate(Reason { code, message: message.into() })
    }

    /// Approve an access request with these conditions.
    pub fn approve(conditions: GrantConditions) -> AccessVerdict {
        AccessVerdict::Approve(conditions)
    }

    /// No conditions beyond what the host's own rules apply.
    pub fn no_conditions() -> GrantConditions {
        GrantConditions { masked: Vec::new(), row_filters: Vec::new(), aggregate_only: None, max_rows: None }
    }

    /// Refuse an access request.
    pub fn refuse(code: ReasonCode, message: impl Into<String>) -> AccessVerdict {
        AccessVerdict::Deny(Reason { code, message: message.into() })
    }

    /// Send an access request to the owning team's humans.
    pub fn to_owners(code: ReasonCode, message: impl Into<String>) -> AccessVerdict {
        AccessVerdict::Escalate(Reason { code, message: message.into() })
    }
}

impl Request {
    /// The declared intent, trimmed; `None` when absent or blank.
    pub fn intent(&self) -> Option<&str> {
        self.intent.as_deref().map(str::trim).filter(|s| !s.is_empty())
    }
}
