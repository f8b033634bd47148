//! `vp_steps`: one step of a project's value path, ordered by `position`.

use sea_orm::entity::prelude::*;

use crate::ids::{ProjectId, StepId};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "vp_steps")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: StepId,
    pub project_id: ProjectId,
    /// Order of the step within its project, from 0.
    pub position: i32,
    pub label: String,
    #[sea_orm(column_type = "Text")]
    pub description: String,
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
