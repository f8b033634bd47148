//! `viewer`: who the token says is asking.

use async_graphql::{Context, Object, Result, SimpleObject};
use uuid::Uuid;

use super::context::ContextExt;

/// The authenticated user.
#[derive(Clone, Debug, SimpleObject)]
pub struct Viewer {
    /// The token's subject.
    pub id: Uuid,
    /// Whether the token carries the `admin` role (may write agents, tools
    /// and circles).
    pub is_admin: bool,
}

#[derive(Default)]
pub struct ViewerQuery;

#[Object]
impl ViewerQuery {
    async fn viewer(&self, ctx: &Context<'_>) -> Result<Viewer> {
        let viewer = ctx.viewer()?;
        Ok(Viewer {
            id: viewer.id,
            is_admin: viewer.is_admin,
        })
    }
}
