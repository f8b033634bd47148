//! `foundations`: a project's foundation (problem, users, value, business
//! case, constraints), at most one per project (keyed by it). Each field is
//! optional; the non-empty ones score the `problem` readiness dimension.

use sea_orm::entity::prelude::*;

use crate::ids::ProjectId;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "foundations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub project_id: ProjectId,
    #[sea_orm(column_type = "Text", nullable)]
    pub problem_statement: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub target_users: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub value_proposition: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub business_case: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub constraints: Option<String>,
    pub updated_at: DateTimeUtc,
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
