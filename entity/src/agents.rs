//! `agents`: an AI agent's configuration. Its unique `name` is the key every
//! other part of the system (runtime, caches, circles) uses.

use sea_orm::entity::prelude::*;

use crate::ids::{AgentId, ModelId};
use sea_orm::FromJsonQueryResult;
use serde::{Deserialize, Serialize};

/// Lifecycle of an agent; only `Active` agents are meant to be started.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum AgentStatus {
    #[sea_orm(string_value = "active")]
    Active,
    #[sea_orm(string_value = "paused")]
    Paused,
    #[sea_orm(string_value = "archived")]
    Archived,
}

/// The skills an agent may load, stored as one JSON array of strings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, FromJsonQueryResult, Default)]
pub struct SkillNames(pub Vec<String>);

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "agents")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: AgentId,
    /// Unique key of the agent ("discovery-intelligence").
    pub name: String,
    /// What the agent is for, shown to people; empty when unknown.
    #[sea_orm(column_type = "Text")]
    pub description: String,
    /// The agent's role-specific instructions.
    #[sea_orm(column_type = "Text")]
    pub system_prompt: String,
    /// Instructions shared by a family of agents, placed before the system prompt.
    #[sea_orm(column_type = "Text")]
    pub base_prompt: String,
    #[sea_orm(column_type = "JsonBinary")]
    pub skill_names: SkillNames,
    pub status: AgentStatus,
    /// The model it runs on; `None` until one is chosen or after it was deleted.
    pub model_id: Option<ModelId>,
    /// Sampling temperature; `None` means the provider's default.
    pub temperature: Option<f64>,
    /// Completion length cap; `None` means the provider's default.
    pub max_tokens: Option<i32>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::models::Entity",
        from = "Column::ModelId",
        to = "super::models::Column::Id",
        on_update = "NoAction",
        on_delete = "SetNull"
    )]
    Models,
    #[sea_orm(has_many = "super::agent_tools::Entity")]
    AgentTools,
    #[sea_orm(has_many = "super::user_agent_instructions::Entity")]
    UserAgentInstructions,
    #[sea_orm(has_many = "super::circle_members::Entity")]
    CircleMembers,
}

impl Related<super::models::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Models.def()
    }
}

impl Related<super::agent_tools::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::AgentTools.def()
    }
}

impl Related<super::user_agent_instructions::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::UserAgentInstructions.def()
    }
}

impl Related<super::circle_members::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::CircleMembers.def()
    }
}

/// The circles an agent belongs to, through `circle_members`.
impl Related<super::circles::Entity> for Entity {
    fn to() -> RelationDef {
        super::circle_members::Relation::Circles.def()
    }

    fn via() -> Option<RelationDef> {
        Some(super::circle_members::Relation::Agents.def().rev())
    }
}

impl ActiveModelBehavior for ActiveModel {}
