//! Idle instances of one plugin version, kept for reuse by the caller that
//! used them and nobody else.
//!
//! A caller is the full identity chain of a request (kind, id and the human
//! it acts for): an agent acting for alice and the same agent acting for
//! dana are two callers, and an instance that served one is never handed
//! to the other, so plugin memory is not a channel between principals.
//! Calls that carry no caller's data (a scorer's asset, a classifier's
//! column sample, a tool describing itself) share the [`Caller::Shared`] lane.
//!
//! The pool is bounded three ways: instances, bytes of memory they hold,
//! and time: an instance idle for [`IDLE_TTL`] is dropped by the sweeper,
//! so memory returns after a burst.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use steward_model::{IdentityKind, Principal};

/// Idle instances kept per plugin version.
pub const MAX_IDLE: usize = 256;
/// Bytes of linear memory the idle instances of one version may hold, by
/// default (`RuntimeConfig::idle_bytes`).
pub const MAX_IDLE_BYTES: usize = 256 * 1024 * 1024;
/// An instance idle this long is dropped.
pub const IDLE_TTL: Duration = Duration::from_secs(2);

/// Whose instances a call may reuse.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Caller {
    /// Calls that carry no caller's data.
    Shared,
    /// One caller's calls.
    Of { kind: IdentityKind, id: String, on_behalf_of: Option<String> },
}

/// A caller, with its hash so the pool compares cheaply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lane {
    hash: u64,
    caller: Caller,
}

impl Lane {
    pub fn of(principal: &Principal) -> Lane {
        Lane::new(Caller::Of { kind: principal.kind, id: principal.id.clone(), on_behalf_of: principal.on_behalf_of.clone() })
    }

    pub fn shared() -> Lane {
        Lane::new(Caller::Shared)
    }

    fn new(caller: Caller) -> Lane {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        caller.hash(&mut h);
        Lane { hash: h.finish(), caller }
    }
}

struct Idle<T> {
    lane: Lane,
    instance: T,
    bytes: usize,
    since: Instant,
}

/// Idle instances, oldest first.
pub struct Pool<T> {
    idle: Vec<Idle<T>>,
    bytes: usize,
    max_bytes: usize,
    /// Idle instances of every version of the process, against which
    /// `max_total` bounds this pool too (idle instances hold slots of the
    /// instance allocator that new calls need).
    total: IdleTotal,
}

/// The count of idle instances across pools, and its bound.
#[derive(Debug, Clone)]
pub struct IdleTotal {
    count: Arc<AtomicUsize>,
    max: usize,
}

impl IdleTotal {
    pub fn new(max: usize) -> IdleTotal {
        IdleTotal { count: Arc::default(), max }
    }

    pub fn count(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }
}

impl<T> Default for Pool<T> {
    fn default() -> Self {
        Pool::new(MAX_IDLE_BYTES, IdleTotal::new(usize::MAX))
    }
}

impl<T> Drop for Pool<T> {
    fn drop(&mut self) {
        self.total.count.fetch_sub(self.idle.len(), Ordering::Relaxed);
    }
}

impl<T> Pool<T> {
    /// A pool whose instances hold at most `max_bytes` of memory together,
    /// and which keeps none once `total` is at its bound.
    pub fn new(max_bytes: usize, total: IdleTotal) -> Pool<T> {
        Pool { idle: Vec::new(), bytes: 0, max_bytes, total }
    }

    /// The most recently used idle instance of `lane`.
    pub fn take(&mut self, lane: &Lane) -> Option<T> {
        let i = self.idle.iter().rposition(|e| e.lane.hash == lane.hash && e.lane.caller == lane.caller)?;
        let entry = self.idle.remove(i);
        self.bytes -= entry.bytes;
        self.total.count.fetch_sub(1, Ordering::Relaxed);
        Some(entry.instance)
    }

    /// Keep an instance (holding `bytes` of memory) for `lane`. Returns
    /// what had to go to make room, to be dropped outside the lock.
    pub fn put(&mut self, lane: Lane, instance: T, bytes: usize) -> Vec<T> {
        let mut evicted = Vec::new();
        if bytes > self.max_bytes || (self.idle.is_empty() && self.total.count() >= self.total.max) {
            evicted.push(instance);
            return evicted;
        }
        while !self.idle.is_empty()
            && (self.idle.len() >= MAX_IDLE || self.bytes + bytes > self.max_bytes || self.total.count() >= self.total.max)
        {
            let oldest = self.idle.remove(0);
            self.bytes -= oldest.bytes;
            self.total.count.fetch_sub(1, Ordering::Relaxed);
            evicted.push(oldest.instance);
        }
        self.bytes += bytes;
        self.total.count.fetch_add(1, Ordering::Relaxed);
        self.idle.push(Idle { lane, instance, bytes, since: Instant::now() });
        evicted
    }

    /// Remove instances idle since before `now - IDLE_TTL`.
    pub fn expire(&mut self, now: Instant) -> Vec<T> {
        let keep_from = self.idle.iter().position(|e| now.duration_since(e.since) < IDLE_TTL).unwrap_or(self.idle.len());
        let expired: Vec<Idle<T>> = self.idle.drain(..keep_from).collect();
        self.bytes -= expired.iter().map(|e| e.bytes).sum::<usize>();
        self.total.count.fetch_sub(expired.len(), Ordering::Relaxed);
        expired.into_iter().map(|e| e.instance).collect()
    }

    pub fn len(&self) -> usize {
        self.idle.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(id: &str, for_human: Option<&str>) -> Lane {
        Lane::new(Caller::Of { kind: IdentityKind::Agent, id: id.into(), on_behalf_of: for_human.map(str::to_string) })
    }

    #[test]
    fn an_instance_goes_back_only_to_its_own_caller() {
        let mut pool = Pool::default();
        pool.put(caller("copilot", Some("alice")), "alice's", 1);
        assert_eq!(pool.take(&caller("copilot", Some("dana"))), None, "same agent, another human");
        assert_eq!(pool.take(&caller("copilot", None)), None);
        assert_eq!(pool.take(&Lane::shared()), None);
        assert_eq!(pool.take(&caller("copilot", Some("alice"))), Some("alice's"));
        assert_eq!(pool.len(), 0);
    }

    #[test]
    fn the_pool_is_bounded_by_count_and_bytes_and_drops_the_oldest() {
        let mut pool = Pool::default();
        for i in 0..MAX_IDLE + 10 {
            pool.put(Lane::shared(), i, 1);
        }
        assert_eq!(pool.len(), MAX_IDLE);
        assert_eq!(pool.take(&Lane::shared()), Some(MAX_IDLE + 9), "the newest is reused first");
        let evicted = pool.put(Lane::shared(), 1000, MAX_IDLE_BYTES);
        assert_eq!(evicted.len(), MAX_IDLE - 1, "a big instance pushes everything else out");
        assert_eq!(pool.put(Lane::shared(), 1001, MAX_IDLE_BYTES + 1), vec![1001], "one too big is never kept");
    }

    #[test]
    fn the_process_wide_bound_holds_across_pools() {
        let total = IdleTotal::new(3);
        let (mut a, mut b) = (Pool::new(MAX_IDLE_BYTES, total.clone()), Pool::new(MAX_IDLE_BYTES, total.clone()));
        a.put(Lane::shared(), 1, 1);
        a.put(Lane::shared(), 2, 1);
        b.put(Lane::shared(), 3, 1);
        assert_eq!(b.put(caller("scout", None), 4, 1), vec![3], "b makes room from its own");
        assert_eq!(total.count(), 3);
        let mut c = Pool::new(MAX_IDLE_BYTES, total.clone());
        assert_eq!(c.put(Lane::shared(), 5, 1), vec![5], "an empty pool keeps nothing once the bound is reached");
        drop(a);
        assert_eq!(total.count(), 1, "a dropped pool gives its count back");
        assert!(c.put(Lane::shared(), 6, 1).is_empty());
    }

    #[test]
    fn idle_instances_expire() {
        let mut pool = Pool::default();
        pool.put(Lane::shared(), 1, 10);
        pool.put(caller("scout", Some("bob")), 2, 10);
        assert!(pool.expire(Instant::now()).is_empty());
        assert_eq!(pool.expire(Instant::now() + IDLE_TTL), vec![1, 2]);
        assert_eq!(pool.len(), 0);
        assert_eq!(pool.bytes, 0);
    }
}
