//! What a plugin can keep between calls, and what the host does about it,
//! for the same drifting SOP in Rust, Python and JavaScript
//! (tests/guests/drifting-sop, tests/polyglot/drifting-sop-{py,js}):
//!
//! - an instance is reused only by the caller that used it, so a plugin's
//!   memory never carries one caller's data to another (not even the same
//!   agent acting for another human);
//! - a plugin that passes its cases and then drifts is caught by a spot
//!   check of its own cases on the live instance, and quarantined;
//! - deadlines count the plugin's own CPU time, so concurrent callers slow
//!   a plugin down without denying it.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{caller, policy, polyglot, read_request, spawn_callers};
use steward_model::{Decision, Verdict};
use std::path::PathBuf;

use steward_runtime::{LoadError, LoadedPlugin, PluginFailure, PluginSource, Registry, Runtime, RuntimeConfig, SPOT_CHECK_MEAN};

/// The intent of the drifting SOP's case (what a spot check asks).
const SPOT_CHECK_INTENT: &str = "drift";

fn source(lang: &str) -> PluginSource {
    match lang {
        "rust" => common::drifting_sop(100, "a drifting request is escalated", SPOT_CHECK_INTENT),
        "python" => polyglot("drifting-sop-py"),
        "js" => polyglot("drifting-sop-js"),
        other => panic!("no drifting SOP in {other}"),
    }
}

async fn load(lang: &str) -> Arc<LoadedPlugin> {
    load_remembering(lang, None).await.expect("it loads")
}

/// Load with quarantines remembered in `quarantine_dir`.
async fn load_remembering(lang: &str, quarantine_dir: Option<PathBuf>) -> Result<Arc<LoadedPlugin>, LoadError> {
    let runtime = Runtime::new(RuntimeConfig {
        cache_dir: Some(common::repo().join("target/test-compile-cache")),
        quarantine_dir,
        ..RuntimeConfig::default()
    })
    .unwrap();
    Ok(Registry::new(runtime).prove(source(lang), &policy()).await?.plugin)
}

/// The previous intent the instance names in its reason.
fn previous_intent(verdict: &Verdict) -> String {
    let Verdict::Escalate { reason } = verdict else { panic!("expected an escalate, got {verdict:?}") };
    let start = reason.message.find('[').expect("the reason names the previous intent") + 1;
    reason.message[start..reason.message.rfind(']').unwrap()].to_string()
}

/// Five callers, two of them the same agent acting for two humans, each
/// call carrying its own secret. A reason may name the caller's own
/// previous secret (its instance was reused), nothing (a new instance) or
/// the intent of the plugin's own case (a spot check ran on the instance
/// in between), never another caller's.
async fn no_caller_sees_another_callers_data(lang: &str) {
    let plugin = load(lang).await;
    let policy = policy();
    let callers =
        [caller("alice", Some("copilot")), caller("bob", Some("copilot")), caller("bob", Some("scout")), caller("alice", None), caller("carol", None)];
    let mut reused = 0;
    // Interleaved, one at a time, then all callers at once.
    for round in 0..6 {
        for (i, who) in callers.iter().enumerate() {
            let secret = format!("secret of caller {i}, round {round}");
            let request = read_request(&policy, who.clone(), "sales/customers", &secret, round);
            let verdict = plugin.evaluate(&request, &policy).await.unwrap_or_else(|e| panic!("{lang}: {e}"));
            let seen = previous_intent(&verdict);
            let own = if round == 0 { String::new() } else { format!("secret of caller {i}, round {}", round - 1) };
            assert!(seen.is_empty() || seen == own || seen == SPOT_CHECK_INTENT, "{lang}: caller {i} saw {seen:?}");
            reused += usize::from(seen == own);
        }
    }
    assert!(reused > 0, "{lang}: instances are reused within a caller (else this test proves nothing)");
    let tasks = spawn_callers(&plugin, &policy, &callers, 10, |i, _| format!("concurrent secret of caller {i}"));
    for (i, task) in tasks.into_iter().enumerate() {
        for verdict in task.await.unwrap_or_else(|e| panic!("{lang}: {e}")) {
            let seen = previous_intent(&verdict.expect("answers"));
            let own = seen.ends_with(&format!("of caller {i}")) || seen.contains(&format!("of caller {i},"));
            assert!(seen.is_empty() || own || seen == SPOT_CHECK_INTENT, "{lang}: caller {i} saw {seen:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_caller_sees_another_callers_data_rust() {
    no_caller_sees_another_callers_data("rust").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_caller_sees_another_callers_data_python() {
    no_caller_sees_another_callers_data("python").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_caller_sees_another_callers_data_js() {
    no_caller_sees_another_callers_data("js").await;
}

/// The plugin passes its case at load (each case runs on a fresh instance,
/// where it is honest), then allows `drift` requests after 20 calls on one
/// instance. A spot check of its own case on that instance sees the
/// difference within 2 x SPOT_CHECK_MEAN calls and quarantines the
/// version: every later call, by anyone, fails closed, and the version is
/// refused when it is loaded again (after a restart, say).
async fn a_drifting_plugin_is_quarantined(lang: &str) {
    let quarantine_dir = std::env::temp_dir().join(format!("steward-quarantine-{lang}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&quarantine_dir);
    let plugin = load_remembering(lang, Some(quarantine_dir.clone())).await.expect("it passes its cases");
    let policy = policy();
    let bob = caller("bob", Some("scout"));
    let (mut escalated, mut allowed) = (0, 0);
    let mut quarantined_at = None;
    for n in 0..200 {
        let request = read_request(&policy, bob.clone(), "sales/customers", "drift", n);
        match plugin.evaluate(&request, &policy).await {
            Ok(v) if v.decision() == Decision::Escalate => escalated += 1,
            Ok(v) if v.decision() == Decision::Allow => allowed += 1,
            Ok(v) => panic!("{lang}: unexpected {v:?}"),
            Err(e) => {
                assert!(matches!(e.failure, PluginFailure::Quarantined(_)), "{lang}: {e}");
                quarantined_at = Some(n);
                break;
            }
        }
    }
    let at = quarantined_at.unwrap_or_else(|| panic!("{lang}: never quarantined ({escalated} escalated, {allowed} allowed)"));
    assert!(escalated >= 1, "{lang}: it was honest before it drifted");
    assert!(allowed as u32 <= 2 * SPOT_CHECK_MEAN, "{lang}: {allowed} drifted answers got out before the spot check (at call {at})");
    let why = plugin.quarantined().expect("the version says why");
    assert!(why.contains("a drifting request is escalated") && why.contains("expected escalate"), "{lang}: {why}");
    // Everyone's calls now fail closed, whatever they ask.
    for who in [caller("alice", Some("copilot")), bob.clone()] {
        let request = read_request(&policy, who, "sales/customers", "anything", 0);
        let e = plugin.evaluate(&request, &policy).await.expect_err("a quarantined version answers nobody");
        assert_eq!(e.failure.kind(), "quarantined", "{lang}: {e}");
    }
    assert!(plugin.spot_checks() >= 1);
    match load_remembering(lang, Some(quarantine_dir.clone())).await {
        Err(e @ LoadError::Quarantined { .. }) => {
            let text = e.to_string();
            assert!(text.starts_with("this version was quarantined (") && text.contains("a drifting request is escalated"), "{text}");
            assert!(text.ends_with(&format!("; ship a new version, or delete {} to prove this one again", quarantine_dir.join(&plugin.digest).display())), "{text}");
        }
        other => panic!("{lang}: a quarantined version loaded again: {:?}", other.map(|p| p.label().to_string())),
    }
    let _ = std::fs::remove_dir_all(&quarantine_dir);
}

#[tokio::test]
async fn a_drifting_plugin_is_quarantined_rust() {
    a_drifting_plugin_is_quarantined("rust").await;
}

#[tokio::test]
async fn a_drifting_plugin_is_quarantined_python() {
    a_drifting_plugin_is_quarantined("python").await;
}

#[tokio::test]
async fn a_drifting_plugin_is_quarantined_js() {
    a_drifting_plugin_is_quarantined("js").await;
}

/// A call that uses about a third of its 100 ms CPU budget alone is not
/// denied when eight callers run it at once on two worker threads (each
/// call then takes several times its CPU time in wall-clock time), and a
/// call that needs several times its budget is still cut off.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deadlines_count_the_plugins_own_work_not_the_load() {
    let plugin = load("rust").await;
    let policy = policy();
    let solo = |rounds: u64| {
        let (plugin, policy) = (plugin.clone(), policy.clone());
        async move {
            let request = read_request(&policy, caller("bob", Some("scout")), "sales/customers", &format!("spin:{rounds}"), 0);
            let started = Instant::now();
            let result = plugin.evaluate(&request, &policy).await;
            (result, started.elapsed())
        }
    };
    // Calibrate: rounds of spinning that take about 30 ms alone.
    let mut rounds: u64 = 1_000_000;
    let mut took = Duration::ZERO;
    for _ in 0..8 {
        let (result, elapsed) = solo(rounds).await;
        result.expect("a calibration call finishes");
        took = elapsed;
        if elapsed > Duration::from_millis(20) {
            break;
        }
        rounds *= 2;
    }
    let rounds = (rounds as f64 * 30.0 / took.as_secs_f64().max(1e-3) / 1e3) as u64;
    let callers: Vec<_> = (0..8).map(|i| caller(["alice", "bob", "carol"][i % 3], Some(["copilot", "scout"][i % 2]))).collect();
    let tasks = spawn_callers(&plugin, &policy, &callers, 4, move |_, _| format!("spin:{rounds}"));
    for (i, task) in tasks.into_iter().enumerate() {
        for (n, verdict) in task.await.expect("the caller's task ends").into_iter().enumerate() {
            assert!(verdict.is_ok(), "caller {i}, call {n}: denied under load: {:?}", verdict.err());
        }
    }
    let (result, _) = solo(rounds * 10).await;
    let e = result.expect_err("ten times the work is past the budget");
    assert_eq!(e.failure, PluginFailure::CpuDeadline { budget_ms: 100 }, "{e}");
}

/// An uncaught Python or JavaScript exception is a trap whose cause says
/// so (not a cut-off wasm backtrace), and the plugin answers afterwards.
#[tokio::test]
async fn an_uncaught_exception_is_named_as_such() {
    let policy = policy();
    for lang in ["python", "js"] {
        let plugin = load(lang).await;
        let request = read_request(&policy, caller("bob", Some("scout")), "sales/customers", "raise", 0);
        let e = plugin.evaluate(&request, &policy).await.expect_err("it raises");
        assert!(matches!(&e.failure, PluginFailure::Trap { during, .. } if during == "evaluate"), "{lang}: {e}");
        assert!(
            e.to_string().ends_with("trapped in evaluate: unreachable code reached (a Rust panic, or an uncaught Python or JavaScript exception)"),
            "{lang}: {e}"
        );
        let request = read_request(&policy, caller("bob", Some("scout")), "sales/customers", "plain", 1);
        assert!(plugin.evaluate(&request, &policy).await.is_ok(), "{lang}: it answers after");
    }
}
