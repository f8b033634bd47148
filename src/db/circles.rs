//! Circles and their members: every statement that reads or writes them.
//!
//! Members are read with a summary of their agent, the agent's model and
//! the model's provider in one JOIN for any number of circles
//! ([`members_by_circle`]), which is what keeps the nested circles query at
//! two statements. Membership changes are recorded as a [`Change::Membership`] of the
//! circle.

use entity::{CircleId, CircleMemberId};
use futures::FutureExt;
use std::{collections::HashMap, sync::Arc};

use chrono::Utc;
use entity::{circle_members, circles};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, FromQueryResult, JoinType,
    QueryFilter, QueryOrder, QueryResult, QuerySelect, RelationTrait, Set,
};

use super::{
    agents::{agent_by_name, agent_summary_select, AgentSummary},
    Db, WriteTxn,
};
use super::{DataError, Entity, Taken};
use crate::changes::Change;

/// A membership with a summary of the member agent (and its model and
/// provider).
#[derive(Clone, Debug, PartialEq)]
pub struct MemberRow {
    pub member: circle_members::Model,
    pub agent: Arc<AgentSummary>,
}

/// Columns of the membership itself, before the agent's.
const MEMBER_COLUMNS: usize = 6;

impl FromQueryResult for MemberRow {
    /// By position, in [`member_rows`]' order.
    fn from_query_result(row: &QueryResult, _prefix: &str) -> Result<Self, DbErr> {
        Ok(Self {
            member: circle_members::Model {
                id: row.try_get_by_index(0)?,
                circle_id: row.try_get_by_index(1)?,
                agent_id: row.try_get_by_index(2)?,
                role: row.try_get_by_index(3)?,
                is_active: row.try_get_by_index(4)?,
                joined_at: row.try_get_by_index(5)?,
            },
            agent: Arc::new(AgentSummary::read(row, MEMBER_COLUMNS)?),
        })
    }
}

#[tracing::instrument(skip(conn))]
pub async fn find_circle(
    conn: &impl ConnectionTrait,
    id: CircleId,
) -> Result<Option<circles::Model>, DbErr> {
    circles::Entity::find_by_id(id).one(conn).await
}

/// The circles of `ids` that exist (one statement).
#[tracing::instrument(skip_all, fields(circles = ids.len()))]
pub async fn circles_by_id(
    conn: &impl ConnectionTrait,
    ids: &[CircleId],
) -> Result<HashMap<CircleId, circles::Model>, DbErr> {
    let rows = circles::Entity::find()
        .filter(circles::Column::Id.is_in(ids.iter().copied()))
        .all(conn)
        .await?;
    Ok(rows.into_iter().map(|row| (row.id, row)).collect())
}

/// One page of circles ordered by name (keyset: names after `after`).
#[tracing::instrument(skip(conn))]
pub async fn list_circles(
    conn: &impl ConnectionTrait,
    after: Option<&str>,
    limit: u64,
) -> Result<Vec<circles::Model>, DbErr> {
    let mut query = circles::Entity::find();
    if let Some(after) = after {
        query = query.filter(circles::Column::Name.gt(after));
    }
    query
        .order_by_asc(circles::Column::Name)
        .limit(limit)
        .all(conn)
        .await
}

/// The members of every circle in `circle_ids` with their agents, models and
/// providers: one statement, grouped by circle, in joining order.
#[tracing::instrument(skip_all, fields(circles = circle_ids.len()))]
pub async fn members_by_circle(
    conn: &impl ConnectionTrait,
    circle_ids: &[CircleId],
) -> Result<HashMap<CircleId, Vec<MemberRow>>, DbErr> {
    let rows = member_rows()
        .filter(circle_members::Column::CircleId.is_in(circle_ids.iter().copied()))
        .order_by_asc(circle_members::Column::CircleId)
        .order_by_asc(circle_members::Column::JoinedAt)
        .order_by_asc(circle_members::Column::Id)
        .into_model::<MemberRow>()
        .all(conn)
        .await?;
    Ok(super::group_by_parent(rows, |row| row.member.circle_id))
}

/// Memberships joined with their agents' summaries, selected in the order
/// [`MemberRow`] reads them.
fn member_rows() -> sea_orm::Select<circle_members::Entity> {
    let select = circle_members::Entity::find()
        .select_only()
        .column(circle_members::Column::Id)
        .column(circle_members::Column::CircleId)
        .column(circle_members::Column::AgentId)
        .column(circle_members::Column::Role)
        .column(circle_members::Column::IsActive)
        .column(circle_members::Column::JoinedAt)
        .join(JoinType::InnerJoin, circle_members::Relation::Agents.def());
    agent_summary_select(select)
}

/// The circle's cached member list is out of date once this commits.
fn members_changed(txn: &WriteTxn, circle_id: CircleId) {
    txn.record(Change::Membership { circle_id });
}

#[tracing::instrument(skip(db))]
pub async fn create_circle(
    db: &Db,
    name: String,
    description: String,
) -> Result<circles::Model, DataError> {
    db.write(|txn| {
        async move {
            let taken = name.clone();
            let circle = circles::ActiveModel {
                id: Set(CircleId::new()),
                name: Set(name),
                description: Set(description),
                created_at: Set(Utc::now()),
            }
            .insert(txn)
            .await
            .map_err(|e| DataError::on_unique_violation(e, Taken::CircleName(taken)))?;
            txn.record(Change::Circles);
            Ok(circle)
        }
        .boxed()
    })
    .await
}

#[tracing::instrument(skip(db))]
pub async fn add_member(
    db: &Db,
    circle_id: CircleId,
    agent_name: &str,
    role: String,
) -> Result<MemberRow, DataError> {
    let agent_name = agent_name.to_owned();
    db.write(|txn| {
        async move {
            circle_by_id(txn, circle_id).await?;
            let agent = agent_by_name(txn, &agent_name).await?;
            let id = CircleMemberId::new();
            circle_members::ActiveModel {
                id: Set(id),
                circle_id: Set(circle_id),
                agent_id: Set(agent.id),
                role: Set(role),
                is_active: Set(true),
                joined_at: Set(Utc::now()),
            }
            .insert(txn)
            .await
            .map_err(|e| {
                DataError::on_unique_violation(e, Taken::CircleMembership { agent_name })
            })?;
            members_changed(txn, circle_id);
            let row = member_by_id(txn, id).await?;
            Ok(row)
        }
        .boxed()
    })
    .await
}

/// Changes to a membership; `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct MemberPatch {
    pub role: Option<String>,
    pub is_active: Option<bool>,
}

#[tracing::instrument(skip(db, patch))]
pub async fn update_member(
    db: &Db,
    circle_id: CircleId,
    agent_name: &str,
    patch: MemberPatch,
) -> Result<MemberRow, DataError> {
    let agent_name = agent_name.to_owned();
    db.write(|txn| {
        async move {
            let agent_name = agent_name.as_str();
            let member = membership(txn, circle_id, agent_name).await?;
            let id = member.id;
            let mut member: circle_members::ActiveModel = member.into();
            if let Some(role) = patch.role {
                member.role = Set(role);
            }
            if let Some(is_active) = patch.is_active {
                member.is_active = Set(is_active);
            }
            member.update(txn).await?;
            members_changed(txn, circle_id);
            let row = member_by_id(txn, id).await?;
            Ok(row)
        }
        .boxed()
    })
    .await
}

/// Deletes the membership and returns it as it was.
#[tracing::instrument(skip(db))]
pub async fn remove_member(
    db: &Db,
    circle_id: CircleId,
    agent_name: &str,
) -> Result<MemberRow, DataError> {
    let agent_name = agent_name.to_owned();
    db.write(|txn| {
        async move {
            let agent_name = agent_name.as_str();
            let member = membership(txn, circle_id, agent_name).await?;
            let row = member_by_id(txn, member.id).await?;
            circle_members::Entity::delete_by_id(member.id)
                .exec(txn)
                .await?;
            members_changed(txn, circle_id);
            Ok(row)
        }
        .boxed()
    })
    .await
}

async fn circle_by_id(
    conn: &impl ConnectionTrait,
    circle_id: CircleId,
) -> Result<circles::Model, DataError> {
    find_circle(conn, circle_id)
        .await?
        .ok_or(DataError::NotFound(Entity::Circle))
}

async fn membership(
    conn: &impl ConnectionTrait,
    circle_id: CircleId,
    agent_name: &str,
) -> Result<circle_members::Model, DataError> {
    circle_by_id(conn, circle_id).await?;
    let agent = agent_by_name(conn, agent_name).await?;
    circle_members::Entity::find()
        .filter(circle_members::Column::CircleId.eq(circle_id))
        .filter(circle_members::Column::AgentId.eq(agent.id))
        .one(conn)
        .await?
        .ok_or(DataError::NotFound(Entity::CircleMember))
}

async fn member_by_id(
    conn: &impl ConnectionTrait,
    id: CircleMemberId,
) -> Result<MemberRow, DataError> {
    member_rows()
        .filter(circle_members::Column::Id.eq(id))
        .into_model::<MemberRow>()
        .one(conn)
        .await?
        .ok_or_else(|| DataError::Invariant("a membership vanished in its own transaction"))
}
