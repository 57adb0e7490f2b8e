//! Signed checkpoints, as transparency logs keep them (Certificate
//! Transparency's signed tree heads, Trillian and Rekor checkpoints): the
//! host signs (log id, sequence number, head hash, time) with an audit key
//! that is not in the database, and writes the result to a witness folder
//! of its own. Whoever can rewrite the database but not sign cannot make
//! an edited, truncated or swapped log match the checkpoints.
//!
//! A checkpoint is a short text, the signed body first and the signature
//! line last:
//!
//! ```text
//! steward-audit-checkpoint/v1
//! log 3f9c0e2a7b1d4c58
//! seq 1042
//! head 9a1e...c3
//! time 1796112000123
//!
//! - 5d41402abc4b2a76 <base64 Ed25519 signature over the lines above>
//! ```

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

const HEADER: &str = "steward-audit-checkpoint/v1";
/// A checkpoint file is a few hundred bytes; anything larger is not one.
const MAX_CHECKPOINT_BYTES: u64 = 4096;
/// Checkpoints kept in a witness folder; older ones are removed. The
/// newest covers every record before it; older ones only narrow down where
/// a rewrite happened.
pub const KEEP_CHECKPOINTS: usize = 1000;
const FILE_SUFFIX: &str = ".checkpoint";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub log_id: String,
    /// The last record covered.
    pub seq: u64,
    /// That record's hash.
    pub head: String,
    /// Milliseconds since the Unix epoch.
    pub at_ms: u64,
    /// Which audit key signed it: [`key_id`] of its public half.
    pub key_id: String,
    pub signature: [u8; 64],
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CheckpointError {
    #[error("{0}")]
    Malformed(String),
    #[error("signed by key {found}, not by the audit key {expected}")]
    WrongKey { expected: String, found: String },
    #[error("the signature does not verify with the audit key")]
    BadSignature,
}

/// A short, stable name for an audit public key: the first 8 bytes of its
/// SHA-256, hex.
pub fn key_id(public: &VerifyingKey) -> String {
    hex::encode(&Sha256::digest(public.as_bytes())[..8])
}

impl Checkpoint {
    pub fn sign(key: &SigningKey, log_id: &str, seq: u64, head: &str, at_ms: u64) -> Checkpoint {
        let body = body(log_id, seq, head, at_ms);
        Checkpoint {
            log_id: log_id.to_string(),
            seq,
            head: head.to_string(),
            at_ms,
            key_id: key_id(&key.verifying_key()),
            signature: key.sign(body.as_bytes()).to_bytes(),
        }
    }

    pub fn to_text(&self) -> String {
        format!("{}\n- {} {}\n", body(&self.log_id, self.seq, &self.head, self.at_ms), self.key_id, STANDARD.encode(self.signature))
    }

    /// Parse a checkpoint's text (its signature is not checked here).
    pub fn parse(text: &str) -> Result<Checkpoint, CheckpointError> {
        let bad = |what: &str| CheckpointError::Malformed(what.to_string());
        let mut lines = text.lines();
        if lines.next() != Some(HEADER) {
            return Err(bad("the first line is not steward-audit-checkpoint/v1"));
        }
        let mut field = |name: &str| {
            lines
                .next()
                .and_then(|l| l.strip_prefix(name))
                .and_then(|v| v.strip_prefix(' '))
                .map(str::to_string)
                .ok_or_else(|| bad(&format!("no {name} line")))
        };
        let log_id = field("log")?;
        let seq = number(&field("seq")?).ok_or_else(|| bad("seq is not a number"))?;
        let head = field("head")?;
        let at_ms = number(&field("time")?).ok_or_else(|| bad("time is not a number"))?;
        if lines.next() != Some("") {
            return Err(bad("no blank line before the signature"));
        }
        let sig_line = lines.next().ok_or_else(|| bad("no signature line"))?;
        if lines.any(|l| !l.is_empty()) {
            return Err(bad("text after the signature line"));
        }
        let mut parts = sig_line.strip_prefix("- ").ok_or_else(|| bad("the signature line does not start with '- '"))?.split(' ');
        let (Some(key_id), Some(sig), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad("the signature line is not '- KEY_ID SIGNATURE'"));
        };
        let signature = STANDARD.decode(sig).ok().and_then(|s| <[u8; 64]>::try_from(s).ok()).ok_or_else(|| bad("the signature is not 64 bytes of base64"))?;
        let valid_hex = |s: &str, len: usize| s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase());
        if !valid_hex(&head, 64) {
            return Err(bad("head is not a 64-digit lowercase hex hash"));
        }
        if log_id.is_empty() || log_id.len() > 64 || !log_id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err(bad("log is not a log id"));
        }
        if !valid_hex(key_id, 16) {
            return Err(bad("the key id is not 16 lowercase hex digits"));
        }
        Ok(Checkpoint { log_id, seq, head, at_ms, key_id: key_id.to_string(), signature })
    }

    /// Check the signature with the audit public key.
    pub fn verify(&self, public: &VerifyingKey) -> Result<(), CheckpointError> {
        let expected = key_id(public);
        if self.key_id != expected {
            return Err(CheckpointError::WrongKey { expected, found: self.key_id.clone() });
        }
        let body = body(&self.log_id, self.seq, &self.head, self.at_ms);
        public.verify_strict(body.as_bytes(), &Signature::from_bytes(&self.signature)).map_err(|_| CheckpointError::BadSignature)
    }
}

/// Plain decimal digits, no sign or leading zero: one text per value, as
/// the signed body writes it.
fn number(text: &str) -> Option<u64> {
    let canonical = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) && (text == "0" || !text.starts_with('0'));
    canonical.then(|| text.parse().ok()).flatten()
}

fn body(log_id: &str, seq: u64, head: &str, at_ms: u64) -> String {
    format!("{HEADER}\nlog {log_id}\nseq {seq}\nhead {head}\ntime {at_ms}\n")
}

/// A checkpoint file in a witness folder, or why it could not be read.
#[derive(Debug)]
pub struct WitnessEntry {
    pub path: PathBuf,
    pub checkpoint: Result<Checkpoint, CheckpointError>,
}

/// The folder checkpoints are written to, apart from the log.
#[derive(Debug, Clone)]
pub struct Witness {
    dir: PathBuf,
}

impl Witness {
    pub fn new(dir: impl Into<PathBuf>) -> Witness {
        Witness { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Write `checkpoint` durably (temporary file, fsync, rename, fsync of
    /// the folder), then remove all but the newest [`KEEP_CHECKPOINTS`].
    pub fn write(&self, checkpoint: &Checkpoint) -> std::io::Result<PathBuf> {
        use std::io::Write as _;
        std::fs::create_dir_all(&self.dir)?;
        let name = format!("{:020}-{:013}{FILE_SUFFIX}", checkpoint.seq, checkpoint.at_ms);
        let path = self.dir.join(&name);
        let tmp = self.dir.join(format!(".{name}.tmp"));
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(checkpoint.to_text().as_bytes())?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, &path)?;
        std::fs::File::open(&self.dir)?.sync_all()?;
        // The checkpoint is written; failing to prune old ones is not a
        // failure to checkpoint.
        if let Err(e) = self.prune() {
            tracing::warn!(dir = %self.dir.display(), error = %e, "old audit checkpoints could not be removed");
        }
        Ok(path)
    }

    /// The names of the checkpoint files, oldest first (names sort by
    /// sequence number, then time).
    fn names(&self) -> std::io::Result<Vec<String>> {
        let mut names = Vec::new();
        match std::fs::read_dir(&self.dir) {
            Ok(entries) => {
                for entry in entries {
                    let entry = entry?;
                    // Anything else in the folder (a stray directory, a
                    // name that is not UTF-8) is not ours to read or prune.
                    let Ok(name) = entry.file_name().into_string() else { continue };
                    if name.ends_with(FILE_SUFFIX) && !name.starts_with('.') && entry.file_type().is_ok_and(|t| t.is_file()) {
                        names.push(name);
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        names.sort();
        Ok(names)
    }

    fn prune(&self) -> std::io::Result<()> {
        let names = self.names()?;
        if names.len() > KEEP_CHECKPOINTS {
            for name in &names[..names.len() - KEEP_CHECKPOINTS] {
                std::fs::remove_file(self.dir.join(name))?;
            }
        }
        Ok(())
    }

    /// Every checkpoint file, oldest first, parsed (not yet verified).
    pub fn entries(&self) -> std::io::Result<Vec<WitnessEntry>> {
        self.names()?.into_iter().map(|name| read_entry(&self.dir.join(name))).collect()
    }

    /// The newest checkpoint file that parses.
    pub fn latest(&self) -> std::io::Result<Option<WitnessEntry>> {
        Ok(self.entries()?.into_iter().rev().find(|e| e.checkpoint.is_ok()))
    }
}

/// Read one checkpoint file (a witness entry or an anchored copy).
pub fn read_entry(path: &Path) -> std::io::Result<WitnessEntry> {
    use std::io::Read as _;
    let mut text = String::new();
    let file = std::fs::File::open(path)?;
    let checkpoint = match file.take(MAX_CHECKPOINT_BYTES + 1).read_to_string(&mut text) {
        Ok(n) if n as u64 > MAX_CHECKPOINT_BYTES => Err(CheckpointError::Malformed("longer than a checkpoint can be".into())),
        Ok(_) => Checkpoint::parse(&text),
        Err(e) if e.kind() == std::io::ErrorKind::InvalidData => Err(CheckpointError::Malformed("not UTF-8 text".into())),
        Err(e) => return Err(e),
    };
    Ok(WitnessEntry { path: path.to_path_buf(), checkpoint })
}
