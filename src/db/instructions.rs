//! A user's own instructions for an agent: every statement that reads or
//! writes `user_agent_instructions`.

use entity::{AgentId, UserId};
use futures::FutureExt;
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entity::{agents, user_agent_instructions as instructions};
use sea_orm::{
    sea_query::{Expr, IntoCondition, OnConflict},
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, FromQueryResult, JoinType, QueryFilter,
    QueryOrder, QuerySelect, RelationTrait, Set,
};

use super::DataError;
use super::{agents::agent_by_name, Db};
use crate::changes::Change;

/// A user's instructions for one agent, as the runtime needs them: `None`
/// text when the user has none.
#[derive(Clone, Debug, PartialEq, Eq, FromQueryResult)]
pub struct UserInstructions {
    pub agent_id: AgentId,
    pub instructions: Option<String>,
    pub updated_at: Option<DateTime<Utc>>,
}

/// The user's instructions for the agent named `agent_name`; `None` when no
/// such agent exists. One statement, independent of the agent's config, so
/// both can load at once.
#[tracing::instrument(skip(conn))]
pub async fn for_runtime(
    conn: &impl ConnectionTrait,
    user_id: UserId,
    agent_name: &str,
) -> Result<Option<UserInstructions>, DbErr> {
    let own_row =
        agents::Relation::UserAgentInstructions
            .def()
            .on_condition(move |_agents, instructions| {
                Expr::col((instructions, instructions::Column::UserId))
                    .eq(user_id)
                    .into_condition()
            });
    agents::Entity::find()
        .select_only()
        .column_as(agents::Column::Id, "agent_id")
        .column(instructions::Column::Instructions)
        .column(instructions::Column::UpdatedAt)
        .join(JoinType::LeftJoin, own_row)
        .filter(agents::Column::Name.eq(agent_name))
        .into_model::<UserInstructions>()
        .one(conn)
        .await
}

/// One of a user's instructions, with the agent's name.
#[derive(Clone, Debug, PartialEq, Eq, FromQueryResult)]
pub struct NamedInstructions {
    pub user_id: UserId,
    pub agent_name: String,
    pub instructions: String,
    pub updated_at: DateTime<Utc>,
}

/// Every instruction of each user in `user_ids`, ordered by agent name:
/// one statement.
#[tracing::instrument(skip_all, fields(users = user_ids.len()))]
pub async fn by_user(
    conn: &impl ConnectionTrait,
    user_ids: &[UserId],
) -> Result<HashMap<UserId, Vec<NamedInstructions>>, DbErr> {
    let rows = instructions::Entity::find()
        .select_only()
        .column(instructions::Column::UserId)
        .column_as(agents::Column::Name, "agent_name")
        .column(instructions::Column::Instructions)
        .column(instructions::Column::UpdatedAt)
        .join(JoinType::InnerJoin, instructions::Relation::Agents.def())
        .filter(instructions::Column::UserId.is_in(user_ids.iter().copied()))
        .order_by_asc(instructions::Column::UserId)
        .order_by_asc(agents::Column::Name)
        .into_model::<NamedInstructions>()
        .all(conn)
        .await?;
    Ok(super::group_by_parent(rows, |row| row.user_id))
}

/// Creates or replaces the user's instructions for the agent.
#[tracing::instrument(skip(db, text))]
pub async fn set(
    db: &Db,
    user_id: UserId,
    agent_name: &str,
    text: String,
) -> Result<NamedInstructions, DataError> {
    let agent_name = agent_name.to_owned();
    db.write(|txn| {
        async move {
            let agent_name = agent_name.as_str();
            let agent = agent_by_name(txn, agent_name).await?;
            let updated_at = Utc::now();
            instructions::Entity::insert(instructions::ActiveModel {
                user_id: Set(user_id),
                agent_id: Set(agent.id),
                instructions: Set(text.clone()),
                updated_at: Set(updated_at),
            })
            .on_conflict(
                OnConflict::columns([instructions::Column::UserId, instructions::Column::AgentId])
                    .update_columns([
                        instructions::Column::Instructions,
                        instructions::Column::UpdatedAt,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(txn)
            .await?;
            txn.record(Change::Instructions {
                user_id,
                agent: agent.name.clone(),
            });
            Ok(NamedInstructions {
                user_id,
                agent_name: agent.name,
                instructions: text,
                updated_at,
            })
        }
        .boxed()
    })
    .await
}

/// Deletes the user's instructions for the agent, if any. Idempotent.
#[tracing::instrument(skip(db))]
pub async fn clear(db: &Db, user_id: UserId, agent_name: &str) -> Result<(), DataError> {
    let agent_name = agent_name.to_owned();
    db.write(|txn| {
        async move {
            let agent_name = agent_name.as_str();
            let agent = agent_by_name(txn, agent_name).await?;
            instructions::Entity::delete_many()
                .filter(instructions::Column::UserId.eq(user_id))
                .filter(instructions::Column::AgentId.eq(agent.id))
                .exec(txn)
                .await?;
            txn.record(Change::Instructions {
                user_id,
                agent: agent.name,
            });
            Ok(())
        }
        .boxed()
    })
    .await
}
