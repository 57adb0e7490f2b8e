//! Deadlines that measure a plugin's own work: the CPU time its call used,
//! not the time it waited for a core. A loaded host therefore slows a
//! plugin down without denying it. A wall-clock backstop, several times
//! larger, still ends any call that the host cannot finish in reasonable
//! time.
//!
//! The call's future is wrapped in [`Metered`], which reads the thread's
//! CPU clock when a poll starts and adds what the poll used when it ends.
//! The epoch callback (every [`crate::EPOCH_TICK`], on the thread running
//! the plugin) compares the total so far with the budget. Waiting between
//! polls (the call yields to tokio at every tick) is not counted.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

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
/// callback) and the [`Metered`] wrapper (which feeds it).
#[derive(Debug)]
pub struct CallClock {
    budget_ns: AtomicU64,
    /// CPU time of the finished polls of this call.
    used_ns: AtomicU64,
    /// The thread's CPU clock when the current poll started.
    poll_started_ns: AtomicU64,
    backstop: std::sync::Mutex<Instant>,
    expired: AtomicU8,
}

impl Default for CallClock {
    fn default() -> Self {
        CallClock {
            budget_ns: AtomicU64::new(0),
            used_ns: AtomicU64::new(0),
            poll_started_ns: AtomicU64::new(0),
            backstop: std::sync::Mutex::new(Instant::now()),
            expired: AtomicU8::new(0),
        }
    }
}

impl CallClock {
    /// Start a new call with `budget` of CPU time.
    pub fn arm(&self, budget: Duration) {
        self.budget_ns.store(budget.as_nanos() as u64, Ordering::Relaxed);
        self.used_ns.store(0, Ordering::Relaxed);
        self.expired.store(0, Ordering::Relaxed);
        if let Ok(mut backstop) = self.backstop.lock() {
            *backstop = Instant::now() + backstop_for(budget);
        }
    }

    /// Called from the epoch callback: whether the call must end now.
    pub fn check(&self) -> Option<Expired> {
        let used = self.used_ns.load(Ordering::Relaxed)
            + thread_cpu_ns().saturating_sub(self.poll_started_ns.load(Ordering::Relaxed));
        let expired = if used >= self.budget_ns.load(Ordering::Relaxed) {
            Some(Expired::Cpu)
        } else if self.backstop.lock().map(|b| Instant::now() >= *b).unwrap_or(true) {
            Some(Expired::Wall)
        } else {
            None
        };
        if let Some(e) = expired {
            self.expired.store(if e == Expired::Cpu { 1 } else { 2 }, Ordering::Relaxed);
        }
        expired
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

/// A future whose polls are charged to `clock`.
pub struct Metered<'a, F> {
    inner: Pin<&'a mut F>,
    clock: Arc<CallClock>,
}

impl<'a, F: Future> Metered<'a, F> {
    pub fn new(inner: Pin<&'a mut F>, clock: Arc<CallClock>) -> Self {
        Metered { inner, clock }
    }
}

impl<F: Future> Future for Metered<'_, F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let started = thread_cpu_ns();
        self.clock.poll_started_ns.store(started, Ordering::Relaxed);
        let poll = self.inner.as_mut().poll(cx);
        if poll.is_pending() {
            self.clock.used_ns.fetch_add(thread_cpu_ns().saturating_sub(started), Ordering::Relaxed);
        }
        poll
    }
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
    fn the_backstop_is_several_times_the_budget() {
        assert_eq!(backstop_for(Duration::from_millis(10)), WALL_BACKSTOP_MIN);
        assert_eq!(backstop_for(Duration::from_millis(500)), Duration::from_secs(5));
    }
}
