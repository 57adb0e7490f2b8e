//! Shadow SOPs, off the answer's path. A decision hands back the calls its
//! shadow-mode SOPs would have had ([`steward_pipeline::ShadowCall`]); once
//! its own record is committed and its answer can leave, they go to a
//! bounded queue that one worker drains: it makes the calls on the plugin
//! set the decision was made on, and records what each would have decided
//! as a `shadow` record whose `parent` is the decision. The decision's own
//! record lists the shadow voters and whether their calls were queued.
//! When the queue is full the calls are skipped, and the decision's record
//! says so: shadows are sampled under load, never paid for by the answer.

use std::sync::{Arc, OnceLock};
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

/// One decision's shadow calls, and what its shadow record starts from.
pub(crate) struct Job {
    /// A copy of the decision's record; becomes the shadow record.
    record: AuditRecord,
    calls: Vec<ShadowCall>,
    plugins: Arc<PluginSet>,
    policy: Arc<Policy>,
}

#[derive(Default)]
pub(crate) struct Shadows {
    /// Started with the first decision that has shadow calls (inside the
    /// runtime).
    queue: OnceLock<mpsc::Sender<Job>>,
}

/// A place in the queue, held while the decision is recorded.
pub(crate) type Slot<'a> = mpsc::Permit<'a, Job>;

impl Shadows {
    /// A place for one decision's shadow calls, if the queue has one.
    pub(crate) fn reserve(&self, audit: &AuditWriter) -> Option<Slot<'_>> {
        let tx = self.queue.get_or_init(|| {
            let (tx, rx) = mpsc::channel(QUEUE);
            tokio::spawn(work(rx, audit.clone()));
            tx
        });
        tx.try_reserve().ok()
    }
}

/// What the decision's record says of its shadow calls.
pub(crate) fn noted(calls: &[ShadowCall], queued: bool) -> Vec<serde_json::Value> {
    let status = if queued { "evaluated after the answer (see the shadow record)" } else { "skipped: the shadow queue was full" };
    calls.iter().map(|c| json!({ "voter": c.voter, "status": status })).collect()
}

/// Queue `calls` in `slot`; `decision` is the decision's committed record.
pub(crate) fn queue(slot: Slot<'_>, decision: &AuditRecord, request_id: String, calls: Vec<ShadowCall>, plugins: Arc<PluginSet>, policy: Arc<Policy>) {
    let mut record = decision.clone();
    record.record_type = RecordType::Shadow;
    record.parent = Some(decision.request_id.clone());
    record.request_id = request_id;
    record.reasons.clear();
    record.obligations.clear();
    record.decided_by.clear();
    record.query = None;
    slot.send(Job { record, calls, plugins, policy });
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
        let audit = audit.clone();
        // The commit is the writer's; the next job need not wait for it.
        tokio::spawn(async move {
            if let Err(e) = audit.append(record).await {
                tracing::error!(error = %e, "shadow votes not recorded");
            }
        });
    }
}
