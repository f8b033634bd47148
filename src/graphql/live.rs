//! Subscriptions: readiness pushed as it changes, from the live readiness
//! hub ([`LiveReadiness`](crate::live::LiveReadiness)).

use entity::ProjectId;

use async_graphql::{Context, Subscription};
use futures::{stream, Stream, StreamExt};

use super::{context::ContextExt, projects::Project, readiness::Readiness, Result};
use crate::error::AppError;

#[derive(Default)]
pub struct SubscriptionRoot;

#[Subscription(name = "Subscription")]
impl SubscriptionRoot {
    /// The readiness of one of the viewer's projects: its current value at
    /// once, then the new value after each committed change of its inputs
    /// (made on any replica). Bursts are coalesced: a subscriber gets the
    /// latest value, at most one per project per short window. Another
    /// user's project is `NOT_FOUND`.
    async fn readiness_changed(
        &self,
        ctx: &Context<'_>,
        project_id: ProjectId,
    ) -> Result<impl Stream<Item = Readiness>> {
        if Project::owned_by_viewer(ctx, project_id).await?.is_none() {
            return Err(AppError::NotFound("project"));
        }
        let (current, follower) = ctx.services()?.live.follow(project_id).await?;
        // A subscription is one long request: each event forgets what the
        // one before it loaded, so the fields of an event's project (its
        // name, its lists) are read as they are now.
        let forget_loaded = ctx.request()?.forgetter();
        let later = stream::unfold(follower, |mut follower| async move {
            let next = follower.next().await?;
            Some((Readiness(next), follower))
        })
        .map(move |readiness| {
            forget_loaded();
            readiness
        });
        Ok(stream::once(async move { Readiness(current) }).chain(later))
    }
}
