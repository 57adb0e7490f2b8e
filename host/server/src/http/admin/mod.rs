//! The admin API. Every call passes [`gate`]: it is authenticated (the
//! token of a principal holding an admin role in policy, or the bootstrap
//! admin token while that is enabled) and written to the audit log as an
//! admin record naming who made it and how it ended, refused calls too.

mod plugins;
mod revocations;

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, IntoResponseParts, Response, ResponseParts};
use axum::routing::{delete, get, post};
use steward_audit::{AuditRecord, RecordType};
use steward_model::{Decision, IdentityKind, Reason, ReasonCode, clip};

use super::{bearer, error};
use crate::state::AppState;

/// The most of a refused call's message and path an audit record keeps.
const MAX_REFUSAL_CHARS: usize = 300;

/// Who the principal of a call made with the bootstrap admin token is.
pub const BOOTSTRAP_ADMIN: &str = "bootstrap-admin-token";

pub fn routes(state: Arc<AppState>) -> Router<Arc<AppState>> {
    Router::new()
        .route("/admin/status", get(plugins::status))
        .route("/admin/plugins", get(plugins::list).post(plugins::upload))
        .route("/admin/plugins/{name}", delete(plugins::remove))
        .route("/admin/plugins/{name}/activate", post(plugins::activate))
        .route("/admin/plugins/{name}/rollback", post(plugins::rollback))
        .route("/admin/policy/reload", post(plugins::reload_policy))
        .route("/admin/revocations", get(revocations::list).post(revocations::revoke))
        .route("/admin/revocations/{kind}/{id}", delete(revocations::lift))
        .route_layer(middleware::from_fn_with_state(state, gate))
}

/// The admin making a call.
#[derive(Debug, Clone)]
pub struct Admin {
    pub id: String,
    /// `None` for the bootstrap admin token.
    pub kind: Option<IdentityKind>,
}

/// What a handler adds to its call's audit record: a more precise action,
/// the assets it touched, and what it did.
#[derive(Debug, Clone, Default)]
pub struct AdminNote {
    action: Option<String>,
    assets: Vec<String>,
    detail: String,
}

impl AdminNote {
    pub fn new(detail: impl Into<String>) -> AdminNote {
        AdminNote { detail: detail.into(), ..AdminNote::default() }
    }

    pub fn action(mut self, action: impl Into<String>) -> AdminNote {
        self.action = Some(action.into());
        self
    }

    pub fn asset(mut self, asset: impl Into<String>) -> AdminNote {
        self.assets.push(asset.into());
        self
    }
}

impl IntoResponseParts for AdminNote {
    type Error = Infallible;

    fn into_response_parts(self, mut res: ResponseParts) -> Result<ResponseParts, Infallible> {
        res.extensions_mut().insert(self);
        Ok(res)
    }
}

/// Why an admin call was refused before it ran.
struct Refusal {
    status: StatusCode,
    message: String,
    /// Whoever the token proved, if it proved anyone.
    principal: Option<(String, IdentityKind)>,
}

fn authenticate(state: &AppState, token: &str) -> Result<Admin, Refusal> {
    let refuse = |status, message: String, principal| Err(Refusal { status, message, principal });
    if token.is_empty() {
        return refuse(StatusCode::UNAUTHORIZED, "admin calls need a bearer token: a Steward token of a principal holding an admin role".into(), None);
    }
    if let Some(bootstrap) = &state.admin_token
        && constant_time_eq(token.as_bytes(), bootstrap.as_bytes())
    {
        return Ok(Admin { id: BOOTSTRAP_ADMIN.into(), kind: None });
    }
    let caller = state.gate.authenticate(token);
    let generation = &caller.generation;
    let principal = match caller.identity.clone() {
        Ok(p) => p,
        Err(e) => {
            let bootstrap = if state.admin_token.is_some() { "or the bootstrap admin token" } else { "(the bootstrap admin token is disabled)" };
            return refuse(
                StatusCode::UNAUTHORIZED,
                format!("admin calls need the token of a principal holding an admin role {bootstrap}; this token was refused: {e}"),
                None,
            );
        }
    };
    let who = Some((principal.id.clone(), principal.kind));
    if principal.kind == IdentityKind::Agent {
        let human = principal.on_behalf_of.as_deref().unwrap_or("its human");
        return refuse(StatusCode::FORBIDDEN, format!("agents never make admin calls: {human} can, with their own token, if they hold an admin role"), who);
    }
    if generation.policy.admin_role(&principal.roles).is_none() {
        return refuse(
            StatusCode::FORBIDDEN,
            format!("{} holds no admin role: a policy role with `admin = true` must be granted to them", principal.id),
            who,
        );
    }
    Ok(Admin { id: principal.id, kind: Some(principal.kind) })
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && !b.is_empty() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Authenticate, run the handler, record the call; the answer carries the
/// record's request id. A call that cannot be recorded is answered 503
/// (saying whether it took effect).
async fn gate(State(state): State<Arc<AppState>>, mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let request_id = state.gate.next_request_id();
    let route = request.extensions().get::<MatchedPath>().map(|m| m.as_str().to_string()).unwrap_or_default();
    let path = clip(request.uri().path(), MAX_REFUSAL_CHARS);
    let call = Call { method: request.method().to_string(), route, path, request_id, started };
    let admin = match authenticate(&state, bearer(request.headers())) {
        Ok(admin) => admin,
        Err(refusal) => {
            let (id, kind) = refusal.principal.map_or((None, None), |(id, kind)| (Some(id), Some(kind)));
            let code = if refusal.status == StatusCode::UNAUTHORIZED { ReasonCode::Unauthenticated } else { ReasonCode::NotPermitted };
            // Refused calls need no token at all: what they put in the
            // record (the message quotes token fields, the path) is cut short.
            let record = call.record(id, kind, Decision::Deny, Reason::new(code, "admin", clip(&refusal.message, MAX_REFUSAL_CHARS)), None);
            if let Err(e) = state.gate.audit.append(record).await {
                tracing::error!(error = %e, "a refused admin call could not be recorded");
            }
            tracing::warn!(route = %call.route, status = refusal.status.as_u16(), reason = %refusal.message, "admin call refused");
            return call.tag(error(refusal.status, refusal.message));
        }
    };
    request.extensions_mut().insert(admin.clone());
    let mut response = next.run(request).await;
    let note = response.extensions_mut().remove::<AdminNote>();
    let status = response.status();
    let decision = if status.is_success() { Decision::Allow } else { Decision::Deny };
    let detail = match &note {
        Some(n) if !n.detail.is_empty() => format!("{}: {}", status, n.detail),
        _ => status.to_string(),
    };
    let record = call.record(Some(admin.id.clone()), admin.kind, decision, Reason::new(ReasonCode::Other, "admin", detail), note);
    if let Err(e) = state.gate.audit.append(record).await {
        tracing::error!(error = %e, admin = %admin.id, route = %call.route, "an admin call could not be recorded");
        let done = if status.is_success() { "it took effect" } else { "it did not take effect" };
        return call.tag(error(StatusCode::SERVICE_UNAVAILABLE, format!("the admin call could not be recorded ({done}): {e}")));
    }
    tracing::info!(admin = %admin.id, route = %call.route, status = status.as_u16(), "admin call");
    call.tag(response)
}

struct Call {
    method: String,
    route: String,
    path: String,
    request_id: String,
    started: Instant,
}

impl Call {
    fn record(&self, principal: Option<String>, kind: Option<IdentityKind>, decision: Decision, reason: Reason, note: Option<AdminNote>) -> AuditRecord {
        let note = note.unwrap_or_default();
        AuditRecord {
            record_type: RecordType::Admin,
            request_id: self.request_id.clone(),
            at_ms: SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0),
            principal,
            kind,
            on_behalf_of: None,
            session_id: None,
            turn_id: None,
            door: None,
            tool: None,
            parent: None,
            action: note.action.unwrap_or_else(|| format!("admin:{} {}", self.method, self.route)),
            assets: if note.assets.is_empty() { vec![self.path.clone()] } else { note.assets },
            intent: None,
            decision,
            reasons: vec![reason],
            obligations: vec![],
            decided_by: vec![],
            shadow: vec![],
            risk: None,
            latency_us: self.started.elapsed().as_micros() as u64,
            query: None,
            access: None,
        }
    }

    /// The answer, carrying the audit record's request id.
    fn tag(&self, mut response: Response) -> Response {
        if let Ok(v) = HeaderValue::from_str(&self.request_id) {
            response.headers_mut().insert("x-steward-request-id", v);
        }
        response.into_response()
    }
}
