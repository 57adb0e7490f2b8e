//! `POST /v1/decide` {action, assets, intent?} ->
//! {decision, reasons[], obligations[], decided_by[], request_id}.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use steward_model::{Decision, ReasonCode};
use steward_pipeline::DecideInput;

use crate::state::AppState;

pub async fn decide(State(state): State<Arc<AppState>>, headers: HeaderMap, body: Result<Json<DecideInput>, JsonRejection>) -> Response {
    let Json(input) = match body {
        Ok(b) => b,
        Err(e) => {
            let message = format!("bad request body: {}", e.body_text());
            let outcome = crate::decide::refuse_and_record(&state, super::bearer(&headers), message).await;
            return (StatusCode::BAD_REQUEST, Json(outcome)).into_response();
        }
    };
    let outcome = crate::decide::decide_and_record(&state, super::bearer(&headers), &input).await;
    let status = if outcome.unauthenticated {
        StatusCode::UNAUTHORIZED
    } else if outcome.decision == Decision::Deny && outcome.reasons.iter().any(|r| r.code == ReasonCode::InternalError) {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    (status, Json(outcome)).into_response()
}
