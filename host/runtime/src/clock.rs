//! Deadlines that measure a plugin's own work: the CPU time its call used,
//! not the time it waited for a core. A loaded host therefore slows a
//! plugin down without denying it. A wall-clock backstop, several times
//! larger, still ends any call that the host cannot finish in reasonable
//! time.
//!
//! The call's future is run by [`metered`], which notes when each poll
//! starts and adds what the poll used when it ends. The epoch callback
//! (every [`crate::EPOCH_TICK`], on the thread running the plugin) compares
//! the total so far with the budget. Waiting between polls (the call
//! yields to tokio at every tick) is not counted.
//!
//! Reading a thread's CPU clock is a system call (about 0.3-1 µs here),
//! more than a whole typical plugin call, so a call's first segment, up to
//! its first epoch tick (at most one tick, 1 ms, of running), is counted
//! in wall-clock time, an upper bound of its CPU time, and charged at most
//! two ticks (a call running meets a tick within one; more is time the
//! thread waited). Only a call still running at its first tick switches to
//! the CPU clock. A call that finishes within a tick makes no system call
//! at all.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// The most a call's first segment (counted in wall time) is charged.
const FIRST_SEGMENT_MAX_NS: u64 = 2 * crate::engine::EPOCH_TICK.as_nanos() as u64;

/// The wall-clock backstop is this many times the CPU budget...
pub const WALL_BACKSTOP_FACTOR: u32 = 10;
/// ...and never less than this.
pub const WALL_BACKSTOP_MIN: Duration = Duration::from_secs(1);

/// Why the clock ended a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expired {
    Cpu,
    Wall,
}

/// The clock of one call: shared by the store (read in the epoch
/// callback) and [`metered`] (which feeds it). All times are
/// in ns; wall times are since a process-wide origin.
#[derive(Debug, Default)]
pub struct CallClock {
    budget_ns: AtomicU64,
    /// Time the finished segments of this call used.
    used_ns: AtomicU64,
    /// Whether the call counts on the thread's CPU clock (after its first
    /// tick) or on the wall clock (its first segment).
    on_cpu_clock: AtomicBool,
    /// When the current segment started, on the clock in use.
    segment_started_ns: AtomicU64,
    backstop_ns: AtomicU64,
    expired: AtomicU8,
}

impl CallClock {
    /// Start a new call with `budget` of CPU time.
    pub fn arm(&self, budget: Duration) {
        self.budget_ns.store(budget.as_nanos() as u64, Ordering::Relaxed);
        self.used_ns.store(0, Ordering::Relaxed);
        self.on_cpu_clock.store(false, Ordering::Relaxed);
        self.expired.store(0, Ordering::Relaxed);
        self.backstop_ns.store(wall_ns().saturating_add(backstop_for(budget).as_nanos() as u64), Ordering::Relaxed);
    }

    /// The clock in use now.
    fn now(&self) -> u64 {
        if self.on_cpu_clock.load(Ordering::Relaxed) { thread_cpu_ns() } else { wall_ns() }
    }

    fn start_segment(&self) {
        self.segment_started_ns.store(self.now(), Ordering::Relaxed);
    }

    fn end_segment(&self) {
        let mut used = self.now().saturating_sub(self.segment_started_ns.load(Ordering::Relaxed));
        if !self.on_cpu_clock.load(Ordering::Relaxed) {
            // A first segment counted in wall time: at most two ticks, so a
            // thread descheduled before its first tick is not charged for
            // the wait (running, it meets a tick within one).
            used = used.min(FIRST_SEGMENT_MAX_NS);
        }
        let total = self.used_ns.load(Ordering::Relaxed).saturating_add(used);
        self.used_ns.store(total, Ordering::Relaxed);
    }

    /// Called from the epoch callback: whether the call must end now.
    pub fn check(&self) -> Option<Expired> {
        if !self.on_cpu_clock.load(Ordering::Relaxed) {
            // The first tick: charge the first segment's wall time, then
            // count on the CPU clock from here.
            self.end_segment();
            self.on_cpu_clock.store(true, Ordering::Relaxed);
            self.start_segment();
        }
        let used = self
            .used_ns
            .load(Ordering::Relaxed)
            .saturating_add(thread_cpu_ns().saturating_sub(self.segment_started_ns.load(Ordering::Relaxed)));
        let expired = if used >= self.budget_ns.load(Ordering::Relaxed) {
            Some(Expired::Cpu)
        } else if wall_ns() >= self.backstop_ns.load(Ordering::Relaxed) {
            Some(Expired::Wall)
        } else {
            None
        };
        if let Some(e) = expired {
            self.expired.store(if e == Expired::Cpu { 1 } else { 2 }, Ordering::Relaxed);
        }
        expired
    }

    /// Whether the call ran past its wall-clock backstop: a tool's
    /// call-back asked after it is refused.
    pub fn past_backstop(&self) -> bool {
        wall_ns() >= self.backstop_ns.load(Ordering::Relaxed)
    }

    /// The wall-clock time left before the backstop: what a tool's
    /// call-back may take.
    pub fn backstop_left(&self) -> Duration {
        Duration::from_nanos(self.backstop_ns.load(Ordering::Relaxed).saturating_sub(wall_ns()))
    }

    /// Whether (and why) the clock ended the last call.
    pub fn expired(&self) -> Option<Expired> {
        match self.expired.load(Ordering::Relaxed) {
            1 => Some(Expired::Cpu),
            2 => Some(Expired::Wall),
            _ => None,
        }
    }
}

/// The wall-clock backstop for a call with `budget` of CPU time.
pub fn backstop_for(budget: Duration) -> Duration {
    (budget * WALL_BACKSTOP_FACTOR).max(WALL_BACKSTOP_MIN)
}

/// Run `call` with its polls charged to `clock`.
pub async fn metered<F: Future>(clock: Arc<CallClock>, call: F) -> F::Output {
    let mut call = std::pin::pin!(call);
    Metered { inner: call.as_mut(), clock }.await
}

/// A future whose polls are charged to `clock`.
struct Metered<'a, F> {
    inner: Pin<&'a mut F>,
    clock: Arc<CallClock>,
}

impl<F: Future> Future for Metered<'_, F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.clock.start_segment();
        let poll = self.inner.as_mut().poll(cx);
        if poll.is_pending() {
            self.clock.end_segment();
        }
        poll
    }
}

/// Wall-clock ns since the process's first reading (a vDSO call).
fn wall_ns() -> u64 {
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    ORIGIN.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

/// CPU time (user and system) the calling thread has used, in ns.
fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_THREAD_CPUTIME_ID
    // is supported on every Linux this host runs on.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        // Fail towards ending the call: no reading means no more time.
        return u64::MAX;
    }
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_thread_clock_counts_work_not_sleep() {
        let start = thread_cpu_ns();
        std::thread::sleep(Duration::from_millis(30));
        let slept = thread_cpu_ns() - start;
        assert!(slept < 10_000_000, "sleeping 30 ms used {slept} ns of CPU");
    }

    #[test]
    fn a_call_counts_wall_time_until_its_first_tick_then_cpu_time() {
        let clock = CallClock::default();
        clock.arm(Duration::from_millis(20));
        // A first segment is charged its wall time, at most two ticks: a
        // thread that waited 30 ms for its first tick is not charged 30 ms.
        clock.start_segment();
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(clock.check(), None);
        assert!(clock.used_ns.load(Ordering::Relaxed) <= FIRST_SEGMENT_MAX_NS);
        // With a budget under two ticks, a slow first segment uses it up.
        clock.arm(Duration::from_millis(1));
        clock.start_segment();
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(clock.check(), Some(Expired::Cpu));
        // Re-armed: after the first tick, sleeping costs no CPU time.
        clock.arm(Duration::from_millis(20));
        clock.start_segment();
        assert_eq!(clock.check(), None, "the first tick, right away");
        clock.end_segment();
        clock.start_segment();
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(clock.check(), None, "sleeping on the CPU clock uses nothing");
        assert_eq!(clock.expired(), None);
    }

    #[test]
    fn the_backstop_is_several_times_the_budget() {
        assert_eq!(backstop_for(Duration::from_millis(10)), WALL_BACKSTOP_MIN);
        assert_eq!(backstop_for(Duration::from_millis(500)), Duration::from_secs(5));
    }
}
