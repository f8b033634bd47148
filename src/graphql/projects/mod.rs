//! Projects in the API: the viewer's own projects and their state. Another
//! user's project is `NOT_FOUND` (or null for `project(id)`), never
//! revealed.

use async_graphql::{Context, InputObject, Object};
use chrono::{DateTime, Utc};
use entity::projects;
use entity::ProjectId;

use super::{
    context::ContextExt,
    discovery::DiContext,
    input, pagination,
    readiness::{self, ProjectCounts, Readiness},
    Result,
};
use crate::{
    cache::project_owner::Ownership,
    db::{self, readiness::ReadinessSnapshot},
    error::AppError,
};
use std::sync::Arc;

mod evidence;
mod lists;
mod mutations;
mod state;

pub(super) use evidence::EvidenceMutation;
pub(crate) use lists::{projects as projects_page, ProjectConnection};
pub(super) use mutations::StructureMutation;
pub(super) use state::{DiAnalysis, Feature, Foundation, Meeting, Persona, Signal, ValuePathStep};

/// A product-discovery project, owned by one user. Built only after the
/// viewer's ownership was checked; its row is read when a field needs it
/// (a readiness-only read costs no statement once the owner is cached).
#[derive(Clone, Debug)]
pub(crate) struct Project {
    id: ProjectId,
    row: Option<projects::Model>,
    /// The readiness it was reached from (a pushed value): its `readiness`
    /// and `counts` are that value, not another read.
    readiness: Option<Arc<ReadinessSnapshot>>,
}

impl From<projects::Model> for Project {
    fn from(row: projects::Model) -> Self {
        Self {
            id: row.id,
            row: Some(row),
            readiness: None,
        }
    }
}

impl Project {
    /// A project whose ownership was already checked where `id` came from
    /// (a child or readiness shown to the viewer): nothing is read until a
    /// row field is asked for.
    pub(super) fn shown(id: ProjectId) -> Self {
        Self {
            id,
            row: None,
            readiness: None,
        }
    }

    /// The project of a readiness value the viewer was shown.
    pub(super) fn of_readiness(snapshot: Arc<ReadinessSnapshot>) -> Self {
        Self {
            id: snapshot.project_id,
            row: None,
            readiness: Some(snapshot),
        }
    }

    async fn snapshot(&self, ctx: &Context<'_>) -> Result<Arc<ReadinessSnapshot>> {
        match &self.readiness {
            Some(snapshot) => Ok(Arc::clone(snapshot)),
            None => readiness::snapshot(ctx, self.id).await,
        }
    }

    /// The viewer's project `id`, if it exists and is the viewer's. Another
    /// user's id and an unknown one cost the same, first and later (see
    /// [`project_owner`](crate::cache::project_owner)).
    pub(crate) async fn owned_by_viewer(ctx: &Context<'_>, id: ProjectId) -> Result<Option<Self>> {
        let viewer = ctx.viewer()?;
        let loaders = ctx.loaders()?;
        let ownership = ctx
            .services()?
            .caches
            .project_owners
            .check(viewer.id, id, || loaders.projects.by_id.load(id))
            .await?;
        Ok(match ownership {
            Ownership::Owned(Some(row)) => Some(Self::from(row)),
            Ownership::Owned(None) => Some(Self::shown(id)),
            Ownership::NotOwned => None,
        })
    }

    async fn row(&self, ctx: &Context<'_>) -> Result<projects::Model> {
        if let Some(row) = &self.row {
            return Ok(row.clone());
        }
        let row = ctx.loaders()?.projects.by_id.load(self.id).await?;
        row.ok_or(AppError::NotFound("project"))
    }
}

impl super::node::NodeId for Project {
    fn node_uuid(&self) -> uuid::Uuid {
        self.id.into()
    }
}

#[Object]
impl Project {
    async fn id(&self) -> ProjectId {
        self.id
    }

    async fn name(&self, ctx: &Context<'_>) -> Result<String> {
        Ok(self.row(ctx).await?.name)
    }

    async fn created_at(&self, ctx: &Context<'_>) -> Result<DateTime<Utc>> {
        Ok(self.row(ctx).await?.created_at)
    }

    /// Last change of the project or its state.
    async fn updated_at(&self, ctx: &Context<'_>) -> Result<DateTime<Utc>> {
        Ok(self.row(ctx).await?.updated_at)
    }

    /// The project's features, oldest first.
    #[graphql(complexity = "pagination::connection_complexity(first, child_complexity)")]
    async fn features(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<lists::FeatureConnection> {
        lists::features(ctx, self.id, first, after).await
    }

    /// The project's personas, oldest first.
    #[graphql(complexity = "pagination::unpaged_complexity(child_complexity)")]
    async fn personas(&self, ctx: &Context<'_>) -> Result<Vec<state::Persona>> {
        lists::personas(ctx, self.id).await
    }

    /// The value path, by position.
    #[graphql(complexity = "pagination::unpaged_complexity(child_complexity)")]
    async fn value_path(&self, ctx: &Context<'_>) -> Result<Vec<state::ValuePathStep>> {
        lists::value_path(ctx, self.id).await
    }

    /// The project's meetings, most recently held first.
    #[graphql(complexity = "pagination::connection_complexity(first, child_complexity)")]
    async fn meetings(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<lists::MeetingConnection> {
        lists::meetings(ctx, self.id, first, after).await
    }

    /// The project's signals, oldest first; `unanalyzedOnly` lists only
    /// those the discovery agent has not analyzed yet (null: false).
    #[graphql(complexity = "pagination::connection_complexity(first, child_complexity)")]
    async fn signals(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "Some(false)")] unanalyzed_only: Option<bool>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<lists::SignalConnection> {
        let unanalyzed_only = unanalyzed_only.unwrap_or(false);
        lists::signals(ctx, self.id, unanalyzed_only, first, after).await
    }

    /// The foundation; null until one is set.
    async fn foundation(&self, ctx: &Context<'_>) -> Result<Option<state::Foundation>> {
        lists::foundation(ctx, self.id).await
    }

    /// The strategic context; null until one is set.
    async fn strategic_context(
        &self,
        ctx: &Context<'_>,
    ) -> Result<Option<state::StrategicContext>> {
        lists::strategic_context(ctx, self.id).await
    }

    // -- project state lists and objects: above this line --

    // -- readiness, counts and diContext: below this line --

    /// Readiness (SPEC 5), cached; recomputed only after the project's state
    /// changed.
    async fn readiness(&self, ctx: &Context<'_>) -> Result<Readiness> {
        Ok(Readiness(self.snapshot(ctx).await?))
    }

    /// What the discovery-intelligence agent needs before its LLM call.
    // The signals dominate the answer: everything under it counts once per
    // signal asked for.
    #[graphql(complexity = "pagination::list_complexity(signals_limit, child_complexity)")]
    async fn di_context(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 100, desc = "Most unanalyzed signals to return (0 to 500).")]
        signals_limit: i32,
    ) -> Result<DiContext> {
        DiContext::load(ctx, self.id, signals_limit).await
    }

    /// The counts readiness is computed from (same snapshot, no extra cost).
    async fn counts(&self, ctx: &Context<'_>) -> Result<ProjectCounts> {
        Ok(ProjectCounts::from(self.snapshot(ctx).await?.as_ref()))
    }
}

#[derive(Default)]
pub(super) struct ProjectQuery;

#[Object]
impl ProjectQuery {
    /// The viewer's project with this id; null when there is none (or it is
    /// someone else's).
    async fn project(&self, ctx: &Context<'_>, id: ProjectId) -> Result<Option<Project>> {
        Project::owned_by_viewer(ctx, id).await
    }

    /// The viewer's projects, oldest first.
    #[graphql(complexity = "pagination::connection_complexity(first, child_complexity)")]
    async fn projects(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<ProjectConnection> {
        let viewer = ctx.viewer()?;
        lists::projects(ctx, viewer.id, first, after).await
    }
}

#[derive(InputObject)]
pub(super) struct CreateProjectInput {
    name: String,
}

/// Writes to the viewer's own projects.
#[derive(Default)]
pub(super) struct ProjectMutation;

#[Object]
impl ProjectMutation {
    async fn create_project(
        &self,
        ctx: &Context<'_>,
        input: CreateProjectInput,
    ) -> Result<Project> {
        let viewer = ctx.viewer()?;
        input::display_name("name", &input.name)?;
        let project =
            db::projects::create_project(&ctx.services()?.db, viewer.id, input.name).await?;
        Ok(Project::from(project))
    }

    async fn rename_project(
        &self,
        ctx: &Context<'_>,
        id: ProjectId,
        name: String,
    ) -> Result<Project> {
        let viewer = ctx.viewer()?;
        input::display_name("name", &name)?;
        let project =
            db::projects::rename_project(&ctx.services()?.db, viewer.id, id, name).await?;
        Ok(Project::from(project))
    }
}
