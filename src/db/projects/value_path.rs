//! Value-path steps: read for many projects at once, written by their
//! project's owner.
//!
//! Positions stay dense (`0..n`): adding at a position shifts the later
//! steps down, deleting closes the gap, reordering rewrites them all. These
//! writes read the positions before changing them, so they lock the project
//! row first ([`owned_project_locked`]) and never interleave.

use entity::{ProjectId, StepId, UserId};
use futures::FutureExt;
use std::collections::{HashMap, HashSet};

use entity::vp_steps;
use sea_orm::{
    sea_query::{CaseStatement, Expr},
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};

use super::{owned_project_locked, state_changed};
use crate::db::{group_by_parent, DataError, Db, Entity};

/// The value path of every project in `project_ids`, by position then id:
/// one statement, grouped by project.
#[tracing::instrument(skip_all, fields(projects = project_ids.len()))]
pub async fn value_path_by_project(
    conn: &impl ConnectionTrait,
    project_ids: &[ProjectId],
) -> Result<HashMap<ProjectId, Vec<vp_steps::Model>>, DbErr> {
    let rows = vp_steps::Entity::find()
        .filter(vp_steps::Column::ProjectId.is_in(project_ids.iter().copied()))
        .order_by_asc(vp_steps::Column::ProjectId)
        .order_by_asc(vp_steps::Column::Position)
        .order_by_asc(vp_steps::Column::Id)
        .all(conn)
        .await?;
    Ok(group_by_parent(rows, |row| row.project_id))
}

/// A new step, validated by the caller.
#[derive(Clone, Debug)]
pub struct NewStep {
    pub label: String,
    pub description: String,
    /// Where to insert it (>= 0); `None` or a position past the end appends.
    pub position: Option<i32>,
}

/// Inserts the step at its position (the steps from there on move down one)
/// or appends it.
#[tracing::instrument(skip(db, new))]
pub async fn add_step(
    db: &Db,
    owner_id: UserId,
    project_id: ProjectId,
    new: NewStep,
) -> Result<vp_steps::Model, DataError> {
    db.write(|txn| {
        async move {
            owned_project_locked(txn, owner_id, project_id).await?;
            let last: Option<i32> = vp_steps::Entity::find()
                .select_only()
                .column_as(vp_steps::Column::Position.max(), "last")
                .filter(vp_steps::Column::ProjectId.eq(project_id))
                .into_tuple::<Option<i32>>()
                .one(txn)
                .await?
                .flatten();
            let end = last.map_or(0, |last| last.saturating_add(1));
            let position = new.position.map_or(end, |wanted| wanted.min(end));
            if position < end {
                shift(txn, project_id, position, 1).await?;
            }
            let step = vp_steps::ActiveModel {
                id: Set(StepId::new()),
                project_id: Set(project_id),
                position: Set(position),
                label: Set(new.label),
                description: Set(new.description),
            }
            .insert(txn)
            .await?;
            state_changed(txn, project_id).await?;
            Ok(step)
        }
        .boxed()
    })
    .await
}

/// Gives the steps the positions `0..n` in the order of `step_ids`, which
/// must list every step of the project exactly once (else `BAD_USER_INPUT`
/// on `stepIds`). Returns the value path in its new order.
#[tracing::instrument(skip(db, step_ids), fields(steps = step_ids.len()))]
pub async fn reorder(
    db: &Db,
    owner_id: UserId,
    project_id: ProjectId,
    step_ids: &[StepId],
) -> Result<Vec<vp_steps::Model>, DataError> {
    let step_ids = step_ids.to_owned();
    db.write(|txn| {
        async move {
            let step_ids = step_ids.as_slice();
            owned_project_locked(txn, owner_id, project_id).await?;
            let steps = vp_steps::Entity::find()
                .filter(vp_steps::Column::ProjectId.eq(project_id))
                .all(txn)
                .await?;
            let existing: HashSet<StepId> = steps.iter().map(|step| step.id).collect();
            let listed: HashSet<StepId> = step_ids.iter().copied().collect();
            if listed.len() != step_ids.len() || listed != existing {
                return Err(DataError::NotAnOrderOfSteps {
                    steps: existing.len(),
                });
            }
            let mut by_id: HashMap<StepId, vp_steps::Model> =
                steps.into_iter().map(|step| (step.id, step)).collect();
            let mut reordered = Vec::with_capacity(step_ids.len());
            let mut positions = CaseStatement::new();
            for (position, id) in (0_i32..).zip(step_ids) {
                positions = positions.case(vp_steps::Column::Id.eq(*id), position);
                if let Some(mut step) = by_id.remove(id) {
                    step.position = position;
                    reordered.push(step);
                }
            }
            if !reordered.is_empty() {
                vp_steps::Entity::update_many()
                    .col_expr(
                        vp_steps::Column::Position,
                        positions
                            .finally(Expr::col(vp_steps::Column::Position))
                            .into(),
                    )
                    .filter(vp_steps::Column::ProjectId.eq(project_id))
                    .exec(txn)
                    .await?;
            }
            state_changed(txn, project_id).await?;
            Ok(reordered)
        }
        .boxed()
    })
    .await
}

/// Deletes the step (the later steps move up one) and returns it as it was.
#[tracing::instrument(skip(db))]
pub async fn delete_step(
    db: &Db,
    owner_id: UserId,
    id: StepId,
) -> Result<vp_steps::Model, DataError> {
    db.write(|txn| {
        async move {
            let step = find_step(txn, id).await?;
            owned_project_locked(txn, owner_id, step.project_id)
                .await
                .map_err(|error| error.missing_as(Entity::ValuePathStep))?;
            // Read again under the lock: a concurrent reorder may have moved it.
            let step = find_step(txn, id).await?;
            vp_steps::Entity::delete_by_id(id).exec(txn).await?;
            shift(txn, step.project_id, step.position.saturating_add(1), -1).await?;
            state_changed(txn, step.project_id).await?;
            Ok(step)
        }
        .boxed()
    })
    .await
}

async fn find_step(conn: &impl ConnectionTrait, id: StepId) -> Result<vp_steps::Model, DataError> {
    vp_steps::Entity::find_by_id(id)
        .one(conn)
        .await?
        .ok_or(DataError::NotFound(Entity::ValuePathStep))
}

/// Moves every step of the project at or after `from` by `by` positions.
async fn shift(
    conn: &impl ConnectionTrait,
    project_id: ProjectId,
    from: i32,
    by: i32,
) -> Result<(), DbErr> {
    vp_steps::Entity::update_many()
        .col_expr(
            vp_steps::Column::Position,
            Expr::col(vp_steps::Column::Position).add(by),
        )
        .filter(vp_steps::Column::ProjectId.eq(project_id))
        .filter(vp_steps::Column::Position.gte(from))
        .exec(conn)
        .await
        .map(drop)
}
