//! `circles`: a named group of agents that work together.

use sea_orm::entity::prelude::*;

use crate::ids::CircleId;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "circles")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: CircleId,
    /// Unique name of the circle.
    pub name: String,
    #[sea_orm(column_type = "Text")]
    pub description: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::circle_members::Entity")]
    CircleMembers,
}

impl Related<super::circle_members::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::CircleMembers.def()
    }
}

/// The agents of a circle, through `circle_members`.
impl Related<super::agents::Entity> for Entity {
    fn to() -> RelationDef {
        super::circle_members::Relation::Agents.def()
    }

    fn via() -> Option<RelationDef> {
        Some(super::circle_members::Relation::Circles.def().rev())
    }
}

impl ActiveModelBehavior for ActiveModel {}
