//! The agent runtime cache: assembled runtimes keyed by (user, agent name),
//! each valid only while the config and instructions entries it was built
//! from are current (their stamps are stored with it). An invalidation of
//! either source therefore invalidates every runtime built from it, for all
//! users, without scanning.

use entity::UserId;
use std::sync::Arc;

use moka::sync::Cache;

use super::{
    fenced::{CacheReport, Stamp},
    names, CacheSettings,
};
use crate::observability::CacheStats;
use crate::{observability, runtime::AgentRuntime};

type Key = (UserId, String);
/// The stamps of the agent config and the instructions a runtime was built from.
pub(super) type SourceStamps = (Stamp, Stamp);

#[derive(Clone)]
struct Entry {
    runtime: Arc<AgentRuntime>,
    sources: SourceStamps,
}

pub(super) struct RuntimeCache {
    entries: Cache<Key, Entry>,
    stats: Arc<CacheStats>,
}

impl RuntimeCache {
    pub(super) fn new(settings: CacheSettings) -> Self {
        let stats = Arc::new(CacheStats::default());
        let entries = settings.build(names::RUNTIME, Arc::clone(&stats));
        Self { entries, stats }
    }

    /// The runtime, if cached and built from sources still at `sources`.
    pub(super) fn get(&self, key: &Key, sources: SourceStamps) -> Option<Arc<AgentRuntime>> {
        let runtime = self
            .entries
            .get(key)
            .filter(|entry| entry.sources == sources)
            .map(|entry| entry.runtime);
        self.stats.record_lookup(runtime.is_some());
        observability::record_cache_lookup(names::RUNTIME, runtime.is_some());
        runtime
    }

    /// Stores a runtime built from sources whose stamps were `sources`
    /// before they were read.
    pub(super) fn insert(&self, key: Key, runtime: Arc<AgentRuntime>, sources: SourceStamps) {
        self.entries.insert(key, Entry { runtime, sources });
    }

    pub(super) fn invalidate_all(&self) {
        self.entries.invalidate_all();
    }

    /// This cache's name, counters and size, as `/metrics` reports them.
    pub(super) fn report(&self) -> CacheReport {
        (
            names::RUNTIME,
            self.stats.snapshot(),
            self.entries.entry_count(),
        )
    }
}
