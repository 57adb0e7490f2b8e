//! Plugins and policy through the admin API: list, upload, activate, roll
//! back and remove plugin versions; reload policy.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use steward_runtime::{LoadError, LoadedPlugin, Manifest, Origin, PluginSource, RegistryError, Staged};

use super::AdminNote;
use crate::http::error;
use crate::state::AppState;

#[derive(Serialize)]
pub struct VersionView {
    name: String,
    version: String,
    digest: String,
    world: &'static str,
    /// The `steward:guardrail` version it was built against.
    package_version: Option<String>,
    /// The policy signer whose signature verified.
    signed_by: Option<String>,
    mode: &'static str,
}

impl VersionView {
    fn of(p: &LoadedPlugin) -> VersionView {
        VersionView {
            name: p.manifest.name.clone(),
            version: p.manifest.version.clone(),
            digest: p.digest.clone(),
            world: p.world().as_str(),
            package_version: p.package_version.clone(),
            signed_by: p.signed_by.clone(),
            mode: if p.is_shadow() { "shadow" } else { "enforce" },
        }
    }
}

#[derive(Serialize)]
struct SlotView {
    active: VersionView,
    previous: Option<VersionView>,
    staged: Vec<VersionView>,
    scope: Vec<String>,
    origin: String,
    calls: u64,
    failures: u64,
    /// Spot checks of live instances against the version's own cases.
    spot_checks: u64,
    /// Why the active version fails every call, if it failed a spot check.
    quarantined: Option<String>,
}

pub async fn list(State(state): State<Arc<AppState>>) -> Response {
    let set = state.gate.registry.current();
    let plugins: Vec<SlotView> = set
        .slots()
        .map(|(_, slot)| SlotView {
            active: VersionView::of(&slot.active),
            previous: slot.previous.as_deref().map(VersionView::of),
            staged: slot.staged.iter().map(|p| VersionView::of(p)).collect(),
            scope: slot.active.manifest.scope.clone(),
            origin: match &slot.origin {
                Origin::Directory(d) => d.display().to_string(),
                Origin::Upload => "upload".into(),
            },
            calls: slot.active.calls(),
            failures: slot.active.failures(),
            spot_checks: slot.active.spot_checks(),
            quarantined: slot.active.quarantined().map(str::to_string),
        })
        .collect();
    Json(serde_json::json!({ "plugins": plugins })).into_response()
}

pub async fn status(State(state): State<Arc<AppState>>) -> Response {
    let policy_error = (**state.policy_error.load()).clone();
    Json(serde_json::json!({
        "policy_dir": state.policies_dir.display().to_string(),
        "policy_error": policy_error,
        "plugins": state.gate.registry.current().slots().count(),
        "pooling_allocator": state.gate.registry.runtime().pooling,
        "plan_cache": state.gate.plans.stats(),
    }))
    .into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Upload {
    /// The text of `plugin.toml`.
    manifest: String,
    /// The component, base64.
    component_base64: String,
    /// The text of the cases file.
    cases: String,
    /// The text of its `plugin.sig`, when it is signed.
    #[serde(default)]
    signature: Option<String>,
    /// Make it live once proven (default); `false` stages it.
    #[serde(default = "yes")]
    activate: bool,
}

fn yes() -> bool {
    true
}

fn load_error_status(e: &LoadError) -> StatusCode {
    match e {
        LoadError::Io(_) => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    }
}

pub async fn upload(State(state): State<Arc<AppState>>, body: Result<Json<Upload>, JsonRejection>) -> Response {
    let Json(upload) = match body {
        Ok(b) => b,
        Err(e) => return error(StatusCode::BAD_REQUEST, e.body_text()),
    };
    let manifest = match Manifest::parse(&upload.manifest) {
        Ok(m) => m,
        Err(e) => return error(StatusCode::UNPROCESSABLE_ENTITY, format!("bad manifest: {e}")),
    };
    if manifest.capabilities.read_dir.is_some() {
        return error(StatusCode::UNPROCESSABLE_ENTITY, "uploaded plugins cannot be granted a directory; ship them in the plugins folder");
    }
    let component = match base64::engine::general_purpose::STANDARD.decode(upload.component_base64.trim()) {
        Ok(c) => c,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("component_base64: {e}")),
    };
    let (name, label) = (manifest.name.clone(), format!("{}@{}", manifest.name, manifest.version));
    let source = PluginSource {
        manifest,
        component,
        cases: upload.cases,
        signature: upload.signature,
        base_dir: None,
        origin: Origin::Upload,
    };
    // Kept on disk first (so an activated upload survives a restart);
    // pruned again below if it is refused.
    let kept = match state.uploads.keep(&source, &upload.manifest, &steward_runtime::digest(&source.component)) {
        Ok(kept) => kept,
        Err(e) => {
            return error(StatusCode::UNPROCESSABLE_ENTITY, format!("plugin {label} refused: cannot keep it in the data directory: {e}"));
        }
    };
    let policy = state.gate.policy.load_full().policy.clone();
    let proven = match state.gate.registry.prove(source, &policy).await {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(plugin = %label, error = %e, "upload refused");
            drop(kept);
            state.record_uploads(&name);
            return error(load_error_status(&e), format!("plugin {label} refused: {e}"));
        }
    };
    let view = VersionView::of(&proven.plugin);
    let cases = proven.outcomes.clone();
    let activated = if upload.activate {
        state.gate.registry.activate(proven).await;
        true
    } else {
        state.gate.registry.stage(proven).await == Staged::ActivatedAsFirstVersion
    };
    drop(kept);
    state.record_uploads(&name);
    tracing::info!(plugin = %label, digest = %view.digest, activated, "plugin uploaded");
    let note = AdminNote::new(format!("uploaded {label} sha256:{}{}", view.digest, if activated { ", activated" } else { ", staged" })).asset(name);
    (note, Json(serde_json::json!({ "plugin": view, "activated": activated, "cases": cases }))).into_response()
}

#[derive(Deserialize)]
pub struct Activate {
    digest: String,
}

fn registry_error(e: RegistryError) -> Response {
    error(StatusCode::NOT_FOUND, e.to_string())
}

pub async fn activate(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    body: Result<Json<Activate>, JsonRejection>,
) -> Response {
    let Json(body) = match body {
        Ok(b) => b,
        Err(e) => return error(StatusCode::BAD_REQUEST, e.body_text()),
    };
    match state.gate.registry.activate_digest(&name, &body.digest).await {
        Ok(p) => {
            state.record_uploads(&name);
            Json(serde_json::json!({ "active": VersionView::of(&p) })).into_response()
        }
        Err(e) => registry_error(e),
    }
}

pub async fn rollback(State(state): State<Arc<AppState>>, Path(name): Path<String>) -> Response {
    match state.gate.registry.rollback(&name).await {
        Ok(p) => {
            state.record_uploads(&name);
            tracing::info!(plugin = %p.label(), "rolled back");
            Json(serde_json::json!({ "active": VersionView::of(&p) })).into_response()
        }
        Err(e) => registry_error(e),
    }
}

pub async fn remove(State(state): State<Arc<AppState>>, Path(name): Path<String>) -> Response {
    match state.gate.registry.remove(&name).await {
        Ok(()) => {
            state.record_uploads(&name);
            Json(serde_json::json!({ "removed": name })).into_response()
        }
        Err(e) => registry_error(e),
    }
}

pub async fn reload_policy(State(state): State<Arc<AppState>>) -> Response {
    match state.reload_policy().await {
        Ok(unloaded) => Json(serde_json::json!({ "reloaded": true, "unloaded": unloaded })).into_response(),
        Err(e) => error(StatusCode::UNPROCESSABLE_ENTITY, e),
    }
}
