//! The shared caches, their keys and invalidation.
//!
//! | cache | key | filled by | invalidated by |
//! | --- | --- | --- | --- |
//! | agent config | agent name | single-key load on miss; every entry reloaded in one statement at start and periodically | agent and tool mutations |
//! | user instructions | (user, agent name) | single-key load on miss | set/clear instructions |
//! | agent runtime | (user, agent name) | assembled from the two above, loaded concurrently | anything that invalidates either |
//! | readiness | project id | the `readiness` table (L2), else one aggregate for all misses of a batch | every mutation of the project's state |
//! | circle members | circle id | one JOIN (memberships + agent summaries) for all misses of a batch | membership changes of the circle; any agent change, by mutation or found by the refresh (summaries show status and model) |
//! | project owner | (viewer, project id): whether the viewer owns it | every ownership check that read the row, found or not | nothing: an owner never changes, projects are not deleted and ids are made by the server |
//!
//! Every cache is a [`FencedCache`] (bounded, TTL, single-flight, and a
//! generation fence so an invalidation beats an in-flight load), except the
//! runtime cache, whose entries carry the stamps of the two entries they
//! were built from and are valid only while both are current. Caches wrap
//! data access (`db`); resolvers call the methods here.
//!
//! [`LiveReadiness`] pushes readiness to subscribers, recomputed through the
//! readiness cache after each change.

mod fenced;
mod live;
mod refresh;
mod runtime;

use entity::{CircleId, ProjectId, UserId};
use std::sync::Arc;

use futures::FutureExt;

pub use crate::observability::{CacheStats, StatsSnapshot};
pub use fenced::{AfterLoadHook, CacheReport, CacheSettings, FenceSnapshot, FencedCache};
pub use live::{Follower, LiveReadiness};
pub use refresh::spawn_agent_config_refresh;

use self::runtime::RuntimeCache;
use crate::{
    batch::Loaded,
    config::CacheConfig,
    db::{
        self, agents::AgentConfig, circles::MemberRow, instructions::UserInstructions,
        readiness::ReadinessSnapshot, Db,
    },
    error::AppError,
    invalidation::{Invalidation, Subscriber},
    runtime::AgentRuntime,
};

/// Names under which the caches report.
pub mod names {
    pub const AGENT_CONFIG: &str = "agent_config";
    pub const INSTRUCTIONS: &str = "user_instructions";
    pub const RUNTIME: &str = "agent_runtime";
    pub const READINESS: &str = "readiness";
    pub const CIRCLE_MEMBERS: &str = "circle_members";
    pub const PROJECT_OWNER: &str = "project_owner";
}

/// The caches of this process. Shared by all requests.
pub struct Caches {
    db: Db,
    agent_configs: FencedCache<String, Arc<AgentConfig>>,
    instructions: FencedCache<(UserId, String), Arc<UserInstructions>>,
    runtimes: RuntimeCache,
    readiness: FencedCache<ProjectId, Arc<ReadinessSnapshot>>,
    circle_members: FencedCache<CircleId, Arc<[MemberRow]>>,
    project_owners: FencedCache<(UserId, ProjectId), bool>,
}

impl std::fmt::Debug for Caches {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Caches")
    }
}

impl Caches {
    /// Creates the caches and subscribes them to `db`'s invalidation bus.
    pub fn new(db: Db, config: &CacheConfig, after_load: Option<AfterLoadHook>) -> Arc<Self> {
        let caches = Arc::new(Self {
            agent_configs: FencedCache::new(
                names::AGENT_CONFIG,
                CacheSettings {
                    capacity: config.agent_cache_capacity,
                    ttl: config.agent_cache_ttl,
                },
                after_load.clone(),
            ),
            instructions: FencedCache::new(
                names::INSTRUCTIONS,
                CacheSettings {
                    capacity: config.instructions_cache_capacity,
                    ttl: config.instructions_cache_ttl,
                },
                after_load.clone(),
            ),
            readiness: FencedCache::new(
                names::READINESS,
                CacheSettings {
                    capacity: config.readiness_cache_capacity,
                    ttl: config.readiness_cache_ttl,
                },
                after_load.clone(),
            ),
            circle_members: FencedCache::new(
                names::CIRCLE_MEMBERS,
                CacheSettings {
                    capacity: config.circle_members_cache_capacity,
                    ttl: config.circle_members_cache_ttl,
                },
                after_load.clone(),
            ),
            project_owners: FencedCache::new(
                names::PROJECT_OWNER,
                CacheSettings {
                    capacity: config.project_owner_cache_capacity,
                    ttl: config.project_owner_cache_ttl,
                },
                after_load,
            ),
            runtimes: RuntimeCache::new(CacheSettings {
                capacity: config.runtime_cache_capacity,
                ttl: config.runtime_cache_ttl,
            }),
            db: db.clone(),
        });
        let subscriber: Arc<dyn Subscriber> = caches.clone();
        db.bus().subscribe(Arc::downgrade(&subscriber));
        caches
    }

    /// The agent's configuration; `None` for an unknown name.
    pub async fn agent_config(&self, name: &str) -> Result<Option<Arc<AgentConfig>>, AppError> {
        let name = name.to_owned();
        self.agent_configs(std::slice::from_ref(&name))
            .await?
            .get(&name)
    }

    /// The configurations of the agents named in `names` (unknown names are
    /// absent): from memory, and the misses of a batch in one statement.
    pub async fn agent_configs(
        &self,
        names: &[String],
    ) -> Result<Loaded<String, Arc<AgentConfig>>, AppError> {
        let db = self.db.clone();
        self.agent_configs
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

    /// The members of each circle in `circle_ids` with summaries of their
    /// agents, in joining order: from memory, and the misses of a batch in
    /// one JOIN.
    pub async fn circle_members(
        &self,
        circle_ids: &[CircleId],
    ) -> Result<Loaded<CircleId, Arc<[MemberRow]>>, AppError> {
        let db = self.db.clone();
        self.circle_members
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

    /// Whether `viewer` owns project `id`, if this replica checked it
    /// before: an owner never changes, so an ownership check costs no
    /// statement the second time.
    ///
    /// Keyed by viewer, and a missing project is remembered like another
    /// user's: whether a project exists never shows to anyone but its
    /// owner, not even in the cache counts of the cost extension (another
    /// user's id and an unknown one are both a miss and one statement the
    /// first time, and a hit and none after).
    pub fn project_ownership(&self, viewer: UserId, id: ProjectId) -> Option<bool> {
        self.project_owners.get(&(viewer, id))
    }

    /// Take before reading a project whose ownership
    /// [`Self::remember_project_ownership`] will keep.
    pub fn project_owner_snapshot(&self) -> FenceSnapshot {
        self.project_owners.snapshot()
    }

    /// Keeps whether `viewer` owns project `id`, as read since `snapshot`.
    pub fn remember_project_ownership(
        &self,
        snapshot: &FenceSnapshot,
        viewer: UserId,
        id: ProjectId,
        owned: bool,
    ) {
        self.project_owners
            .store_loaded(snapshot, [((viewer, id), owned)]);
    }

    /// The user's instructions for the agent; `None` for an unknown agent.
    pub async fn user_instructions(
        &self,
        user_id: UserId,
        agent_name: &str,
    ) -> Result<Option<Arc<UserInstructions>>, AppError> {
        let db = self.db.clone();
        let key = (user_id, agent_name.to_owned());
        let name = key.1.clone();
        self.instructions
            .get_or_load(&key, || async move {
                let found = db::instructions::for_runtime(db.conn(), user_id, &name).await?;
                Ok(found.map(Arc::new))
            })
            .await
    }

    /// Everything needed to start the agent for the user; `None` for an
    /// unknown agent. On a miss, config and instructions load concurrently.
    pub async fn agent_runtime(
        &self,
        user_id: UserId,
        agent_name: &str,
    ) -> Result<Option<Arc<AgentRuntime>>, AppError> {
        let key = (user_id, agent_name.to_owned());
        let sources = (
            self.agent_configs.stamp(&key.1),
            self.instructions.stamp(&key),
        );
        if let Some(runtime) = self.runtimes.get(&key, sources) {
            return Ok(Some(runtime));
        }
        let (config, instructions) = tokio::try_join!(
            self.agent_config(agent_name),
            self.user_instructions(user_id, agent_name)
        )?;
        let (Some(config), Some(instructions)) = (config, instructions) else {
            return Ok(None);
        };
        let runtime = Arc::new(AgentRuntime::assemble(config, instructions));
        self.runtimes.insert(key, Arc::clone(&runtime), sources);
        Ok(Some(runtime))
    }

    /// Readiness of each project in `project_ids` (the caller has checked
    /// ownership). Memory first; the misses of all concurrent requests are
    /// read from the persisted snapshots in one statement, and those still
    /// missing are computed by one aggregate statement. New snapshots are
    /// persisted off the request path.
    pub async fn readiness_many(
        &self,
        project_ids: &[ProjectId],
    ) -> Result<Loaded<ProjectId, Arc<ReadinessSnapshot>>, AppError> {
        let db = self.db.clone();
        self.readiness
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

    /// Reloads every agent configuration in one statement. Unchanged
    /// entries are stored again (renewing their TTL) unless invalidated
    /// meanwhile; an entry that changed behind our back (a direct database
    /// edit) is invalidated instead, so runtimes built from it go too, and
    /// its next read loads it afresh (member lists, which show agent
    /// summaries, go as well); agents that no longer exist are dropped. Returns how many agents were loaded.
    pub async fn refresh_agent_configs(&self) -> Result<usize, AppError> {
        let snapshot = self.agent_configs.snapshot();
        let configs = db::agents::load_configs(self.db.conn(), None).await?;
        let loaded = configs.len();
        let mut unchanged = Vec::with_capacity(loaded);
        let mut names = std::collections::HashSet::with_capacity(loaded);
        let mut changed = false;
        for config in configs {
            let name = config.agent.agent.name.clone();
            names.insert(name.clone());
            match self.agent_configs.peek(&name) {
                Some(cached) if *cached != config => {
                    self.agent_configs.invalidate(&name);
                    changed = true;
                }
                _ => unchanged.push((name, Arc::new(config))),
            }
        }
        for gone in self
            .agent_configs
            .keys()
            .into_iter()
            .filter(|k| !names.contains(k))
        {
            self.agent_configs.invalidate(&gone);
            changed = true;
        }
        if changed {
            // Member lists show agent summaries, like an agent mutation.
            self.circle_members.invalidate_all();
        }
        self.agent_configs.store_loaded(&snapshot, unchanged);
        Ok(loaded)
    }

    /// The readiness cache's counters: each load is one batch of
    /// recomputations (or reads of persisted snapshots).
    pub fn readiness_stats(&self) -> StatsSnapshot {
        self.readiness.stats().snapshot()
    }

    /// Counters and sizes of every cache, by name.
    pub fn stats(&self) -> Vec<CacheReport> {
        vec![
            self.agent_configs.report(),
            self.instructions.report(),
            self.runtimes.report(),
            self.readiness.report(),
            self.circle_members.report(),
            self.project_owners.report(),
        ]
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

impl Subscriber for Caches {
    fn apply(&self, event: &Invalidation) {
        match event {
            // Runtime entries built from these are invalid from now on: they
            // carry the stamps of their sources. Member lists show agent
            // summaries, and which lists hold an agent is not tracked.
            Invalidation::Agent { name } => {
                self.agent_configs.invalidate(name);
                self.circle_members.invalidate_all();
            }
            Invalidation::AllAgents => {
                self.agent_configs.invalidate_all();
                self.circle_members.invalidate_all();
            }
            Invalidation::CircleMembers { circle_id } => self.circle_members.invalidate(circle_id),
            Invalidation::Instructions { user_id, agent } => {
                self.instructions.invalidate(&(*user_id, agent.clone()));
            }
            Invalidation::Readiness { project_id } => self.readiness.invalidate(project_id),
            Invalidation::Everything => {
                self.readiness.invalidate_all();
                self.agent_configs.invalidate_all();
                self.instructions.invalidate_all();
                self.runtimes.invalidate_all();
                self.circle_members.invalidate_all();
                self.project_owners.invalidate_all();
            }
        }
    }
}
