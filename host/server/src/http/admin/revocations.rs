//! Revocations through the admin API: list, revoke, lift. A change is in
//! force on this host before the answer leaves, and on every host sharing
//! the store within a second.

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use steward_identity::RevocationKind;

use super::{Admin, AdminNote};
use steward_gate::unix_seconds;
use crate::http::error;
use crate::revocations::{self, Revocation, RevocationError};
use crate::state::AppState;

pub async fn list(State(state): State<Arc<AppState>>) -> Response {
    let store = state.revocation_store.clone();
    match tokio::task::spawn_blocking(move || store.list()).await {
        Ok(Ok(all)) => Json(serde_json::json!({ "revocations": all })).into_response(),
        Ok(Err(e)) => store_error(e),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, format!("listing revocations failed: {e}")),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Revoke {
    kind: String,
    id: String,
    #[serde(default)]
    reason: String,
}

/// The longest reason kept with a revocation.
const MAX_REASON_BYTES: usize = 1024;

pub async fn revoke(State(state): State<Arc<AppState>>, Extension(admin): Extension<Admin>, body: Result<Json<Revoke>, JsonRejection>) -> Response {
    let Json(body) = match body {
        Ok(b) => b,
        Err(e) => return error(StatusCode::BAD_REQUEST, e.body_text()),
    };
    let Some(kind) = RevocationKind::parse(&body.kind) else { return unknown_kind(&body.kind) };
    if body.reason.len() > MAX_REASON_BYTES {
        return error(StatusCode::BAD_REQUEST, format!("a reason is at most {MAX_REASON_BYTES} bytes"));
    }
    let revocation = Revocation { kind, id: body.id, reason: body.reason, by: admin.id, at: unix_seconds() };
    let label = format!("{}:{}", kind.as_str(), revocation.id);
    let note = AdminNote::new(format!("revoked {label}: {}", revocation.reason)).action("admin:revoke").asset(label.clone());
    let store = state.revocation_store.clone();
    let live = state.revocations.clone();
    let stored = revocation.clone();
    let added = tokio::task::spawn_blocking(move || -> Result<bool, RevocationError> {
        let added = store.add(&stored)?;
        revocations::refresh(&*store, &live)?;
        Ok(added)
    })
    .await;
    match added {
        Ok(Ok(added)) => {
            tracing::warn!(revoked = %label, by = %revocation.by, "revoked");
            let status = if added { StatusCode::CREATED } else { StatusCode::OK };
            (status, note, Json(serde_json::json!({ "revoked": revocation, "new": added }))).into_response()
        }
        Ok(Err(e)) => store_error(e),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, format!("revoking failed: {e}")),
    }
}

pub async fn lift(State(state): State<Arc<AppState>>, Path((kind, id)): Path<(String, String)>) -> Response {
    let Some(kind) = RevocationKind::parse(&kind) else { return unknown_kind(&kind) };
    let label = format!("{}:{id}", kind.as_str());
    let store = state.revocation_store.clone();
    let live = state.revocations.clone();
    let lifted = tokio::task::spawn_blocking(move || -> Result<bool, RevocationError> {
        let lifted = store.lift(kind, &id)?;
        revocations::refresh(&*store, &live)?;
        Ok(lifted)
    })
    .await;
    match lifted {
        Ok(Ok(true)) => {
            tracing::warn!(lifted = %label, "revocation lifted");
            (AdminNote::new(format!("lifted {label}")).action("admin:lift").asset(label.clone()), Json(serde_json::json!({ "lifted": label })))
                .into_response()
        }
        Ok(Ok(false)) => error(StatusCode::NOT_FOUND, format!("{label} is not revoked: `steward revoke list` shows what is")),
        Ok(Err(e)) => store_error(e),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, format!("lifting failed: {e}")),
    }
}

fn unknown_kind(kind: &str) -> Response {
    let known: Vec<&str> = RevocationKind::ALL.iter().map(|k| k.as_str()).collect();
    error(StatusCode::BAD_REQUEST, format!("{kind:?} is not a revocation kind; use one of {}", known.join(", ")))
}

fn store_error(e: RevocationError) -> Response {
    let status = match e {
        RevocationError::BadId => StatusCode::BAD_REQUEST,
        RevocationError::Full => StatusCode::INSUFFICIENT_STORAGE,
        RevocationError::Store(_) | RevocationError::Poisoned => StatusCode::SERVICE_UNAVAILABLE,
    };
    error(status, e.to_string())
}
