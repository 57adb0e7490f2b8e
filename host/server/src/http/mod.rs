//! The HTTP surface: `/v1/decide`, `/v1/query`, `/v1/catalog` and
//! `/v1/tools` for agents, `/v1/access-requests` for agents and owners, `/mcp`
//! (the MCP door), `/admin/*` for operators, `/healthz`.

pub(crate) mod access;
mod admin;
mod catalog;

pub use admin::BOOTSTRAP_ADMIN;
mod decide;
mod query;
mod tools;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use axum::extract::rejection::JsonRejection;
use steward_model::{Decision, ReasonCode};
use steward_gate::{Caller, Door};
use steward_pipeline::Outcome;

use crate::state::AppState;

/// Uploaded components may be large (Python and JavaScript plugins are
/// 10-20 MB).
const ADMIN_BODY_LIMIT: usize = 64 * 1024 * 1024;
const AGENT_BODY_LIMIT: usize = 256 * 1024;

pub fn router(state: Arc<AppState>, mcp: crate::mcp::McpConfig) -> Router {
    let admin = admin::routes(state.clone()).layer(DefaultBodyLimit::max(ADMIN_BODY_LIMIT));
    Router::new()
        .route("/v1/decide", post(decide::decide))
        .route("/v1/query", post(query::query))
        .route("/v1/catalog", get(catalog::catalog))
        .route("/v1/tools", get(tools::list))
        .route("/v1/tools/{name}", post(tools::invoke))
        .route("/v1/access-requests", post(access::submit).get(access::list))
        .route("/v1/access-requests/{id}", get(access::show))
        .route("/v1/access-requests/{id}/approve", post(access::approve))
        .route("/v1/access-requests/{id}/deny", post(access::deny))
        .route("/v1/access-requests/{id}/revoke", post(access::revoke))
        .route("/v1/openapi.json", get(openapi))
        .route("/healthz", get(|| async { "ok" }))
        .layer(DefaultBodyLimit::max(AGENT_BODY_LIMIT))
        .merge(admin)
        .merge(crate::mcp::routes(state.clone(), mcp))
        .with_state(state)
}

/// The OpenAPI 3.1 document of the `/v1` API; `tests/e2e/openapi.rs`
/// holds real answers against it.
pub const OPENAPI: &str = include_str!("openapi.json");

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

/// The bearer token of a request, or "" when there is none.
pub(crate) fn bearer(headers: &HeaderMap) -> &str {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim)
        .unwrap_or("")
}

/// The status of an answer carrying a decision: 401 when the token was
/// refused, 503 when the host could not decide or record (the body is
/// still a deny), 200 otherwise.
pub(crate) fn status_of(outcome: &Outcome) -> StatusCode {
    if outcome.unauthenticated {
        StatusCode::UNAUTHORIZED
    } else if outcome.decision == Decision::Deny && outcome.reasons.iter().any(|r| r.code == ReasonCode::InternalError) {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    }
}

/// A body the host could not read is a recorded deny, answered 400.
pub(crate) async fn refuse_body(state: &AppState, caller: &Caller, rejection: JsonRejection) -> Response {
    let message = format!("bad request body: {}", rejection.body_text());
    let outcome = state.gate.refuse(caller, ReasonCode::Other, "parse", message, Door::Http).await;
    (StatusCode::BAD_REQUEST, axum::Json(outcome)).into_response()
}

/// Run a request's work; if it panics (a bug in the host), the request is
/// a recorded `internal-error` deny answered 500, and the process keeps
/// serving.
pub(crate) async fn or_internal_error(state: &AppState, caller: &Caller, work: impl Future<Output = Response>) -> Response {
    match catch_panic(work).await {
        Ok(response) => response,
        Err(panic) => {
            tracing::error!(panic = %panic, "a request panicked; answering deny");
            let message = "the host failed while handling this request; it was recorded as an internal error and the host keeps serving: report the request id";
            let outcome = state.gate.refuse(caller, ReasonCode::InternalError, "host", message.into(), Door::Http).await;
            (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(outcome)).into_response()
        }
    }
}

/// `work`'s output, or the message of the panic that ended it.
pub(crate) async fn catch_panic<T>(work: impl Future<Output = T>) -> Result<T, String> {
    use futures_util::FutureExt as _;
    std::panic::AssertUnwindSafe(work).catch_unwind().await.map_err(|panic| {
        panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic without a message".into())
    })
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn a_panic_in_a_request_is_caught_with_its_message() {
        assert_eq!(super::catch_panic(async { 7 }).await, Ok(7));
        let caught = super::catch_panic(async {
            if std::hint::black_box(true) {
                panic!("boom {}", 42);
            }
        })
        .await;
        assert_eq!(caught, Err("boom 42".to_string()));
    }
}

/// A JSON error body: `{"error": "..."}`.
pub(crate) fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, axum::Json(serde_json::json!({ "error": message.into() }))).into_response()
}
