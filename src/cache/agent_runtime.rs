//! The agent runtime cache: assembled runtimes (what starting an agent for
//! a user needs) by (user, agent name). Each entry carries the stamps of
//! the agent config and instructions entries it was built from, and is
//! valid only while both are current: a change that evicts either source
//! therefore evicts every runtime built from it, for all users, without
//! scanning.

use entity::UserId;
use std::{sync::Arc, time::Duration};

use clap::Args;
use moka::sync::Cache;

use super::{
    agent_config::AgentConfigCache,
    fenced::{CacheReport, CacheSettings, Stamp},
    read_set::{self, ReadKey},
    table::CacheInfo,
    user_instructions::InstructionsCache,
    SharedCache,
};
use crate::{
    changes::Change, config::duration, error::AppError, observability, observability::CacheStats,
    runtime::AgentRuntime,
};

pub const INFO: CacheInfo = CacheInfo {
    name: "agent_runtime",
    keeps: "agent runtime",
    key: "(user, agent name)",
    capacity_flag: "--runtime-cache-capacity",
    capacity: 100_000,
    ttl_flag: "--runtime-cache-ttl",
    ttl: "120s",
    filled_by: "assembled from the agent config and user instructions entries, loaded concurrently",
    evicted_by: "anything that evicts either of those (each entry carries their stamps)",
};

/// The agent runtime cache's flags.
#[derive(Clone, Debug, Args)]
pub struct RuntimeSettings {
    /// Assembled (user, agent) runtimes kept.
    #[arg(
        long,
        env = "AGENTGRAPH_RUNTIME_CACHE_CAPACITY",
        default_value_t = INFO.capacity,
        global = true
    )]
    pub runtime_cache_capacity: u64,

    /// How long an assembled runtime stays cached.
    #[arg(long, env = "AGENTGRAPH_RUNTIME_CACHE_TTL", default_value = INFO.ttl, value_parser = duration, global = true)]
    pub runtime_cache_ttl: Duration,
}

impl RuntimeSettings {
    pub fn sizing(&self) -> CacheSettings {
        CacheSettings {
            capacity: self.runtime_cache_capacity,
            ttl: self.runtime_cache_ttl,
        }
    }
}

type Key = (UserId, String);
/// The stamps of the agent config and the instructions a runtime was built from.
type SourceStamps = (Stamp, Stamp);

#[derive(Clone)]
struct Entry {
    runtime: Arc<AgentRuntime>,
    sources: SourceStamps,
}

/// Runtimes by (user, agent name), over the two caches they are built from.
pub struct RuntimeCache {
    entries: Cache<Key, Entry>,
    stats: Arc<CacheStats>,
    configs: AgentConfigCache,
    instructions: InstructionsCache,
}

impl RuntimeCache {
    pub fn new(
        settings: &RuntimeSettings,
        configs: AgentConfigCache,
        instructions: InstructionsCache,
    ) -> Self {
        let stats = Arc::new(CacheStats::default());
        let entries = settings.sizing().build(INFO.name, Arc::clone(&stats));
        Self {
            entries,
            stats,
            configs,
            instructions,
        }
    }

    /// Everything needed to start the agent for the user; `None` for an
    /// unknown agent. On a miss, config and instructions load concurrently.
    pub async fn get(
        &self,
        user_id: UserId,
        agent_name: &str,
    ) -> Result<Option<Arc<AgentRuntime>>, AppError> {
        let key = (user_id, agent_name.to_owned());
        // A hit reads both sources through their stamps, not their caches.
        read_set::note(ReadKey::Agent(agent_name));
        read_set::note(ReadKey::Instructions(user_id, agent_name));
        let sources = (
            self.configs.stamp(agent_name),
            self.instructions.stamp(user_id, agent_name),
        );
        if let Some(runtime) = self.cached(&key, sources) {
            return Ok(Some(runtime));
        }
        let (config, instructions) = tokio::try_join!(
            self.configs.get(agent_name),
            self.instructions.get(user_id, agent_name)
        )?;
        let (Some(config), Some(instructions)) = (config, instructions) else {
            return Ok(None);
        };
        let runtime = Arc::new(AgentRuntime::assemble(config, instructions));
        self.entries.insert(
            key,
            Entry {
                runtime: Arc::clone(&runtime),
                sources,
            },
        );
        Ok(Some(runtime))
    }

    /// The runtime, if cached and built from sources still at `sources`.
    fn cached(&self, key: &Key, sources: SourceStamps) -> Option<Arc<AgentRuntime>> {
        let runtime = self
            .entries
            .get(key)
            .filter(|entry| entry.sources == sources)
            .map(|entry| entry.runtime);
        self.stats.record_lookup(runtime.is_some());
        observability::record_cache_lookup(INFO.name, runtime.is_some());
        runtime
    }
}

impl SharedCache for RuntimeCache {
    /// Drops what `change` made wrong: a flush. Every other change reaches
    /// the entries through their sources' stamps.
    fn on_change(&self, change: &Change) {
        match change {
            Change::Everything => self.entries.invalidate_all(),
            Change::Agent { .. }
            | Change::Membership { .. }
            | Change::Instructions { .. }
            | Change::ProjectState { .. }
            | Change::Circles => {}
        }
    }

    fn report(&self) -> CacheReport {
        (INFO.name, self.stats.snapshot(), self.entries.entry_count())
    }
}
