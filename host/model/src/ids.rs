//! Request ids: one sequence per process, shared by live requests and the
//! requests the host makes up to test plugins, so a plugin cannot tell the
//! two apart by their ids.

use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug)]
pub struct RequestIds {
    prefix: u32,
    counter: AtomicU64,
}

impl RequestIds {
    /// `prefix` should be random per process (ids of two runs differ).
    pub fn new(prefix: u32) -> RequestIds {
        RequestIds { prefix, counter: AtomicU64::new(0) }
    }

    /// `pppppppp-nnnnnnnnnnnn`: the prefix and a counter, in hex.
    pub fn next(&self) -> String {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        format!("{:08x}-{n:012x}", self.prefix)
    }
}
