//! The built-in MCP tools, each a thin door onto the gate:
//!
//! - `query`: SQL through the gate (masks, row filters, budgets, preview);
//!   the answer is the same as `/v1/query`'s, as structured content;
//! - `decide`: an action on assets, the same as `/v1/decide`.
//!
//! `tools/list` shows a caller only the tools whose action could be
//! allowed for it ([`steward_pipeline::reach`]). Calling a hidden or
//! unknown tool is refused and recorded. A denied call is a tool error
//! whose content says why and what to do instead.

use std::borrow::Cow;
use std::sync::Arc;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, Implementation, InitializeResult, ListToolsResult, PaginatedRequestParams,
    ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler};
use serde_json::{Value, json};
use steward_gate::{Caller, Door, QueryInput};
use steward_model::{Decision, ReasonCode, clip};
use steward_pipeline::DecideInput;

use crate::state::AppState;

#[derive(Clone)]
pub struct StewardMcp {
    state: Arc<AppState>,
}

impl StewardMcp {
    pub fn new(state: Arc<AppState>) -> StewardMcp {
        StewardMcp { state }
    }

    /// Whether `caller` may see (and so call) the tool `name`.
    fn shown(&self, caller: &Caller, name: &str) -> bool {
        let Some(principal) = caller.principal() else { return false };
        let policy = &caller.generation.policy;
        let plugins = self.state.gate.registry.current();
        let could = |action: &str| steward_pipeline::reach::could_allow(policy, &*plugins, principal, action);
        match name {
            "query" => could("sql.read") || could("sql.preview"),
            // Asking what would be decided is open to every caller.
            "decide" => true,
            _ => false,
        }
    }

    /// A call the gate never ran: recorded as a deny, answered as a tool
    /// error.
    async fn refuse(&self, caller: &Caller, tool: &'static str, code: ReasonCode, message: String) -> CallToolResult {
        let outcome = self.state.gate.refuse(caller, code, "mcp", message, Door::Mcp { tool }).await;
        CallToolResult::structured_error(serde_json::to_value(&outcome).unwrap_or(Value::Null))
    }
}

/// The caller the door authenticated for this request.
fn caller_of(context: &RequestContext<RoleServer>) -> Result<Arc<Caller>, McpError> {
    context
        .extensions
        .get::<axum::http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<Arc<Caller>>())
        .cloned()
        .ok_or_else(|| McpError::internal_error("the request reached the MCP tools without an authenticated caller", None))
}

fn schema(value: Value) -> Arc<serde_json::Map<String, Value>> {
    Arc::new(match value {
        Value::Object(map) => map,
        _ => serde_json::Map::new(),
    })
}

/// Every built-in tool, as `tools/list` describes it.
fn tools() -> Vec<Tool> {
    vec![
        Tool::new(
            "query",
            "Run one SQL SELECT against the data warehouse through Steward. The answer is what policy lets you see: columns may be \
             withheld or masked, rows filtered, the row count capped by your daily budget. mode \"preview\" asks for a small, \
             masked sample where the owner allows previews. A denied query says why and what you can ask instead.",
            schema(json!({
                "type": "object",
                "properties": {
                    "sql": {"type": "string", "description": "One SELECT statement."},
                    "mode": {"type": "string", "enum": ["full", "preview"], "default": "full"},
                    "intent": {"type": "string", "description": "The task this serves, e.g. \"task: Q3 close\"."}
                },
                "required": ["sql"],
                "additionalProperties": false
            })),
        ),
        Tool::new(
            "decide",
            "Ask whether an action on some assets would be allowed, escalated or denied for you, and why.",
            schema(json!({
                "type": "object",
                "properties": {
                    "action": {"type": "string", "description": "An action from the action catalog, e.g. \"sql.read\"."},
                    "assets": {"type": "array", "items": {"type": "string"}, "description": "Catalog paths, e.g. \"finance/ledger\"."},
                    "intent": {"type": "string"}
                },
                "required": ["action", "assets"],
                "additionalProperties": false
            })),
        ),
    ]
}

/// An allowed answer as the tool's result; anything else as a tool error.
fn answer(decision: Decision, value: Value) -> CallToolResult {
    if decision == Decision::Allow { CallToolResult::structured(value) } else { CallToolResult::structured_error(value) }
}

impl ServerHandler for StewardMcp {
    fn get_info(&self) -> ServerConfig {
        InitializeResult::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("steward", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "Steward is the gate to the data warehouse: every tool call is decided and audited as you (agent, human, session, turn).",
            )
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        tools().into_iter().find(|t| t.name == name)
    }

    async fn list_tools(&self, _request: Option<PaginatedRequestParams>, context: RequestContext<RoleServer>) -> Result<ListToolsResult, McpError> {
        let caller = caller_of(&context)?;
        Ok(ListToolsResult::with_all_items(tools().into_iter().filter(|t| self.shown(&caller, &t.name)).collect()))
    }

    async fn call_tool(&self, request: CallToolRequestParams, context: RequestContext<RoleServer>) -> Result<CallToolResponse, McpError> {
        let caller = caller_of(&context)?;
        let arguments = Value::Object(request.arguments.unwrap_or_default());
        let name: Cow<'static, str> = request.name;
        let who = caller.principal().map_or("you", |p| p.id.as_str()).to_string();
        let result = match name.as_ref() {
            "query" if self.shown(&caller, "query") => match serde_json::from_value::<QueryInput>(arguments) {
                Ok(input) => {
                    let out = self.state.gate.query(&caller, &input, Door::Mcp { tool: "query" }).await;
                    answer(out.outcome.decision, serde_json::to_value(&out).unwrap_or(Value::Null))
                }
                Err(e) => self.refuse(&caller, "query", ReasonCode::Other, format!("bad arguments for query: {e}")).await,
            },
            "decide" if self.shown(&caller, "decide") => match serde_json::from_value::<DecideInput>(arguments) {
                Ok(input) => {
                    let out = self.state.gate.decide(&caller, &input, Door::Mcp { tool: "decide" }).await;
                    answer(out.decision, serde_json::to_value(&out).unwrap_or(Value::Null))
                }
                Err(e) => self.refuse(&caller, "decide", ReasonCode::Other, format!("bad arguments for decide: {e}")).await,
            },
            other => {
                let message = format!("no tool {:?} is available to {who}: tools/list shows the ones that are", clip(other, 80));
                self.refuse(&caller, "unknown", ReasonCode::NotPermitted, message).await
            }
        };
        Ok(CallToolResponse::Complete(result))
    }
}
