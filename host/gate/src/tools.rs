//! Tool plugins through the gate: which tools a caller is offered, one
//! invocation, and the call-backs it makes.
//!
//! A tool is offered to a caller when it was built against 0.3.0 (it
//! declares an action), the action is in the action catalog, and the
//! action could be allowed for the caller ([`Gate::could_allow`], as for
//! the built-in MCP tools). Calling a tool not offered is refused and
//! recorded.
//!
//! An invocation is one audit record (its action the tool's, its risk the
//! higher of the catalog's and the tool's own), written when the tool
//! returns. Each call-back is a request of its own, made as the
//! invocation's caller through the gate's `query`, `decide`,
//! `read_catalog` and `alternatives`, recorded with the door `tool`, the
//! tool's name and the invocation's request id as `parent`. The tool never
//! holds the caller: [`CallBacks`] does, for the invocation only.

use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;
use serde_json::{Value, json};
use steward_audit::RecordType;
use steward_model::{Decision, Reason, ReasonCode};
use steward_pipeline::{DecideInput, Outcome};
use steward_runtime::tool::BoxFuture;
use steward_runtime::{CallBack, CallBackError, LoadedPlugin, ToolError, ToolHost};
use steward_sql::Mode;
use tracing::Instrument;

use crate::catalog::CatalogItem;
use crate::{Caller, Door, Gate, QueryInput};

/// The largest arguments document a tool is given.
pub const MAX_ARGUMENTS_BYTES: usize = 64 * 1024;

/// A tool as a caller is offered it.
#[derive(Debug, Clone, Serialize)]
pub struct OfferedTool {
    pub name: String,
    pub description: String,
    pub input_schema: Value,
    pub action: String,
    /// The risk recorded for an invocation: the higher of the action
    /// catalog's and the tool's own.
    pub risk: f32,
    pub plugin: String,
}

/// What an invocation answers.
#[derive(Debug, Clone, Serialize)]
pub struct ToolAnswer {
    #[serde(flatten)]
    pub outcome: Outcome,
    pub tool: String,
    /// The tool's result (JSON), when it ran and answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<Value>,
}

impl Gate {
    /// The tool plugins `caller` is offered, by name.
    pub fn tools_for(&self, caller: &Caller) -> Vec<OfferedTool> {
        self.registry.current().tools().filter_map(|plugin| self.offered(caller, plugin)).collect()
    }

    fn offered(&self, caller: &Caller, plugin: &Arc<LoadedPlugin>) -> Option<OfferedTool> {
        let spec = plugin.tool_spec()?;
        let declared = spec.declaration.as_ref()?;
        let action = caller.generation.policy.action(&declared.action)?;
        if !self.could_allow(caller, &declared.action) {
            return None;
        }
        Some(OfferedTool {
            name: spec.name.clone(),
            description: spec.summary.clone(),
            input_schema: spec.input_schema.clone(),
            action: declared.action.clone(),
            risk: action.risk_score.max(declared.risk_score),
            plugin: plugin.label().to_string(),
        })
    }

    /// Run the tool plugin `name` for `caller` on `arguments`, recorded
    /// (refusals too) under `door`.
    pub async fn invoke_tool(self: &Arc<Self>, caller: &Arc<Caller>, name: &str, arguments: &Value, door: Door) -> ToolAnswer {
        let request_id = self.next_request_id();
        let span = tracing::info_span!("tool", request_id = %request_id, tool = %steward_model::clip(name, 64), door = door.as_str());
        self.invoke_in(caller, name, arguments, door, request_id).instrument(span).await
    }

    async fn invoke_in(self: &Arc<Self>, caller: &Arc<Caller>, name: &str, arguments: &Value, door: Door, request_id: String) -> ToolAnswer {
        let started = Instant::now();
        let mut outcome = caller.outcome(request_id.clone());
        outcome.intent = arguments.get("intent").and_then(Value::as_str).map(|s| steward_model::clip(s, 1024));
        let plugins = self.registry.current();
        let found = plugins.tool(name).cloned().and_then(|p| self.offered(caller, &p).map(|o| (p, o)));
        let mut output = None;
        match (&caller.identity, found) {
            (Err(_), _) => {}
            (Ok(_), None) => {
                outcome.action = "tool.invoke".into();
                let who = caller.principal().map_or("you", |p| p.id.as_str());
                let message = format!("no tool {:?} is available to {who}: list the tools offered to you first", steward_model::clip(name, 80));
                outcome.reasons.push(Reason::new(ReasonCode::NotPermitted, "tool", message));
            }
            (Ok(principal), Some((plugin, offered))) => {
                outcome.action = offered.action.clone();
                outcome.risk = Some(offered.risk);
                let text = arguments.to_string();
                if text.len() > MAX_ARGUMENTS_BYTES {
                    outcome.reasons.push(Reason::new(ReasonCode::Other, "tool", format!("the arguments are {} bytes; at most {MAX_ARGUMENTS_BYTES}", text.len())));
                } else {
                    let host = Arc::new(CallBacks {
                        gate: self.clone(),
                        caller: caller.clone(),
                        tool: offered.name.as_str().into(),
                        parent: request_id.as_str().into(),
                        catalog: self.catalog(caller),
                    });
                    let source = format!("plugin:{}", plugin.label());
                    // The record names the tool version (and digest) that ran.
                    outcome.decided_by.push(plugin.voter());
                    let ran = plugin.invoke(principal, &text, &caller.generation.policy, host).await;
                    match ran {
                        Ok(Ok(result)) => match serde_json::from_str::<Value>(&result) {
                            Ok(v) => {
                                outcome.decision = Decision::Allow;
                                output = Some(v);
                            }
                            Err(e) => outcome.reasons.push(Reason::new(ReasonCode::PluginFailure, &source, format!("the tool's result is not JSON: {e}"))),
                        },
                        Ok(Err(refusal)) => {
                            let (code, message) = match refusal {
                                ToolError::InvalidArguments(m) => (ReasonCode::Other, format!("invalid arguments: {m}")),
                                ToolError::AccessDenied(m) => (ReasonCode::NotPermitted, m),
                                ToolError::Other(m) => (ReasonCode::Other, m),
                            };
                            outcome.reasons.push(Reason::new(code, &source, message));
                        }
                        Err(failure) => outcome.reasons.push(Reason::new(ReasonCode::PluginFailure, &source, failure.to_string())),
                    }
                }
            }
        }
        if self.record_or_deny(&mut outcome, started, &door, None, RecordType::Decision).await.is_err() {
            output = None;
        }
        ToolAnswer { outcome, tool: steward_model::clip(name, 80), output }
    }
}

/// The call-backs of one invocation: they act as its caller, and only
/// while it runs (the runtime drops them when `invoke` returns).
struct CallBacks {
    gate: Arc<Gate>,
    caller: Arc<Caller>,
    tool: Arc<str>,
    parent: Arc<str>,
    /// The caller's view of the catalog, for the tool's `catalog` import.
    catalog: Arc<Vec<CatalogItem>>,
}

impl CallBacks {
    fn door(&self) -> Door {
        Door::CallBack { tool: self.tool.clone(), parent: self.parent.clone() }
    }

    async fn run(&self, call: CallBack, deadline: Instant) -> Result<String, CallBackError> {
        let gate = &self.gate;
        let caller = &self.caller;
        let value = match call {
            CallBack::Query { sql, preview, intent } => {
                let mode = if preview { Mode::Preview } else { Mode::Full };
                json_of(&gate.query_until(caller, &QueryInput { sql, mode, intent }, self.door(), deadline).await)
            }
            CallBack::Alternatives { sql, intent } => {
                json_of(&gate.alternatives(caller, &QueryInput { sql, mode: Mode::Full, intent }, self.door()).await)
            }
            CallBack::Decide { action, assets, intent } => {
                json_of(&gate.decide(caller, &DecideInput { action, assets, intent, query: None }, self.door()).await)
            }
            CallBack::Catalog { path } => {
                let (outcome, items) = gate.read_catalog(caller, path.as_deref(), self.door()).await;
                if outcome.decision != Decision::Allow {
                    json_of(&outcome)
                } else {
                    match path {
                        None => json!({ "request_id": outcome.request_id, "decision": "allow", "items": items }),
                        Some(path) => {
                            let item = items.iter().find(|i| i.path == path.trim_matches('/'));
                            json!({ "request_id": outcome.request_id, "decision": "allow", "item": item })
                        }
                    }
                }
            }
        };
        Ok(value.to_string())
    }
}

impl ToolHost for CallBacks {
    fn call(self: Arc<Self>, call: CallBack, deadline: Instant) -> BoxFuture<Result<String, CallBackError>> {
        Box::pin(async move { self.run(call, deadline).await })
    }

    fn refused(self: Arc<Self>, call: CallBack, why: String) -> BoxFuture<()> {
        Box::pin(async move {
            let message = format!("{}'s call-back `{}` was refused: {why}", self.tool, call.name());
            self.gate.refuse(&self.caller, ReasonCode::NotPermitted, "tool", message, self.door()).await;
        })
    }

    fn visible(&self, path: &str) -> bool {
        let path = path.trim_matches('/');
        self.catalog.binary_search_by(|i| i.path.as_str().cmp(path)).is_ok()
    }
}

fn json_of(body: &impl Serialize) -> Value {
    serde_json::to_value(body).unwrap_or(Value::Null)
}
