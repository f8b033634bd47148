//! The write path every project child shares (features and personas):
//! checked against the project's owner in the writing transaction, and
//! marked as a change of the project's state, so readiness follows.

use entity::{ProjectId, UserId};
use futures::FutureExt;
use sea_orm::{
    ActiveModelBehavior, ActiveModelTrait, ConnectionTrait, EntityTrait, IntoActiveModel,
    PrimaryKeyTrait,
};

use super::{owned_project, state_changed};
use crate::db::{DataError, Db, Entity};

/// A row that belongs to one project and is written by that project's owner.
pub(super) trait ProjectChild:
    EntityTrait<PrimaryKey: PrimaryKeyTrait<ValueType = Self::Id>>
{
    /// The typed id of the row.
    type Id: Copy + Send + Sync + 'static;

    /// What a missing (or foreign) one is called.
    const ENTITY: Entity;

    fn project_of(model: &Self::Model) -> ProjectId;
}

/// The child if its project is `owner_id`'s; otherwise `NotFound` naming
/// the child, so a foreign child reads exactly like a missing one.
pub(super) async fn owned_child<E: ProjectChild>(
    conn: &impl ConnectionTrait,
    owner_id: UserId,
    id: E::Id,
) -> Result<E::Model, DataError> {
    let child = E::find_by_id(id)
        .one(conn)
        .await?
        .ok_or(DataError::NotFound(E::ENTITY))?;
    owned_project(conn, owner_id, E::project_of(&child))
        .await
        .map_err(|error| error.missing_as(E::ENTITY))?;
    Ok(child)
}

/// Inserts `child` into `owner_id`'s project `project_id`.
pub(super) async fn insert_child<E, A>(
    db: &Db,
    owner_id: UserId,
    project_id: ProjectId,
    child: A,
) -> Result<E::Model, DataError>
where
    E: ProjectChild,
    A: ActiveModelTrait<Entity = E> + ActiveModelBehavior + Send + 'static,
    E::Model: IntoActiveModel<A>,
{
    db.write(|txn| {
        async move {
            owned_project(txn, owner_id, project_id).await?;
            let child = child.insert(txn).await?;
            state_changed(txn, project_id).await?;
            Ok(child)
        }
        .boxed()
    })
    .await
}

/// Applies `change` to `owner_id`'s child `id`; returns it as it is now.
pub(super) async fn update_child<E, A>(
    db: &Db,
    owner_id: UserId,
    id: E::Id,
    change: impl FnOnce(&mut A) + Send + 'static,
) -> Result<E::Model, DataError>
where
    E: ProjectChild,
    A: ActiveModelTrait<Entity = E> + ActiveModelBehavior + Send + 'static,
    E::Model: IntoActiveModel<A>,
{
    db.write(|txn| {
        async move {
            let child = owned_child::<E>(txn, owner_id, id).await?;
            let project_id = E::project_of(&child);
            let mut active = child.into_active_model();
            change(&mut active);
            let child = active.update(txn).await?;
            state_changed(txn, project_id).await?;
            Ok(child)
        }
        .boxed()
    })
    .await
}

/// Deletes `owner_id`'s child `id`; returns it as it was.
pub(super) async fn delete_child<E: ProjectChild>(
    db: &Db,
    owner_id: UserId,
    id: E::Id,
) -> Result<E::Model, DataError> {
    db.write(|txn| {
        async move {
            let child = owned_child::<E>(txn, owner_id, id).await?;
            E::delete_by_id(id).exec(txn).await?;
            state_changed(txn, E::project_of(&child)).await?;
            Ok(child)
        }
        .boxed()
    })
    .await
}
