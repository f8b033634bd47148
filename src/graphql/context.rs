//! What resolvers read from the GraphQL context: the process-wide services
//! and the per-request viewer and loaders.

use std::sync::{Arc, Mutex, PoisonError};

use async_graphql::Context;

use crate::{
    auth::Viewer,
    cache::{read_set, Caches},
    db::Db,
    error::AppError,
    live::LiveReadiness,
    loaders::Loaders,
};

/// Process-wide dependencies of the resolvers, shared by all requests.
#[derive(Clone, Debug)]
pub struct Services {
    pub db: Db,
    pub caches: Arc<Caches>,
    /// The followed projects' latest readiness, for subscriptions.
    pub live: Arc<LiveReadiness>,
}

/// Per-request data: who asks, and the loaders that batch their lookups.
pub struct RequestContext {
    pub viewer: Option<Viewer>,
    services: Services,
    /// The loaders, and what they remember: made on first use (a request
    /// that loads nothing never builds them), and dropped before each root
    /// field of a mutation, so a field never reads what a loader remembered
    /// from before an earlier field's write (and before each event of a
    /// subscription, which holds the slot beyond the borrow of its context).
    loaders: Arc<Mutex<Option<Arc<Loaders>>>>,
}

impl RequestContext {
    pub fn new(viewer: Option<Viewer>, services: &Services) -> Self {
        Self {
            viewer,
            services: services.clone(),
            loaders: Arc::new(Mutex::new(None)),
        }
    }

    pub fn loaders(&self) -> Arc<Loaders> {
        let mut loaders = self.loaders.lock().unwrap_or_else(PoisonError::into_inner);
        let loaders = loaders.get_or_insert_with(|| {
            Arc::new(Loaders::new(&self.services.db, &self.services.caches))
        });
        Arc::clone(loaders)
    }

    /// Forgets everything loaded so far in this request.
    pub(crate) fn forget_loaded(&self) {
        *self.loaders.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }

    /// [`Self::forget_loaded`] for a stream that outlives the borrow of
    /// this request.
    pub(crate) fn forgetter(&self) -> impl Fn() + Send + Sync + 'static {
        let loaders = Arc::clone(&self.loaders);
        move || *loaders.lock().unwrap_or_else(PoisonError::into_inner) = None
    }
}

/// Typed access to the context, with a clean error instead of a panic when
/// something was not provided.
pub(crate) trait ContextExt {
    fn services(&self) -> Result<&Services, AppError>;
    fn request(&self) -> Result<&RequestContext, AppError>;

    /// The authenticated viewer, or `UNAUTHENTICATED`. An answer that asked
    /// is the viewer's own: the response cache keeps it for that viewer only.
    fn viewer(&self) -> Result<Viewer, AppError> {
        read_set::note_viewer();
        self.request()?.viewer.ok_or(AppError::Unauthenticated)
    }

    /// `UNAUTHENTICATED` unless a viewer is signed in; which viewer does
    /// not matter to the answer (it is the same for every viewer of a role).
    fn signed_in(&self) -> Result<(), AppError> {
        self.request()?
            .viewer
            .map(|_| ())
            .ok_or(AppError::Unauthenticated)
    }

    /// The authenticated viewer if it is an admin, or the matching error.
    fn admin(&self) -> Result<Viewer, AppError> {
        let viewer = self.viewer()?;
        viewer.require_admin()?;
        Ok(viewer)
    }

    fn loaders(&self) -> Result<Arc<Loaders>, AppError> {
        Ok(self.request()?.loaders())
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
