//! Per-request DataLoaders: every relation lookup a request makes is batched
//! into one query per relation and nesting level.
//!
//! async-graphql's own DataLoader waits on a timer (1 ms by default, paid at
//! every nesting level) and runs batches in spawned tasks. [`Batcher`] needs
//! neither: the first lookup of a batch yields once to the executor, which
//! lets every sibling resolver polled in the same pass add its key, and then
//! sends the batch from the request's own task. Loaders are created per
//! request, so nothing one viewer loaded is ever served to another.

mod batcher;
mod projects;

pub(crate) use batcher::Batcher;
pub(crate) use projects::ProjectLoaders;

use entity::{AgentId, CircleId, ProjectId, UserId};
use std::sync::Arc;

use entity::{agent_tools, circles};

use crate::{
    cache::{
        read_set::{self, ReadKey},
        Caches,
    },
    db::{
        self, agents::AgentConfig, circles::MemberRow, instructions::NamedInstructions,
        readiness::ReadinessSnapshot, Db,
    },
};

/// The loaders of one request.
pub struct Loaders {
    /// Tools of an agent, by agent id.
    pub tools_by_agent: Batcher<AgentId, Vec<agent_tools::Model>>,
    /// Members (with agent summaries) of a circle, by circle id, through
    /// the circle members cache.
    pub members_by_circle: Batcher<CircleId, Arc<[MemberRow]>>,
    /// Circles by id (a member's circle).
    pub circles_by_id: Batcher<CircleId, circles::Model>,
    /// Agent configurations by agent name, through the agent config cache.
    pub agent_configs: Batcher<String, Arc<AgentConfig>>,
    /// A user's own instructions for agents, by user id.
    pub instructions_by_user: Batcher<UserId, Vec<NamedInstructions>>,
    /// Readiness snapshots by project id, through the readiness cache.
    pub readiness_by_project: Batcher<ProjectId, Arc<ReadinessSnapshot>>,
    /// A project's features, personas, value path, meetings, signals,
    /// foundation and strategic context.
    pub projects: ProjectLoaders,
}

impl Loaders {
    pub fn new(db: &Db, caches: &Arc<Caches>) -> Self {
        Self {
            projects: ProjectLoaders::new(db),
            readiness_by_project: Batcher::isolated({
                let caches = Arc::clone(caches);
                move |ids| {
                    let caches = Arc::clone(&caches);
                    async move { caches.readiness.get_many(&ids).await }
                }
            }),
            tools_by_agent: Batcher::new({
                let db = db.clone();
                move |ids| {
                    let db = db.clone();
                    // Tools change with their agent: `AgentLists` (by id,
                    // the agents' names are not at hand).
                    async move {
                        let read = db::agents::tools_by_agent(db.conn(), &ids);
                        Ok(read_set::keyed(&[ReadKey::AgentLists], read).await?)
                    }
                }
            }),
            instructions_by_user: Batcher::new({
                let db = db.clone();
                move |ids| {
                    let db = db.clone();
                    async move { Ok(db::instructions::by_user(db.conn(), &ids).await?) }
                }
            }),
            members_by_circle: Batcher::isolated({
                let caches = Arc::clone(caches);
                move |ids| {
                    let caches = Arc::clone(&caches);
                    async move { caches.circle_members.get_many(&ids).await }
                }
            }),
            circles_by_id: Batcher::new({
                let db = db.clone();
                move |ids| {
                    let db = db.clone();
                    async move {
                        let read = db::circles::circles_by_id(db.conn(), &ids);
                        Ok(read_set::keyed(&[ReadKey::Circles], read).await?)
                    }
                }
            }),
            agent_configs: Batcher::isolated({
                let caches = Arc::clone(caches);
                move |names| {
                    let caches = Arc::clone(&caches);
                    async move { caches.agent_configs.get_many(&names).await }
                }
            }),
        }
    }
}
