//! Readiness and counts in the API, served from the readiness cache.

use entity::ProjectId;
use std::sync::Arc;

use async_graphql::{Context, Enum, Object, SimpleObject};
use chrono::{DateTime, Utc};

use super::{context::ContextExt, projects::Project, Result};
use crate::{
    db::readiness::ReadinessSnapshot,
    error::AppError,
    readiness::{self, Blocker},
};

/// The readiness snapshot of one project, through the request's loader (so
/// a page of projects shares one batch).
pub(super) async fn snapshot(
    ctx: &Context<'_>,
    project_id: ProjectId,
) -> Result<Arc<ReadinessSnapshot>, AppError> {
    ctx.loaders()?
        .readiness_by_project
        .load(project_id)
        .await?
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("no readiness for project {project_id}")))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[graphql(remote = "readiness::ReadinessStatus")]
pub enum ReadinessStatus {
    /// Score below 40.
    Insufficient,
    /// Score 40 to below 70.
    Developing,
    /// Score 70 to below 85.
    Ready,
    /// Score 85 or more.
    Excellent,
}

/// How ready a project is to move on, from its counts.
pub(super) struct Readiness(pub Arc<ReadinessSnapshot>);

#[Object]
impl Readiness {
    /// The project this readiness is of: a normalized client cache keys
    /// `Readiness` by it (it is not a global id of its own).
    async fn project_id(&self) -> ProjectId {
        self.0.project_id
    }

    /// The project, so that a pushed value can be merged into it.
    async fn project(&self) -> Project {
        Project::of_readiness(Arc::clone(&self.0))
    }

    /// Mean of the four dimensions, 0 to 100, one decimal.
    async fn score(&self) -> f64 {
        self.0.readiness.score
    }

    async fn status(&self) -> ReadinessStatus {
        self.0.readiness.status.into()
    }

    async fn dimensions(&self) -> ReadinessDimensions {
        let d = self.0.readiness.dimensions;
        ReadinessDimensions {
            value_path: d.value_path,
            problem: d.problem,
            solution: d.solution,
            engagement: d.engagement,
        }
    }

    /// What keeps the project from being ready, in a fixed order.
    async fn blockers(&self) -> Vec<&'static str> {
        self.0
            .readiness
            .blockers
            .iter()
            .copied()
            .map(Blocker::message)
            .collect()
    }

    /// When these numbers were computed (they stay valid until the
    /// project's state changes).
    async fn computed_at(&self) -> DateTime<Utc> {
        self.0.computed_at
    }
}

/// The four readiness dimensions, each 0 to 100.
#[derive(SimpleObject)]
pub(super) struct ReadinessDimensions {
    pub value_path: f64,
    pub problem: f64,
    pub solution: f64,
    pub engagement: f64,
}

/// How much a project holds: the counts readiness is computed from.
#[derive(SimpleObject)]
pub(super) struct ProjectCounts {
    pub features: i64,
    pub confirmed_features: i64,
    pub personas: i64,
    pub value_path_steps: i64,
    pub meetings: i64,
    pub signals: i64,
    pub client_signals: i64,
    /// Non-empty foundation fields, 0 to 5.
    pub foundation_fields: i64,
    pub has_strategic_context: bool,
}

impl From<&ReadinessSnapshot> for ProjectCounts {
    fn from(snapshot: &ReadinessSnapshot) -> Self {
        let i = snapshot.inputs;
        Self {
            features: i.features,
            confirmed_features: i.confirmed_features,
            personas: i.personas,
            value_path_steps: i.value_path_steps,
            meetings: i.meetings,
            signals: i.signals,
            client_signals: i.client_signals,
            foundation_fields: i.foundation_fields,
            has_strategic_context: i.has_strategic_context,
        }
    }
}
