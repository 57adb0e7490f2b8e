//! Write Steward plugins in Rust.
//!
//! Bindings are for `steward:guardrail@0.2.0` (`wit/v0.2.0`): a plugin can
//! read more about the request it decides with [`context::current`].
//!
//! A plugin targets one world of `steward:guardrail`: [`sop`], [`scorer`],
//! [`tool`] or [`classifier`]. Implement that module's `Guest` trait and export it with the
//! matching macro:
//!
//! ```ignore
//! use steward_sdk::sop::{Guest, Request, Verdict};
//!
//! struct MySop;
//! impl Guest for MySop {
//!     fn evaluate(request: Request) -> Verdict {
//!         Verdict::Allow(vec![])
//!     }
//! }
//! steward_sdk::sop::export_sop!(MySop);
//! ```
//!
//! Build with `cargo build --target wasm32-wasip2 --profile plugin`; the
//! output is a component the host loads.

#![allow(clippy::too_many_arguments)]

mod base {
    wit_bindgen::generate!({
        world: "imports",
        path: "../../wit/v0.2.0",
    });
}

pub use base::steward::guardrail::types::*;
pub use base::steward::guardrail::{catalog, context, log};

/// The `sop` world: an owner's standard operating procedure.
pub mod sop {
    wit_bindgen::generate!({
        world: "sop",
        path: "../../wit/v0.2.0",
        with: {
            "steward:guardrail/types@0.2.0": crate::base::steward::guardrail::types,
            "steward:guardrail/log@0.2.0": crate::base::steward::guardrail::log,
            "steward:guardrail/catalog@0.2.0": crate::base::steward::guardrail::catalog,
            "steward:guardrail/context@0.2.0": crate::base::steward::guardrail::context,
        },
        pub_export_macro: true,
        export_macro_name: "export_sop",
        default_bindings_module: "steward_sdk::sop",
    });
    pub use crate::base::steward::guardrail::types::*;
}

/// The `scorer` world: an asset-class risk scorer.
pub mod scorer {
    wit_bindgen::generate!({
        world: "scorer",
        path: "../../wit/v0.2.0",
        with: {
            "steward:guardrail/types@0.2.0": crate::base::steward::guardrail::types,
            "steward:guardrail/log@0.2.0": crate::base::steward::guardrail::log,
            "steward:guardrail/catalog@0.2.0": crate::base::steward::guardrail::catalog,
            "steward:guardrail/context@0.2.0": crate::base::steward::guardrail::context,
        },
        pub_export_macro: true,
        export_macro_name: "export_scorer",
        default_bindings_module: "steward_sdk::scorer",
    });
    pub use crate::base::steward::guardrail::types::*;
}

/// The `tool` world: a sub-agent tool.
pub mod tool {
    wit_bindgen::generate!({
        world: "tool",
        path: "../../wit/v0.2.0",
        with: {
            "steward:guardrail/types@0.2.0": crate::base::steward::guardrail::types,
            "steward:guardrail/log@0.2.0": crate::base::steward::guardrail::log,
            "steward:guardrail/catalog@0.2.0": crate::base::steward::guardrail::catalog,
            "steward:guardrail/context@0.2.0": crate::base::steward::guardrail::context,
        },
        pub_export_macro: true,
        export_macro_name: "export_tool",
        default_bindings_module: "steward_sdk::tool",
    });
    pub use crate::base::steward::guardrail::types::*;
}

/// The `classifier` world: tags for a warehouse column from its name and
/// sample values (`pii` plus a kind such as `email`; none when not PII).
/// A classifier imports only `log`: it has no catalog.
pub mod classifier {
    wit_bindgen::generate!({
        world: "classifier",
        path: "../../wit/v0.2.0",
        with: {
            "steward:guardrail/types@0.2.0": crate::base::steward::guardrail::types,
            "steward:guardrail/log@0.2.0": crate::base::steward::guardrail::log,
        },
        pub_export_macro: true,
        export_macro_name: "export_classifier",
        default_bindings_module: "steward_sdk::classifier",
    });
    pub use crate::base::steward::guardrail::types::*;
}

/// Shorthands for building verdicts.
pub mod verdict {
    use super::{Obligation, Reason, ReasonCode, Verdict};

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
}

/// Log into the host's trace; the host tags each line with the plugin's
/// name and version.
pub fn log(level: log::Level, message: &str, fields: &[(&str, &str)]) {
    let fields: Vec<log::Field> = fields
        .iter()
        .map(|(k, v)| log::Field { key: (*k).to_string(), value: (*v).to_string() })
        .collect();
    log::emit(level, message, &fields);
}

impl Request {
    /// True when any asset of the request carries `tag`.
    pub fn touches_tag(&self, tag: &str) -> bool {
        self.assets.iter().any(|a| a.tags.iter().any(|t| t == tag))
    }

    /// The declared intent, trimmed; `None` when absent or blank.
    pub fn intent(&self) -> Option<&str> {
        self.intent.as_deref().map(str::trim).filter(|s| !s.is_empty())
    }
}
