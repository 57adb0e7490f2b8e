//! The group-committing writer thread.

use std::path::Path;
use std::sync::mpsc;

use tokio::sync::oneshot;

use crate::store::{self, Durability};
use crate::{AuditError, AuditRecord};

/// Most records one commit takes.
const MAX_BATCH: usize = 4096;

type Pending = (AuditRecord, oneshot::Sender<Result<u64, String>>);

/// Appends records durably. Cloning is cheap; all clones feed one thread.
#[derive(Clone)]
pub struct AuditWriter {
    tx: mpsc::Sender<Pending>,
}

impl AuditWriter {
    /// Open (or create) the log at `path` and start its writer thread.
    pub fn start(path: &Path, durability: Durability) -> Result<AuditWriter, AuditError> {
        let mut conn = store::open(path, durability)?;
        let mut head = store::head(&conn)?;
        let (tx, rx) = mpsc::channel::<Pending>();
        std::thread::Builder::new()
            .name("steward-audit".into())
            .spawn(move || {
                while let Ok(first) = rx.recv() {
                    let mut batch = vec![first];
                    while batch.len() < MAX_BATCH {
                        match rx.try_recv() {
                            Ok(p) => batch.push(p),
                            Err(_) => break,
                        }
                    }
                    let (records, replies): (Vec<AuditRecord>, Vec<_>) = batch.into_iter().unzip();
                    match store::append(&mut conn, &mut head, &records) {
                        Ok(seqs) => {
                            for (reply, seq) in replies.into_iter().zip(seqs) {
                                let _ = reply.send(Ok(seq));
                            }
                        }
                        Err(e) => {
                            tracing::error!(error = %e, records = records.len(), "audit commit failed");
                            // The head may have moved on disk if the commit
                            // partly happened; re-read it.
                            if let Ok(h) = store::head(&conn) {
                                head = h;
                            }
                            for reply in replies {
                                let _ = reply.send(Err(e.to_string()));
                            }
                        }
                    }
                }
            })
            .map_err(|e| AuditError::Commit(format!("cannot start the audit thread: {e}")))?;
        Ok(AuditWriter { tx })
    }

    /// Append one record; resolves once it is committed, with its sequence
    /// number.
    pub async fn append(&self, record: AuditRecord) -> Result<u64, AuditError> {
        let (reply, wait) = oneshot::channel();
        self.tx.send((record, reply)).map_err(|_| AuditError::WriterGone)?;
        match wait.await {
            Ok(Ok(seq)) => Ok(seq),
            Ok(Err(e)) => Err(AuditError::Commit(e)),
            Err(_) => Err(AuditError::WriterGone),
        }
    }
}
