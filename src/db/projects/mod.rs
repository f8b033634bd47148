//! Projects and their state (features, personas, value path, meetings,
//! signals, foundation, strategic context, DI analysis): every statement
//! that reads or writes them.
//!
//! Ownership is checked here, in the statement or transaction that reads or
//! writes: another user's project is `NOT_FOUND`, exactly like a missing one.
//! Every change of a project's state goes through [`state_changed`] in its
//! transaction, which is what keeps readiness correct.
//!
//! The children have a module each ([`features`], [`personas`],
//! [`value_path`], [`meetings`], [`signals`]; [`documents`] holds the
//! one-per-project foundation, strategic context and DI analysis). Their
//! reads take a batch of project ids (or [`pages::PageKey`]s) and cost one
//! statement per batch; the caller has already checked that the viewer owns
//! those projects. Their writes check ownership themselves, in the writing
//! transaction.

mod children;
pub mod documents;
pub mod features;
pub mod meetings;
pub mod pages;
pub mod personas;
pub mod signals;
pub mod value_path;

use entity::{ProjectId, UserId};
use std::collections::HashMap;

use chrono::{DateTime, SubsecRound, Utc};
use entity::{projects, readiness};
use futures::FutureExt;
use sea_orm::{
    sea_query::Expr, ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, Set,
};

use super::{DataError, Db, Entity, WriteTxn};
use crate::changes::Change;

/// The project if it exists and belongs to `owner_id`.
#[tracing::instrument(skip(conn))]
pub async fn find_owned(
    conn: &impl ConnectionTrait,
    owner_id: UserId,
    project_id: ProjectId,
) -> Result<Option<projects::Model>, DbErr> {
    projects::Entity::find_by_id(project_id)
        .filter(projects::Column::OwnerId.eq(owner_id))
        .one(conn)
        .await
}

/// The projects among `project_ids` that exist, by id, whoever owns them:
/// one statement. The caller checks ownership.
#[tracing::instrument(skip_all, fields(projects = project_ids.len()))]
pub async fn by_id(
    conn: &impl ConnectionTrait,
    project_ids: &[ProjectId],
) -> Result<HashMap<ProjectId, projects::Model>, DbErr> {
    let rows = projects::Entity::find()
        .filter(projects::Column::Id.is_in(project_ids.iter().copied()))
        .all(conn)
        .await?;
    Ok(rows.into_iter().map(|row| (row.id, row)).collect())
}

/// The project, or `NOT_FOUND` when it does not exist or is someone else's.
pub async fn owned_project(
    conn: &impl ConnectionTrait,
    owner_id: UserId,
    project_id: ProjectId,
) -> Result<projects::Model, DataError> {
    find_owned(conn, owner_id, project_id)
        .await?
        .ok_or(DataError::NotFound(Entity::Project))
}

/// Like [`owned_project`], and locks the project row until the transaction
/// ends (PostgreSQL; SQLite has one writer anyway), so that mutations which
/// read the project's children before writing them (value-path positions)
/// do not interleave.
pub async fn owned_project_locked(
    conn: &impl ConnectionTrait,
    owner_id: UserId,
    project_id: ProjectId,
) -> Result<projects::Model, DataError> {
    projects::Entity::find_by_id(project_id)
        .filter(projects::Column::OwnerId.eq(owner_id))
        .lock_exclusive()
        .one(conn)
        .await?
        .ok_or(DataError::NotFound(Entity::Project))
}

/// The current time at the precision both databases keep (microseconds),
/// so a value returned by a mutation equals the one read back later.
pub(crate) fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// One page of the owner's projects, oldest first (ids are time-ordered).
#[tracing::instrument(skip(conn))]
pub async fn list_projects(
    conn: &impl ConnectionTrait,
    owner_id: UserId,
    after: Option<ProjectId>,
    limit: u64,
) -> Result<Vec<projects::Model>, DbErr> {
    let mut query = projects::Entity::find().filter(projects::Column::OwnerId.eq(owner_id));
    if let Some(after) = after {
        query = query.filter(projects::Column::Id.gt(after));
    }
    query
        .order_by_asc(projects::Column::Id)
        .limit(limit)
        .all(conn)
        .await
}

#[tracing::instrument(skip(db))]
pub async fn create_project(
    db: &Db,
    owner_id: UserId,
    name: String,
) -> Result<projects::Model, DataError> {
    let now = Utc::now();
    let project = projects::ActiveModel {
        id: Set(ProjectId::new()),
        owner_id: Set(owner_id),
        name: Set(name),
        state_version: Set(0),
        created_at: Set(now),
        updated_at: Set(now),
    };
    db.write(|txn| async move { Ok(project.insert(txn).await?) }.boxed())
        .await
}

/// Renames the project. The name is not a readiness input, so readiness
/// stays cached.
#[tracing::instrument(skip(db))]
pub async fn rename_project(
    db: &Db,
    owner_id: UserId,
    project_id: ProjectId,
    name: String,
) -> Result<projects::Model, DataError> {
    db.write(|txn| {
        async move {
            let mut project: projects::ActiveModel =
                owned_project(txn, owner_id, project_id).await?.into();
            project.name = Set(name);
            project.updated_at = Set(Utc::now());
            Ok(project.update(txn).await?)
        }
        .boxed()
    })
    .await
}

/// Records, inside the changing transaction, that the project's state
/// changed: its `state_version` moves on (so no readiness snapshot of the old
/// state is valid any more, on any replica), its persisted readiness
/// snapshot is deleted, and the change is delivered on commit.
/// Every mutation of a project's state must call this.
pub async fn state_changed(txn: &WriteTxn, project_id: ProjectId) -> Result<(), DbErr> {
    projects::Entity::update_many()
        .col_expr(
            projects::Column::StateVersion,
            Expr::col(projects::Column::StateVersion).add(1),
        )
        .col_expr(projects::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(projects::Column::Id.eq(project_id))
        .exec(txn)
        .await?;
    readiness::Entity::delete_by_id(project_id)
        .exec(txn)
        .await?;
    txn.record(Change::ProjectState { project_id });
    Ok(())
}
