//! `providers`: an LLM vendor or endpoint (OpenAI, Anthropic, a local Ollama).

use sea_orm::entity::prelude::*;

use crate::ids::ProviderId;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "providers")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: ProviderId,
    /// Unique, human-facing key of the provider ("openai").
    pub name: String,
    /// Which wire protocol the agent runtime speaks to it ("openai", "anthropic", ...).
    pub api_type: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::models::Entity")]
    Models,
}

impl Related<super::models::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Models.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
