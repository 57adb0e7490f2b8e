//! `POST /v1/query` {sql, mode: full|preview, intent?} -> decision, rows,
//! rewritten SQL, budget left, and what to do instead when denied.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use steward_gate::{Door, QueryInput};

use crate::state::AppState;

pub async fn query(State(state): State<Arc<AppState>>, headers: HeaderMap, body: Result<Json<QueryInput>, JsonRejection>) -> Response {
    let caller = state.gate.authenticate(super::bearer(&headers));
    let Json(input) = match body {
        Ok(b) => b,
        Err(e) => return super::refuse_body(&state, &caller, e).await,
    };
    let work = async {
        let answer = state.gate.query(&caller, &input, Door::Http).await;
        (super::status_of(&answer.outcome), Json(answer)).into_response()
    };
    super::or_internal_error(&state, &caller, work).await
}
