//! `projects`: a user's product-discovery project, the root of its state
//! (features, personas, value path, meetings, signals, foundation, strategic
//! context) and of its readiness.

use sea_orm::entity::prelude::*;

use crate::ids::{ProjectId, UserId};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "projects")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: ProjectId,
    /// The owning user (token `sub`); nobody else may see the project.
    pub owner_id: UserId,
    pub name: String,
    /// Bumped by every change of the project's state (in the changing
    /// transaction); readiness snapshots record the version they describe.
    pub state_version: i64,
    pub created_at: DateTimeUtc,
    /// Last change of the project: a rename or any change of its state.
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::features::Entity")]
    Features,
    #[sea_orm(has_many = "super::personas::Entity")]
    Personas,
    #[sea_orm(has_many = "super::vp_steps::Entity")]
    VpSteps,
    #[sea_orm(has_many = "super::meetings::Entity")]
    Meetings,
    #[sea_orm(has_many = "super::signals::Entity")]
    Signals,
    #[sea_orm(has_one = "super::strategic_contexts::Entity")]
    StrategicContexts,
    #[sea_orm(has_one = "super::foundations::Entity")]
    Foundations,
    #[sea_orm(has_one = "super::di_analyses::Entity")]
    DiAnalyses,
    #[sea_orm(has_one = "super::readiness::Entity")]
    Readiness,
}

impl Related<super::features::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Features.def()
    }
}

impl Related<super::personas::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Personas.def()
    }
}

impl Related<super::vp_steps::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::VpSteps.def()
    }
}

impl Related<super::meetings::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Meetings.def()
    }
}

impl Related<super::signals::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Signals.def()
    }
}

impl Related<super::strategic_contexts::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::StrategicContexts.def()
    }
}

impl Related<super::foundations::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Foundations.def()
    }
}

impl Related<super::di_analyses::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::DiAnalyses.def()
    }
}

impl Related<super::readiness::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Readiness.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
