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
use crate::revocations::{self, Revocation, RevocationError, RevocationStore};
use crate::state::AppState;

pub async fn list(State(state): State<Arc<AppState>>) -> Response {
    match on_store(&state, "listing revocations", false, |store| store.list()).await {
        Ok(all) => Json(serde_json::json!({ "revocations": all })).into_response(),
        Err(response) => response,
    }
}

/// Run `op` on the store off the async workers. After a change
/// (`changed`), the live set is reloaded, so it is in force before the
/// answer leaves.
async fn on_store<T: Send + 'static>(
    state: &AppState,
    what: &str,
    changed: bool,
    op: impl FnOnce(&dyn RevocationStore) -> Result<T, RevocationError> + Send + 'static,
) -> Result<T, Response> {
    let store = state.revocation_store.clone();
    let live = state.revocations.clone();
    let done = tokio::task::spawn_blocking(move || {
        let out = op(&*store)?;
        if changed {
            revocations::refresh(&*store, &live)?;
        }
        Ok(out)
    })
    .await;
    match done {
        Ok(Ok(out)) => Ok(out),
        Ok(Err(e)) => Err(store_error(e)),
        Err(e) => Err(error(StatusCode::INTERNAL_SERVER_ERROR, format!("{what} failed: {e}"))),
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
    let stored = revocation.clone();
    match on_store(&state, "revoking", true, move |store| store.add(&stored)).await {
        Ok(added) => {
            tracing::warn!(revoked = %label, by = %revocation.by, "revoked");
            let status = if added { StatusCode::CREATED } else { StatusCode::OK };
            (status, note, Json(serde_json::json!({ "revoked": revocation, "new": added }))).into_response()
        }
        Err(response) => response,
    }
}

pub async fn lift(State(state): State<Arc<AppState>>, Path((kind, id)): Path<(String, String)>) -> Response {
    let Some(kind) = RevocationKind::parse(&kind) else { return unknown_kind(&kind) };
    let label = format!("{}:{id}", kind.as_str());
    match on_store(&state, "lifting", true, move |store| store.lift(kind, &id)).await {
        Ok(true) => {
            tracing::warn!(lifted = %label, "revocation lifted");
            (AdminNote::new(format!("lifted {label}")).action("admin:lift").asset(label.clone()), Json(serde_json::json!({ "lifted": label })))
                .into_response()
        }
        Ok(false) => error(StatusCode::NOT_FOUND, format!("{label} is not revoked: `steward revoke list` shows what is")),
        Err(response) => response,
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
