//! `agent_tools`: a tool an agent may call; unique by (agent_id, name).

use sea_orm::entity::prelude::*;

use crate::ids::{AgentId, ToolId};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "agent_tools")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: ToolId,
    pub agent_id: AgentId,
    /// The name the LLM calls the tool by; unique within its agent.
    pub name: String,
    #[sea_orm(column_type = "Text")]
    pub description: String,
    /// How the runtime executes it ("function", "retrieval", "http", ...).
    pub tool_type: String,
    /// Tool-type specific settings (endpoint, parameters schema, index name).
    #[sea_orm(column_type = "JsonBinary")]
    pub config: Json,
    /// Inactive tools stay configured but are not given to the agent runtime.
    pub is_active: bool,
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
