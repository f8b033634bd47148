//! `features`: a candidate feature of a project; confirmed ones count toward
//! readiness.

use sea_orm::entity::prelude::*;

use crate::ids::{FeatureId, ProjectId};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "features")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: FeatureId,
    pub project_id: ProjectId,
    pub name: String,
    #[sea_orm(column_type = "Text")]
    pub description: String,
    /// Confirmed by the client; only confirmed features score `solution`.
    pub confirmed: bool,
    pub created_at: DateTimeUtc,
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
