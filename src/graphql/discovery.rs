//! `diContext`: everything the discovery-intelligence agent needs before
//! its LLM call, each piece fetched once and the independent ones at once.

use entity::ProjectId;
use std::sync::Arc;

use async_graphql::{Context, Object, SimpleObject};
use chrono::Utc;
use entity::{di_analyses, foundations, signals};

use super::{
    context::ContextExt,
    projects::{DiAnalysis, Foundation, Signal},
    readiness::{self, ProjectCounts, Readiness},
    Result,
};
use crate::{
    cache::read_set,
    db::{
        self,
        discovery::{Unanalyzed, UnanalyzedKey},
        readiness::ReadinessSnapshot,
    },
    error::AppError,
};

/// Most unanalyzed signals handed out at once.
pub(super) const MAX_SIGNALS: i32 = 500;

/// The discovery agent's view of a project.
pub(super) struct DiContext {
    snapshot: Arc<ReadinessSnapshot>,
    foundation: Option<foundations::Model>,
    analysis: Option<di_analyses::Model>,
    unanalyzed: Vec<signals::Model>,
    unanalyzed_total: i64,
}

/// Counts and foundation: the project's state in one object.
#[derive(SimpleObject)]
pub(super) struct ProjectState {
    pub counts: ProjectCounts,
    pub foundation: Option<Foundation>,
}

impl DiContext {
    /// Fetches the four pieces concurrently, each through the request's
    /// loaders, so a page of projects shares one statement per piece:
    /// readiness (with counts) through the cache, the foundation, the
    /// stored analysis, and the unanalyzed signals with their total.
    pub(super) async fn load(
        ctx: &Context<'_>,
        project_id: ProjectId,
        signals_limit: i32,
    ) -> Result<Self, AppError> {
        crate::graphql::input::in_range("signalsLimit", signals_limit, 0, MAX_SIGNALS)?;
        let limit = u64::try_from(signals_limit).unwrap_or_default();
        let loaders = ctx.loaders()?;
        let unanalyzed = UnanalyzedKey { project_id, limit };
        let (snapshot, foundation, analysis, unanalyzed) = tokio::try_join!(
            readiness::snapshot(ctx, project_id),
            loaders.projects.foundation.load(project_id),
            loaders.projects.analysis.load(project_id),
            loaders.projects.unanalyzed_signals.load(unanalyzed),
        )?;
        let Unanalyzed { signals, total } = unanalyzed.unwrap_or_default();
        Ok(Self {
            snapshot,
            foundation,
            analysis,
            unanalyzed: signals,
            unanalyzed_total: total,
        })
    }
}

#[Object]
impl DiContext {
    async fn state(&self) -> ProjectState {
        ProjectState {
            counts: ProjectCounts::from(self.snapshot.as_ref()),
            foundation: self.foundation.clone().map(Foundation::from),
        }
    }

    async fn readiness(&self) -> Readiness {
        Readiness(Arc::clone(&self.snapshot))
    }

    /// The last stored analysis, if any.
    async fn analysis(&self) -> Option<DiAnalysis> {
        self.analysis.clone().map(DiAnalysis::from)
    }

    /// The oldest unanalyzed signals (up to `signalsLimit`).
    async fn unanalyzed_signals(&self) -> Vec<Signal> {
        self.unanalyzed.iter().cloned().map(Signal::from).collect()
    }

    /// All unanalyzed signals of the project, however many were returned.
    async fn unanalyzed_signal_count(&self) -> i64 {
        self.unanalyzed_total
    }

    /// True when the stored analysis can be reused instead of calling the
    /// LLM: it exists, is less than 60 minutes old, and no signal is
    /// unanalyzed.
    async fn cache_valid(&self) -> bool {
        // The clock: no change names it, so the answer is not kept.
        read_set::note_unkeyed("the clock");
        db::discovery::cache_valid(
            self.analysis.as_ref().map(|a| a.analyzed_at),
            self.unanalyzed_total,
            Utc::now(),
        )
    }
}
