//! Policy files: the input as one policy TOML file through the loader the
//! server uses (`Policy::load_texts`), alone, and with the demo policy in
//! place of the demo file it shares the most table headers with (or beside
//! them, when it shares none), so a fragment like `roles.toml` is checked
//! against the rest of a real policy. What loads then goes through what
//! the server does with a new policy: a token verifier for its keys and
//! `steward_sql::compile::check_policy` in every dialect, which parses the
//! SQL inside it (row filters, mask expressions); that runs on the
//! server's SQL stack.
//!
//! Findings: any panic or overflow.

#![no_main]

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use libfuzzer_sys::fuzz_target;
use steward_fuzz::{Worker, demo_policy_files, on_sql_stack, verifier};
use steward_policy::Policy;
use steward_sql::{Dialect, Schema};

fn loaded(policy: Policy) {
    let _ = verifier(&policy);
    let schema = Schema::from_policy(&policy);
    for dialect in [Dialect::Postgres, Dialect::Sqlite, Dialect::Generic] {
        let _ = steward_sql::compile::check_policy(&policy, &schema, dialect);
    }
}

/// The table headers (`[identity]`, `[[role]]`, ...) a TOML text uses.
fn headers(text: &str) -> BTreeSet<&str> {
    text.lines().map(str::trim).filter(|l| l.starts_with('[')).map(|l| l.split(']').next().unwrap_or(l).trim_start_matches('[').trim()).collect()
}

/// Which demo file the input stands in for: the one it shares the most
/// table headers with (none shared: it is an extra file).
fn stands_in_for(text: &str) -> Option<usize> {
    static DEMO_HEADERS: OnceLock<Vec<BTreeSet<&'static str>>> = OnceLock::new();
    let demo = DEMO_HEADERS.get_or_init(|| demo_policy_files().iter().map(|(_, t)| headers(t)).collect());
    let mine = headers(text);
    let shared = demo.iter().map(|h| h.intersection(&mine).count()).enumerate().filter(|(_, n)| *n > 0);
    shared.fold(None, |best: Option<(usize, usize)>, (i, n)| if best.is_none_or(|(_, m)| n > m) { Some((i, n)) } else { best }).map(|(i, _)| i)
}

fn check(data: &[u8]) {
    // Policy files are read as UTF-8 text; anything else is refused before the loader.
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(policy) = Policy::load_texts(vec![(PathBuf::from("fuzz.toml"), text.to_string())]) {
        loaded(policy);
    }
    let mut files: Vec<(PathBuf, String)> = demo_policy_files().to_vec();
    match stands_in_for(text) {
        Some(i) => files[i].1 = text.to_string(),
        None => files.push((PathBuf::from("fuzz.toml"), text.to_string())),
    }
    if let Ok(policy) = Policy::load_texts(files) {
        loaded(policy);
    }
}

static WORKER: OnceLock<Mutex<Worker>> = OnceLock::new();

fuzz_target!(
    init: {
        steward_fuzz::report_stack_overflows();
        demo_policy_files();
    },
    |data: &[u8]| on_sql_stack(&WORKER, "fuzz-policy", check, data)
);
