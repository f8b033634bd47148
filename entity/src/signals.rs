//! `signals`: a piece of evidence about a project (a quote, an observation, a
//! finding), waiting for the discovery agent until `analyzed_at` is set.

use sea_orm::entity::prelude::*;

use crate::ids::{ProjectId, SignalId};

/// Who a signal comes from; client signals weigh most (a blocker without them).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum SignalAuthority {
    #[sea_orm(string_value = "client")]
    Client,
    #[sea_orm(string_value = "consultant")]
    Consultant,
    #[sea_orm(string_value = "research")]
    Research,
    #[sea_orm(string_value = "other")]
    Other,
}

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "signals")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: SignalId,
    pub project_id: ProjectId,
    /// Where it was captured ("interview", "email", "survey", ...).
    pub source: String,
    pub authority: SignalAuthority,
    #[sea_orm(column_type = "Text")]
    pub content: String,
    pub created_at: DateTimeUtc,
    /// When the discovery agent analyzed it; `None` while it is still new.
    pub analyzed_at: Option<DateTimeUtc>,
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
