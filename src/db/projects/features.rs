//! Features: read in pages by id, written by their project's owner.

use entity::features;
use entity::{FeatureId, ProjectId, UserId};
use sea_orm::{sea_query::Order, ColumnTrait, Condition, EntityTrait, Select, Set};

use super::{
    children::{delete_child, insert_child, update_child, ProjectChild},
    now,
    pages::{PageKey, PagedChild},
};
use crate::db::{DataError, Db, Entity};

/// A page of a project's features, oldest first (ids are time-ordered).
pub type FeaturePageKey = PageKey<FeatureId>;

impl PagedChild for features::Entity {
    type Cursor = FeatureId;
    type Filter = ();

    fn project_column() -> features::Column {
        features::Column::ProjectId
    }

    fn project_id(model: &features::Model) -> ProjectId {
        model.project_id
    }

    fn order() -> Vec<(features::Column, Order)> {
        vec![(features::Column::Id, Order::Asc)]
    }

    fn filtered(_: &()) -> Select<features::Entity> {
        features::Entity::find()
    }

    fn after(cursor: &FeatureId) -> Condition {
        Condition::all().add(features::Column::Id.gt(*cursor))
    }
}

/// A new feature, validated by the caller.
#[derive(Clone, Debug)]
pub struct NewFeature {
    pub name: String,
    pub description: String,
}

/// Changes to a feature; `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct FeaturePatch {
    pub name: Option<String>,
    pub description: Option<String>,
    pub confirmed: Option<bool>,
}

impl ProjectChild for features::Entity {
    type Id = FeatureId;
    const ENTITY: Entity = Entity::Feature;

    fn project_of(model: &features::Model) -> ProjectId {
        model.project_id
    }
}

#[tracing::instrument(skip(db, new))]
pub async fn create_feature(
    db: &Db,
    owner_id: UserId,
    project_id: ProjectId,
    new: NewFeature,
) -> Result<features::Model, DataError> {
    let feature = features::ActiveModel {
        id: Set(FeatureId::new()),
        project_id: Set(project_id),
        name: Set(new.name),
        description: Set(new.description),
        confirmed: Set(false),
        created_at: Set(now()),
    };
    insert_child(db, owner_id, project_id, feature).await
}

/// Applies `patch` (also how a feature is confirmed or unconfirmed).
#[tracing::instrument(skip(db, patch))]
pub async fn update_feature(
    db: &Db,
    owner_id: UserId,
    id: FeatureId,
    patch: FeaturePatch,
) -> Result<features::Model, DataError> {
    update_child(
        db,
        owner_id,
        id,
        move |feature: &mut features::ActiveModel| {
            if let Some(name) = patch.name {
                feature.name = Set(name);
            }
            if let Some(description) = patch.description {
                feature.description = Set(description);
            }
            if let Some(confirmed) = patch.confirmed {
                feature.confirmed = Set(confirmed);
            }
        },
    )
    .await
}

/// Deletes the feature and returns it as it was.
#[tracing::instrument(skip(db))]
pub async fn delete_feature(
    db: &Db,
    owner_id: UserId,
    id: FeatureId,
) -> Result<features::Model, DataError> {
    delete_child::<features::Entity>(db, owner_id, id).await
}
