//! `user_agent_instructions`: a user's own additions to an agent's prompt,
//! keyed by (user_id, agent_id).

use sea_orm::entity::prelude::*;

use crate::ids::{AgentId, UserId};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "user_agent_instructions")]
pub struct Model {
    /// The user (token `sub`); users live in the identity provider, not here.
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: UserId,
    #[sea_orm(primary_key, auto_increment = false)]
    pub agent_id: AgentId,
    /// Appended after the agent's base and system prompts for this user only.
    #[sea_orm(column_type = "Text")]
    pub instructions: String,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::agents::Entity",
        from = "Column::AgentId",
        to = "super::agents::Column::Id",
        on_update = "NoAction",
        on_delete = "Cascade"
    )]
    Agents,
}

impl Related<super::agents::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Agents.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
