//! Readiness data: the one aggregate statement that counts a batch of
//! projects' readiness inputs, and the persisted snapshots (the shared
//! second cache tier every replica reads).
//!
//! A snapshot records the project `state_version` its counts were read at;
//! every state mutation moves that version on in its own transaction
//! (`projects::state_changed`). Reads join on it, so a snapshot of an older
//! state is never returned, whichever replica wrote it and whenever.

use entity::ProjectId;
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entity::{projects, readiness};
use sea_orm::{
    sea_query::{Expr, IntoCondition, OnConflict},
    ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, FromQueryResult, JoinType,
    QueryFilter, QuerySelect, RelationTrait, Set, Statement, Value,
};

use crate::readiness::{score, Blocker, Dimensions, Readiness, ReadinessInputs};

/// A project's readiness and the counts it came from, for one state version.
#[derive(Clone, Debug, PartialEq)]
pub struct ReadinessSnapshot {
    pub project_id: ProjectId,
    pub inputs: ReadinessInputs,
    pub readiness: Readiness,
    pub state_version: i64,
    pub computed_at: DateTime<Utc>,
}

/// The persisted snapshots of `project_ids` that describe their projects'
/// current state (one statement).
#[tracing::instrument(skip_all, fields(projects = project_ids.len()))]
pub async fn stored(
    conn: &impl ConnectionTrait,
    project_ids: &[ProjectId],
) -> Result<HashMap<ProjectId, ReadinessSnapshot>, DbErr> {
    let current = readiness::Relation::Projects
        .def()
        .on_condition(|snapshot, project| {
            Expr::col((project, projects::Column::StateVersion))
                .equals((snapshot, readiness::Column::StateVersion))
                .into_condition()
        });
    let rows = readiness::Entity::find()
        .join(JoinType::InnerJoin, current)
        .filter(readiness::Column::ProjectId.is_in(project_ids.iter().copied()))
        .all(conn)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|row| match decode(&row) {
            Ok(snapshot) => Some((row.project_id, snapshot)),
            Err(error) => {
                tracing::warn!(project_id = %row.project_id, %error, "unreadable readiness snapshot; recomputing");
                None
            }
        })
        .collect())
}

fn decode(row: &readiness::Model) -> Result<ReadinessSnapshot, serde_json::Error> {
    let inputs: ReadinessInputs = serde_json::from_value(row.inputs.clone())?;
    let dimensions: Dimensions = serde_json::from_value(row.dimensions.clone())?;
    let blockers: Vec<Blocker> = serde_json::from_value(row.blockers.clone())?;
    let readiness = Readiness::from_score(row.score, dimensions, blockers);
    Ok(ReadinessSnapshot {
        project_id: row.project_id,
        inputs,
        readiness,
        state_version: row.state_version,
        computed_at: row.computed_at,
    })
}

/// The counts readiness needs, for one project, as the aggregate returns them.
#[derive(Debug, FromQueryResult)]
struct InputsRow {
    project_id: ProjectId,
    state_version: i64,
    features: i64,
    confirmed_features: i64,
    personas: i64,
    value_path_steps: i64,
    signals: i64,
    client_signals: i64,
    meetings: i64,
    strategic_contexts: i64,
    foundation_fields: i64,
    problem_statements: i64,
}

/// Counts every readiness input of `project_ids` in ONE statement (each
/// count an index lookup; no row is loaded) and scores them.
#[tracing::instrument(skip_all, fields(projects = project_ids.len()))]
pub async fn compute(
    conn: &impl ConnectionTrait,
    project_ids: &[ProjectId],
) -> Result<HashMap<ProjectId, ReadinessSnapshot>, DbErr> {
    if project_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let backend = conn.get_database_backend();
    let sql = aggregate_sql(backend, project_ids.len());
    let values: Vec<Value> = project_ids.iter().map(|id| (*id).into()).collect();
    let rows = InputsRow::find_by_statement(Statement::from_sql_and_values(backend, sql, values))
        .all(conn)
        .await?;
    let computed_at = Utc::now();
    Ok(rows
        .into_iter()
        .map(|row| {
            let inputs = ReadinessInputs {
                features: row.features,
                confirmed_features: row.confirmed_features,
                personas: row.personas,
                value_path_steps: row.value_path_steps,
                signals: row.signals,
                client_signals: row.client_signals,
                meetings: row.meetings,
                has_strategic_context: row.strategic_contexts > 0,
                foundation_fields: row.foundation_fields,
                has_problem_statement: row.problem_statements > 0,
            };
            let snapshot = ReadinessSnapshot {
                project_id: row.project_id,
                readiness: score(&inputs),
                inputs,
                state_version: row.state_version,
                computed_at,
            };
            (row.project_id, snapshot)
        })
        .collect())
}

/// A non-empty foundation field counts 1.
fn filled(column: &str) -> String {
    format!("CASE WHEN COALESCE(TRIM(fo.{column}), '') <> '' THEN 1 ELSE 0 END")
}

fn aggregate_sql(backend: DbBackend, ids: usize) -> String {
    let placeholders: Vec<String> = (1..=ids)
        .map(|n| match backend {
            DbBackend::Postgres => format!("${n}"),
            _ => "?".to_owned(),
        })
        .collect();
    let count = |table: &str, alias: &str, extra: &str| {
        format!("(SELECT COUNT(*) FROM {table} {alias} WHERE {alias}.project_id = p.id{extra})")
    };
    let foundation_fields = [
        "problem_statement",
        "target_users",
        "value_proposition",
        "business_case",
        "constraints",
    ]
    .map(filled)
    .join(" + ");
    format!(
        "SELECT p.id AS project_id, p.state_version AS state_version, \
         {features} AS features, {confirmed} AS confirmed_features, {personas} AS personas, \
         {steps} AS value_path_steps, {signals} AS signals, {client} AS client_signals, \
         {meetings} AS meetings, {contexts} AS strategic_contexts, \
         CAST({foundation_fields} AS BIGINT) AS foundation_fields, \
         CAST({problem} AS BIGINT) AS problem_statements \
         FROM projects p LEFT JOIN foundations fo ON fo.project_id = p.id \
         WHERE p.id IN ({ids})",
        features = count("features", "f", ""),
        confirmed = count("features", "f", " AND f.confirmed = TRUE"),
        personas = count("personas", "pe", ""),
        steps = count("vp_steps", "v", ""),
        signals = count("signals", "s", ""),
        client = count("signals", "s", " AND s.authority = 'client'"),
        meetings = count("meetings", "m", ""),
        contexts = count("strategic_contexts", "sc", ""),
        problem = filled("problem_statement"),
        ids = placeholders.join(", "),
    )
}

/// Persists snapshots (one statement), replacing older ones. Safe to race:
/// readers only accept a snapshot of the project's current state version.
#[tracing::instrument(skip_all, fields(projects = snapshots.len()))]
pub async fn store(
    conn: &impl ConnectionTrait,
    snapshots: &[ReadinessSnapshot],
) -> Result<(), DbErr> {
    if snapshots.is_empty() {
        return Ok(());
    }
    let rows = snapshots.iter().map(|snapshot| readiness::ActiveModel {
        project_id: Set(snapshot.project_id),
        score: Set(snapshot.readiness.score),
        dimensions: Set(serde_json::json!(snapshot.readiness.dimensions)),
        blockers: Set(serde_json::json!(snapshot.readiness.blockers)),
        inputs: Set(serde_json::json!(snapshot.inputs)),
        state_version: Set(snapshot.state_version),
        computed_at: Set(snapshot.computed_at),
    });
    readiness::Entity::insert_many(rows)
        .on_conflict(
            OnConflict::column(readiness::Column::ProjectId)
                .update_columns([
                    readiness::Column::Score,
                    readiness::Column::Dimensions,
                    readiness::Column::Blockers,
                    readiness::Column::Inputs,
                    readiness::Column::StateVersion,
                    readiness::Column::ComputedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await
        .map(drop)
}
