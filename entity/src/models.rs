//! `models`: one model a provider serves; agents point at one of these.

use sea_orm::entity::prelude::*;

use crate::ids::{ModelId, ProviderId};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "models")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: ModelId,
    /// The provider serving it; a provider with models cannot be deleted.
    pub provider_id: ProviderId,
    /// The provider's own model identifier, sent on the wire.
    pub model_name: String,
    /// A short stable name ("claude-sonnet") so agents survive model upgrades.
    pub model_alias: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::providers::Entity",
        from = "Column::ProviderId",
        to = "super::providers::Column::Id",
        on_update = "NoAction",
        on_delete = "Restrict"
    )]
    Providers,
    #[sea_orm(has_many = "super::agents::Entity")]
    Agents,
}

impl Related<super::providers::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Providers.def()
    }
}

impl Related<super::agents::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Agents.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
