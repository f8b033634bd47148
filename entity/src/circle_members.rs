//! `circle_members`: an agent's membership in a circle; unique by
//! (circle_id, agent_id).

use sea_orm::entity::prelude::*;

use crate::ids::{AgentId, CircleId, CircleMemberId};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "circle_members")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: CircleMemberId,
    pub circle_id: CircleId,
    pub agent_id: AgentId,
    /// The agent's part in the circle ("lead", "reviewer", "member").
    pub role: String,
    /// Inactive members keep their history but take no part in the circle.
    pub is_active: bool,
    pub joined_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::circles::Entity",
        from = "Column::CircleId",
        to = "super::circles::Column::Id",
        on_update = "NoAction",
        on_delete = "Cascade"
    )]
    Circles,
    #[sea_orm(
        belongs_to = "super::agents::Entity",
        from = "Column::AgentId",
        to = "super::agents::Column::Id",
        on_update = "NoAction",
        on_delete = "Cascade"
    )]
    Agents,
}

impl Related<super::circles::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Circles.def()
    }
}

impl Related<super::agents::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Agents.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
