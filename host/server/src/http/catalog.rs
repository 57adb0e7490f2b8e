//! `GET /v1/catalog` -> {request_id, items[], tree}: the warehouse as a
//! tree of what the caller may know exists (the same view as the MCP
//! `catalog` tool and resources), recorded as a `catalog.read`; a denied
//! read answers with its decision and reasons instead.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use steward_gate::{Door, catalog};
use steward_model::Decision;

use crate::state::AppState;

pub async fn catalog(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let caller = state.gate.authenticate(super::bearer(&headers));
    let (outcome, items) = state.gate.read_catalog(&caller, None, Door::Http).await;
    // A refused or forbidden read answers with its decision and reasons,
    // as /v1/decide does.
    if outcome.decision != Decision::Allow {
        return (super::status_of(&outcome), Json(outcome)).into_response();
    }
    Json(serde_json::json!({ "request_id": outcome.request_id, "tree": catalog::tree(&items), "items": items })).into_response()
}
