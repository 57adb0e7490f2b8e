//! The store's resource limiter: caps a plugin's memory (all its linear
//! memories together) at the manifest's `limits.memory_mib`, records when
//! the cap was hit (so a memory-limit failure is known, not guessed from
//! an error's text), and tracks how far an instance has grown since it
//! started, so the pool can recycle instances that keep memory.

use wasmtime::ResourceLimiter;

/// Instances, tables and memories one store may create.
const MAX_INSTANCES: usize = 64;
const MAX_TABLES: usize = 64;
const MAX_MEMORIES: usize = 16;
/// Elements of one table.
const MAX_TABLE_ELEMENTS: usize = 1 << 20;

#[derive(Debug)]
pub struct MemoryLimiter {
    limit_bytes: usize,
    /// Bytes of linear memory the store holds now.
    pub held: usize,
    /// `held` once the instance finished starting.
    pub baseline: usize,
    /// Whether a growth was refused for the limit.
    pub hit: bool,
}

impl MemoryLimiter {
    pub fn new(limit_bytes: usize) -> MemoryLimiter {
        MemoryLimiter { limit_bytes, held: 0, baseline: 0, hit: false }
    }

    /// Bytes grown since the instance started.
    pub fn growth(&self) -> usize {
        self.held.saturating_sub(self.baseline)
    }
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(&mut self, current: usize, desired: usize, maximum: Option<usize>) -> wasmtime::Result<bool> {
        let after = self.held.saturating_sub(current).saturating_add(desired);
        if after > self.limit_bytes {
            self.hit = true;
            wasmtime::bail!("memory limit: growing to {after} bytes");
        }
        if maximum.is_some_and(|max| desired > max) {
            return Ok(false);
        }
        self.held = after;
        Ok(true)
    }

    fn memory_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        // The host could not map the memory it allowed: treat it as the
        // limit (the call fails closed either way).
        self.hit = true;
        Err(error.context("memory growth failed"))
    }

    fn table_growing(&mut self, _current: usize, desired: usize, maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS && maximum.is_none_or(|max| desired <= max))
    }

    fn instances(&self) -> usize {
        MAX_INSTANCES
    }

    fn tables(&self) -> usize {
        MAX_TABLES
    }

    fn memories(&self) -> usize {
        MAX_MEMORIES
    }
}
