//! What the discovery-intelligence agent reads before its LLM call, beyond
//! readiness: its stored analysis and the signals it has not analyzed yet.

use chrono::{DateTime, Duration, Utc};
use entity::{di_analyses, signals};
use sea_orm::{
    sea_query::{Alias, Asterisk, Expr, Query, SimpleExpr, SubQueryStatement},
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, FromQueryResult, QueryFilter, QueryOrder,
    QueryResult, QuerySelect,
};
use uuid::Uuid;

/// How long a stored analysis stays usable.
pub const ANALYSIS_TTL: Duration = Duration::minutes(60);

#[tracing::instrument(skip(conn))]
pub async fn analysis(
    conn: &impl ConnectionTrait,
    project_id: Uuid,
) -> Result<Option<di_analyses::Model>, DbErr> {
    di_analyses::Entity::find_by_id(project_id).one(conn).await
}

/// The oldest `limit` unanalyzed signals and how many there are in all:
/// one statement, both parts on the partial index of unanalyzed signals (the
/// total as an index-only count in a scalar subquery). Exact: the filter is
/// `analyzed_at IS NULL` in SQL, never in memory.
#[tracing::instrument(skip(conn))]
pub async fn unanalyzed_signals(
    conn: &impl ConnectionTrait,
    project_id: Uuid,
    limit: u64,
) -> Result<(Vec<signals::Model>, i64), DbErr> {
    let rows = signals::Entity::find()
        .column_as(unanalyzed_count(project_id), "unanalyzed_total")
        .filter(signals::Column::ProjectId.eq(project_id))
        .filter(signals::Column::AnalyzedAt.is_null())
        .order_by_asc(signals::Column::Id)
        .limit(limit)
        .into_model::<CountedSignal>()
        .all(conn)
        .await?;
    let total = rows.first().map_or(0, |row| row.total);
    Ok((rows.into_iter().map(|row| row.signal).collect(), total))
}

/// `(SELECT COUNT(*) FROM signals AS unanalyzed WHERE project_id = ? AND
/// analyzed_at IS NULL)`.
fn unanalyzed_count(project_id: Uuid) -> SimpleExpr {
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
            total: row.try_get(prefix, "unanalyzed_total")?,
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
