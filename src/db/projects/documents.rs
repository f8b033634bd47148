//! The documents a project has at most one of (keyed by the project):
//! foundation, strategic context and DI analysis. Read for many projects at
//! once; written as upserts by the project's owner.

use entity::{ProjectId, UserId};
use futures::FutureExt;
use std::collections::HashMap;

use entity::{di_analyses, foundations, strategic_contexts};
use sea_orm::{
    sea_query::OnConflict, ActiveValue, ColumnTrait, ConnectionTrait, DbErr, EntityTrait,
    QueryFilter, QueryOrder, Set,
};

use super::{now, owned_project, state_changed};
use crate::db::{DataError, Db};

/// The foundation of every project in `project_ids` that has one: one
/// statement.
#[tracing::instrument(skip_all, fields(projects = project_ids.len()))]
pub async fn foundations_by_project(
    conn: &impl ConnectionTrait,
    project_ids: &[ProjectId],
) -> Result<HashMap<ProjectId, foundations::Model>, DbErr> {
    let rows = foundations::Entity::find()
        .filter(foundations::Column::ProjectId.is_in(project_ids.iter().copied()))
        .order_by_asc(foundations::Column::ProjectId)
        .all(conn)
        .await?;
    Ok(rows.into_iter().map(|row| (row.project_id, row)).collect())
}

/// The strategic context of every project in `project_ids` that has one:
/// one statement.
#[tracing::instrument(skip_all, fields(projects = project_ids.len()))]
pub async fn strategic_contexts_by_project(
    conn: &impl ConnectionTrait,
    project_ids: &[ProjectId],
) -> Result<HashMap<ProjectId, strategic_contexts::Model>, DbErr> {
    let rows = strategic_contexts::Entity::find()
        .filter(strategic_contexts::Column::ProjectId.is_in(project_ids.iter().copied()))
        .order_by_asc(strategic_contexts::Column::ProjectId)
        .all(conn)
        .await?;
    Ok(rows.into_iter().map(|row| (row.project_id, row)).collect())
}

/// Changes to a foundation: `None` leaves a field as it is, `Some(None)`
/// clears it.
#[derive(Clone, Debug, Default)]
pub struct FoundationPatch {
    pub problem_statement: Option<Option<String>>,
    pub target_users: Option<Option<String>>,
    pub value_proposition: Option<Option<String>>,
    pub business_case: Option<Option<String>>,
    pub constraints: Option<Option<String>>,
}

/// Creates the foundation or changes the fields `patch` names, in one
/// upsert (so two first writes cannot collide).
#[tracing::instrument(skip(db, patch))]
pub async fn set_foundation(
    db: &Db,
    owner_id: UserId,
    project_id: ProjectId,
    patch: FoundationPatch,
) -> Result<foundations::Model, DataError> {
    use foundations::Column;
    db.write(|txn| {
        async move {
            owned_project(txn, owner_id, project_id).await?;
            let mut row = foundations::ActiveModel {
                project_id: Set(project_id),
                problem_statement: Set(None),
                target_users: Set(None),
                value_proposition: Set(None),
                business_case: Set(None),
                constraints: Set(None),
                updated_at: Set(now()),
            };
            let mut changed = vec![Column::UpdatedAt];
            let fields = [
                (
                    patch.problem_statement,
                    Column::ProblemStatement,
                    &mut row.problem_statement,
                ),
                (
                    patch.target_users,
                    Column::TargetUsers,
                    &mut row.target_users,
                ),
                (
                    patch.value_proposition,
                    Column::ValueProposition,
                    &mut row.value_proposition,
                ),
                (
                    patch.business_case,
                    Column::BusinessCase,
                    &mut row.business_case,
                ),
                (patch.constraints, Column::Constraints, &mut row.constraints),
            ];
            for (value, column, field) in fields {
                if let Some(value) = value {
                    *field = ActiveValue::Set(value);
                    changed.push(column);
                }
            }
            foundations::Entity::insert(row)
                .on_conflict(
                    OnConflict::column(Column::ProjectId)
                        .update_columns(changed)
                        .to_owned(),
                )
                .exec_without_returning(txn)
                .await?;
            state_changed(txn, project_id).await?;
            let foundation = reread(foundations::Entity::find_by_id(project_id).one(txn).await?)?;
            Ok(foundation)
        }
        .boxed()
    })
    .await
}

/// Creates or replaces the strategic context.
#[tracing::instrument(skip(db, content))]
pub async fn set_strategic_context(
    db: &Db,
    owner_id: UserId,
    project_id: ProjectId,
    content: String,
) -> Result<strategic_contexts::Model, DataError> {
    use strategic_contexts::Column;
    db.write(|txn| {
        async move {
            owned_project(txn, owner_id, project_id).await?;
            let context = strategic_contexts::Model {
                project_id,
                content,
                updated_at: now(),
            };
            strategic_contexts::Entity::insert(strategic_contexts::ActiveModel {
                project_id: Set(project_id),
                content: Set(context.content.clone()),
                updated_at: Set(context.updated_at),
            })
            .on_conflict(
                OnConflict::column(Column::ProjectId)
                    .update_columns([Column::Content, Column::UpdatedAt])
                    .to_owned(),
            )
            .exec_without_returning(txn)
            .await?;
            state_changed(txn, project_id).await?;
            Ok(context)
        }
        .boxed()
    })
    .await
}

/// Creates or replaces the project's DI analysis. The analysis is not a
/// readiness input, so this is not a state change ([`state_changed`] is
/// not called).
#[tracing::instrument(skip(db, analysis))]
pub async fn store_di_analysis(
    db: &Db,
    owner_id: UserId,
    project_id: ProjectId,
    analysis: serde_json::Value,
) -> Result<di_analyses::Model, DataError> {
    use di_analyses::Column;
    db.write(|txn| {
        async move {
            owned_project(txn, owner_id, project_id).await?;
            let stored = di_analyses::Model {
                project_id,
                analysis,
                analyzed_at: now(),
            };
            di_analyses::Entity::insert(di_analyses::ActiveModel {
                project_id: Set(project_id),
                analysis: Set(stored.analysis.clone()),
                analyzed_at: Set(stored.analyzed_at),
            })
            .on_conflict(
                OnConflict::column(Column::ProjectId)
                    .update_columns([Column::Analysis, Column::AnalyzedAt])
                    .to_owned(),
            )
            .exec_without_returning(txn)
            .await?;
            Ok(stored)
        }
        .boxed()
    })
    .await
}

fn reread<T>(row: Option<T>) -> Result<T, DataError> {
    row.ok_or(DataError::Invariant(
        "a row vanished in its own transaction",
    ))
}
