//! What one plugin store holds: a WASI context with nothing ambient, the
//! memory limiter, the policy snapshot the catalog import reads, and the
//! call's clock.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use steward_policy::Policy;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::clock::CallClock;
use crate::limiter::MemoryLimiter;
use crate::tool::Invocation;

/// Log lines one call may emit.
pub const LOG_LINES_PER_CALL: u32 = 32;
/// Log lines one plugin version may emit per second, all its instances
/// together.
pub const LOG_LINES_PER_SECOND: u64 = 100;
/// Characters of one log message; fields per line; bytes of a field's key
/// and of its value. Longer ones are cut.
pub const LOG_MESSAGE_CHARS: usize = 1024;
pub const LOG_FIELDS: usize = 16;
pub const LOG_KEY_BYTES: usize = 64;
pub const LOG_VALUE_BYTES: usize = 256;

/// A per-second budget of log lines shared by a version's instances.
#[derive(Debug, Default)]
pub struct LogRate {
    /// The second (Unix time) the count is for, and lines counted in it,
    /// packed as `second << 20 | count`.
    window: AtomicU64,
    dropped: AtomicU64,
}

impl LogRate {
    /// Whether one more line may be written now. When a new second starts,
    /// returns how many lines the last windows dropped, to say so once.
    pub fn admit(&self) -> (bool, u64) {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        let mut reported = 0;
        let admitted = self
            .window
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |w| {
                let (second, count) = (w >> 20, w & 0xFFFFF);
                if second != now {
                    Some((now << 20) | 1)
                } else if count < LOG_LINES_PER_SECOND {
                    Some(w + 1)
                } else {
                    None
                }
            })
            .map(|previous| {
                if previous >> 20 != now {
                    reported = self.dropped.swap(0, Ordering::AcqRel);
                }
            })
            .is_ok();
        if !admitted {
            self.dropped.fetch_add(1, Ordering::AcqRel);
        }
        (admitted, reported)
    }
}

pub struct PluginState {
    pub wasi: WasiCtx,
    pub table: ResourceTable,
    pub limiter: MemoryLimiter,
    /// The policy (catalog) the current call sees through the catalog import.
    pub policy: Option<Arc<Policy>>,
    /// What the `context` import returns during the current call.
    pub context: Option<Arc<steward_model::RequestContext>>,
    /// `name@version`, for logs and errors.
    pub label: String,
    pub log_budget: u32,
    pub log_rate: Arc<LogRate>,
    /// The current call's CPU budget and wall-clock backstop.
    pub clock: Arc<CallClock>,
    /// A tool's store: its catalog import shows only what the caller of
    /// the current invocation may see (nothing outside an invocation).
    pub is_tool: bool,
    /// The current tool invocation, whose caller every call-back acts as.
    pub(crate) invocation: Option<Invocation>,
}

impl WasiView for PluginState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}
