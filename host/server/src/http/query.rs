//! `POST /v1/query` {sql, mode: full|preview, intent?} -> decision, rows,
//! rewritten SQL, budget left, and what to do instead when denied.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use steward_model::{Decision, ReasonCode};

use crate::query::QueryInput;
use crate::state::AppState;

pub async fn query(State(state): State<Arc<AppState>>, headers: HeaderMap, body: Result<Json<QueryInput>, JsonRejection>) -> Response {
    let Json(input) = match body {
        Ok(b) => b,
        Err(e) => {
            let message = format!("bad request body: {}", e.body_text());
            let outcome = crate::decide::refuse_and_record(&state, super::bearer(&headers), message).await;
            return (StatusCode::BAD_REQUEST, Json(outcome)).into_response();
        }
    };
    let answer = crate::query::query_and_record(&state, super::bearer(&headers), &input).await;
    let status = if answer.outcome.unauthenticated {
        StatusCode::UNAUTHORIZED
    } else if answer.outcome.decision == Decision::Deny && answer.outcome.reasons.iter().any(|r| r.code == ReasonCode::InternalError) {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    (status, Json(answer)).into_response()
}
