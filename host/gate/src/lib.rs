//! The one gate. Every door (HTTP's `/v1`, MCP, and the tool plugins'
//! call-backs) authenticates its caller once ([`Gate::authenticate`]) and
//! hands the result here: the same pipeline decides, the same query path
//! analyses, rewrites, budgets and runs, and the same audit record is
//! written before the answer leaves, naming the door it came through. No
//! door holds a rule of its own.

pub mod access;
pub mod alternatives;
pub mod catalog;
mod decide;
mod generation;
mod memo;
mod query;
pub mod schema;
mod shadow;
pub mod tools;

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwap;
use steward_audit::AuditWriter;
use steward_budget::BudgetStore;
use steward_model::Principal;
use steward_pipeline::Outcome;
use steward_pipeline::identity::IdentityError;
use steward_runtime::Registry;
use steward_sql::Dialect;
use steward_warehouse::{Engine, Warehouse};

pub use decide::audit_record;
pub use shadow::DEFAULT_PER_SECOND as DEFAULT_SHADOW_PER_SECOND;
pub use generation::PolicyGeneration;
pub use alternatives::{Alternative, AlternativeKind, Instead};
pub use query::{QueryAnswer, QueryInput};
use schema::SchemaCache;

/// Which way a request came in; recorded with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Door {
    /// `/v1/decide`, `/v1/query`, `/v1/catalog`.
    Http,
    /// `/mcp`, through one of its built-in tools (`""`: before any tool,
    /// e.g. a refused token).
    Mcp { tool: &'static str },
    /// A tool plugin invoked over HTTP (`POST /v1/tools/{name}`).
    HttpTool(Arc<str>),
    /// A tool plugin invoked as an MCP tool.
    McpTool(Arc<str>),
    /// A tool plugin's call-back, made within the invocation `parent`.
    CallBack { tool: Arc<str>, parent: Arc<str> },
    /// A dry run of an alternative, made for the request `parent`.
    Probe { parent: Arc<str> },
}

impl Door {
    pub fn as_str(&self) -> &'static str {
        match self {
            Door::Http | Door::HttpTool(_) => "http",
            Door::Mcp { .. } | Door::McpTool(_) => "mcp",
            Door::CallBack { .. } => "tool",
            Door::Probe { .. } => "probe",
        }
    }

    /// The tool it came through, if any: an MCP tool or a tool plugin.
    pub fn tool(&self) -> Option<&str> {
        match self {
            Door::Http | Door::Probe { .. } => None,
            Door::Mcp { tool } => Some(*tool).filter(|t| !t.is_empty()),
            Door::HttpTool(tool) | Door::McpTool(tool) | Door::CallBack { tool, .. } => Some(tool),
        }
    }

    /// The request this one is made within.
    pub fn parent(&self) -> Option<&str> {
        match self {
            Door::CallBack { parent, .. } | Door::Probe { parent } => Some(parent),
            _ => None,
        }
    }
}

/// A caller as its token proved it, against one policy generation: the
/// same generation serves the rest of the request.
pub struct Caller {
    pub generation: Arc<PolicyGeneration>,
    pub identity: Result<Principal, IdentityError>,
}

impl Caller {
    pub fn principal(&self) -> Option<&Principal> {
        self.identity.as_ref().ok()
    }

    /// The outcome a request of this caller starts from: a deny not yet
    /// decided, naming the principal; or, when the token was refused, the
    /// deny saying why.
    pub fn outcome(&self, request_id: String) -> Outcome {
        match &self.identity {
            Ok(principal) => {
                let mut outcome = Outcome::empty(request_id);
                outcome.principal = Some(principal.clone());
                outcome
            }
            Err(e) => Outcome::refused_identity(request_id, e),
        }
    }
}

/// Where queries run and what they are charged to.
pub struct DataPlane {
    pub warehouse: Warehouse,
    pub budgets: BudgetStore,
    /// Access requests and the time-bounded grants they become.
    pub access: Arc<dyn steward_access::AccessStore>,
    /// Rows one query returns at most.
    pub max_rows: u64,
}

pub struct Gate {
    /// The live policy generation (policy + token verifier); reloads swap it.
    pub policy: ArcSwap<PolicyGeneration>,
    pub registry: Registry,
    pub audit: AuditWriter,
    pub warehouse: Arc<Warehouse>,
    pub budgets: BudgetStore,
    pub schemas: Arc<SchemaCache>,
    pub max_rows: u64,
    /// Analyses and rewrites of repeated statements.
    pub plans: steward_sql::PlanCache,
    memo: memo::Memo,
    shadows: shadow::Shadows,
    grants: access::Grants,
}

impl Gate {
    pub fn new(policy: PolicyGeneration, registry: Registry, audit: AuditWriter, data: DataPlane) -> Gate {
        Gate {
            policy: ArcSwap::from_pointee(policy),
            registry,
            audit,
            warehouse: Arc::new(data.warehouse),
            budgets: data.budgets,
            schemas: Arc::default(),
            max_rows: data.max_rows,
            plans: steward_sql::PlanCache::default(),
            memo: memo::Memo::default(),
            shadows: shadow::Shadows::new(shadow::DEFAULT_PER_SECOND),
            grants: access::Grants::new(data.access),
        }
    }

    /// At most `per_second` decisions a second have their shadow SOPs'
    /// calls made (after their answers); the others' records say they
    /// were sampled out.
    pub fn with_shadow_rate(mut self, per_second: u32) -> Gate {
        self.shadows = shadow::Shadows::new(per_second);
        self
    }

    /// Who `token` proves, against the live policy generation.
    pub fn authenticate(&self, token: &str) -> Caller {
        let generation = self.policy.load_full();
        let identity = tracing::debug_span!("identity")
            .in_scope(|| steward_pipeline::identity::authenticate(&generation.verifier, &generation.policy, token, unix_seconds()));
        Caller { generation, identity }
    }

    /// Whether `action` could ever be allowed for `caller`
    /// ([`steward_pipeline::reach::could_allow`]): what a door asks before
    /// it shows a tool.
    pub fn could_allow(&self, caller: &Caller, action: &str) -> bool {
        let Some(principal) = caller.principal() else { return false };
        let plugins = self.registry.current();
        let asker = memo::Asker::new(caller.generation.number, &plugins, principal);
        self.memo.could_allow(&asker, action, || steward_pipeline::reach::could_allow(&caller.generation.policy, &*plugins, principal, action))
    }

    /// The SQL dialect of the warehouse.
    pub fn dialect(&self) -> Dialect {
        match self.warehouse.engine() {
            Engine::Sqlite => Dialect::Sqlite,
            Engine::Postgres => Dialect::Postgres,
        }
    }

    /// A request id unique within this process and unlikely to repeat
    /// across restarts: the same sequence the registry draws the ids of
    /// plugin test requests from.
    pub fn next_request_id(&self) -> String {
        self.registry.request_ids().next()
    }
}

pub fn unix_seconds() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

pub(crate) fn unix_millis() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}
