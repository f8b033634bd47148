//! Counters of one cache: what `/metrics` and the benchmark report. The
//! caches own one each and count into it; this module only keeps score.

use std::{
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

#[derive(Debug, Default)]
pub struct CacheStats {
    hits: AtomicU64,
    misses: AtomicU64,
    loads: AtomicU64,
    load_failures: AtomicU64,
    load_micros: AtomicU64,
    evictions: AtomicU64,
    invalidations: AtomicU64,
    stale_discards: AtomicU64,
}

/// The counters at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    pub hits: u64,
    pub misses: u64,
    pub loads: u64,
    pub load_failures: u64,
    pub load_time: Duration,
    /// Entries removed by size or TTL (not by invalidation).
    pub evictions: u64,
    /// Entries dropped because a change made them wrong (counted by the
    /// response cache, which finds them on lookup).
    pub invalidations: u64,
    /// Loads whose result was not stored because an invalidation overtook
    /// them.
    pub stale_discards: u64,
}

impl CacheStats {
    pub(crate) fn record_lookup(&self, hit: bool) {
        let counter = if hit { &self.hits } else { &self.misses };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn record_load(&self, took: Duration, ok: bool) {
        self.loads.fetch_add(1, Ordering::Relaxed);
        if !ok {
            self.load_failures.fetch_add(1, Ordering::Relaxed);
        }
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.load_micros.fetch_add(micros, Ordering::Relaxed);
    }

    pub(crate) fn record_eviction(&self) {
        self.evictions.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn record_invalidation(&self) {
        self.invalidations.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn record_stale_discard(&self) {
        self.stale_discards.fetch_add(1, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            loads: self.loads.load(Ordering::Relaxed),
            load_failures: self.load_failures.load(Ordering::Relaxed),
            load_time: Duration::from_micros(self.load_micros.load(Ordering::Relaxed)),
            evictions: self.evictions.load(Ordering::Relaxed),
            invalidations: self.invalidations.load(Ordering::Relaxed),
            stale_discards: self.stale_discards.load(Ordering::Relaxed),
        }
    }
}
