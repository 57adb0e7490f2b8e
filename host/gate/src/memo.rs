//! Per-caller answers that depend only on the policy generation, the live
//! plugin set and who the caller is (its id and, for an agent, its human):
//! which actions could be allowed for it (MCP's tool list) and which
//! catalog entries it may know exist. Each walks the catalog, which is
//! milliseconds on a catalog of 10,000 assets; the memo makes the second
//! ask a lookup. A reload or a plugin swap changes the key, so nothing
//! stale is served, and the answers of the old ones are dropped; the memo
//! is emptied when it holds too many answers or catalog items.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use steward_runtime::PluginSet;

use crate::catalog::CatalogItem;

/// Answers held at most before the memo is emptied.
const CAPACITY: usize = 4096;
/// Catalog items held at most, over every caller's view, before the memo
/// is emptied (a view of a 10,000-asset catalog is 10,000 items).
const MAX_ITEMS: usize = 500_000;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    generation: u64,
    /// The plugin set's address; the entry holds the set, so the address
    /// cannot be reused by another set while the entry lives.
    plugins: usize,
    principal: String,
    on_behalf_of: Option<String>,
    question: Question,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Question {
    CouldAllow(String),
    Catalog,
}

enum Answer {
    CouldAllow(bool),
    Catalog(Arc<Vec<CatalogItem>>),
}

#[derive(Default)]
pub(crate) struct Memo {
    held: Mutex<Held>,
}

#[derive(Default)]
struct Held {
    answers: HashMap<Key, (Arc<PluginSet>, Answer)>,
    /// Catalog items in `answers`.
    items: usize,
    /// The generation and plugin set of the last answer stored: answers
    /// for any other are dropped when it changes (they can never be asked
    /// again, and they keep an old plugin set alive).
    current: (u64, usize),
}

/// Who is asking, as far as these answers depend on it.
pub(crate) struct Asker<'a> {
    pub generation: u64,
    pub plugins: &'a Arc<PluginSet>,
    pub principal: &'a str,
    pub on_behalf_of: Option<&'a str>,
}

impl<'a> Asker<'a> {
    pub(crate) fn new(generation: u64, plugins: &'a Arc<PluginSet>, principal: &'a steward_model::Principal) -> Asker<'a> {
        Asker { generation, plugins, principal: &principal.id, on_behalf_of: principal.on_behalf_of.as_deref() }
    }
}

impl Memo {
    fn key(asker: &Asker, question: Question) -> Key {
        Key {
            generation: asker.generation,
            plugins: Arc::as_ptr(asker.plugins) as usize,
            principal: asker.principal.to_string(),
            on_behalf_of: asker.on_behalf_of.map(str::to_string),
            question,
        }
    }

    fn store(&self, key: Key, plugins: &Arc<PluginSet>, answer: Answer) {
        let Ok(mut held) = self.held.lock() else { return };
        let now = (key.generation, key.plugins);
        let size = match &answer {
            Answer::Catalog(items) => items.len(),
            Answer::CouldAllow(_) => 0,
        };
        if held.current != now || held.answers.len() >= CAPACITY || held.items + size > MAX_ITEMS {
            held.answers.clear();
            held.items = 0;
            held.current = now;
        }
        held.items += size;
        held.answers.insert(key, (plugins.clone(), answer));
    }

    fn known(&self, key: &Key) -> Option<Answer> {
        let held = self.held.lock().ok()?;
        held.answers.get(key).map(|(_, a)| match a {
            Answer::CouldAllow(b) => Answer::CouldAllow(*b),
            Answer::Catalog(items) => Answer::Catalog(items.clone()),
        })
    }

    pub(crate) fn could_allow(&self, asker: &Asker, action: &str, compute: impl FnOnce() -> bool) -> bool {
        let key = Memo::key(asker, Question::CouldAllow(action.to_string()));
        if let Some(Answer::CouldAllow(known)) = self.known(&key) {
            return known;
        }
        let answer = compute();
        self.store(key, asker.plugins, Answer::CouldAllow(answer));
        answer
    }

    pub(crate) fn catalog(&self, asker: &Asker, compute: impl FnOnce() -> Vec<CatalogItem>) -> Arc<Vec<CatalogItem>> {
        let key = Memo::key(asker, Question::Catalog);
        if let Some(Answer::Catalog(known)) = self.known(&key) {
            return known;
        }
        let answer = Arc::new(compute());
        self.store(key, asker.plugins, Answer::Catalog(answer.clone()));
        answer
    }
}
