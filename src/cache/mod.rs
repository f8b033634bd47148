//! The shared caches: the list of them and nothing else.
//!
//! Each cache is one module that owns its key and value types, its flags,
//! its loader and its rule for which [`Change`]s evict what; its
//! [`CacheInfo`] describes it for the README's table ([`TABLE`]) and
//! `/metrics`. Every cache but the runtime cache is a [`FencedCache`]
//! (bounded, TTL, single flight, and a generation fence so a change beats
//! a load already in flight); the runtime cache's entries carry the stamps
//! of the two entries they were built from. Caches wrap data access (`db`);
//! resolvers and loaders call them.
//!
//! Adding a cache: its module here, a field, its settings and its
//! [`CacheInfo`] in the lists below.

pub mod agent_config;
pub mod agent_runtime;
pub mod circle_members;
mod fenced;
pub mod project_owner;
pub mod read_set;
pub mod readiness;
pub mod responses;
pub mod table;
pub mod user_instructions;

use std::sync::Arc;

use clap::Args;

pub use fenced::{AfterLoadHook, CacheReport, CacheSettings, FencedCache};
pub use table::CacheInfo;

use self::{
    agent_config::{AgentConfigCache, AgentConfigSettings},
    agent_runtime::{RuntimeCache, RuntimeSettings},
    circle_members::{CircleMembersCache, CircleMembersSettings},
    project_owner::{ProjectOwnerCache, ProjectOwnerSettings},
    readiness::{ReadinessCache, ReadinessSettings},
    responses::{ResponseCache, ResponseSettings},
    user_instructions::{InstructionsCache, InstructionsSettings},
};
use crate::{
    changes::{Change, Subscriber},
    db::Db,
};

/// Every cache, in the order of the README's table and `/metrics`.
pub const TABLE: [&CacheInfo; 7] = [
    &agent_config::INFO,
    &user_instructions::INFO,
    &agent_runtime::INFO,
    &readiness::INFO,
    &circle_members::INFO,
    &project_owner::INFO,
    &responses::INFO,
];

/// Every cache's flags.
#[derive(Clone, Debug, Args)]
pub struct CacheConfig {
    #[command(flatten)]
    pub agent_config: AgentConfigSettings,
    #[command(flatten)]
    pub instructions: InstructionsSettings,
    #[command(flatten)]
    pub runtime: RuntimeSettings,
    #[command(flatten)]
    pub readiness: ReadinessSettings,
    #[command(flatten)]
    pub circle_members: CircleMembersSettings,
    #[command(flatten)]
    pub project_owner: ProjectOwnerSettings,
    #[command(flatten)]
    pub responses: ResponseSettings,
}

impl CacheConfig {
    /// Each cache's description with its configured capacity and TTL, in
    /// [`TABLE`] order.
    pub fn sizes(&self) -> [(&'static CacheInfo, CacheSettings); 7] {
        [
            (&agent_config::INFO, self.agent_config.sizing()),
            (&user_instructions::INFO, self.instructions.sizing()),
            (&agent_runtime::INFO, self.runtime.sizing()),
            (&readiness::INFO, self.readiness.sizing()),
            (&circle_members::INFO, self.circle_members.sizing()),
            (&project_owner::INFO, self.project_owner.sizing()),
            (&responses::INFO, self.responses.sizing()),
        ]
    }
}

/// The caches of this process. Shared by all requests.
pub struct Caches {
    pub agent_configs: AgentConfigCache,
    pub instructions: InstructionsCache,
    pub runtimes: RuntimeCache,
    pub readiness: ReadinessCache,
    pub circle_members: CircleMembersCache,
    pub project_owners: ProjectOwnerCache,
    /// Whole answers, over all of the above (see [`responses`]).
    pub responses: ResponseCache,
}

impl std::fmt::Debug for Caches {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Caches")
    }
}

impl Caches {
    /// Creates the caches; subscribe them to the application's change bus.
    pub fn new(db: &Db, config: &CacheConfig, after_load: Option<AfterLoadHook>) -> Arc<Self> {
        let agent_configs =
            AgentConfigCache::new(db.clone(), &config.agent_config, after_load.clone());
        let instructions =
            InstructionsCache::new(db.clone(), &config.instructions, after_load.clone());
        Arc::new(Self {
            runtimes: RuntimeCache::new(
                &config.runtime,
                agent_configs.clone(),
                instructions.clone(),
            ),
            readiness: ReadinessCache::new(db.clone(), &config.readiness, after_load.clone()),
            circle_members: CircleMembersCache::new(
                db.clone(),
                &config.circle_members,
                after_load.clone(),
            ),
            project_owners: ProjectOwnerCache::new(&config.project_owner, after_load),
            responses: ResponseCache::new(&config.responses),
            agent_configs,
            instructions,
        })
    }

    /// Every cache, in [`TABLE`] order.
    fn all(&self) -> [&dyn SharedCache; 7] {
        [
            &self.agent_configs,
            &self.instructions,
            &self.runtimes,
            &self.readiness,
            &self.circle_members,
            &self.project_owners,
            &self.responses,
        ]
    }

    /// Counters and sizes of every cache, in [`TABLE`] order.
    pub fn stats(&self) -> Vec<CacheReport> {
        self.all().iter().map(|cache| cache.report()).collect()
    }
}

/// What every cache does for the list: hear changes, report its counters.
/// Each cache implements it in its own module, where its rule for what a
/// change evicts is written.
pub trait SharedCache: Send + Sync {
    /// Drops what `change` made wrong.
    fn on_change(&self, change: &Change);
    /// Its name (from its [`CacheInfo`]), counters and size.
    fn report(&self) -> CacheReport;
}

impl Subscriber for Caches {
    fn apply(&self, change: &Change) {
        for cache in self.all() {
            cache.on_change(change);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::config::Config;

    fn sizes(flags: &[&str]) -> Vec<(&'static str, u64, Duration)> {
        let args = std::iter::once("agentgraph").chain(flags.iter().copied());
        Config::from_flags(args)
            .expect("the flags parse")
            .caches
            .sizes()
            .iter()
            .map(|(info, sizing)| (info.name, sizing.capacity, sizing.ttl))
            .collect()
    }

    #[test]
    fn each_description_names_its_caches_flags_and_defaults() {
        let defaults = sizes(&[]);
        for (i, info) in TABLE.iter().enumerate() {
            let ttl = humantime::parse_duration(info.ttl).expect("a duration");
            assert_eq!(
                defaults[i],
                (info.name, info.capacity, ttl),
                "{}",
                info.name
            );
            let set = sizes(&[info.capacity_flag, "7", info.ttl_flag, "9s"]);
            for (j, sized) in set.iter().enumerate() {
                let expected = if i == j {
                    (info.name, 7, Duration::from_secs(9))
                } else {
                    defaults[j]
                };
                assert_eq!(*sized, expected, "{} set", info.name);
            }
        }
    }

    #[test]
    fn the_readme_cache_table_is_generated_from_the_descriptions() {
        let readme = include_str!("../../README.md");
        let table = table::markdown(&TABLE);
        assert!(
            readme.contains(&table),
            "README.md's cache table is stale; replace it (markers included) with:\n\n{table}\n"
        );
    }
}
