//! Features: read in pages by id, written by their project's owner.

use entity::features;
use sea_orm::{
    sea_query::Order, ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait,
    Select, Set,
};
use uuid::Uuid;

use super::{
    check_child_owner, now, owned_project,
    pages::{PageKey, PagedChild},
    state_changed,
};
use crate::{db::Db, error::AppError};

/// A page of a project's features, oldest first (ids are time-ordered).
pub type FeaturePageKey = PageKey<Uuid>;

impl PagedChild for features::Entity {
    type Cursor = Uuid;
    type Filter = ();

    fn project_column() -> features::Column {
        features::Column::ProjectId
    }

    fn project_id(model: &features::Model) -> Uuid {
        model.project_id
    }

    fn order() -> Vec<(features::Column, Order)> {
        vec![(features::Column::Id, Order::Asc)]
    }

    fn filtered(_: &()) -> Select<features::Entity> {
        features::Entity::find()
    }

    fn after(cursor: &Uuid) -> Condition {
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

#[tracing::instrument(skip(db, new))]
pub async fn create_feature(
    db: &Db,
    owner_id: Uuid,
    project_id: Uuid,
    new: NewFeature,
) -> Result<features::Model, AppError> {
    let txn = db.begin_write().await?;
    owned_project(&txn, owner_id, project_id).await?;
    let feature = features::ActiveModel {
        id: Set(Uuid::now_v7()),
        project_id: Set(project_id),
        name: Set(new.name),
        description: Set(new.description),
        confirmed: Set(false),
        created_at: Set(now()),
    }
    .insert(&txn)
    .await?;
    state_changed(&txn, project_id).await?;
    txn.commit().await?;
    Ok(feature)
}

/// Applies `patch` (also how a feature is confirmed or unconfirmed).
#[tracing::instrument(skip(db, patch))]
pub async fn update_feature(
    db: &Db,
    owner_id: Uuid,
    id: Uuid,
    patch: FeaturePatch,
) -> Result<features::Model, AppError> {
    let txn = db.begin_write().await?;
    let feature = owned_feature(&txn, owner_id, id).await?;
    let project_id = feature.project_id;
    let mut feature: features::ActiveModel = feature.into();
    if let Some(name) = patch.name {
        feature.name = Set(name);
    }
    if let Some(description) = patch.description {
        feature.description = Set(description);
    }
    if let Some(confirmed) = patch.confirmed {
        feature.confirmed = Set(confirmed);
    }
    let feature = feature.update(&txn).await?;
    state_changed(&txn, project_id).await?;
    txn.commit().await?;
    Ok(feature)
}

/// Deletes the feature and returns it as it was.
#[tracing::instrument(skip(db))]
pub async fn delete_feature(
    db: &Db,
    owner_id: Uuid,
    id: Uuid,
) -> Result<features::Model, AppError> {
    let txn = db.begin_write().await?;
    let feature = owned_feature(&txn, owner_id, id).await?;
    features::Entity::delete_by_id(id).exec(&txn).await?;
    state_changed(&txn, feature.project_id).await?;
    txn.commit().await?;
    Ok(feature)
}

/// The feature if its project is `owner_id`'s, else `NOT_FOUND`.
async fn owned_feature(
    conn: &impl ConnectionTrait,
    owner_id: Uuid,
    id: Uuid,
) -> Result<features::Model, AppError> {
    let feature = features::Entity::find_by_id(id)
        .one(conn)
        .await?
        .ok_or(AppError::NotFound("feature"))?;
    check_child_owner(conn, owner_id, feature.project_id, "feature").await?;
    Ok(feature)
}
