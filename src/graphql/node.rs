//! Global object identification (Relay): the `Node` interface and
//! `node(id:)` / `nodes(ids:)`.
//!
//! A node's id is the `id` its type already has: ids are server-made
//! UUIDv7, unique across tables, so the UUID alone names one object and
//! `db::nodes::find` tells its type in one statement over the tables. The
//! interface's `id` is `UUID!` (not `ID!`) so that every type keeps the
//! `id: UUID!` today's clients read; GraphQL allows any named type there.
//! What the viewer may not see (another user's project or its state) is
//! `null`, exactly as an unknown id is.

use std::{collections::HashMap, convert::Infallible, future::Ready};

use async_graphql::{Context, Interface, Object};
use entity::{features, meetings, personas, signals, vp_steps, CircleId, ProjectId};
use futures::future::try_join_all;
use uuid::Uuid;

use super::{
    agents::{Agent, AgentTool},
    circles::{Circle, CircleMember},
    context::ContextExt,
    input, pagination,
    projects::{Feature, Meeting, Persona, Project, Signal, ValuePathStep},
    Result,
};
use crate::db::nodes::{self, Found, NodeKind};

/// Most ids one `nodes` call takes.
const MAX_NODES: usize = 100;

/// An object with a global id: `node(id:)` finds it again.
#[derive(Interface)]
#[graphql(field(
    name = "id",
    ty = "Uuid",
    method = "node_id",
    desc = "Unique across every type; the object's own `id`."
))]
pub(super) enum Node {
    Project(Project),
    Feature(Feature),
    Persona(Persona),
    Signal(Signal),
    Meeting(Meeting),
    ValuePathStep(ValuePathStep),
    Agent(Agent),
    AgentTool(AgentTool),
    Circle(Circle),
    CircleMember(CircleMember),
}

/// The UUID a type shows as its `id` (the interface's field; each type
/// answers `id` with its own resolver).
pub(super) trait NodeId {
    fn node_uuid(&self) -> Uuid;

    fn node_id(&self, _ctx: &Context<'_>) -> Ready<Result<Uuid, Infallible>> {
        std::future::ready(Ok(self.node_uuid()))
    }
}

macro_rules! node_id_field {
    ($($ty:ty),*) => {$(
        impl NodeId for $ty {
            fn node_uuid(&self) -> Uuid {
                self.id.into()
            }
        }
    )*};
}

node_id_field!(
    Feature,
    Persona,
    Signal,
    Meeting,
    ValuePathStep,
    AgentTool,
    Circle
);

#[derive(Default)]
pub(super) struct NodeQuery;

#[Object]
impl NodeQuery {
    /// The object with this id, of any type; null when there is none or
    /// the viewer may not see it.
    async fn node(&self, ctx: &Context<'_>, id: Uuid) -> Result<Option<Node>> {
        Ok(resolve(ctx, vec![id]).await?.pop().flatten())
    }

    /// The objects with these ids (at most 100), in their order; null
    /// where `node(id:)` is null. One statement finds every id's type, and
    /// each type is read in one batch.
    #[graphql(complexity = "pagination::list_complexity(ids.len(), child_complexity)")]
    async fn nodes(&self, ctx: &Context<'_>, ids: Vec<Uuid>) -> Result<Vec<Option<Node>>> {
        input::max_items("ids", &ids, MAX_NODES)?;
        resolve(ctx, ids).await
    }
}

/// The rows of project state found among the ids, read in one statement
/// per type.
struct StateRows {
    features: HashMap<Uuid, features::Model>,
    personas: HashMap<Uuid, personas::Model>,
    signals: HashMap<Uuid, signals::Model>,
    meetings: HashMap<Uuid, meetings::Model>,
    steps: HashMap<Uuid, vp_steps::Model>,
}

async fn resolve(ctx: &Context<'_>, ids: Vec<Uuid>) -> Result<Vec<Option<Node>>> {
    let viewer = ctx.viewer()?;
    let conn = ctx.services()?.db.conn();
    let mut unique = ids.clone();
    unique.sort_unstable();
    unique.dedup();
    let found = nodes::find(conn, viewer.id, &unique).await?;
    let of = |kind: NodeKind| -> Vec<Uuid> {
        found
            .iter()
            .filter(|(_, found)| found.kind == kind)
            .map(|(id, _)| *id)
            .collect()
    };
    let (features, personas, signals, meetings, steps) = futures::try_join!(
        nodes::rows_by_id::<features::Entity>(
            conn,
            features::Column::Id,
            of(NodeKind::Feature),
            |r| r.id.into()
        ),
        nodes::rows_by_id::<personas::Entity>(
            conn,
            personas::Column::Id,
            of(NodeKind::Persona),
            |r| r.id.into()
        ),
        nodes::rows_by_id::<signals::Entity>(
            conn,
            signals::Column::Id,
            of(NodeKind::Signal),
            |r| r.id.into()
        ),
        nodes::rows_by_id::<meetings::Entity>(
            conn,
            meetings::Column::Id,
            of(NodeKind::Meeting),
            |r| r.id.into()
        ),
        nodes::rows_by_id::<vp_steps::Entity>(
            conn,
            vp_steps::Column::Id,
            of(NodeKind::ValuePathStep),
            |r| r.id.into()
        ),
    )?;
    let rows = StateRows {
        features,
        personas,
        signals,
        meetings,
        steps,
    };
    try_join_all(ids.iter().map(|id| one(ctx, *id, found.get(id), &rows))).await
}

async fn one(
    ctx: &Context<'_>,
    id: Uuid,
    found: Option<&Found>,
    rows: &StateRows,
) -> Result<Option<Node>> {
    let Some(found) = found else {
        return Ok(None);
    };
    let loaders = ctx.loaders()?;
    Ok(match found.kind {
        NodeKind::Project => Project::owned_by_viewer(ctx, ProjectId::from(id))
            .await?
            .map(Node::Project),
        NodeKind::Feature => rows
            .features
            .get(&id)
            .cloned()
            .map(|r| Node::Feature(r.into())),
        NodeKind::Persona => rows
            .personas
            .get(&id)
            .cloned()
            .map(|r| Node::Persona(r.into())),
        NodeKind::Signal => rows
            .signals
            .get(&id)
            .cloned()
            .map(|r| Node::Signal(r.into())),
        NodeKind::Meeting => rows
            .meetings
            .get(&id)
            .cloned()
            .map(|r| Node::Meeting(r.into())),
        NodeKind::ValuePathStep => rows
            .steps
            .get(&id)
            .cloned()
            .map(|r| Node::ValuePathStep(r.into())),
        NodeKind::Agent => loaders
            .agent_configs
            .load(found.agent_name.clone())
            .await?
            .filter(|config| Uuid::from(config.agent.agent.id) == id)
            .map(|config| Node::Agent(Agent::from(config))),
        NodeKind::AgentTool => loaders
            .agent_configs
            .load(found.agent_name.clone())
            .await?
            .and_then(|config| {
                config
                    .tools
                    .iter()
                    .find(|tool| Uuid::from(tool.id) == id)
                    .cloned()
            })
            .map(|tool| Node::AgentTool(AgentTool::from(tool))),
        NodeKind::Circle => loaders
            .circles_by_id
            .load(CircleId::from(id))
            .await?
            .map(|circle| Node::Circle(Circle::from(circle))),
        NodeKind::CircleMember => loaders
            .members_by_circle
            .load(CircleId::from(found.parent))
            .await?
            .and_then(|members| {
                members
                    .iter()
                    .find(|member| Uuid::from(member.member.id) == id)
                    .cloned()
            })
            .map(|member| Node::CircleMember(CircleMember::from(member))),
    })
}
