//! The user instructions cache: a user's own instructions for an agent, by
//! (user, agent name), for runtimes and `myInstructions`. A user's
//! *absence* of instructions for a known agent is kept too; an unknown
//! agent is not (a flood of unknown names cannot evict real entries).

use entity::UserId;
use std::{sync::Arc, time::Duration};

use clap::Args;

use super::{
    fenced::{AfterLoadHook, CacheReport, CacheSettings, FencedCache, Stamp},
    read_set::{self, ReadKey},
    table::CacheInfo,
    SharedCache,
};
use crate::{
    changes::Change,
    config::duration,
    db::{self, instructions::UserInstructions, Db},
    error::AppError,
};

pub const INFO: CacheInfo = CacheInfo {
    name: "user_instructions",
    keeps: "user instructions",
    key: "(user, agent name)",
    capacity_flag: "--instructions-cache-capacity",
    capacity: 100_000,
    ttl_flag: "--instructions-cache-ttl",
    ttl: "120s",
    filled_by: "one statement per miss (runs alongside the config load)",
    evicted_by: "a change of the user's instructions for the agent",
};

/// The user instructions cache's flags.
#[derive(Clone, Debug, Args)]
pub struct InstructionsSettings {
    /// (user, agent) instruction entries kept.
    #[arg(
        long,
        env = "AGENTGRAPH_INSTRUCTIONS_CACHE_CAPACITY",
        default_value_t = INFO.capacity,
        global = true
    )]
    pub instructions_cache_capacity: u64,

    /// How long a user's instructions stay cached.
    #[arg(long, env = "AGENTGRAPH_INSTRUCTIONS_CACHE_TTL", default_value = INFO.ttl, value_parser = duration, global = true)]
    pub instructions_cache_ttl: Duration,
}

impl InstructionsSettings {
    pub fn sizing(&self) -> CacheSettings {
        CacheSettings {
            capacity: self.instructions_cache_capacity,
            ttl: self.instructions_cache_ttl,
        }
    }
}

type Key = (UserId, String);

/// Users' instructions by (user, agent name). Cheap to clone.
#[derive(Clone)]
pub struct InstructionsCache {
    db: Db,
    entries: FencedCache<Key, Arc<UserInstructions>>,
}

impl InstructionsCache {
    pub fn new(db: Db, settings: &InstructionsSettings, after_load: Option<AfterLoadHook>) -> Self {
        Self {
            db,
            entries: FencedCache::new(
                INFO.name,
                settings.sizing(),
                |(user, agent): &Key| read_set::note(ReadKey::Instructions(*user, agent)),
                after_load,
            ),
        }
    }

    /// The user's instructions for the agent; `None` for an unknown agent.
    pub async fn get(
        &self,
        user_id: UserId,
        agent_name: &str,
    ) -> Result<Option<Arc<UserInstructions>>, AppError> {
        let db = self.db.clone();
        let key = (user_id, agent_name.to_owned());
        let name = key.1.clone();
        self.entries
            .get_or_load(&key, || async move {
                let found = db::instructions::for_runtime(db.conn(), user_id, &name).await?;
                Ok(found.map(Arc::new))
            })
            .await
    }

    /// The current stamp of the entry: a runtime built from it is valid
    /// while this is unchanged.
    pub fn stamp(&self, user_id: UserId, agent_name: &str) -> Stamp {
        self.entries.stamp(&(user_id, agent_name.to_owned()))
    }
}

impl SharedCache for InstructionsCache {
    /// Drops what `change` made wrong.
    fn on_change(&self, change: &Change) {
        match change {
            Change::Instructions { user_id, agent } => {
                self.entries.invalidate(&(*user_id, agent.clone()));
            }
            Change::Everything => self.entries.invalidate_all(),
            Change::Agent { .. }
            | Change::Membership { .. }
            | Change::ProjectState { .. }
            | Change::Circles => {}
        }
    }

    fn report(&self) -> CacheReport {
        self.entries.report()
    }
}
