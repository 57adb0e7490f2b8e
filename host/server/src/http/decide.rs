//! `POST /v1/decide` {action, assets, intent?} ->
//! {decision, reasons[], obligations[], decided_by[], request_id}.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use steward_gate::Door;
use steward_pipeline::DecideInput;

use crate::state::AppState;

pub async fn decide(State(state): State<Arc<AppState>>, headers: HeaderMap, body: Result<Json<DecideInput>, JsonRejection>) -> Response {
    let caller = state.gate.authenticate(super::bearer(&headers));
    let Json(input) = match body {
        Ok(b) => b,
        Err(e) => return super::refuse_body(&state, &caller, e).await,
    };
    let work = async {
        let outcome = state.gate.decide(&caller, &input, Door::Http).await;
        (super::status_of(&outcome), Json(outcome)).into_response()
    };
    super::or_internal_error(&state, &caller, work).await
}
