//! [`AppState`]: everything a request handler needs, built once by
//! [`Application::build`](crate::app::Application::build) and shared by
//! every request.

use std::sync::{
    atomic::{AtomicBool, Ordering},
    Arc,
};

use tokio::{
    sync::{watch, OwnedSemaphorePermit, Semaphore},
    task::JoinHandle,
};

use super::{ParsedDocuments, PersistedQueries, Playground, TrustedDocuments};
use crate::{
    app::RequestHook,
    auth::TokenKeys,
    budget::Budgets,
    changes::{postgres::ListenerHealth, ChangeBus},
    config::Config,
    graphql::{AppSchema, Services},
    observability::metrics::OperationLabels,
};

/// What an [`AppState`] is made of.
pub struct StateParts {
    pub config: Config,
    pub schema: AppSchema,
    pub services: Services,
    pub token_keys: TokenKeys,
    /// Background tasks (change delivery, live readiness, cache refresh,
    /// the listener for other replicas' changes, metrics upkeep), stopped
    /// when serving stops or the state is dropped.
    pub background: Vec<JoinHandle<()>>,
    /// On PostgreSQL: the health of the invalidation listener.
    pub listener: Option<Arc<ListenerHealth>>,
    /// Where this process's committed changes are delivered.
    pub changes: Arc<ChangeBus>,
    pub playground: Playground,
    pub persisted_queries: PersistedQueries,
    pub documents: ParsedDocuments,
    pub trusted_documents: TrustedDocuments,
    /// A test seam run before every handler; `None` in production.
    pub request_hook: Option<RequestHook>,
}

/// Everything a request handler needs; cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<StateInner>);

struct StateInner {
    config: Config,
    schema: AppSchema,
    services: Services,
    token_keys: TokenKeys,
    /// Raised on SIGTERM/Ctrl-C so `/readyz` turns 503 while in-flight
    /// requests finish.
    shutting_down: AtomicBool,
    /// Background tasks, stopped when serving stops or this is dropped.
    background: Vec<JoinHandle<()>>,
    /// On PostgreSQL: the health of the invalidation listener.
    listener: Option<Arc<ListenerHealth>>,
    changes: Arc<ChangeBus>,
    /// The operation names that label request metrics (bounded).
    operation_labels: OperationLabels,
    /// The GraphiQL page (with the dev token in dev mode) and its assets.
    playground: Playground,
    /// Automatic persisted queries: hash -> document, bounded.
    persisted_queries: PersistedQueries,
    /// Parsed documents by their text, bounded.
    documents: ParsedDocuments,
    /// The trusted documents' manifest (reloadable) and mode.
    trusted_documents: TrustedDocuments,
    /// One permit per open WebSocket connection: bounds them, and tells
    /// shutdown when the last one has closed.
    websockets: Arc<Semaphore>,
    /// One permit per anonymous WebSocket connection (fewer than
    /// `websockets`), so that they cannot take every place.
    anonymous_websockets: Arc<Semaphore>,
    /// Raised when serving stops: every WebSocket connection closes.
    closing: watch::Sender<bool>,
    request_hook: Option<RequestHook>,
    /// Every viewer's budget.
    budgets: Budgets,
}

impl AppState {
    pub fn new(parts: StateParts) -> Self {
        Self(Arc::new(StateInner {
            schema: parts.schema,
            services: parts.services,
            token_keys: parts.token_keys,
            shutting_down: AtomicBool::new(false),
            background: parts.background,
            listener: parts.listener,
            changes: parts.changes,
            operation_labels: OperationLabels::default(),
            playground: parts.playground,
            websockets: Arc::new(Semaphore::new(parts.config.live.max_websocket_connections)),
            anonymous_websockets: Arc::new(Semaphore::new(
                parts.config.live.max_anonymous_websockets(),
            )),
            closing: watch::Sender::new(false),
            budgets: Budgets::new(&parts.config.budget),
            config: parts.config,
            persisted_queries: parts.persisted_queries,
            documents: parts.documents,
            trusted_documents: parts.trusted_documents,
            request_hook: parts.request_hook,
        }))
    }

    pub fn config(&self) -> &Config {
        &self.0.config
    }

    pub fn schema(&self) -> &AppSchema {
        &self.0.schema
    }

    /// The bus this process's caches and live readiness hear changes on.
    pub fn changes(&self) -> &ChangeBus {
        &self.0.changes
    }

    pub fn services(&self) -> &Services {
        &self.0.services
    }

    pub fn token_keys(&self) -> &TokenKeys {
        &self.0.token_keys
    }

    pub fn operation_labels(&self) -> &OperationLabels {
        &self.0.operation_labels
    }

    pub fn playground(&self) -> &Playground {
        &self.0.playground
    }

    pub fn persisted_queries(&self) -> &PersistedQueries {
        &self.0.persisted_queries
    }

    pub fn documents(&self) -> &ParsedDocuments {
        &self.0.documents
    }

    pub(crate) fn budgets(&self) -> &Budgets {
        &self.0.budgets
    }

    pub fn trusted_documents(&self) -> &TrustedDocuments {
        &self.0.trusted_documents
    }

    /// Loads the trusted documents' manifest again and puts it in use
    /// (what SIGHUP does); on error the one in use stays. Returns how many
    /// documents it holds.
    pub async fn reload_trusted_documents(&self) -> anyhow::Result<usize> {
        let reloaded = self
            .0
            .trusted_documents
            .reload(&self.0.config.limits, &self.0.schema)
            .await;
        match &reloaded {
            Ok(documents) => tracing::info!(documents, "trusted documents reloaded"),
            Err(error) => tracing::error!(
                error = format!("{error:#}"),
                "trusted documents not reloaded; the manifest in use stays"
            ),
        }
        reloaded
    }

    pub(crate) fn request_hook(&self) -> Option<RequestHook> {
        self.0.request_hook.clone()
    }

    /// The invalidation listener's health (PostgreSQL only).
    pub fn listener(&self) -> Option<&ListenerHealth> {
        self.0.listener.as_deref()
    }

    pub fn is_shutting_down(&self) -> bool {
        self.0.shutting_down.load(Ordering::Relaxed)
    }

    pub fn begin_shutdown(&self) {
        self.0.shutting_down.store(true, Ordering::Relaxed);
    }

    /// A place for one more WebSocket connection, or `None` at the limit.
    pub(crate) fn websocket_permit(&self) -> Option<OwnedSemaphorePermit> {
        Arc::clone(&self.0.websockets).try_acquire_owned().ok()
    }

    /// A place for one more anonymous WebSocket connection, or `None` at
    /// the limit.
    pub(crate) fn anonymous_websocket_permit(&self) -> Option<OwnedSemaphorePermit> {
        Arc::clone(&self.0.anonymous_websockets)
            .try_acquire_owned()
            .ok()
    }

    /// Changes to `true` when every WebSocket connection must close.
    pub(crate) fn websockets_closing(&self) -> watch::Receiver<bool> {
        self.0.closing.subscribe()
    }

    /// Asks every WebSocket connection to close.
    pub(crate) fn close_websockets(&self) {
        self.0.closing.send_replace(true);
    }

    /// Completes once every WebSocket connection has closed (each holds a
    /// permit until its socket is closed).
    pub(crate) async fn websockets_closed(&self) {
        let all = u32::try_from(self.0.config.live.max_websocket_connections).unwrap_or(u32::MAX);
        let _ = self.0.websockets.acquire_many(all).await;
    }

    pub(crate) fn stop_background_tasks(&self) {
        self.0.stop_background_tasks();
    }
}

impl StateInner {
    fn stop_background_tasks(&self) {
        for task in &self.background {
            task.abort();
        }
    }
}

/// The application owns its background tasks: they hold its caches and
/// bus, and go with it.
impl Drop for StateInner {
    fn drop(&mut self) {
        self.stop_background_tasks();
    }
}
