//! Signals: read in pages by id (optionally the unanalyzed ones only, which
//! a partial index serves), added by their project's owner and marked
//! analyzed by the discovery agent.

use entity::signals::{self, SignalAuthority};
use entity::{ProjectId, SignalId, UserId};
use futures::FutureExt;
use sea_orm::{
    sea_query::{Expr, Order},
    ActiveModelTrait, ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, Select, Set,
};

use super::{
    now, owned_project,
    pages::{PageKey, PagedChild},
    state_changed,
};
use crate::db::{DataError, Db, Entity};

/// Which of a project's signals a page lists.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SignalFilter {
    /// Only those not analyzed yet (`analyzed_at IS NULL`, in SQL).
    pub unanalyzed_only: bool,
}

/// A page of a project's signals, oldest first (ids are time-ordered).
pub type SignalPageKey = PageKey<SignalId, SignalFilter>;

impl PagedChild for signals::Entity {
    type Cursor = SignalId;
    type Filter = SignalFilter;

    fn project_column() -> signals::Column {
        signals::Column::ProjectId
    }

    fn project_id(model: &signals::Model) -> ProjectId {
        model.project_id
    }

    /// `idx_signals_project_id_id`, or `idx_signals_unanalyzed` (partial).
    fn order() -> Vec<(signals::Column, Order)> {
        vec![(signals::Column::Id, Order::Asc)]
    }

    fn filtered(filter: &SignalFilter) -> Select<signals::Entity> {
        let select = signals::Entity::find();
        if filter.unanalyzed_only {
            select.filter(signals::Column::AnalyzedAt.is_null())
        } else {
            select
        }
    }

    fn after(cursor: &SignalId) -> Condition {
        Condition::all().add(signals::Column::Id.gt(*cursor))
    }
}

/// A new signal, validated by the caller.
#[derive(Clone, Debug)]
pub struct NewSignal {
    pub source: String,
    pub authority: SignalAuthority,
    pub content: String,
}

#[tracing::instrument(skip(db, new))]
pub async fn add_signal(
    db: &Db,
    owner_id: UserId,
    project_id: ProjectId,
    new: NewSignal,
) -> Result<signals::Model, DataError> {
    db.write(|txn| {
        async move {
            owned_project(txn, owner_id, project_id).await?;
            let signal = signals::ActiveModel {
                id: Set(SignalId::new()),
                project_id: Set(project_id),
                source: Set(new.source),
                authority: Set(new.authority),
                content: Set(new.content),
                created_at: Set(now()),
                analyzed_at: Set(None),
            }
            .insert(txn)
            .await?;
            state_changed(txn, project_id).await?;
            Ok(signal)
        }
        .boxed()
    })
    .await
}

/// Sets `analyzed_at` to now on those of `signal_ids` that are not analyzed
/// yet, and returns all of them (by id) as they are afterwards: signals
/// analyzed before keep their time, so a retry is harmless.
///
/// Every id must be a signal of this project: otherwise the call is
/// `NOT_FOUND` ("signal not found") and marks nothing, so a mistaken id is
/// reported rather than skipped. Readiness does not depend on analysis, so
/// this is not a state change ([`state_changed`] is not called).
#[tracing::instrument(skip(db, signal_ids), fields(signals = signal_ids.len()))]
pub async fn mark_analyzed(
    db: &Db,
    owner_id: UserId,
    project_id: ProjectId,
    signal_ids: &[SignalId],
) -> Result<Vec<signals::Model>, DataError> {
    let signal_ids = signal_ids.to_owned();
    db.write(|txn| {
        async move {
            let signal_ids = signal_ids.as_slice();
            owned_project(txn, owner_id, project_id).await?;
            let mut ids = signal_ids.to_vec();
            ids.sort_unstable();
            ids.dedup();
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            let mut found = signals::Entity::find()
                .filter(signals::Column::ProjectId.eq(project_id))
                .filter(signals::Column::Id.is_in(ids.iter().copied()))
                .order_by_asc(signals::Column::Id)
                .all(txn)
                .await?;
            if found.len() != ids.len() {
                return Err(DataError::NotFound(Entity::Signal));
            }
            let analyzed_at = now();
            signals::Entity::update_many()
                .col_expr(signals::Column::AnalyzedAt, Expr::value(analyzed_at))
                .filter(signals::Column::ProjectId.eq(project_id))
                .filter(signals::Column::Id.is_in(ids.iter().copied()))
                .filter(signals::Column::AnalyzedAt.is_null())
                .exec(txn)
                .await?;

            for signal in &mut found {
                signal.analyzed_at.get_or_insert(analyzed_at);
            }
            Ok(found)
        }
        .boxed()
    })
    .await
}
