//! The circle members cache: each circle's members in joining order, with
//! a summary of their agents (status, model), by circle id: what keeps the
//! nested circles query at two statements cold and one warm.

use entity::CircleId;
use std::{sync::Arc, time::Duration};

use clap::Args;

use super::{
    fenced::{AfterLoadHook, CacheReport, CacheSettings, FencedCache},
    read_set::{self, ReadKey},
    table::CacheInfo,
    SharedCache,
};
use crate::{
    batch::Loaded,
    changes::Change,
    config::duration,
    db::{self, circles::MemberRow, Db},
    error::AppError,
};

pub const INFO: CacheInfo = CacheInfo {
    name: "circle_members",
    keeps: "circle members (with agent summaries)",
    key: "circle",
    capacity_flag: "--circle-members-cache-capacity",
    capacity: 10_000,
    ttl_flag: "--circle-members-cache-ttl",
    ttl: "300s",
    filled_by: "one JOIN for all misses of a batch",
    evicted_by:
        "a membership change of the circle; a change of any agent, by mutation or found by \
                 the agent config refresh (summaries show status and model; which lists hold an \
                 agent is not tracked, so all go)",
};

/// The circle members cache's flags.
#[derive(Clone, Debug, Args)]
pub struct CircleMembersSettings {
    /// Circles whose member lists (with agent summaries) are kept.
    #[arg(
        long,
        env = "AGENTGRAPH_CIRCLE_MEMBERS_CACHE_CAPACITY",
        default_value_t = INFO.capacity,
        global = true
    )]
    pub circle_members_cache_capacity: u64,

    /// How long a circle's member list stays cached.
    #[arg(long, env = "AGENTGRAPH_CIRCLE_MEMBERS_CACHE_TTL", default_value = INFO.ttl, value_parser = duration, global = true)]
    pub circle_members_cache_ttl: Duration,
}

impl CircleMembersSettings {
    pub fn sizing(&self) -> CacheSettings {
        CacheSettings {
            capacity: self.circle_members_cache_capacity,
            ttl: self.circle_members_cache_ttl,
        }
    }
}

/// Member lists by circle. Cheap to clone.
#[derive(Clone)]
pub struct CircleMembersCache {
    db: Db,
    entries: FencedCache<CircleId, Arc<[MemberRow]>>,
}

impl CircleMembersCache {
    pub fn new(
        db: Db,
        settings: &CircleMembersSettings,
        after_load: Option<AfterLoadHook>,
    ) -> Self {
        Self {
            db,
            entries: FencedCache::new(
                INFO.name,
                settings.sizing(),
                |circle: &CircleId| {
                    read_set::note(ReadKey::Membership(*circle));
                    read_set::note(ReadKey::AgentLists);
                },
                after_load,
            ),
        }
    }

    /// The members of each circle in `circle_ids` with summaries of their
    /// agents, in joining order: from memory, and the misses of a batch in
    /// one JOIN.
    pub async fn get_many(
        &self,
        circle_ids: &[CircleId],
    ) -> Result<Loaded<CircleId, Arc<[MemberRow]>>, AppError> {
        let db = self.db.clone();
        self.entries
            .get_or_load_many(circle_ids, move |missing| {
                let db = db.clone();
                async move {
                    let mut found = db::circles::members_by_circle(db.conn(), &missing).await?;
                    Ok(missing
                        .into_iter()
                        .map(|id| (id, found.remove(&id).unwrap_or_default().into()))
                        .collect())
                }
            })
            .await
    }
}

impl SharedCache for CircleMembersCache {
    /// Drops what `change` made wrong.
    fn on_change(&self, change: &Change) {
        match change {
            Change::Membership { circle_id } => self.entries.invalidate(circle_id),
            Change::Agent { .. } | Change::Everything => self.entries.invalidate_all(),
            Change::Instructions { .. } | Change::ProjectState { .. } | Change::Circles => {}
        }
    }

    fn report(&self) -> CacheReport {
        self.entries.report()
    }
}
