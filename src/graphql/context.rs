//! What resolvers read from the GraphQL context: the process-wide services
//! and the per-request viewer and loaders.

use std::sync::Arc;

use async_graphql::Context;

use crate::{auth::Viewer, cache::Caches, db::Db, error::AppError, loaders::Loaders};

/// Process-wide dependencies of the resolvers, shared by all requests.
#[derive(Clone, Debug)]
pub struct Services {
    pub db: Db,
    pub caches: Arc<Caches>,
}

/// Per-request data: who asks, and the loaders that batch their lookups.
pub struct RequestContext {
    pub viewer: Option<Viewer>,
    pub loaders: Loaders,
}

impl RequestContext {
    pub fn new(viewer: Option<Viewer>, services: &Services) -> Self {
        Self {
            viewer,
            loaders: Loaders::new(&services.db, &services.caches),
        }
    }
}

/// Typed access to the context, with a clean error instead of a panic when
/// something was not provided.
pub(crate) trait ContextExt {
    fn services(&self) -> Result<&Services, AppError>;
    fn request(&self) -> Result<&RequestContext, AppError>;

    /// The authenticated viewer, or `UNAUTHENTICATED`.
    fn viewer(&self) -> Result<Viewer, AppError> {
        self.request()?.viewer.ok_or(AppError::Unauthenticated)
    }

    /// The authenticated viewer if it is an admin, or the matching error.
    fn admin(&self) -> Result<Viewer, AppError> {
        let viewer = self.viewer()?;
        viewer.require_admin()?;
        Ok(viewer)
    }

    fn loaders(&self) -> Result<&Loaders, AppError> {
        Ok(&self.request()?.loaders)
    }
}

impl ContextExt for Context<'_> {
    fn services(&self) -> Result<&Services, AppError> {
        self.data::<Services>()
            .map_err(|_| AppError::internal(anyhow::anyhow!("Services missing from schema data")))
    }

    fn request(&self) -> Result<&RequestContext, AppError> {
        self.data::<RequestContext>().map_err(|_| {
            AppError::internal(anyhow::anyhow!("RequestContext missing from request data"))
        })
    }
}
