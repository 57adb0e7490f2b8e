//! The group-committing writer thread, which also signs the checkpoints.

use std::path::Path;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ed25519_dalek::SigningKey;
use rusqlite::Connection;
use tokio::sync::oneshot;

use crate::checkpoint::{Checkpoint, Witness};
use crate::store::{self, Durability};
use crate::{AuditError, AuditRecord};

/// Most records one commit takes.
const MAX_BATCH: usize = 4096;

/// Signed checkpoints of the log's head.
pub struct Checkpointing {
    /// The audit key: kept outside the database (and, to be worth
    /// anything, away from whoever can write the database).
    pub key: SigningKey,
    pub witness: Witness,
    /// A checkpoint at most this long after a record was committed...
    pub every: Duration,
    /// ...and after at most this many records.
    pub every_records: u64,
}

enum Message {
    Append(AuditRecord, oneshot::Sender<Result<u64, String>>),
    /// Sign the head now if records came since the last checkpoint.
    Checkpoint(oneshot::Sender<Result<Option<Checkpoint>, String>>),
}

/// Appends records durably. Cloning is cheap; all clones feed one thread.
#[derive(Clone)]
pub struct AuditWriter {
    tx: mpsc::Sender<Message>,
}

impl AuditWriter {
    /// Open (or create) the log at `path` and start its writer thread.
    /// With `checkpointing`, the log must match the witness's latest
    /// checkpoint (a log rewritten, cut off or swapped while the host was
    /// down is refused, not signed over), and its head is signed at once
    /// if the witness does not have it yet.
    pub fn start(path: &Path, durability: Durability, checkpointing: Option<Checkpointing>) -> Result<AuditWriter, AuditError> {
        let conn = store::open(path, durability)?;
        let head = store::head(&conn)?;
        let mut signer = match checkpointing {
            Some(c) => {
                let log_id = store::log_id(&conn)?.ok_or_else(|| AuditError::Commit("the log has no id".into()))?;
                let mut signer = Signer { last: None, config: c, log_id, since: None };
                signer.resume(&conn, path, &head)?;
                Some(signer)
            }
            None => None,
        };
        let (tx, rx) = mpsc::channel::<Message>();
        std::thread::Builder::new()
            .name("steward-audit".into())
            .spawn(move || {
                let mut thread = WriterThread { conn, head };
                loop {
                    let timeout = signer.as_ref().and_then(Signer::due_in).unwrap_or(Duration::from_secs(3600));
                    let first = match rx.recv_timeout(timeout) {
                        Ok(m) => m,
                        Err(RecvTimeoutError::Timeout) => {
                            if let Some(s) = signer.as_mut() {
                                let _ = s.sign_head(&thread.head);
                            }
                            continue;
                        }
                        Err(RecvTimeoutError::Disconnected) => break,
                    };
                    let mut batch = Vec::new();
                    let mut asks = Vec::new();
                    let mut next = Some(first);
                    while let Some(m) = next.take() {
                        match m {
                            Message::Append(record, reply) => batch.push((record, reply)),
                            Message::Checkpoint(reply) => asks.push(reply),
                        }
                        if batch.len() < MAX_BATCH {
                            next = rx.try_recv().ok();
                        }
                    }
                    if !batch.is_empty() {
                        thread.commit(batch);
                        if let Some(s) = signer.as_mut() {
                            s.committed(&thread.head);
                        }
                    }
                    // Under steady load the queue never runs dry, so the
                    // timeout above never fires: sign when due here too.
                    if let Some(s) = signer.as_mut()
                        && s.due_in() == Some(Duration::ZERO)
                    {
                        let _ = s.sign_head(&thread.head);
                    }
                    for reply in asks {
                        let signed = match signer.as_mut() {
                            Some(s) => s.sign_head(&thread.head),
                            None => Ok(None),
                        };
                        let _ = reply.send(signed);
                    }
                }
                // Every writer handle is gone: the log's last head.
                if let Some(s) = signer.as_mut() {
                    let _ = s.sign_head(&thread.head);
                }
            })
            .map_err(|e| AuditError::Commit(format!("cannot start the audit thread: {e}")))?;
        Ok(AuditWriter { tx })
    }

    /// Append one record; resolves once it is committed, with its sequence
    /// number.
    pub async fn append(&self, record: AuditRecord) -> Result<u64, AuditError> {
        let (reply, wait) = oneshot::channel();
        self.tx.send(Message::Append(record, reply)).map_err(|_| AuditError::WriterGone)?;
        match wait.await {
            Ok(Ok(seq)) => Ok(seq),
            Ok(Err(e)) => Err(AuditError::Commit(e)),
            Err(_) => Err(AuditError::WriterGone),
        }
    }

    /// Sign the head now (at shutdown); `None` when checkpointing is off
    /// or the witness already has the head.
    pub async fn checkpoint(&self) -> Result<Option<Checkpoint>, AuditError> {
        let (reply, wait) = oneshot::channel();
        self.tx.send(Message::Checkpoint(reply)).map_err(|_| AuditError::WriterGone)?;
        wait.await.map_err(|_| AuditError::WriterGone)?.map_err(AuditError::Witness)
    }
}

struct WriterThread {
    conn: Connection,
    head: (u64, String),
}

impl WriterThread {
    fn commit(&mut self, batch: Vec<(AuditRecord, oneshot::Sender<Result<u64, String>>)>) {
        let (records, replies): (Vec<AuditRecord>, Vec<_>) = batch.into_iter().unzip();
        match store::append(&mut self.conn, &mut self.head, &records) {
            Ok(seqs) => {
                for (reply, seq) in replies.into_iter().zip(seqs) {
                    let _ = reply.send(Ok(seq));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, records = records.len(), "audit commit failed");
                // The head may have moved on disk if the commit partly
                // happened; re-read it.
                if let Ok(h) = store::head(&self.conn) {
                    self.head = h;
                }
                for reply in replies {
                    let _ = reply.send(Err(e.to_string()));
                }
            }
        }
    }
}

/// Signs the head when it is due.
struct Signer {
    config: Checkpointing,
    log_id: String,
    /// The sequence number of the last checkpoint written.
    last: Option<u64>,
    /// When the first record not yet covered by a checkpoint was committed.
    since: Option<Instant>,
}

impl Signer {
    /// Hold the log against the witness's latest checkpoint, then sign its
    /// head if the witness does not have it.
    fn resume(&mut self, conn: &Connection, path: &Path, head: &(u64, String)) -> Result<(), AuditError> {
        let refuse = |why: String| {
            AuditError::Witness(format!(
                "the audit log {} does not match the latest checkpoint in {}: {why}. Run `steward audit verify` to see what changed; \
                 to start a new log, move both the database and the witness folder aside",
                path.display(),
                self.config.witness.dir().display()
            ))
        };
        let latest = self.config.witness.latest().map_err(|e| AuditError::Witness(format!("reading {}: {e}", self.config.witness.dir().display())))?;
        if let Some(entry) = latest
            && let Ok(cp) = entry.checkpoint
        {
            cp.verify(&self.config.key.verifying_key()).map_err(|e| refuse(format!("{}: {e}", entry.path.display())))?;
            if cp.log_id != self.log_id {
                return Err(refuse(format!("it is signed for log {}, this database is log {}", cp.log_id, self.log_id)));
            }
            if cp.seq > head.0 {
                return Err(refuse(format!("it covers records up to {}, the log ends at record {}", cp.seq, head.0)));
            }
            if store::hash_at(conn, cp.seq)?.as_deref() != Some(cp.head.as_str()) && cp.seq > 0 {
                return Err(refuse(format!("record {} does not have the hash it was signed with", cp.seq)));
            }
            // Records after it (acknowledged before a kill, say) are about
            // to be signed: they must at least chain to it.
            if let Some(seq) = store::first_break_after(conn, cp.seq, &cp.head)? {
                return Err(refuse(format!("record {seq}, after the checkpoint, does not chain to the records before it")));
            }
            self.last = Some(cp.seq);
        }
        if self.last != Some(head.0) {
            self.sign_head(head).map_err(AuditError::Witness)?;
        }
        Ok(())
    }

    fn committed(&mut self, head: &(u64, String)) {
        self.since.get_or_insert_with(Instant::now);
        if head.0.saturating_sub(self.last.unwrap_or(0)) >= self.config.every_records {
            let _ = self.sign_head(head);
        }
    }

    /// How long until a time-based checkpoint is due; `None`: nothing to sign.
    fn due_in(&self) -> Option<Duration> {
        self.since.map(|since| self.config.every.saturating_sub(since.elapsed()))
    }

    fn sign_head(&mut self, head: &(u64, String)) -> Result<Option<Checkpoint>, String> {
        self.since = None;
        if self.last == Some(head.0) {
            return Ok(None);
        }
        let at_ms = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0);
        let checkpoint = Checkpoint::sign(&self.config.key, &self.log_id, head.0, &head.1, at_ms);
        match self.config.witness.write(&checkpoint) {
            Ok(path) => {
                tracing::debug!(seq = head.0, path = %path.display(), "audit checkpoint signed");
                self.last = Some(head.0);
                Ok(Some(checkpoint))
            }
            Err(e) => {
                let message = format!("cannot write an audit checkpoint to {}: {e}", self.config.witness.dir().display());
                tracing::error!(error = %message, "audit checkpoint not written; records since the last one are not yet covered");
                // Try again after the usual interval.
                self.since = Some(Instant::now());
                Err(message)
            }
        }
    }
}
