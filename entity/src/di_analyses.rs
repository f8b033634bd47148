//! `di_analyses`: the last analysis a project's discovery-intelligence agent
//! stored, at most one per project (keyed by it).

use sea_orm::entity::prelude::*;

use crate::ids::ProjectId;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "di_analyses")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub project_id: ProjectId,
    /// The agent's output, opaque to the server.
    #[sea_orm(column_type = "JsonBinary")]
    pub analysis: Json,
    /// When it was stored; an analysis older than 60 minutes is stale.
    pub analyzed_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::projects::Entity",
        from = "Column::ProjectId",
        to = "super::projects::Column::Id",
        on_update = "NoAction",
        on_delete = "Cascade"
    )]
    Projects,
}

impl Related<super::projects::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Projects.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
