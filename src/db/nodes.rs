//! Global object identification: which table an id is a row of. Ids are
//! server-made UUIDv7, unique across tables, so one statement over every
//! table that backs a `Node` finds each id's type, and for project state
//! only the rows of projects `viewer` owns (another user's id and an unknown
//! one come back alike: absent).

use std::collections::HashMap;

use entity::{
    agent_tools, agents, circle_members, circles, features, meetings, personas, projects, signals,
    vp_steps, UserId,
};
use sea_orm::{
    sea_query::{Alias, Expr, IntoIden, Query, SelectStatement, UnionType},
    ConnectionTrait, DbErr, EntityTrait, FromQueryResult, Iden,
};
use uuid::Uuid;

/// The type of row an id names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NodeKind {
    Project,
    Feature,
    Persona,
    Signal,
    Meeting,
    ValuePathStep,
    Agent,
    AgentTool,
    Circle,
    CircleMember,
}

impl NodeKind {
    const ALL: [Self; 10] = [
        Self::Project,
        Self::Feature,
        Self::Persona,
        Self::Signal,
        Self::Meeting,
        Self::ValuePathStep,
        Self::Agent,
        Self::AgentTool,
        Self::Circle,
        Self::CircleMember,
    ];

    fn tag(self) -> &'static str {
        match self {
            Self::Project => "project",
            Self::Feature => "feature",
            Self::Persona => "persona",
            Self::Signal => "signal",
            Self::Meeting => "meeting",
            Self::ValuePathStep => "step",
            Self::Agent => "agent",
            Self::AgentTool => "tool",
            Self::Circle => "circle",
            Self::CircleMember => "member",
        }
    }
}

/// Where an id was found: its type, the row it hangs from (the project of
/// project state, the circle of a member, the agent of a tool; the row
/// itself otherwise) and, for an agent or a tool, the agent's name (the key
/// of the agent configuration cache).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    pub kind: NodeKind,
    pub parent: Uuid,
    pub agent_name: String,
}

#[derive(FromQueryResult)]
struct FoundRow {
    id: Uuid,
    kind: String,
    parent: Uuid,
    agent_name: String,
}

/// The type of each of `ids` that names a row `viewer` may see (one
/// statement). Unknown ids and other users' project state are absent.
#[tracing::instrument(skip_all, fields(ids = ids.len()))]
pub async fn find(
    conn: &impl ConnectionTrait,
    viewer: UserId,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, Found>, DbErr> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let ids = padded(ids);
    let mut parts = NodeKind::ALL
        .into_iter()
        .map(|kind| part(kind, viewer, &ids));
    let mut statement = parts.next().expect("at least one kind");
    for part in parts {
        statement.union(UnionType::All, part);
    }
    let rows = FoundRow::find_by_statement(conn.get_database_backend().build(&statement))
        .all(conn)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|row| {
            let kind = NodeKind::ALL
                .into_iter()
                .find(|kind| kind.tag() == row.kind)?;
            let found = Found {
                kind,
                parent: row.parent,
                agent_name: row.agent_name,
            };
            Some((row.id, found))
        })
        .collect())
}

/// `ids` repeated up to the next power of two: every statement of 33 to
/// 64 ids is the same text (the type finder's and each type's read), so each connection's prepared-statement cache
/// holds a handful of them, not one per length asked for (each large: the
/// ids are listed once per table).
fn padded(ids: &[Uuid]) -> Vec<Uuid> {
    let mut padded = ids.to_vec();
    if let Some(&last) = ids.last() {
        padded.resize(ids.len().next_power_of_two(), last);
    }
    padded
}

/// `SELECT id, kind, parent, agent_name` of one table.
fn part(kind: NodeKind, viewer: UserId, ids: &[Uuid]) -> SelectStatement {
    let ids = ids.iter().copied();
    let mut select = Query::select();
    match kind {
        NodeKind::Project => {
            columns(&mut select, kind, projects::Entity, projects::Column::Id);
            select
                .expr_as(Expr::val(""), Alias::new("agent_name"))
                .from(projects::Entity)
                .and_where(Expr::col((projects::Entity, projects::Column::Id)).is_in(ids))
                .and_where(Expr::col((projects::Entity, projects::Column::OwnerId)).eq(viewer));
        }
        NodeKind::Feature => {
            owned(
                &mut select,
                kind,
                viewer,
                ids,
                features::Entity,
                features::Column::Id,
                features::Column::ProjectId,
            );
        }
        NodeKind::Persona => {
            owned(
                &mut select,
                kind,
                viewer,
                ids,
                personas::Entity,
                personas::Column::Id,
                personas::Column::ProjectId,
            );
        }
        NodeKind::Signal => {
            owned(
                &mut select,
                kind,
                viewer,
                ids,
                signals::Entity,
                signals::Column::Id,
                signals::Column::ProjectId,
            );
        }
        NodeKind::Meeting => {
            owned(
                &mut select,
                kind,
                viewer,
                ids,
                meetings::Entity,
                meetings::Column::Id,
                meetings::Column::ProjectId,
            );
        }
        NodeKind::ValuePathStep => {
            owned(
                &mut select,
                kind,
                viewer,
                ids,
                vp_steps::Entity,
                vp_steps::Column::Id,
                vp_steps::Column::ProjectId,
            );
        }
        NodeKind::Agent => {
            columns(&mut select, kind, agents::Entity, agents::Column::Id);
            select
                .expr_as(
                    Expr::col((agents::Entity, agents::Column::Name)),
                    Alias::new("agent_name"),
                )
                .from(agents::Entity)
                .and_where(Expr::col((agents::Entity, agents::Column::Id)).is_in(ids));
        }
        NodeKind::AgentTool => {
            select
                .expr_as(
                    Expr::col((agent_tools::Entity, agent_tools::Column::Id)),
                    Alias::new("id"),
                )
                .expr_as(Expr::val(kind.tag()), Alias::new("kind"))
                .expr_as(
                    Expr::col((agent_tools::Entity, agent_tools::Column::AgentId)),
                    Alias::new("parent"),
                )
                .expr_as(
                    Expr::col((agents::Entity, agents::Column::Name)),
                    Alias::new("agent_name"),
                )
                .from(agent_tools::Entity)
                .inner_join(
                    agents::Entity,
                    Expr::col((agents::Entity, agents::Column::Id))
                        .equals((agent_tools::Entity, agent_tools::Column::AgentId)),
                )
                .and_where(Expr::col((agent_tools::Entity, agent_tools::Column::Id)).is_in(ids));
        }
        NodeKind::Circle => {
            columns(&mut select, kind, circles::Entity, circles::Column::Id);
            select
                .expr_as(Expr::val(""), Alias::new("agent_name"))
                .from(circles::Entity)
                .and_where(Expr::col((circles::Entity, circles::Column::Id)).is_in(ids));
        }
        NodeKind::CircleMember => {
            select
                .expr_as(
                    Expr::col((circle_members::Entity, circle_members::Column::Id)),
                    Alias::new("id"),
                )
                .expr_as(Expr::val(kind.tag()), Alias::new("kind"))
                .expr_as(
                    Expr::col((circle_members::Entity, circle_members::Column::CircleId)),
                    Alias::new("parent"),
                )
                .expr_as(Expr::val(""), Alias::new("agent_name"))
                .from(circle_members::Entity)
                .and_where(
                    Expr::col((circle_members::Entity, circle_members::Column::Id)).is_in(ids),
                );
        }
    }
    select.to_owned()
}

/// `id`, `kind` and the row itself as `parent`.
fn columns<T, C>(select: &mut SelectStatement, kind: NodeKind, table: T, id: C)
where
    T: IntoIden + Copy + 'static,
    C: IntoIden + Copy + 'static,
{
    select
        .expr_as(Expr::col((table, id)), Alias::new("id"))
        .expr_as(Expr::val(kind.tag()), Alias::new("kind"))
        .expr_as(Expr::col((table, id)), Alias::new("parent"));
}

/// A table of project state, joined to its project and kept to `viewer`'s.
fn owned<T, C>(
    select: &mut SelectStatement,
    kind: NodeKind,
    viewer: UserId,
    ids: impl IntoIterator<Item = Uuid>,
    table: T,
    id: C,
    project_id: C,
) where
    T: Iden + IntoIden + Copy + 'static,
    C: IntoIden + Copy + 'static,
{
    select
        .expr_as(Expr::col((table, id)), Alias::new("id"))
        .expr_as(Expr::val(kind.tag()), Alias::new("kind"))
        .expr_as(Expr::col((table, project_id)), Alias::new("parent"))
        .expr_as(Expr::val(""), Alias::new("agent_name"))
        .from(table)
        .inner_join(
            projects::Entity,
            Expr::col((projects::Entity, projects::Column::Id)).equals((table, project_id)),
        )
        .and_where(Expr::col((table, id)).is_in(ids))
        .and_where(Expr::col((projects::Entity, projects::Column::OwnerId)).eq(viewer));
}

/// The rows of `E` with these ids (one statement), by id.
pub async fn rows_by_id<E>(
    conn: &impl ConnectionTrait,
    id: E::Column,
    ids: Vec<Uuid>,
    key: impl Fn(&E::Model) -> Uuid,
) -> Result<HashMap<Uuid, E::Model>, DbErr>
where
    E: EntityTrait,
{
    use sea_orm::{ColumnTrait, QueryFilter};
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = E::find().filter(id.is_in(padded(&ids))).all(conn).await?;
    Ok(rows.into_iter().map(|row| (key(&row), row)).collect())
}
