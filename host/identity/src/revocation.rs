//! Revoked credentials, checked on every verification (a cached token
//! too): by token id (`jti`), by agent session (`sid`), by agent (`act.sub`)
//! or by subject (`sub`: a human, which stops every agent acting for them,
//! or a service).
//!
//! The set is swapped whole when it changes, so a check is a lock-free
//! load and at most four hash lookups.

use std::collections::HashSet;
use std::sync::Arc;

use arc_swap::ArcSwap;
use serde::{Deserialize, Serialize};

use crate::token::Claims;

/// What a revocation names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RevocationKind {
    /// One token, by its `jti`.
    Token,
    /// Every token of one agent session (`sid`).
    Session,
    /// Every token of one agent (`act.sub`), for every human.
    Agent,
    /// Every token whose subject (`sub`) is this human or service: their
    /// own, and every agent's acting for them.
    Human,
}

impl RevocationKind {
    pub const ALL: [RevocationKind; 4] = [RevocationKind::Token, RevocationKind::Session, RevocationKind::Agent, RevocationKind::Human];

    pub fn as_str(self) -> &'static str {
        match self {
            RevocationKind::Token => "token",
            RevocationKind::Session => "session",
            RevocationKind::Agent => "agent",
            RevocationKind::Human => "human",
        }
    }

    pub fn parse(s: &str) -> Option<RevocationKind> {
        RevocationKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// The revocations in force, by kind.
#[derive(Debug, Default)]
pub struct RevocationSet {
    tokens: HashSet<String>,
    sessions: HashSet<String>,
    agents: HashSet<String>,
    humans: HashSet<String>,
}

impl RevocationSet {
    pub fn new<'a>(entries: impl IntoIterator<Item = (RevocationKind, &'a str)>) -> RevocationSet {
        let mut set = RevocationSet::default();
        for (kind, id) in entries {
            set.of_kind(kind).insert(id.to_string());
        }
        set
    }

    fn of_kind(&mut self, kind: RevocationKind) -> &mut HashSet<String> {
        match kind {
            RevocationKind::Token => &mut self.tokens,
            RevocationKind::Session => &mut self.sessions,
            RevocationKind::Agent => &mut self.agents,
            RevocationKind::Human => &mut self.humans,
        }
    }

    pub fn len(&self) -> usize {
        self.tokens.len() + self.sessions.len() + self.agents.len() + self.humans.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The first revocation that covers a token with these claims.
    pub fn covering(&self, claims: &Claims) -> Option<(RevocationKind, String)> {
        if self.is_empty() {
            return None;
        }
        let hit = |set: &HashSet<String>, id: Option<&String>| id.filter(|id| set.contains(id.as_str())).cloned();
        hit(&self.tokens, claims.jti.as_ref())
            .map(|id| (RevocationKind::Token, id))
            .or_else(|| hit(&self.sessions, claims.sid.as_ref()).map(|id| (RevocationKind::Session, id)))
            .or_else(|| hit(&self.agents, claims.act.as_ref().map(|a| &a.sub)).map(|id| (RevocationKind::Agent, id)))
            .or_else(|| hit(&self.humans, Some(&claims.sub)).map(|id| (RevocationKind::Human, id)))
    }
}

/// The live revocation set, shared by every policy generation's verifier
/// and replaced whole when the store changes.
#[derive(Debug, Default)]
pub struct Revocations {
    current: ArcSwap<RevocationSet>,
}

impl Revocations {
    pub fn new() -> Arc<Revocations> {
        Arc::new(Revocations::default())
    }

    pub fn replace(&self, set: RevocationSet) {
        self.current.store(Arc::new(set));
    }

    pub fn len(&self) -> usize {
        self.current.load().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn covering(&self, claims: &Claims) -> Option<(RevocationKind, String)> {
        self.current.load().covering(claims)
    }
}
