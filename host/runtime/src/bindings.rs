//! Host bindings for the `steward:guardrail` worlds, the host imports
//! plugins may call (log, catalog, context), and conversions to and from
//! `steward_model`.
//!
//! Tools built against 0.3.0 are bound from `wit/v0.3.0` ([`v0_3`]): its
//! `tool` world adds the `declare` export and the `gate` import (the
//! call-backs). Its types are 0.2.0's, unchanged.
//!
//! The worlds are bound from the current package version (0.2.0). Its
//! exports are the same as 0.1.0's, so one set of export bindings calls
//! plugins of either version; only the imports differ in name
//! (`steward:guardrail/log@0.1.0` vs `@0.2.0`), and [`v0_1`] provides the
//! 0.1.0 ones.

use steward_model as model;

pub mod sop {
    wasmtime::component::bindgen!({
        path: "../../wit/v0.2.0",
        world: "sop",
        exports: { default: async },
    });
}

pub mod scorer {
    wasmtime::component::bindgen!({
        path: "../../wit/v0.2.0",
        world: "scorer",
        exports: { default: async },
        with: {
            "steward:guardrail/types": super::sop::steward::guardrail::types,
            "steward:guardrail/log": super::sop::steward::guardrail::log,
            "steward:guardrail/catalog": super::sop::steward::guardrail::catalog,
            "steward:guardrail/context": super::sop::steward::guardrail::context,
        },
    });
}

pub mod tool {
    wasmtime::component::bindgen!({
        path: "../../wit/v0.2.0",
        world: "tool",
        exports: { default: async },
        with: {
            "steward:guardrail/types": super::sop::steward::guardrail::types,
            "steward:guardrail/log": super::sop::steward::guardrail::log,
            "steward:guardrail/catalog": super::sop::steward::guardrail::catalog,
            "steward:guardrail/context": super::sop::steward::guardrail::context,
        },
    });
}

/// Imports only `log` (and the shared types): a classifier sees the column
/// sample it is given, not the catalog.
pub mod classifier {
    wasmtime::component::bindgen!({
        path: "../../wit/v0.2.0",
        world: "classifier",
        exports: { default: async },
        with: {
            "steward:guardrail/types": super::sop::steward::guardrail::types,
            "steward:guardrail/log": super::sop::steward::guardrail::log,
        },
    });
}

/// The imports of `steward:guardrail@0.1.0` (log and catalog), for plugins
/// built against it. Its types are the 0.2.0 ones (unchanged between the
/// versions), so both versions' imports share one implementation.
pub mod v0_1 {
    wasmtime::component::bindgen!({
        path: "../../wit/v0.1.0",
        world: "imports",
        with: {
            "steward:guardrail/types": super::wit,
        },
    });
    pub use steward::guardrail::{catalog, log};
}

/// The 0.3.0 `tool` world: 0.2.0's plus `declare` and the `gate`
/// call-backs, which are async (they run a whole request through the
/// gate). Its log, catalog and context imports are the 0.2.0 ones under
/// the 0.3.0 names.
pub mod v0_3 {
    wasmtime::component::bindgen!({
        path: "../../wit/v0.3.0",
        world: "tool",
        exports: { default: async },
        imports: { "steward:guardrail/gate": async },
        with: {
            "steward:guardrail/types": super::wit,
        },
    });
    pub use steward::guardrail::{catalog, context, gate, log};
}

/// The 0.4.0 `sop` world: 0.2.0's plus `review-access` and the `access`
/// interface's types. Its log, catalog and context imports are served by
/// the same code under the 0.4.0 names.
pub mod v0_4 {
    wasmtime::component::bindgen!({
        path: "../../wit/v0.4.0",
        world: "sop",
        exports: { default: async },
        with: {
            "steward:guardrail/types": super::wit,
        },
    });
    pub use steward::guardrail::{access, catalog, context, log};
}

/// The 0.4.0 `tool` world: 0.3.0's under the 0.4.0 names.
pub mod v0_4_tool {
    wasmtime::component::bindgen!({
        path: "../../wit/v0.4.0",
        world: "tool",
        exports: { default: async },
        imports: { "steward:guardrail/gate": async },
        with: {
            "steward:guardrail/types": super::wit,
            "steward:guardrail/log": super::v0_4::log,
            "steward:guardrail/catalog": super::v0_4::catalog,
            "steward:guardrail/context": super::v0_4::context,
        },
    });
    pub use steward::guardrail::gate;
}

pub use sop::steward::guardrail::{catalog, context, log, types as wit};

use crate::answer::cut;
use crate::tool::{CallBack, CallBackError};
use crate::state::{LOG_FIELDS, LOG_KEY_BYTES, LOG_LINES_PER_SECOND, LOG_MESSAGE_CHARS, LOG_VALUE_BYTES, PluginState};

fn printable(c: char) -> char {
    if c.is_control() { ' ' } else { c }
}


impl log::Host for PluginState {
    fn emit(&mut self, level: log::Level, message: String, fields: Vec<log::Field>) {
        self.log(level, message, fields.into_iter().map(|f| (f.key, f.value)));
    }
}

/// The log and catalog imports of another package version (0.1.0, 0.3.0):
/// the same functions under its names, served by the same code.
macro_rules! same_log_and_catalog {
    ($version:ident) => {
        impl $version::log::Host for PluginState {
            fn emit(&mut self, level: $version::log::Level, message: String, fields: Vec<$version::log::Field>) {
                use $version::log::Level as L;
                let level = match level {
                    L::Debug => log::Level::Debug,
                    L::Info => log::Level::Info,
                    L::Warn => log::Level::Warn,
                    L::Error => log::Level::Error,
                };
                self.log(level, message, fields.into_iter().map(|f| (f.key, f.value)));
            }
        }

        impl $version::catalog::Host for PluginState {
            fn lookup(&mut self, path: String) -> Option<wit::Asset> {
                self.catalog_lookup(&path)
            }

            fn children(&mut self, path: String) -> Vec<wit::Asset> {
                self.catalog_children(&path)
            }
        }
    };
}

same_log_and_catalog!(v0_1);
same_log_and_catalog!(v0_3);
same_log_and_catalog!(v0_4);

impl PluginState {
    fn log(&mut self, level: log::Level, message: String, fields: impl Iterator<Item = (String, String)>) {
        // Plugins cannot flood the host's log: cap the lines of one call and
        // of one version per second, and the size of every part of a line.
        if self.log_budget == 0 {
            return;
        }
        self.log_budget -= 1;
        let (admitted, dropped) = self.log_rate.admit();
        let plugin = self.label.as_str();
        if dropped > 0 {
            tracing::warn!(plugin, dropped, "plugin log lines dropped (over {LOG_LINES_PER_SECOND} per second)");
        }
        if !admitted {
            return;
        }
        // Control characters (newlines, ANSI escapes) would let a plugin
        // forge host log lines: they become spaces.
        let message: String = message.chars().take(LOG_MESSAGE_CHARS).map(printable).collect();
        let fields: Vec<(String, String)> = fields
            .take(LOG_FIELDS)
            .map(|(k, v)| (cut(k, LOG_KEY_BYTES).chars().map(printable).collect(), cut(v, LOG_VALUE_BYTES).chars().map(printable).collect()))
            .collect();
        match level {
            log::Level::Debug => tracing::debug!(plugin, ?fields, "{message}"),
            log::Level::Info => tracing::info!(plugin, ?fields, "{message}"),
            log::Level::Warn => tracing::warn!(plugin, ?fields, "{message}"),
            log::Level::Error => tracing::error!(plugin, ?fields, "{message}"),
        }
    }
}

impl catalog::Host for PluginState {
    fn lookup(&mut self, path: String) -> Option<wit::Asset> {
        self.catalog_lookup(&path)
    }

    fn children(&mut self, path: String) -> Vec<wit::Asset> {
        self.catalog_children(&path)
    }
}

impl PluginState {
    /// Whether the current call may see the catalog entry at `path`: an
    /// SOP or scorer sees the whole catalog; a tool only what the caller of
    /// its invocation may know exists, and outside one nothing.
    fn may_see(&self, path: &str) -> bool {
        if !self.is_tool {
            return true;
        }
        self.invocation.as_ref().is_some_and(|i| i.host.visible(path))
    }

    fn catalog_lookup(&self, path: &str) -> Option<wit::Asset> {
        if !self.may_see(path) {
            return None;
        }
        self.policy.as_ref().and_then(|p| p.asset(path)).map(|a| asset_to_wit(&a))
    }

    fn catalog_children(&self, path: &str) -> Vec<wit::Asset> {
        let Some(policy) = &self.policy else { return Vec::new() };
        policy.children(path).iter().filter(|a| self.may_see(&a.path)).map(asset_to_wit).collect()
    }
}

impl v0_3::context::Host for PluginState {
    fn current(&mut self) -> Option<v0_3::context::RequestContext> {
        // A tool's invocation has no decision context: its caller is the
        // `invoke` argument, and what it asks goes through `gate`.
        None
    }
}

/// The `gate` call-backs under one package version's names (0.3.0,
/// 0.4.0): the same calls, served by [`PluginState::call_back`].
macro_rules! gate_call_backs {
    ($version:ident) => {
        impl $version::gate::Host for PluginState {
            async fn query(&mut self, sql: String, mode: $version::gate::QueryMode, intent: Option<String>) -> Result<String, $version::gate::CallError> {
                let preview = mode == $version::gate::QueryMode::Preview;
                self.call_back(CallBack::Query { sql, preview, intent }).await.map_err(Into::into)
            }

            async fn decide(&mut self, action: String, assets: Vec<String>, intent: Option<String>) -> Result<String, $version::gate::CallError> {
                self.call_back(CallBack::Decide { action, assets, intent }).await.map_err(Into::into)
            }

            async fn catalog(&mut self, path: Option<String>) -> Result<String, $version::gate::CallError> {
                self.call_back(CallBack::Catalog { path }).await.map_err(Into::into)
            }

            async fn alternatives(&mut self, sql: String, intent: Option<String>) -> Result<String, $version::gate::CallError> {
                self.call_back(CallBack::Alternatives { sql, intent }).await.map_err(Into::into)
            }
        }

        impl From<CallBackError> for $version::gate::CallError {
            fn from(e: CallBackError) -> $version::gate::CallError {
                match e {
                    CallBackError::Refused(m) => $version::gate::CallError::Refused(m),
                    CallBackError::InvalidArguments(m) => $version::gate::CallError::InvalidArguments(m),
                }
            }
        }
    };
}

gate_call_backs!(v0_3);
gate_call_backs!(v0_4_tool);

impl PluginState {
    /// One call-back of the current invocation, as its caller: refused
    /// (and recorded) outside an invocation's limits, else run by the
    /// invocation's host.
    async fn call_back(&mut self, call: CallBack) -> Result<String, CallBackError> {
        let Some(invocation) = self.invocation.as_mut() else {
            tracing::warn!(plugin = %self.label, call = call.name(), "a tool called back outside an invocation; refused");
            return Err(CallBackError::Refused(format!(
                "`{}` was called outside `invoke`: call-backs act as the tool's caller, and here there is none",
                call.name()
            )));
        };
        let host = invocation.host.clone();
        let refusal = if let Err(e) = call.check() {
            Some(e)
        } else if self.clock.past_backstop() {
            Some(CallBackError::Refused("the tool's deadline has passed; no more call-backs in this invocation".into()))
        } else if invocation.calls_left == 0 {
            Some(CallBackError::Refused(format!(
                "this invocation already made {} call-backs, as many as the tool's manifest allows (limits.max_calls)",
                invocation.max_calls
            )))
        } else {
            None
        };
        if let Some(refusal) = refusal {
            host.refused(call, refusal.to_string()).await;
            return Err(refusal);
        }
        invocation.calls_left -= 1;
        host.call(call, std::time::Instant::now() + self.clock.backstop_left()).await
    }
}

/// The `context` import under one package version's names (0.2.0,
/// 0.4.0): the request being decided, as that version's record.
macro_rules! request_context {
    ($context:ident) => {
        impl $context::Host for PluginState {
            fn current(&mut self) -> Option<$context::RequestContext> {
                let c = self.context.as_deref()?;
                let attributes = |m: &std::collections::BTreeMap<String, String>| {
                    m.iter().map(|(k, v)| $context::Attribute { key: k.clone(), value: v.clone() }).collect()
                };
                Some($context::RequestContext {
                    received_at_ms: c.received_at_ms,
                    attributes: attributes(&c.attributes),
                    on_behalf_of_attributes: attributes(&c.on_behalf_of_attributes),
                    query: c.query.as_ref().map(|q| $context::QuerySummary {
                        statement: q.statement.clone(),
                        sql: q.sql.clone(),
                        tables: q.tables.clone(),
                        output_columns: q.output_columns.clone(),
                        aggregated: q.aggregated,
                    }),
                })
            }
        }
    };
}

request_context!(context);
use v0_4::context as context_v0_4;
request_context!(context_v0_4);

impl wit::Host for PluginState {}

pub fn request_to_wit(r: &model::Request) -> wit::Request {
    wit::Request {
        request_id: r.request_id.clone(),
        principal: principal_to_wit(&r.principal),
        action: action_to_wit(&r.action),
        assets: r.assets.iter().map(asset_to_wit).collect(),
        intent: r.intent.clone(),
    }
}

pub fn principal_to_wit(p: &model::Principal) -> wit::Principal {
    wit::Principal {
        id: p.id.clone(),
        kind: match p.kind {
            model::IdentityKind::Human => wit::IdentityKind::Human,
            model::IdentityKind::Agent => wit::IdentityKind::Agent,
            model::IdentityKind::Service => wit::IdentityKind::Service,
        },
        on_behalf_of: p.on_behalf_of.clone(),
        roles: p.roles.clone(),
        session_id: p.session_id.clone(),
        turn_id: p.turn_id.clone(),
    }
}

pub fn risk_category_from_wit(c: wit::RiskCategory) -> model::RiskCategory {
    use model::RiskCategory as M;
    use wit::RiskCategory as W;
    match c {
        W::Read => M::Read,
        W::Write => M::Write,
        W::Delete => M::Delete,
        W::Execute => M::Execute,
        W::Admin => M::Admin,
        W::Identity => M::Identity,
        W::Privilege => M::Privilege,
    }
}

pub fn action_to_wit(a: &model::Action) -> wit::Action {
    use model::RiskCategory as M;
    use wit::RiskCategory as W;
    wit::Action {
        name: a.name.clone(),
        category: match a.category {
            M::Read => W::Read,
            M::Write => W::Write,
            M::Delete => W::Delete,
            M::Execute => W::Execute,
            M::Admin => W::Admin,
            M::Identity => W::Identity,
            M::Privilege => W::Privilege,
        },
        risk_score: a.risk_score,
    }
}

pub fn asset_to_wit(a: &model::Asset) -> wit::Asset {
    use model::AssetKind as M;
    use wit::AssetKind as W;
    wit::Asset {
        path: a.path.clone(),
        kind: match a.kind {
            M::Folder => W::Folder,
            M::Table => W::Table,
            M::Column => W::Column,
            M::Dashboard => W::Dashboard,
            M::Pipeline => W::Pipeline,
            M::Service => W::Service,
        },
        owner: a.owner.clone(),
        tags: a.tags.clone(),
        significance: a.significance,
    }
}

pub fn column_sample_to_wit(c: &model::ColumnSample) -> wit::ColumnSample {
    wit::ColumnSample {
        table: c.table.clone(),
        column: c.column.clone(),
        data_type: c.data_type.clone(),
        values: c.values.clone(),
    }
}

fn reason_from_wit(r: wit::Reason, source: &str) -> model::Reason {
    model::Reason {
        code: match r.code {
            wit::ReasonCode::NotPermitted => model::ReasonCode::NotPermitted,
            wit::ReasonCode::OutsideTask => model::ReasonCode::OutsideTask,
            wit::ReasonCode::MissingIntent => model::ReasonCode::MissingIntent,
            wit::ReasonCode::RiskTooHigh => model::ReasonCode::RiskTooHigh,
            wit::ReasonCode::SensitiveData => model::ReasonCode::SensitiveData,
            wit::ReasonCode::NeedsReview => model::ReasonCode::NeedsReview,
            wit::ReasonCode::Other => model::ReasonCode::Other,
        },
        message: r.message,
        source: source.to_string(),
    }
}

/// A plugin's verdict, attributed to `source`. Reasons without a message
/// are refused as garbage by the caller.
pub fn verdict_from_wit(v: wit::Verdict, source: &str) -> model::Verdict {
    match v {
        wit::Verdict::Allow(obligations) => model::Verdict::Allow {
            obligations: obligations.into_iter().map(obligation_from_wit).collect(),
        },
        wit::Verdict::Deny(r) => model::Verdict::Deny { reason: reason_from_wit(r, source) },
        wit::Verdict::Escalate(r) => model::Verdict::Escalate { reason: reason_from_wit(r, source) },
    }
}

fn mask_method_from_wit(m: wit::MaskMethod) -> model::MaskMethod {
    match m {
        wit::MaskMethod::Null => model::MaskMethod::Null,
        wit::MaskMethod::Hash => model::MaskMethod::Hash,
        wit::MaskMethod::LastFour => model::MaskMethod::LastFour,
        wit::MaskMethod::Redact => model::MaskMethod::Redact,
    }
}

fn obligation_from_wit(o: wit::Obligation) -> model::Obligation {
    match o {
        wit::Obligation::MaxRows(rows) => model::Obligation::MaxRows { rows },
        wit::Obligation::MaskColumn(m) => model::Obligation::MaskColumn { column: m.column, method: mask_method_from_wit(m.method) },
        wit::Obligation::RowFilter(predicate) => model::Obligation::RowFilter { predicate },
        wit::Obligation::NotifyOwner(message) => model::Obligation::NotifyOwner { message },
    }
}

/// An access request as a 0.4.0 SOP sees it.
pub fn review_to_wit(r: &model::AccessReview) -> v0_4::access::AccessRequest {
    v0_4::access::AccessRequest {
        id: r.id.clone(),
        principal: principal_to_wit(&r.principal),
        requested_by: r.requested_by.clone(),
        action: action_to_wit(&r.action),
        assets: r.assets.iter().map(asset_to_wit).collect(),
        columns: r.columns.clone(),
        purpose: r.purpose.clone(),
        duration_seconds: r.duration_secs,
    }
}

/// A 0.4.0 SOP's access verdict, attributed to `source`.
pub fn access_verdict_from_wit(v: v0_4::access::AccessVerdict, source: &str) -> model::AccessVerdict {
    use v0_4::access::AccessVerdict as W;
    match v {
        W::Approve(c) => model::AccessVerdict::Approve {
            conditions: model::GrantConditions {
                masked: c.masked.into_iter().map(|m| model::ColumnMask { column: m.column, method: mask_method_from_wit(m.method) }).collect(),
                row_filters: c.row_filters,
                aggregate_only: c.aggregate_only,
                max_rows: c.max_rows,
            },
        },
        W::Deny(r) => model::AccessVerdict::Deny { reason: reason_from_wit(r, source) },
        W::Escalate(r) => model::AccessVerdict::Escalate { reason: reason_from_wit(r, source) },
    }
}
