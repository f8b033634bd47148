//! The resolvers behind `Project`'s state fields and `Viewer.projects`.
//! Every relation goes through the request's [`ProjectLoaders`], so a page
//! of N projects costs one statement per relation, not N.
//!
//! [`ProjectLoaders`]: crate::loaders::ProjectLoaders

use async_graphql::{
    connection::{Connection, OpaqueCursor},
    Context,
};
use entity::{FeatureId, ProjectId, SignalId, UserId};

use super::{
    state::{Feature, Foundation, Meeting, Persona, Signal, StrategicContext, ValuePathStep},
    Project,
};
use crate::{
    db::{
        self,
        projects::{meetings::MeetingCursor, pages::PageKey, signals::SignalFilter},
    },
    error::AppError,
    graphql::{context::ContextExt, pagination, Result},
};

pub(crate) type ProjectConnection = Connection<OpaqueCursor<ProjectId>, Project>;
pub(super) type FeatureConnection = Connection<OpaqueCursor<FeatureId>, Feature>;
/// Meetings page by when they were held, newest first.
pub(super) type MeetingConnection = Connection<OpaqueCursor<MeetingCursor>, Meeting>;
pub(super) type SignalConnection = Connection<OpaqueCursor<SignalId>, Signal>;

/// One page of `owner_id`'s projects, oldest first (as `Query.projects`).
pub(crate) async fn projects(
    ctx: &Context<'_>,
    owner_id: UserId,
    first: Option<i32>,
    after: Option<String>,
) -> Result<ProjectConnection> {
    let size = pagination::page_size(first)?;
    let after = pagination::decode_after::<ProjectId>(after.as_deref())?;
    let db = &ctx.services()?.db;
    let rows = db::projects::list_projects(db.conn(), owner_id, after, size + 1).await?;
    Ok(pagination::connection(
        rows,
        size,
        after.is_some(),
        |p| p.id,
        Project::from,
    ))
}

/// The page key of `first`/`after` for one project.
fn page_key<C, F>(
    project_id: ProjectId,
    first: Option<i32>,
    after: Option<&str>,
    filter: F,
) -> Result<(u64, PageKey<C, F>), AppError>
where
    C: serde::Serialize + serde::de::DeserializeOwned + Send + Sync,
{
    let size = pagination::page_size(first)?;
    let after = pagination::decode_after::<C>(after)?;
    let key = PageKey {
        project_id,
        limit: size + 1,
        after,
        filter,
    };
    Ok((size, key))
}

pub(super) async fn features(
    ctx: &Context<'_>,
    project_id: ProjectId,
    first: Option<i32>,
    after: Option<String>,
) -> Result<FeatureConnection> {
    let (size, key) = page_key(project_id, first, after.as_deref(), ())?;
    let has_previous = key.after.is_some();
    let rows = ctx.loaders()?.projects.features.load(key).await?;
    Ok(pagination::connection(
        rows.unwrap_or_default(),
        size,
        has_previous,
        |f| f.id,
        Feature::from,
    ))
}

pub(super) async fn meetings(
    ctx: &Context<'_>,
    project_id: ProjectId,
    first: Option<i32>,
    after: Option<String>,
) -> Result<MeetingConnection> {
    let (size, key) = page_key(project_id, first, after.as_deref(), ())?;
    let has_previous = key.after.is_some();
    let rows = ctx.loaders()?.projects.meetings.load(key).await?;
    Ok(pagination::connection(
        rows.unwrap_or_default(),
        size,
        has_previous,
        |m| MeetingCursor::from(m),
        Meeting::from,
    ))
}

pub(super) async fn signals(
    ctx: &Context<'_>,
    project_id: ProjectId,
    unanalyzed_only: bool,
    first: Option<i32>,
    after: Option<String>,
) -> Result<SignalConnection> {
    let filter = SignalFilter { unanalyzed_only };
    let (size, key) = page_key(project_id, first, after.as_deref(), filter)?;
    let has_previous = key.after.is_some();
    let rows = ctx.loaders()?.projects.signals.load(key).await?;
    Ok(pagination::connection(
        rows.unwrap_or_default(),
        size,
        has_previous,
        |s| s.id,
        Signal::from,
    ))
}

pub(super) async fn personas(ctx: &Context<'_>, project_id: ProjectId) -> Result<Vec<Persona>> {
    let rows = ctx.loaders()?.projects.personas.load(project_id).await?;
    Ok(rows
        .unwrap_or_default()
        .into_iter()
        .map(Persona::from)
        .collect())
}

pub(super) async fn value_path(
    ctx: &Context<'_>,
    project_id: ProjectId,
) -> Result<Vec<ValuePathStep>> {
    let rows = ctx.loaders()?.projects.value_path.load(project_id).await?;
    Ok(rows
        .unwrap_or_default()
        .into_iter()
        .map(ValuePathStep::from)
        .collect())
}

pub(super) async fn foundation(
    ctx: &Context<'_>,
    project_id: ProjectId,
) -> Result<Option<Foundation>> {
    let row = ctx.loaders()?.projects.foundation.load(project_id).await?;
    Ok(row.map(Foundation::from))
}

pub(super) async fn strategic_context(
    ctx: &Context<'_>,
    project_id: ProjectId,
) -> Result<Option<StrategicContext>> {
    let row = ctx
        .loaders()?
        .projects
        .strategic_context
        .load(project_id)
        .await?;
    Ok(row.map(StrategicContext::from))
}
