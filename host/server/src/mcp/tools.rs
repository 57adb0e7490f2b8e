//! The built-in MCP tools, each a thin door onto the gate:
//!
//! - `query`: SQL through the gate (masks, row filters, budgets, preview);
//!   the answer is the same as `/v1/query`'s, as structured content;
//! - `decide`: an action on assets, the same as `/v1/decide`;
//! - `catalog`: the warehouse as a tree of what the caller may know
//!   exists, or one entry in full; the same entries are MCP resources
//!   (`steward://catalog/PATH`, listed in pages);
//! - `request_access`: submit an access request (the `draft-access-request`
//!   tool's output, or the fields by hand), the same as
//!   `POST /v1/access-requests`.
//!
//! Beside them, every tool plugin offered to the caller
//! ([`steward_gate::Gate::tools_for`]): it runs as the caller, and so do
//! its call-backs.
//!
//! `tools/list` shows a caller only the tools whose action could be
//! allowed for it ([`steward_pipeline::reach`]). Calling a hidden or
//! unknown tool is refused and recorded. A denied call is a tool error
//! whose content says why and what to do instead.

use std::borrow::Cow;
use std::sync::Arc;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, Implementation, InitializeResult, ListResourcesResult, ListToolsResult,
    PaginatedRequestParams, ReadResourceRequestParams, ReadResourceResponse, ReadResourceResult, Resource, ResourceContents, ServerCapabilities,
    ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler};
use serde_json::{Value, json};
use steward_gate::catalog::{self, CatalogItem};
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
        if caller.principal().is_none() {
            return false;
        }
        let could = |action: &str| self.state.gate.could_allow(caller, action);
        match name {
            "query" => could("sql.read") || could("sql.preview"),
            // Asking what would be decided, and browsing what one may know
            // exists, are open to every caller.
            "decide" | "catalog" | "request_access" => true,
            _ => false,
        }
    }

    /// A call the gate never ran: recorded as a deny, answered as a tool
    /// error.
    async fn refuse(&self, caller: &Caller, tool: &'static str, code: ReasonCode, message: String) -> CallToolResult {
        let outcome = self.state.gate.refuse(caller, code, "mcp", message, Door::Mcp { tool }).await;
        answer(outcome.decision, &outcome)
    }


    /// The caller's catalog, read and recorded like the `catalog` tool; an
    /// MCP error when the read was refused or could not be recorded.
    async fn read(&self, caller: &Caller, path: Option<&str>, via: &'static str) -> Result<Arc<Vec<CatalogItem>>, McpError> {
        let (outcome, items) = self.state.gate.read_catalog(caller, path, Door::Mcp { tool: via }).await;
        if outcome.decision != Decision::Allow {
            let why = outcome.reasons.first().map_or_else(|| "refused".to_string(), |r| r.message.clone());
            return Err(McpError::invalid_request(why, Some(json_of(&outcome))));
        }
        Ok(items)
    }

    async fn catalog_call(&self, caller: &Caller, path: Option<&str>) -> CallToolResult {
        let (outcome, items) = self.state.gate.read_catalog(caller, path, Door::Mcp { tool: "catalog" }).await;
        if outcome.decision != Decision::Allow {
            return answer(outcome.decision, &outcome);
        }
        match path {
            None => {
                let mut result = CallToolResult::structured(json!({ "request_id": outcome.request_id, "items": items }));
                result.content = vec![rmcp::model::ContentBlock::text(catalog::tree(&items))];
                result
            }
            Some(path) => match items.iter().find(|i| i.path == path.trim_matches('/')) {
                Some(item) => {
                    let mut result = CallToolResult::structured(json!({ "request_id": outcome.request_id, "item": item }));
                    result.content = vec![rmcp::model::ContentBlock::text(catalog::describe(item))];
                    result
                }
                // Not there, or not for this caller: the same answer.
                None => CallToolResult::structured_error(json!({ "error": format!("nothing at {:?} that you may see", clip(path, 200)) })),
            },
        }
    }

    async fn call(&self, caller: &Arc<Caller>, request: CallToolRequestParams) -> CallToolResult {
        let arguments = Value::Object(request.arguments.unwrap_or_default());
        let name: Cow<'static, str> = request.name;
        let who = caller.principal().map_or("you", |p| p.id.as_str()).to_string();
        match name.as_ref() {
            "query" if self.shown(caller, "query") => match serde_json::from_value::<QueryInput>(arguments) {
                Ok(input) => {
                    let out = self.state.gate.query(caller, &input, Door::Mcp { tool: "query" }).await;
                    answer(out.outcome.decision, &out)
                }
                Err(e) => self.refuse(caller, "query", ReasonCode::Other, format!("bad arguments for query: {e}")).await,
            },
            "decide" if self.shown(caller, "decide") => match serde_json::from_value::<DecideInput>(arguments) {
                Ok(input) => {
                    let out = self.state.gate.decide(caller, &input, Door::Mcp { tool: "decide" }).await;
                    answer(out.decision, &out)
                }
                Err(e) => self.refuse(caller, "decide", ReasonCode::Other, format!("bad arguments for decide: {e}")).await,
            },
            "catalog" => match serde_json::from_value::<CatalogArgs>(arguments) {
                Ok(args) => self.catalog_call(caller, args.path.as_deref()).await,
                Err(e) => self.refuse(caller, "catalog", ReasonCode::Other, format!("bad arguments for catalog: {e}")).await,
            },
            "request_access" if self.shown(caller, "request_access") => match crate::http::access::draft_of(arguments) {
                Ok(draft) => match self.state.gate.submit_access(caller, &draft, Door::Mcp { tool: "request_access" }).await {
                    Ok(requests) => CallToolResult::structured(json!({ "requests": requests })),
                    Err(e) => CallToolResult::structured_error(json!({ "error": e.to_string() })),
                },
                Err(e) => self.refuse(caller, "request_access", ReasonCode::Other, format!("bad arguments for request_access: {e}")).await,
            },
            plugin if self.state.gate.registry.current().tool(plugin).is_some() => {
                let door = Door::McpTool(clip(plugin, 80).into());
                let out = self.state.gate.invoke_tool(caller, plugin, &arguments, door).await;
                answer(out.outcome.decision, &out)
            }
            other => {
                let message = format!("no tool {:?} is available to {who}: tools/list shows the ones that are", clip(other, 80));
                self.refuse(caller, "unknown", ReasonCode::NotPermitted, message).await
            }
        }
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
        Tool::new(
            "request_access",
            "Ask the owners for access you were denied: pass the draft the draft-access-request tool returned (as \"draft\"), or \
             the assets, columns, action, purpose and duration yourself. The owners' SOP decides first; what it sends on waits for \
             a human of the owning team. The answer lists each request (one per owner team), its state and what happens next; an \
             approved request is a grant your next request uses.",
            schema(json!({
                "type": "object",
                "properties": {
                    "draft": {"type": "object", "description": "The draft-access-request tool's `draft`."},
                    "assets": {"type": "array", "items": {"type": "string"}, "maxItems": 16},
                    "columns": {"type": "array", "items": {"type": "string"}, "description": "asset.column"},
                    "action": {"type": "string", "default": "sql.read"},
                    "purpose": {"type": "string", "description": "Why the access is needed (the business task)."},
                    "duration_days": {"type": "integer", "minimum": 1, "maximum": 90, "default": 7},
                    "session_only": {"type": "boolean", "description": "A grant for this session only."}
                }
            })),
        ),
        Tool::new(
            "catalog",
            "The data warehouse as a tree of folders (organisations, teams) and resources (tables, views, dashboards, pipelines, \
             services): what you may know exists. Give a path for one entry in full: description, owner, tags and columns.",
            schema(json!({
                "type": "object",
                "properties": {"path": {"type": "string", "description": "A catalog path, e.g. \"sales/customers\"."}},
                "additionalProperties": false
            })),
        ),
    ]
}

/// Resources listed per page.
pub const RESOURCES_PAGE: usize = 100;
const RESOURCE_SCHEME: &str = "steward://catalog/";

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogArgs {
    #[serde(default)]
    path: Option<String>,
}

fn resource(item: &CatalogItem) -> Resource {
    let mut r = Resource::new(format!("{RESOURCE_SCHEME}{}", item.path), item.path.clone());
    if let Some(d) = &item.description {
        r = r.with_description(d.clone());
    }
    r.mime_type = Some("text/plain".into());
    r
}

/// An allowed answer as the tool's result; anything else as a tool error.
fn answer(decision: Decision, body: &impl serde::Serialize) -> CallToolResult {
    let value = json_of(body);
    if decision == Decision::Allow { CallToolResult::structured(value) } else { CallToolResult::structured_error(value) }
}

/// An answer as the JSON a tool result carries.
fn json_of(body: &impl serde::Serialize) -> Value {
    serde_json::to_value(body).unwrap_or(Value::Null)
}

impl ServerHandler for StewardMcp {
    fn get_info(&self) -> ServerConfig {
        InitializeResult::new(ServerCapabilities::builder().enable_tools().enable_resources().build())
            .with_server_info(Implementation::new("steward", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "Steward is the gate to the data warehouse: every tool call is decided and audited as you (agent, human, session, turn).",
            )
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        tools().into_iter().find(|t| t.name == name).or_else(|| {
            let plugins = self.state.gate.registry.current();
            let spec = plugins.tool(name)?.tool_spec()?.clone();
            Some(Tool::new(spec.name, spec.summary, schema(spec.input_schema)))
        })
    }

    async fn list_tools(&self, _request: Option<PaginatedRequestParams>, context: RequestContext<RoleServer>) -> Result<ListToolsResult, McpError> {
        let caller = caller_of(&context)?;
        let mut offered: Vec<Tool> = tools().into_iter().filter(|t| self.shown(&caller, &t.name)).collect();
        offered.extend(self.state.gate.tools_for(&caller).into_iter().map(|t| Tool::new(t.name, t.description, schema(t.input_schema))));
        Ok(ListToolsResult::with_all_items(offered))
    }

    async fn list_resources(&self, request: Option<PaginatedRequestParams>, context: RequestContext<RoleServer>) -> Result<ListResourcesResult, McpError> {
        let caller = caller_of(&context)?;
        let items = self.read(&caller, None, "resources/list").await?;
        let start = match request.and_then(|r| r.cursor) {
            None => 0,
            Some(c) => c.parse::<usize>().ok().filter(|&i| i <= items.len()).ok_or_else(|| McpError::invalid_params("unknown cursor", None))?,
        };
        let end = (start + RESOURCES_PAGE).min(items.len());
        let mut page = ListResourcesResult::with_all_items(items[start..end].iter().map(resource).collect());
        page.next_cursor = (end < items.len()).then(|| end.to_string());
        Ok(page)
    }

    async fn read_resource(&self, request: ReadResourceRequestParams, context: RequestContext<RoleServer>) -> Result<ReadResourceResponse, McpError> {
        let caller = caller_of(&context)?;
        let path = request.uri.strip_prefix(RESOURCE_SCHEME).unwrap_or("");
        let items = self.read(&caller, Some(path), "resources/read").await?;
        // Not there, or not for this caller: the same error.
        let item = items.iter().find(|i| i.path == path).ok_or_else(|| McpError::invalid_params("no such resource", None))?;
        let text = ResourceContents::text(catalog::describe(item), request.uri.clone());
        Ok(ReadResourceResponse::Complete(ReadResourceResult::new(vec![text])))
    }

    async fn call_tool(&self, request: CallToolRequestParams, context: RequestContext<RoleServer>) -> Result<CallToolResponse, McpError> {
        let caller = caller_of(&context)?;
        // A panic in the host is a recorded internal-error deny, as on /v1.
        match crate::http::catch_panic(self.call(&caller, request)).await {
            Ok(result) => Ok(CallToolResponse::Complete(result)),
            Err(panic) => {
                tracing::error!(panic = %panic, "an MCP tool call panicked; answering deny");
                let message = "the host failed while handling this call; it was recorded as an internal error and the host keeps serving: report the request id";
                Ok(CallToolResponse::Complete(self.refuse(&caller, "unknown", ReasonCode::InternalError, message.into()).await))
            }
        }
    }
}
