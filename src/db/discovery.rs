//! What the discovery-intelligence agent reads before its LLM call, beyond
//! readiness: its stored analysis and the signals it has not analyzed yet,
//! each read for a batch of projects in one statement.

use entity::ProjectId;
use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use entity::{di_analyses, signals};
use sea_orm::{
    sea_query::{Alias, Asterisk, Expr, Query, SimpleExpr, SubQueryStatement},
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, FromQueryResult, IdenStatic, QueryFilter,
    QueryOrder, QueryResult, QuerySelect,
};

use super::projects::pages::first_of_each_project;

/// How long a stored analysis stays usable.
pub const ANALYSIS_TTL: Duration = Duration::minutes(60);

/// The stored analysis of every project in `project_ids` that has one: one
/// statement.
#[tracing::instrument(skip_all, fields(projects = project_ids.len()))]
pub async fn analyses_by_project(
    conn: &impl ConnectionTrait,
    project_ids: &[ProjectId],
) -> Result<HashMap<ProjectId, di_analyses::Model>, DbErr> {
    let rows = di_analyses::Entity::find()
        .filter(di_analyses::Column::ProjectId.is_in(project_ids.iter().copied()))
        .order_by_asc(di_analyses::Column::ProjectId)
        .all(conn)
        .await?;
    Ok(rows.into_iter().map(|row| (row.project_id, row)).collect())
}

/// The oldest `limit` unanalyzed signals of a project.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct UnanalyzedKey {
    pub project_id: ProjectId,
    pub limit: u64,
}

/// Some of a project's unanalyzed signals, and how many there are in all.
#[derive(Clone, Debug, Default)]
pub struct Unanalyzed {
    pub signals: Vec<signals::Model>,
    pub total: i64,
}

/// The unanalyzed signals of every key, oldest first, each with the
/// project's full count: one statement for the whole batch, on the partial
/// index of unanalyzed signals. Exact: the filter is `analyzed_at IS NULL`
/// in SQL, never in memory.
#[tracing::instrument(skip_all, fields(keys = keys.len()))]
pub async fn unanalyzed_signals(
    conn: &impl ConnectionTrait,
    keys: &[UnanalyzedKey],
) -> Result<HashMap<UnanalyzedKey, Unanalyzed>, DbErr> {
    // The largest list holds the smaller ones (same order). At least one
    // row per project is read, because the count travels on the rows: a
    // key that lists none still gets its total.
    let limit = keys
        .iter()
        .map(|key| key.limit)
        .max()
        .unwrap_or_default()
        .max(1);
    let mut project_ids: Vec<ProjectId> = keys.iter().map(|key| key.project_id).collect();
    project_ids.sort_unstable();
    project_ids.dedup();
    let rows = if let [project_id] = project_ids[..] {
        // One project: a plain LIMIT reads only the listed signals, and the
        // count is index-only.
        one_project(conn, project_id, limit).await?
    } else {
        many_projects(conn, &project_ids, limit).await?
    };
    let mut by_project: HashMap<ProjectId, Unanalyzed> = HashMap::new();
    for row in rows {
        let found = by_project.entry(row.signal.project_id).or_default();
        found.total = row.total;
        found.signals.push(row.signal);
    }
    Ok(keys
        .iter()
        .map(|key| {
            let mut found = by_project.get(&key.project_id).cloned().unwrap_or_default();
            found
                .signals
                .truncate(usize::try_from(key.limit).unwrap_or(usize::MAX));
            (*key, found)
        })
        .collect())
}

/// The column that carries a project's count of unanalyzed signals.
const UNANALYZED_TOTAL: &str = "unanalyzed_total";

/// One project's oldest `limit` unanalyzed signals, each with the total (an
/// index-only count in a scalar subquery).
async fn one_project(
    conn: &impl ConnectionTrait,
    project_id: ProjectId,
    limit: u64,
) -> Result<Vec<CountedSignal>, DbErr> {
    signals::Entity::find()
        .column_as(unanalyzed_count(project_id), UNANALYZED_TOTAL)
        .filter(signals::Column::ProjectId.eq(project_id))
        .filter(signals::Column::AnalyzedAt.is_null())
        .order_by_asc(signals::Column::Id)
        .limit(limit)
        .into_model::<CountedSignal>()
        .all(conn)
        .await
}

/// The oldest `limit` unanalyzed signals of each project, each with its
/// project's total (a window count over the same rows).
async fn many_projects(
    conn: &impl ConnectionTrait,
    project_ids: &[ProjectId],
    limit: u64,
) -> Result<Vec<CountedSignal>, DbErr> {
    let total = format!(
        "COUNT(*) OVER (PARTITION BY {})",
        signals::Column::ProjectId.as_str()
    );
    let unanalyzed = signals::Entity::find()
        .filter(signals::Column::ProjectId.is_in(project_ids.iter().copied()))
        .filter(signals::Column::AnalyzedAt.is_null())
        .column_as(Expr::cust(total), UNANALYZED_TOTAL);
    let page = first_of_each_project::<signals::Entity>(unanalyzed, limit);
    let statement = conn.get_database_backend().build(&page);
    signals::Entity::find()
        .from_raw_sql(statement)
        .into_model::<CountedSignal>()
        .all(conn)
        .await
}

/// `(SELECT COUNT(*) FROM signals AS unanalyzed WHERE project_id = ? AND
/// analyzed_at IS NULL)`.
fn unanalyzed_count(project_id: ProjectId) -> SimpleExpr {
    let unanalyzed = Alias::new("unanalyzed");
    let count = Query::select()
        .expr(Expr::col(Asterisk).count())
        .from_as(signals::Entity, unanalyzed.clone())
        .and_where(Expr::col((unanalyzed.clone(), signals::Column::ProjectId)).eq(project_id))
        .and_where(Expr::col((unanalyzed, signals::Column::AnalyzedAt)).is_null())
        .to_owned();
    SimpleExpr::SubQuery(None, Box::new(SubQueryStatement::SelectStatement(count)))
}

struct CountedSignal {
    signal: signals::Model,
    total: i64,
}

impl FromQueryResult for CountedSignal {
    fn from_query_result(row: &QueryResult, prefix: &str) -> Result<Self, DbErr> {
        Ok(Self {
            signal: signals::Model::from_query_result(row, prefix)?,
            total: row.try_get(prefix, UNANALYZED_TOTAL)?,
        })
    }
}

/// The stored analysis can be reused: it exists, is younger than
/// [`ANALYSIS_TTL`], and no signal arrived that it has not seen.
pub fn cache_valid(
    analyzed_at: Option<DateTime<Utc>>,
    unanalyzed: i64,
    now: DateTime<Utc>,
) -> bool {
    analyzed_at.is_some_and(|at| now - at < ANALYSIS_TTL) && unanalyzed == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_analysis_is_valid_when_fresh_and_nothing_is_unanalyzed() {
        let now = Utc::now();
        assert!(cache_valid(Some(now - Duration::minutes(59)), 0, now));
        assert!(
            !cache_valid(Some(now - Duration::minutes(60)), 0, now),
            "stale"
        );
        assert!(!cache_valid(Some(now), 1, now), "a new signal");
        assert!(!cache_valid(None, 0, now), "no analysis");
    }
}
