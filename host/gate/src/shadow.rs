//! Shadow SOPs, off the answer's path. A decision hands back the calls its
//! shadow-mode SOPs would have had ([`steward_pipeline::ShadowCall`]); once
//! its own record is committed and its answer can leave, they go to a
//! bounded queue that one worker drains: it makes the calls on the plugin
//! set and policy live when the decision was recorded (a plugin swapped out
//! by then is a vote saying so), and records what each would have decided
//! as a `shadow` record whose `parent` is the decision, waiting for each
//! record to commit before the next job, so a slow audit log fills the
//! queue instead of memory.
//!
//! Shadow calls are sampled: at most a set number of decisions a second
//! have theirs made (`--shadow-per-second`), so the plugins being tried
//! out never take more than a bounded share of the host's CPU from the
//! answers; and when the queue is full they are skipped too. The
//! decision's own record lists its shadow voters and what became of their
//! calls. Shadows are never paid for by the answer.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use serde_json::json;
use steward_audit::{AuditRecord, AuditWriter, RecordType};
use steward_pipeline::ShadowCall;
use steward_policy::Policy;
use steward_runtime::PluginSet;
use tokio::sync::mpsc;
use tracing::Instrument;

/// Decisions whose shadow calls may wait at most.
const QUEUE: usize = 1024;
/// Decisions a second whose shadow calls are made, by default.
pub const DEFAULT_PER_SECOND: u32 = 500;

/// One decision's shadow calls, and what its shadow record starts from.
pub(crate) struct Job {
    /// A copy of the decision's record; becomes the shadow record.
    record: AuditRecord,
    calls: Vec<ShadowCall>,
    plugins: Arc<PluginSet>,
    policy: Arc<Policy>,
}

pub(crate) struct Shadows {
    /// Started with the first decision that has shadow calls (inside the
    /// runtime).
    queue: OnceLock<mpsc::Sender<Job>>,
    per_second: u32,
    /// This second (since the Unix epoch) and the decisions it sampled.
    window: Mutex<(u64, u32)>,
}

/// Why a decision's shadow calls were not made.
pub(crate) enum Skipped {
    Sampled(u32),
    QueueFull,
    /// The worker has ended (it only does if it panicked, or at shutdown).
    WorkerGone,
}

/// A place in the queue, held while the decision is recorded.
pub(crate) type Slot<'a> = mpsc::Permit<'a, Job>;

impl Shadows {
    /// At most `per_second` decisions a second have their shadow calls made.
    pub(crate) fn new(per_second: u32) -> Shadows {
        Shadows { queue: OnceLock::new(), per_second, window: Mutex::new((0, 0)) }
    }

    /// A place for one decision's shadow calls, or why there is none.
    pub(crate) fn reserve(&self, audit: &AuditWriter) -> Result<Slot<'_>, Skipped> {
        let second = crate::unix_seconds();
        {
            let mut window = self.window.lock().map_err(|_| Skipped::Sampled(self.per_second))?;
            if window.0 != second {
                *window = (second, 0);
            }
            if window.1 >= self.per_second {
                return Err(Skipped::Sampled(self.per_second));
            }
            window.1 += 1;
        }
        let tx = self.queue.get_or_init(|| {
            let (tx, rx) = mpsc::channel(QUEUE);
            start_worker(rx, audit.clone());
            tx
        });
        tx.try_reserve().map_err(|e| match e {
            mpsc::error::TrySendError::Full(()) => Skipped::QueueFull,
            mpsc::error::TrySendError::Closed(()) => Skipped::WorkerGone,
        })
    }
}

/// What the decision's record says of its shadow calls.
pub(crate) fn noted(calls: &[ShadowCall], slot: &Result<Slot<'_>, Skipped>) -> Vec<serde_json::Value> {
    let status = match slot {
        Ok(_) => "evaluated after the answer (see the shadow record)".to_string(),
        Err(Skipped::Sampled(0)) => "skipped: shadow calls are off (--shadow-per-second 0)".to_string(),
        Err(Skipped::Sampled(n)) => format!("skipped: sampled, at most {n} decisions a second have shadow calls (--shadow-per-second)"),
        Err(Skipped::QueueFull) => "skipped: the shadow queue was full".to_string(),
        Err(Skipped::WorkerGone) => "skipped: the shadow worker has stopped (see the server log)".to_string(),
    };
    calls.iter().map(|c| json!({ "voter": c.voter, "status": status })).collect()
}

/// Queue `calls` in `slot`; `decision` is a copy of the decision's
/// committed record, which becomes the shadow record.
pub(crate) fn queue(slot: Slot<'_>, decision: AuditRecord, request_id: String, calls: Vec<ShadowCall>, plugins: Arc<PluginSet>, policy: Arc<Policy>) {
    let mut record = decision;
    record.record_type = RecordType::Shadow;
    record.parent = Some(std::mem::replace(&mut record.request_id, request_id));
    record.reasons.clear();
    record.obligations.clear();
    record.decided_by.clear();
    record.query = None;
    slot.send(Job { record, calls, plugins, policy });
}

/// The worker runs on a thread of its own, at a lower scheduling priority
/// than the request threads: a shadow plugin's call (a few hundred µs for
/// the Python and JavaScript twins) never holds up a tokio worker that has
/// answers to send, and the shadows get the CPU the answers leave. If the
/// thread cannot start, the queue closes and decisions say the worker has
/// stopped.
fn start_worker(rx: mpsc::Receiver<Job>, audit: AuditWriter) {
    let started = std::thread::Builder::new().name("steward-shadow".into()).spawn(move || {
        lower_priority();
        match tokio::runtime::Builder::new_current_thread().enable_all().build() {
            Ok(rt) => rt.block_on(work(rx, audit)),
            Err(e) => tracing::error!(error = %e, "the shadow worker could not start; shadow calls are skipped"),
        }
    });
    if let Err(e) = started {
        tracing::error!(error = %e, "the shadow worker thread could not start; shadow calls are skipped");
    }
}

/// Nice the calling thread (Linux schedules threads one by one); best effort.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: gettid and setpriority take no pointers; they change only this
    // thread's scheduling priority.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        if libc::setpriority(libc::PRIO_PROCESS, tid, 10) != 0 {
            tracing::debug!("the shadow worker keeps its priority (setpriority failed)");
        }
    }
}

async fn work(mut rx: mpsc::Receiver<Job>, audit: AuditWriter) {
    while let Some(job) = rx.recv().await {
        let started = Instant::now();
        let span = tracing::info_span!("shadow", parent = job.record.parent.as_deref().unwrap_or(""), calls = job.calls.len());
        let votes = steward_pipeline::sop::evaluate_shadow(&*job.plugins, &job.policy, job.calls).instrument(span).await;
        let mut record = job.record;
        record.shadow = votes.iter().filter_map(|v| serde_json::to_value(v).ok()).collect();
        record.latency_us = started.elapsed().as_micros() as u64;
        record.at_ms = crate::unix_millis();
        // Waiting for the commit keeps what is in flight bounded by the queue.
        if let Err(e) = audit.append(record).await {
            tracing::error!(error = %e, "shadow votes not recorded");
        }
    }
}
