//! Memory returns after a burst: a plugin whose instances grow (the
//! drifting SOP's `grow:M` keeps M MiB more for the instance's life) under
//! a burst of concurrent callers, then idle. The host's resident memory
//! (VmRSS of this process, from /proc/self/status) comes back to within
//! 20% of its baseline (plus 8 MiB for allocator slack) within 5 s.
//!
//! Its own test binary, so no other test's memory moves the figure.

mod common;

use std::time::{Duration, Instant};

use common::{caller, policy, read_request, spawn_callers};
use steward_runtime::IDLE_TTL;

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).expect("a VmRSS line");
    line.split_whitespace().nth(1).and_then(|n| n.parse().ok()).expect("VmRSS in kB")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_returns_after_a_burst_of_growing_instances() {
    let policy = policy();
    let registry = common::registry();
    let plugin = registry.prove(common::drifting_sop(200, "a plain request is escalated", "plain"), &policy).await.expect("it loads").plugin;
    let humans = ["alice", "bob", "carol"];
    let agents = ["copilot", "scout", "helper", "analyst"];
    let callers: Vec<_> = (0..12).map(|i| caller(humans[i % 3], Some(agents[i / 3]))).collect();
    // Baseline: every caller served once, instances idle then expired.
    for who in &callers {
        plugin.evaluate(&read_request(&policy, who.clone(), "sales/customers", "plain", 0), &policy).await.unwrap();
    }
    tokio::time::sleep(IDLE_TTL + Duration::from_secs(1)).await;
    let baseline = rss_kib();

    // The burst: twelve callers at once, each call keeping 6 MiB (under the
    // recycle threshold, so instances stay idle until they expire) or
    // 24 MiB (over it, so they are recycled at once).
    // A call may hit the 64 MiB limit; that fails closed and drops the
    // instance, which is fine here.
    let tasks = spawn_callers(&plugin, &policy, &callers, 6, |i, n| if (i + n) % 2 == 0 { "grow:6" } else { "grow:24" }.to_string());
    let mut peak = 0;
    for t in tasks {
        t.await.unwrap();
        peak = peak.max(rss_kib());
    }
    let bound = baseline + baseline / 5 + 8 * 1024;
    let started = Instant::now();
    let mut now = rss_kib();
    while (now > bound || plugin.idle_instances() > 0) && started.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(100)).await;
        now = rss_kib();
    }
    eprintln!(
        "RSS baseline {} MiB, peak {} MiB, after {:.1} s idle {} MiB (bound {} MiB)",
        baseline / 1024,
        peak / 1024,
        started.elapsed().as_secs_f64(),
        now / 1024,
        bound / 1024
    );
    assert!(peak > bound, "the burst grew memory past the bound (else this test proves nothing): peak {peak} KiB, bound {bound} KiB");
    assert!(now <= bound, "RSS {now} KiB did not come back under {bound} KiB (baseline {baseline} KiB) within 5 s");
    assert_eq!(plugin.idle_instances(), 0, "idle instances expired");
}
