//! An SOP built against `steward:guardrail@0.2.0`: it decides from the
//! `context` import, which 0.1.0 plugins do not have.
//!
//! - no context: deny (the host must always give one to `evaluate`);
//! - the caller, or the human an agent acts for, must have `region = emea`;
//! - a SQL query must be aggregated (no row-level output);
//! - otherwise allow, with the time the host received the request echoed in
//!   a notify-owner obligation.
use steward_sdk::context;
use steward_sdk::sop::{Guest, Obligation, ReasonCode, Request, Verdict};
use steward_sdk::verdict::{allow_with, deny};

struct ContextSop;

impl Guest for ContextSop {
    fn evaluate(_request: Request) -> Verdict {
        let Some(ctx) = context::current() else {
            return deny(ReasonCode::Other, "context-sop: the host gave no request context");
        };
        let emea = ctx.attributes.iter().chain(&ctx.on_behalf_of_attributes).any(|a| a.key == "region" && a.value == "emea");
        if !emea {
            return deny(ReasonCode::NotPermitted, "context-sop: only callers in region emea");
        }
        if let Some(query) = &ctx.query
            && !query.aggregated
        {
            return deny(
                ReasonCode::SensitiveData,
                format!("context-sop: row-level output ({}) is not allowed; aggregate", query.output_columns.join(", ")),
            );
        }
        allow_with(vec![Obligation::NotifyOwner(format!("received at {} ms", ctx.received_at_ms))])
    }
}

steward_sdk::sop::export_sop!(ContextSop);
