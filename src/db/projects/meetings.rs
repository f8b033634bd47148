//! Meetings: read in pages, newest first, written by their project's owner.

use chrono::{DateTime, Utc};
use entity::meetings;
use entity::{MeetingId, ProjectId, UserId};
use futures::FutureExt;
use sea_orm::{
    sea_query::Order, ActiveModelTrait, ColumnTrait, Condition, EntityTrait, Select, Set,
};
use serde::{Deserialize, Serialize};

use super::{
    owned_project,
    pages::{PageKey, PagedChild},
    state_changed,
};
use crate::db::{DataError, Db};

/// Where a page of meetings continues: meetings are listed by `held_at`,
/// newest first, and by id (newest first) among those held at one time.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MeetingCursor {
    pub held_at: DateTime<Utc>,
    pub id: MeetingId,
}

impl From<&meetings::Model> for MeetingCursor {
    fn from(meeting: &meetings::Model) -> Self {
        Self {
            held_at: meeting.held_at,
            id: meeting.id,
        }
    }
}

/// A page of a project's meetings.
pub type MeetingPageKey = PageKey<MeetingCursor>;

impl PagedChild for meetings::Entity {
    type Cursor = MeetingCursor;
    type Filter = ();

    fn project_column() -> meetings::Column {
        meetings::Column::ProjectId
    }

    fn project_id(model: &meetings::Model) -> ProjectId {
        model.project_id
    }

    /// Uses `idx_meetings_project_id_held_at`.
    fn order() -> Vec<(meetings::Column, Order)> {
        vec![
            (meetings::Column::HeldAt, Order::Desc),
            (meetings::Column::Id, Order::Desc),
        ]
    }

    fn filtered(_: &()) -> Select<meetings::Entity> {
        meetings::Entity::find()
    }

    fn after(cursor: &MeetingCursor) -> Condition {
        Condition::any()
            .add(meetings::Column::HeldAt.lt(cursor.held_at))
            .add(
                Condition::all()
                    .add(meetings::Column::HeldAt.eq(cursor.held_at))
                    .add(meetings::Column::Id.lt(cursor.id)),
            )
    }
}

/// A new meeting, validated by the caller.
#[derive(Clone, Debug)]
pub struct NewMeeting {
    pub title: String,
    pub held_at: DateTime<Utc>,
    pub notes: String,
}

#[tracing::instrument(skip(db, new))]
pub async fn add_meeting(
    db: &Db,
    owner_id: UserId,
    project_id: ProjectId,
    new: NewMeeting,
) -> Result<meetings::Model, DataError> {
    db.write(|txn| {
        async move {
            owned_project(txn, owner_id, project_id).await?;
            let meeting = meetings::ActiveModel {
                id: Set(MeetingId::new()),
                project_id: Set(project_id),
                title: Set(new.title),
                held_at: Set(new.held_at),
                notes: Set(new.notes),
            }
            .insert(txn)
            .await?;
            state_changed(txn, project_id).await?;
            Ok(meeting)
        }
        .boxed()
    })
    .await
}
