//! Access requests over HTTP, for agents, humans and owners alike (each
//! with their own token):
//!
//! - `POST /v1/access-requests` {assets, columns?, action?, purpose,
//!   duration_days? | duration_seconds?, session_only?, agent?}, or the
//!   `draft-access-request` tool's output ({draft: {...}}): 201 with the
//!   requests made (one per owner team), each reviewed by the owners' SOPs.
//! - `GET /v1/access-requests[?state=&role=mine|to-decide&limit=]`
//! - `GET /v1/access-requests/{id}`: with its `digest`.
//! - `POST /v1/access-requests/{id}/approve` {digest, conditions?,
//!   duration_seconds?, note?}, `.../deny` {note?}, `.../revoke` {note?}.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use steward_gate::access::{AccessError, ApproveInput, ListInput, NoteInput};
use steward_gate::{Caller, Door};
use steward_model::ReasonCode;

use crate::state::AppState;

/// The draft in a submission: the tool's whole output (`{"draft": ...}`)
/// or the draft itself.
pub(crate) fn draft_of(body: serde_json::Value) -> Result<steward_access::Draft, String> {
    let draft = match body {
        serde_json::Value::Object(mut map) if map.get("draft").is_some_and(serde_json::Value::is_object) => map.remove("draft").unwrap_or_default(),
        other => other,
    };
    serde_json::from_value(draft).map_err(|e| format!("not an access request: {e}"))
}

pub(crate) fn status(e: &AccessError) -> StatusCode {
    match e {
        AccessError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
        AccessError::Invalid(_) => StatusCode::BAD_REQUEST,
        AccessError::NotFound(_) => StatusCode::NOT_FOUND,
        AccessError::Forbidden(_) => StatusCode::FORBIDDEN,
        AccessError::Conflict(_) => StatusCode::CONFLICT,
        AccessError::Gone(_) => StatusCode::GONE,
        AccessError::TooMany(_) => StatusCode::TOO_MANY_REQUESTS,
        AccessError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
    }
}

async fn answer<T: serde::Serialize>(state: &AppState, caller: &Caller, ok: StatusCode, result: Result<T, AccessError>) -> Response {
    match result {
        Ok(v) => (ok, Json(v)).into_response(),
        Err(e) => {
            if let AccessError::Unauthenticated(why) = &e {
                // Recorded like every refused token.
                let _ = state.gate.refuse(caller, ReasonCode::Unauthenticated, "identity", why.clone(), Door::Http).await;
            }
            super::error(status(&e), e.to_string())
        }
    }
}

/// A body that may be left out (no JSON at all: the defaults).
fn body<T: DeserializeOwned + Default>(body: Result<Json<T>, JsonRejection>) -> Result<T, String> {
    match body {
        Ok(Json(v)) => Ok(v),
        Err(JsonRejection::MissingJsonContentType(_)) => Ok(T::default()),
        Err(e) => Err(format!("bad request body: {}", e.body_text())),
    }
}

pub async fn submit(State(state): State<Arc<AppState>>, headers: HeaderMap, body: Result<Json<serde_json::Value>, JsonRejection>) -> Response {
    let caller = state.gate.authenticate(super::bearer(&headers));
    let draft = match body.map_err(|e| format!("bad request body: {}", e.body_text())).and_then(|Json(b)| draft_of(b)) {
        Ok(d) => d,
        Err(e) => return super::error(StatusCode::BAD_REQUEST, e),
    };
    let work = async {
        let result = state.gate.submit_access(&caller, &draft, Door::Http).await.map(|requests| serde_json::json!({ "requests": requests }));
        answer(&state, &caller, StatusCode::CREATED, result).await
    };
    super::or_internal_error(&state, &caller, work).await
}

pub async fn list(State(state): State<Arc<AppState>>, headers: HeaderMap, query: Result<Query<ListInput>, QueryRejection>) -> Response {
    let caller = state.gate.authenticate(super::bearer(&headers));
    let Ok(Query(input)) = query.map_err(|e| e.body_text()) else {
        return super::error(StatusCode::BAD_REQUEST, "query parameters: state, role (mine | to-decide), limit");
    };
    let result = state.gate.list_access(&caller, &input).await.map(|requests| serde_json::json!({ "requests": requests }));
    answer(&state, &caller, StatusCode::OK, result).await
}

pub async fn show(State(state): State<Arc<AppState>>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    let caller = state.gate.authenticate(super::bearer(&headers));
    let result = state.gate.access_request(&caller, &id).await;
    answer(&state, &caller, StatusCode::OK, result).await
}

pub async fn approve(State(state): State<Arc<AppState>>, Path(id): Path<String>, headers: HeaderMap, input: Result<Json<ApproveInput>, JsonRejection>) -> Response {
    let caller = state.gate.authenticate(super::bearer(&headers));
    let input = match input {
        Ok(Json(i)) => i,
        Err(e) => return super::error(StatusCode::BAD_REQUEST, format!("bad request body: {} (give the digest of the request you approve)", e.body_text())),
    };
    let work = async {
        let result = state.gate.approve_access(&caller, &id, &input, Door::Http).await;
        answer(&state, &caller, StatusCode::OK, result).await
    };
    super::or_internal_error(&state, &caller, work).await
}

pub async fn deny(State(state): State<Arc<AppState>>, Path(id): Path<String>, headers: HeaderMap, input: Result<Json<NoteInput>, JsonRejection>) -> Response {
    let caller = state.gate.authenticate(super::bearer(&headers));
    let input = match body(input) {
        Ok(i) => i,
        Err(e) => return super::error(StatusCode::BAD_REQUEST, e),
    };
    let result = state.gate.deny_access(&caller, &id, &input, Door::Http).await;
    answer(&state, &caller, StatusCode::OK, result).await
}

pub async fn revoke(State(state): State<Arc<AppState>>, Path(id): Path<String>, headers: HeaderMap, input: Result<Json<NoteInput>, JsonRejection>) -> Response {
    let caller = state.gate.authenticate(super::bearer(&headers));
    let input = match body(input) {
        Ok(i) => i,
        Err(e) => return super::error(StatusCode::BAD_REQUEST, e),
    };
    let result = state.gate.revoke_access(&caller, &id, &input, Door::Http).await;
    answer(&state, &caller, StatusCode::OK, result).await
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_submission_is_the_draft_tools_output_or_the_draft_itself() {
        let tool_output = serde_json::json!({
            "draft": { "assets": ["finance/ledger"], "purpose": "q", "duration_days": 7, "owners": [], "owner_unknown": [], "current_decision": {} },
            "status": "draft",
            "next": "..."
        });
        assert_eq!(super::draft_of(tool_output).unwrap().assets, vec!["finance/ledger"]);
        let plain = serde_json::json!({ "assets": ["a"], "purpose": "q" });
        assert_eq!(super::draft_of(plain).unwrap().purpose, "q");
        let err = super::draft_of(serde_json::json!({ "assets": ["a"], "purpose": "q", "grant_me": "everything" })).unwrap_err();
        assert!(err.contains("unknown field"), "{err}");
    }
}
