//! The MCP door: `/mcp`, streamable HTTP, both protocol revisions
//! (2026-07-28 stateless with `server/discover` and its headers checked
//! against the body; 2025-11-25 with `initialize` and `Mcp-Session-Id`),
//! served by the official SDK (`rmcp`). Steward authenticates every POST
//! itself before the SDK sees it, as an OAuth 2.1 resource server
//! (RFC 9728 metadata, `401` with `WWW-Authenticate`), and every tool call
//! runs through the one gate as the caller ([`tools`]).

mod tools;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rmcp::transport::streamable_http_server::session::local::{LocalSessionManager, SessionConfig};
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use steward_gate::Door;
use steward_model::ReasonCode;

use crate::http::bearer;
use crate::state::AppState;

/// Where the protected-resource metadata is served (RFC 9728).
pub const METADATA_PATH: &str = "/.well-known/oauth-protected-resource";
/// Legacy (2025-11-25) sessions held at most (about 65 KiB each, measured);
/// a new one beyond is refused.
pub const MAX_SESSIONS: usize = 2_000;
/// A legacy session idle this long is closed.
pub const SESSION_IDLE: Duration = Duration::from_secs(120);
/// The first protocol revision without sessions.
const STATELESS_REVISION: &str = "2026-07-28";
/// The largest MCP request body.
const MAX_BODY_BYTES: usize = 256 * 1024;

/// How the MCP door is reached from outside: its public base URL decides
/// the resource id, the `Host` values and the `Origin`s accepted.
#[derive(Debug, Clone)]
pub struct McpConfig {
    /// e.g. `http://127.0.0.1:8080`, no trailing slash.
    pub public_url: String,
}

impl McpConfig {
    pub fn resource(&self) -> String {
        format!("{}/mcp", self.public_url)
    }

    fn metadata_url(&self) -> String {
        format!("{}{METADATA_PATH}", self.public_url)
    }

    /// The authority (`host[:port]`) of the public URL.
    fn authority(&self) -> &str {
        let rest = self.public_url.split_once("://").map_or(self.public_url.as_str(), |(_, r)| r);
        rest.split('/').next().unwrap_or(rest)
    }

    /// The `Host` values accepted: the public authority and its host, and
    /// every loopback name when that is a loopback address.
    fn allowed_hosts(&self) -> Vec<String> {
        let authority = self.authority().to_string();
        let host = match authority.strip_prefix('[') {
            Some(v6) => format!("[{}]", v6.split(']').next().unwrap_or(v6)),
            None => authority.split(':').next().unwrap_or(&authority).to_string(),
        };
        let mut hosts = vec![authority.clone(), host.clone()];
        if ["localhost", "127.0.0.1", "[::1]"].contains(&host.as_str()) {
            hosts.extend(["localhost", "127.0.0.1", "[::1]", "::1"].map(String::from));
        }
        hosts
    }

    /// A public URL is `scheme://authority`, nothing after it.
    pub fn check(&self) -> Result<(), String> {
        let Some((scheme, rest)) = self.public_url.split_once("://") else {
            return Err(format!("--public-url {:?} is not scheme://host[:port]", self.public_url));
        };
        if !matches!(scheme, "http" | "https") || rest.is_empty() || rest.contains('/') || rest.contains(['?', '#', '@']) {
            return Err(format!("--public-url {:?} must be http(s)://host[:port], without a path", self.public_url));
        }
        Ok(())
    }
}

pub fn routes(state: Arc<AppState>, config: McpConfig) -> Router<Arc<AppState>> {
    let mut sessions = LocalSessionManager::default();
    sessions.session_config = session_config();
    let sessions = Arc::new(sessions);
    let hosts = config.allowed_hosts();
    let origin = config.public_url.clone();
    let sdk = StreamableHttpServerConfig::default()
        .with_allowed_hosts(hosts.clone())
        .with_allowed_origins([origin])
        .with_json_response(true)
        .with_legacy_session_mode(true)
        .with_max_request_body_bytes(MAX_BODY_BYTES);
    let handler_state = state.clone();
    let service = StreamableHttpService::new(move || Ok(tools::StewardMcp::new(handler_state.clone())), sessions.clone(), sdk);
    let door = Arc::new(DoorState { config, sessions, hosts });
    let metadata_door = door.clone();
    Router::new()
        .nest_service("/mcp", service)
        .layer(middleware::from_fn_with_state((state, door), authenticate))
        .route(METADATA_PATH, get(move || protected_resource(metadata_door.clone())))
}

fn session_config() -> SessionConfig {
    let mut config = SessionConfig::default();
    config.keep_alive = Some(SESSION_IDLE);
    config
}

struct DoorState {
    config: McpConfig,
    sessions: Arc<LocalSessionManager>,
    hosts: Vec<String>,
}

/// RFC 9728: which resource this is and that tokens come as bearer headers.
async fn protected_resource(door: Arc<DoorState>) -> Response {
    axum::Json(serde_json::json!({
        "resource": door.config.resource(),
        "bearer_methods_supported": ["header"],
        "resource_name": "Steward",
    }))
    .into_response()
}

/// Every request to `/mcp` carries a token Steward accepts, or it is
/// answered `401` with where to learn how to get one; a refused token is
/// recorded like any other. The caller goes to the tools in the request's
/// extensions; no token is passed on.
async fn authenticate(State((state, door)): State<(Arc<AppState>, Arc<DoorState>)>, request: Request, next: Next) -> Response {
    // DNS rebinding first: a request for another host is not ours to
    // authenticate or record. (The SDK checks Host and Origin again.)
    if let Some(host) = request.headers().get(header::HOST).and_then(|h| h.to_str().ok())
        && !door.hosts.iter().any(|h| h.eq_ignore_ascii_case(host))
    {
        return crate::http::error(StatusCode::FORBIDDEN, format!("Host {:?} is not this server's (--public-url)", steward_model::clip(host, 100)));
    }
    let caller = state.gate.authenticate(bearer(request.headers()));
    if let Err(e) = &caller.identity {
        let message = e.to_string();
        state.gate.refuse(&caller, ReasonCode::Unauthenticated, "identity", message.clone(), Door::Mcp { tool: "" }).await;
        let challenge = format!(
            "Bearer resource_metadata=\"{}\", error=\"invalid_token\", error_description=\"{}\"",
            door.config.metadata_url(),
            message.replace(['"', '\\'], "'").chars().filter(|c| !c.is_control()).take(200).collect::<String>()
        );
        let mut response = crate::http::error(StatusCode::UNAUTHORIZED, format!("{message}: send a Steward bearer token"));
        if let Ok(v) = HeaderValue::from_str(&challenge) {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
        return response;
    }
    // Any `initialize` opens a legacy session, whatever version it names:
    // they are bounded (the body is read here, within the same limit the
    // SDK applies, and handed on unchanged).
    let (parts, body) = request.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(b) => b,
        Err(_) => return crate::http::error(StatusCode::PAYLOAD_TOO_LARGE, format!("an MCP request body is at most {MAX_BODY_BYTES} bytes")),
    };
    #[derive(serde::Deserialize)]
    struct Method<'a> {
        #[serde(borrow)]
        method: Option<std::borrow::Cow<'a, str>>,
    }
    let opens_session = serde_json::from_slice::<Method>(&bytes).ok().and_then(|m| m.method).is_some_and(|m| m == "initialize");
    if opens_session && door.sessions.sessions.read().await.len() >= MAX_SESSIONS {
        return crate::http::error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("{MAX_SESSIONS} MCP sessions are open; retry later, or speak protocol revision {STATELESS_REVISION}, which needs none"),
        );
    }
    let mut request = Request::from_parts(parts, axum::body::Body::from(bytes));
    request.extensions_mut().insert(Arc::new(caller));
    next.run(request).await
}
