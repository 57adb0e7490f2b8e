//! Per-caller answers that depend only on the policy generation, the live
//! plugin set and who the caller is (its id and, for an agent, its human):
//! which actions could be allowed for it (MCP's tool list) and which
//! catalog entries it may know exist. Each walks the catalog, which is
//! milliseconds on a catalog of 10,000 assets; the memo makes the second
//! ask a lookup. A reload or a plugin swap changes the key, so nothing
//! stale is served; the memo is emptied when it holds too many answers.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use steward_runtime::PluginSet;

use crate::catalog::CatalogItem;

/// Answers held at most before the memo is emptied.
const CAPACITY: usize = 4096;

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
    answers: Mutex<HashMap<Key, (Arc<PluginSet>, Answer)>>,
}

/// Who is asking, as far as these answers depend on it.
pub(crate) struct Asker<'a> {
    pub generation: u64,
    pub plugins: &'a Arc<PluginSet>,
    pub principal: &'a str,
    pub on_behalf_of: Option<&'a str>,
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
        if let Ok(mut answers) = self.answers.lock() {
            if answers.len() >= CAPACITY {
                answers.clear();
            }
            answers.insert(key, (plugins.clone(), answer));
        }
    }

    pub(crate) fn could_allow(&self, asker: &Asker, action: &str, compute: impl FnOnce() -> bool) -> bool {
        let key = Memo::key(asker, Question::CouldAllow(action.to_string()));
        if let Some((_, Answer::CouldAllow(known))) = self.answers.lock().ok().as_ref().and_then(|a| a.get(&key)) {
            return *known;
        }
        let answer = compute();
        self.store(key, asker.plugins, Answer::CouldAllow(answer));
        answer
    }

    pub(crate) fn catalog(&self, asker: &Asker, compute: impl FnOnce() -> Vec<CatalogItem>) -> Arc<Vec<CatalogItem>> {
        let key = Memo::key(asker, Question::Catalog);
        if let Some((_, Answer::Catalog(known))) = self.answers.lock().ok().as_ref().and_then(|a| a.get(&key)) {
            return known.clone();
        }
        let answer = Arc::new(compute());
        self.store(key, asker.plugins, Answer::Catalog(answer.clone()));
        answer
    }
}
