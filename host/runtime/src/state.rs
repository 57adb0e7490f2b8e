//! What one plugin store holds: a WASI context with nothing ambient, the
//! memory limiter, the policy snapshot the catalog import reads, and the
//! call's deadline.

use std::sync::Arc;
use std::time::Instant;

use steward_policy::Policy;
use wasmtime::StoreLimits;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

/// Log lines one call may emit.
pub const LOG_LINES_PER_CALL: u32 = 32;

pub struct PluginState {
    pub wasi: WasiCtx,
    pub table: ResourceTable,
    pub limits: StoreLimits,
    /// The policy (catalog) the current call sees through the catalog import.
    pub policy: Option<Arc<Policy>>,
    /// What the `context` import returns during the current call.
    pub context: Option<Arc<steward_model::RequestContext>>,
    /// `name@version`, for logs and errors.
    pub label: String,
    pub log_budget: u32,
    /// When the current call must end.
    pub deadline: Instant,
}

impl WasiView for PluginState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}
