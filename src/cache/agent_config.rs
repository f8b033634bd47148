//! The agent config cache: each agent with its model, provider and tools,
//! by agent name, for `agent(name)`, runtimes and member lists' long texts.
//!
//! Besides loading on a miss, every entry is reloaded in one statement at
//! start and then periodically ([`spawn_refresh`]), so an edit made behind
//! the API's back (a direct database edit) is found: the refresh reports it
//! as a change of that agent, which every cache hears like a mutation's.

use std::{collections::HashSet, sync::Arc, time::Duration};

use clap::Args;
use tokio::task::JoinHandle;

use super::{
    fenced::{AfterLoadHook, CacheReport, CacheSettings, FencedCache, Stamp},
    read_set::{self, ReadKey},
    table::CacheInfo,
    SharedCache,
};
use crate::{
    batch::Loaded,
    changes::{Change, ChangeBus},
    config::duration,
    db::{self, agents::AgentConfig, Db},
    error::AppError,
};

pub const INFO: CacheInfo = CacheInfo {
    name: "agent_config",
    keeps: "agent config (agent + model + provider + tools)",
    key: "agent name",
    capacity_flag: "--agent-cache-capacity",
    capacity: 10_000,
    ttl_flag: "--agent-cache-ttl",
    ttl: "600s",
    filled_by:
        "one JOIN for all misses of a batch; every entry reloaded in one statement at start \
                and every `--agent-cache-refresh` (120s)",
    evicted_by: "a change of the agent (its columns, its model or provider reference, its tools), \
                 by mutation or found by the refresh",
};

/// The agent config cache's flags.
#[derive(Clone, Debug, Args)]
pub struct AgentConfigSettings {
    /// Agent configurations (agent + model + provider + tools) kept.
    #[arg(
        long,
        env = "AGENTGRAPH_AGENT_CACHE_CAPACITY",
        default_value_t = INFO.capacity,
        global = true
    )]
    pub agent_cache_capacity: u64,

    /// How long an agent configuration lives without a refresh.
    #[arg(long, env = "AGENTGRAPH_AGENT_CACHE_TTL", default_value = INFO.ttl, value_parser = duration, global = true)]
    pub agent_cache_ttl: Duration,

    /// How often every agent configuration is reloaded in the background.
    #[arg(long, env = "AGENTGRAPH_AGENT_CACHE_REFRESH", default_value = "120s", value_parser = duration, global = true)]
    pub agent_cache_refresh: Duration,
}

impl AgentConfigSettings {
    pub fn sizing(&self) -> CacheSettings {
        CacheSettings {
            capacity: self.agent_cache_capacity,
            ttl: self.agent_cache_ttl,
        }
    }
}

/// Agent configurations by name. Cheap to clone (shared state).
#[derive(Clone)]
pub struct AgentConfigCache {
    db: Db,
    entries: FencedCache<String, Arc<AgentConfig>>,
}

/// What a refresh found.
#[derive(Debug)]
pub struct Refreshed {
    /// Agents loaded.
    pub loaded: usize,
    /// Agents whose cached entry was found changed or gone: deliver these.
    pub changes: Vec<Change>,
}

impl AgentConfigCache {
    pub fn new(db: Db, settings: &AgentConfigSettings, after_load: Option<AfterLoadHook>) -> Self {
        Self {
            db,
            entries: FencedCache::new(
                INFO.name,
                settings.sizing(),
                |name: &String| read_set::note(ReadKey::Agent(name)),
                after_load,
            ),
        }
    }

    /// The agent's configuration; `None` for an unknown name.
    pub async fn get(&self, name: &str) -> Result<Option<Arc<AgentConfig>>, AppError> {
        let name = name.to_owned();
        self.get_many(std::slice::from_ref(&name)).await?.get(&name)
    }

    /// The configurations of the agents named in `names` (unknown names are
    /// absent): from memory, and the misses of a batch in one statement.
    pub async fn get_many(
        &self,
        names: &[String],
    ) -> Result<Loaded<String, Arc<AgentConfig>>, AppError> {
        let db = self.db.clone();
        self.entries
            .get_or_load_many(names, move |missing| {
                let db = db.clone();
                async move {
                    let configs = db::agents::load_configs(db.conn(), Some(&missing)).await?;
                    Ok(configs
                        .into_iter()
                        .map(|config| (config.agent.agent.name.clone(), Arc::new(config)))
                        .collect())
                }
            })
            .await
    }

    /// The current stamp of the agent's entry: a runtime built from it is
    /// valid while this is unchanged.
    pub fn stamp(&self, name: &str) -> Stamp {
        self.entries.stamp(&name.to_owned())
    }

    /// Reloads every agent configuration in one statement. Unchanged
    /// entries are stored again (renewing their TTL) unless a change came
    /// meanwhile; an entry that changed behind our back, or whose agent is
    /// gone, is reported as a change of that agent (deliver it: member
    /// lists and runtimes built from it must go too).
    pub async fn refresh(&self) -> Result<Refreshed, AppError> {
        let snapshot = self.entries.snapshot();
        let configs = db::agents::load_configs(self.db.conn(), None).await?;
        let loaded = configs.len();
        let mut unchanged = Vec::with_capacity(loaded);
        let mut names = HashSet::with_capacity(loaded);
        let mut changes = Vec::new();
        for config in configs {
            let name = config.agent.agent.name.clone();
            names.insert(name.clone());
            match self.entries.peek(&name) {
                Some(cached) if *cached != config => changes.push(Change::Agent { name }),
                _ => unchanged.push((name, Arc::new(config))),
            }
        }
        let gone = self
            .entries
            .keys()
            .into_iter()
            .filter(|k| !names.contains(k));
        changes.extend(gone.map(|name| Change::Agent { name }));
        self.entries.store_loaded(&snapshot, unchanged);
        Ok(Refreshed { loaded, changes })
    }
}

impl SharedCache for AgentConfigCache {
    /// Drops what `change` made wrong.
    fn on_change(&self, change: &Change) {
        match change {
            Change::Agent { name } => self.entries.invalidate(name),
            Change::Everything => self.entries.invalidate_all(),
            Change::Membership { .. }
            | Change::Instructions { .. }
            | Change::ProjectState { .. }
            | Change::Circles => {}
        }
    }

    fn report(&self) -> CacheReport {
        self.entries.report()
    }
}

/// Spawns the periodic refresh, which delivers what it finds to `bus`;
/// abort the handle to stop it. A failing refresh keeps the cached entries
/// (they expire by TTL), logs once per streak of failures, and retries at
/// the next period.
pub fn spawn_refresh(
    cache: AgentConfigCache,
    bus: Arc<ChangeBus>,
    period: Duration,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(period);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticker.tick().await; // the first tick is immediate; start-up already loaded
        let mut failing = false;
        loop {
            ticker.tick().await;
            match cache.refresh().await {
                Ok(refreshed) => {
                    bus.deliver(&refreshed.changes);
                    if failing {
                        tracing::info!(agents = refreshed.loaded, "agent config refresh recovered");
                    }
                    failing = false;
                }
                Err(error) => {
                    if !failing {
                        tracing::warn!(%error, "agent config refresh failed; serving cached entries until they expire");
                    }
                    failing = true;
                }
            }
        }
    })
}
