//! `readiness`: the persisted readiness snapshot of a project (the shared,
//! second cache tier every replica sees), at most one per project (keyed by
//! it). A mutation of the project's state deletes it in the same transaction.

use sea_orm::entity::prelude::*;

use crate::ids::ProjectId;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "readiness")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub project_id: ProjectId,
    /// Mean of the four dimensions, 0..100, one decimal.
    pub score: f64,
    /// The four dimension scores by name (`value_path`, `problem`, ...).
    #[sea_orm(column_type = "JsonBinary")]
    pub dimensions: Json,
    /// The blocker messages, in their fixed order.
    #[sea_orm(column_type = "JsonBinary")]
    pub blockers: Json,
    /// The counts the score was computed from (also served as `counts`).
    #[sea_orm(column_type = "JsonBinary")]
    pub inputs: Json,
    /// The project's `state_version` these counts were read at; a row whose
    /// version differs from the project's is stale and ignored.
    pub state_version: i64,
    pub computed_at: DateTimeUtc,
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
