//! `GET /v1/tools`: the tool plugins offered to the caller.
//! `POST /v1/tools/{name}` {arguments}: run one as the caller; the answer
//! is the invocation's decision and the tool's output (its call-backs are
//! requests of their own, recorded with this one as their parent).

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use steward_gate::Door;

use crate::state::AppState;

pub async fn list(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let caller = state.gate.authenticate(super::bearer(&headers));
    if let Err(e) = &caller.identity {
        let message = e.to_string();
        let outcome = state.gate.refuse(&caller, steward_model::ReasonCode::Unauthenticated, "identity", message, Door::Http).await;
        return (StatusCode::UNAUTHORIZED, Json(outcome)).into_response();
    }
    Json(serde_json::json!({ "tools": state.gate.tools_for(&caller) })).into_response()
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Invoke {
    #[serde(default)]
    arguments: serde_json::Map<String, serde_json::Value>,
}

pub async fn invoke(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Result<Json<Invoke>, JsonRejection>,
) -> Response {
    let caller = Arc::new(state.gate.authenticate(super::bearer(&headers)));
    let Json(input) = match body {
        Ok(b) => b,
        Err(e) => return super::refuse_body(&state, &caller, e).await,
    };
    let work = async {
        let door = Door::HttpTool(steward_model::clip(&name, 80).into());
        let answer = state.gate.invoke_tool(&caller, &name, &serde_json::Value::Object(input.arguments), door).await;
        (super::status_of(&answer.outcome), Json(answer)).into_response()
    };
    super::or_internal_error(&state, &caller, work).await
}
