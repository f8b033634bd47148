//! The readiness cache: each project's readiness snapshot (score, counts,
//! the `state_version` it describes), by project id. The memory tier of
//! two: a miss reads the persisted snapshots (the `readiness` table) of a
//! whole batch in one statement, and computes those still missing in one
//! aggregate, persisting them off the request path.

use entity::ProjectId;
use std::{sync::Arc, time::Duration};

use clap::Args;
use futures::FutureExt;

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
    db::{self, readiness::ReadinessSnapshot, Db},
    error::AppError,
    observability::StatsSnapshot,
};

pub const INFO: CacheInfo = CacheInfo {
    name: "readiness",
    keeps: "readiness (memory tier)",
    key: "project",
    capacity_flag: "--readiness-cache-capacity",
    capacity: 50_000,
    ttl_flag: "--readiness-cache-ttl",
    ttl: "300s",
    filled_by: "the `readiness` table, else one aggregate for all misses of a batch",
    evicted_by: "a change of the project's state",
};

/// The readiness cache's flags.
#[derive(Clone, Debug, Args)]
pub struct ReadinessSettings {
    /// Project readiness snapshots kept in memory.
    #[arg(
        long,
        env = "AGENTGRAPH_READINESS_CACHE_CAPACITY",
        default_value_t = INFO.capacity,
        global = true
    )]
    pub readiness_cache_capacity: u64,

    /// How long a readiness snapshot stays in memory.
    #[arg(long, env = "AGENTGRAPH_READINESS_CACHE_TTL", default_value = INFO.ttl, value_parser = duration, global = true)]
    pub readiness_cache_ttl: Duration,
}

impl ReadinessSettings {
    pub fn sizing(&self) -> CacheSettings {
        CacheSettings {
            capacity: self.readiness_cache_capacity,
            ttl: self.readiness_cache_ttl,
        }
    }
}

/// Readiness snapshots by project. Cheap to clone.
#[derive(Clone)]
pub struct ReadinessCache {
    db: Db,
    entries: FencedCache<ProjectId, Arc<ReadinessSnapshot>>,
}

impl ReadinessCache {
    pub fn new(db: Db, settings: &ReadinessSettings, after_load: Option<AfterLoadHook>) -> Self {
        Self {
            db,
            entries: FencedCache::new(
                INFO.name,
                settings.sizing(),
                |project: &ProjectId| read_set::note(ReadKey::ProjectState(*project)),
                after_load,
            ),
        }
    }

    /// Readiness of each project in `project_ids` (the caller has checked
    /// ownership). Memory first; the misses of all concurrent requests are
    /// read from the persisted snapshots in one statement, and those still
    /// missing are computed by one aggregate statement. New snapshots are
    /// persisted off the request path.
    pub async fn get_many(
        &self,
        project_ids: &[ProjectId],
    ) -> Result<Loaded<ProjectId, Arc<ReadinessSnapshot>>, AppError> {
        let db = self.db.clone();
        self.entries
            .get_or_load_many(project_ids, move |missing| {
                let db = db.clone();
                async move {
                    let mut found = db::readiness::stored(db.conn(), &missing).await?;
                    let unknown: Vec<ProjectId> = missing
                        .into_iter()
                        .filter(|id| !found.contains_key(id))
                        .collect();
                    if !unknown.is_empty() {
                        let computed = db::readiness::compute(db.conn(), &unknown).await?;
                        persist_in_background(db, computed.values().cloned().collect());
                        found.extend(computed);
                    }
                    Ok(found
                        .into_iter()
                        .map(|(id, snapshot)| (id, Arc::new(snapshot)))
                        .collect())
                }
            })
            .await
    }

    /// Its counters: each load is one batch of recomputations (or reads of
    /// persisted snapshots).
    pub fn stats(&self) -> StatsSnapshot {
        self.entries.stats().snapshot()
    }
}

impl SharedCache for ReadinessCache {
    /// Drops what `change` made wrong.
    fn on_change(&self, change: &Change) {
        match change {
            Change::ProjectState { project_id } => self.entries.invalidate(project_id),
            Change::Everything => self.entries.invalidate_all(),
            Change::Agent { .. }
            | Change::Membership { .. }
            | Change::Instructions { .. }
            | Change::Circles => {}
        }
    }

    fn report(&self) -> CacheReport {
        self.entries.report()
    }
}

/// Writes new snapshots to the `readiness` table without holding up the
/// request that computed them. A failure only costs a recomputation later.
fn persist_in_background(db: Db, snapshots: Vec<ReadinessSnapshot>) {
    tokio::spawn(async move {
        // A write like any other: through the write transaction, so that on
        // SQLite it queues behind (instead of colliding with) mutations.
        let stored = db
            .write(|txn| async move { db::readiness::store(txn, &snapshots).await }.boxed())
            .await;
        if let Err(error) = stored {
            tracing::warn!(%error, "persisting readiness snapshots failed");
        }
    });
}
