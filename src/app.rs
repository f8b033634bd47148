//! Application assembly: [`Application::build`] turns a [`Config`] into a
//! ready state (database migrated, demo data loaded when empty), and
//! [`serve`] runs the router on a listener until the shutdown future fires.
//! `main` and the tests use the same two functions.

use std::{future::Future, sync::Arc, time::Duration};

use axum::{
    extract::{DefaultBodyLimit, Request},
    http::{header, HeaderName, HeaderValue, Method, StatusCode},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::get,
    Router,
};
use futures::FutureExt;
use sea_orm::{EntityTrait, PaginatorTrait};
use tokio::net::TcpListener;
use tower_http::{
    catch_panic::CatchPanicLayer,
    compression::{
        predicate::{NotForContentType, Predicate, SizeAbove},
        CompressionLayer,
    },
    cors::{AllowOrigin, CorsLayer},
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    timeout::TimeoutLayer,
    trace::TraceLayer,
};

use crate::{
    auth::{TokenKeys, Viewer},
    cache::{agent_config, Caches},
    changes::{
        self,
        postgres::{Listener, ListenerSettings},
        ChangeBus,
    },
    config::Config,
    db::Db,
    error::AppError,
    graphql::{self, Services},
    http::{self, AppState, StateParts},
    live::LiveReadiness,
    seed::{self, DEMO_USER_ID},
};

#[cfg(feature = "test-support")]
pub use seams::{Hooks, RequestHook};
#[cfg(not(feature = "test-support"))]
pub(crate) use seams::{Hooks, RequestHook};

/// The test seams. Only the `test-support` feature (the tests and the
/// benchmark) can install them; production runs with none.
#[cfg_attr(not(feature = "test-support"), allow(unreachable_pub, dead_code))]
mod seams {
    use std::sync::Arc;

    use crate::{
        cache::AfterLoadHook,
        db::{AfterCommitHook, BeforeCommitHook},
    };

    /// Test seams; the default is none.
    #[derive(Clone, Default)]
    pub struct Hooks {
        /// Runs inside every cache load, after the database read and before
        /// the store.
        pub after_load: Option<AfterLoadHook>,
        /// Runs after every commit, before its changes are delivered.
        pub after_commit: Option<AfterCommitHook>,
        /// Runs just before every `COMMIT` is sent.
        pub before_commit: Option<BeforeCommitHook>,
        /// Runs in every request's handling, before its handler, with its
        /// headers.
        pub in_handler: Option<RequestHook>,
    }

    /// See [`Hooks::in_handler`].
    pub type RequestHook = Arc<dyn Fn(&axum::http::HeaderMap) + Send + Sync>;
}

/// A built application: state ready to serve.
pub struct Application {
    pub state: AppState,
    /// In dev mode, a token for the demo admin user (valid 24 h).
    pub dev_token: Option<String>,
}

impl Application {
    /// Connects, migrates, loads the demo data into an empty database (unless
    /// disabled) and assembles the schema.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        Self::assemble(config, Hooks::default()).await
    }

    /// [`Self::build`] with test hooks installed.
    #[cfg(feature = "test-support")]
    pub async fn build_with(config: Config, hooks: Hooks) -> anyhow::Result<Self> {
        Self::assemble(config, hooks).await
    }

    async fn assemble(config: Config, hooks: Hooks) -> anyhow::Result<Self> {
        // First: a setting it cannot run with, or a weak secret, stops the
        // server before it touches anything.
        config.validate()?;
        crate::observability::metrics::handle();
        let token_keys = match &config.jwt_secret {
            Some(secret) => TokenKeys::new(secret.expose().as_bytes())?,
            None => TokenKeys::random(),
        };
        let (change_sender, change_receiver) = changes::channel();
        let mut db = Db::connect(
            config.database_url.as_str(),
            &config.db,
            change_sender.clone(),
        )
        .await?;
        if let Some(hook) = hooks.after_commit {
            db.set_after_commit_hook(hook);
        }
        if let Some(hook) = hooks.before_commit {
            db.set_before_commit_hook(hook);
        }
        db.migrate().await?;
        if !config.no_demo_data && is_empty(&db).await? {
            let report = load_demo_data(&db).await?;
            tracing::info!(?report, "loaded the demo data set into the empty database");
        }
        let dev_token = config.is_dev_mode().then(|| {
            let demo_admin = Viewer {
                id: DEMO_USER_ID,
                is_admin: true,
            };
            token_keys.issue(demo_admin, Duration::from_secs(24 * 3600))
        });
        // The application owns the bus: the caches and the live hub
        // subscribe; the database only holds the sending end.
        let caches = Caches::new(&db, &config.caches, hooks.after_load);
        let (live, pushing) =
            LiveReadiness::start(caches.readiness.clone(), config.live.subscription_coalesce);
        let bus = Arc::new(ChangeBus::new(
            &change_sender,
            vec![Arc::clone(&caches) as _, Arc::clone(&live) as _],
        ));
        let delivering = change_receiver.deliver_to(Arc::clone(&bus));
        let preloaded = caches.agent_configs.refresh().await?;
        bus.deliver(&preloaded.changes);
        tracing::info!(agents = preloaded.loaded, "agent config cache preloaded");
        let refresh = agent_config::spawn_refresh(
            caches.agent_configs.clone(),
            Arc::clone(&bus),
            config.caches.agent_config.agent_cache_refresh,
        );
        let mut background = vec![
            delivering,
            pushing,
            refresh,
            crate::observability::metrics::spawn_upkeep(),
        ];
        let listener = if config.is_postgres() {
            let settings = ListenerSettings {
                database_url: config.database_url.as_str().to_owned(),
                heartbeat: config.listener_heartbeat,
            };
            let (task, health) = Listener::start(settings, Arc::clone(&bus)).await?;
            background.push(task);
            Some(health)
        } else {
            None
        };
        let services = Services { db, caches, live };
        // No schema extension: with one, async-graphql wraps every field's
        // resolution in the extension chain.
        let schema = graphql::schema_builder(&config.limits)
            .data(services.clone())
            .finish();
        let trusted_documents =
            http::TrustedDocuments::load(&config.trusted, &config.limits, &schema).await?;
        let playground = http::Playground::new(dev_token.as_deref());
        let persisted_queries = http::PersistedQueries::new(config.http.persisted_queries_bytes);
        let documents =
            http::ParsedDocuments::new(config.http.document_cache_bytes, config.limits.clone());
        let state = AppState::new(StateParts {
            config,
            schema,
            services,
            token_keys,
            background,
            listener,
            changes: bus,
            playground,
            persisted_queries,
            documents,
            trusted_documents,
            request_hook: hooks.in_handler,
        });
        Ok(Self { state, dev_token })
    }
}

/// Loads the demo data set in one transaction (idempotent).
pub async fn load_demo_data(db: &Db) -> anyhow::Result<seed::SeedReport> {
    let report = db.write(|txn| seed::seed_demo(txn).boxed()).await?;
    Ok(report)
}

async fn is_empty(db: &Db) -> Result<bool, sea_orm::DbErr> {
    Ok(entity::agents::Entity::find().count(db.conn()).await? == 0)
}

/// The router with every route and the HTTP middleware (request ids,
/// tracing, panics, deadline, body limit, CORS, caching headers,
/// compression).
pub fn build_router(state: AppState) -> Router {
    let config = state.config().clone();
    let x_request_id = HeaderName::from_static("x-request-id");
    let hook = state.request_hook();
    let router = Router::new()
        .route("/", get(http::graphiql))
        // GET also upgrades to a WebSocket for subscriptions.
        .route(
            "/graphql",
            get(http::graphql_get_or_websocket).post(http::graphql_post),
        )
        .route("/healthz", get(http::healthz))
        .route("/readyz", get(http::readyz))
        .route("/metrics", get(http::metrics))
        .route("/graphiql/{version}/{file}", get(http::graphiql_asset))
        .with_state(state);
    let router = match hook {
        Some(hook) => router.layer(middleware::from_fn(move |request: Request, next: Next| {
            let hook = Arc::clone(&hook);
            async move {
                hook(request.headers());
                next.run(request).await
            }
        })),
        None => router,
    };
    router
        .layer(compression())
        // Outside compression: the `ETag` is over the bytes sent.
        .layer(middleware::from_fn(http::cache_headers))
        .layer(cors(&config))
        .layer(DefaultBodyLimit::max(config.http.body_limit_bytes))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::GATEWAY_TIMEOUT,
            config.http.request_timeout,
        ))
        .layer(CatchPanicLayer::custom(panic_response))
        // Outside the panic catcher, inside the request id.
        .layer(middleware::from_fn(request_id_on_panic))
        .layer(PropagateRequestIdLayer::new(x_request_id.clone()))
        .layer(
            TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
                let request_id = request
                    .headers()
                    .get("x-request-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default();
                tracing::info_span!(
                    "request",
                    method = %request.method(),
                    path = %request.uri().path(),
                    request_id,
                    operation = tracing::field::Empty,
                )
            }),
        )
        .layer(SetRequestIdLayer::new(x_request_id, MakeRequestUuid))
}

/// The CORS policy: `config`'s origins and extra headers passed
/// `Config::validate` (each blank, an exact origin, a header name). Allowed:
/// the headers real clients send (Apollo Client names itself in two);
/// exposed: `x-request-id`, which names the log lines of a failed request;
/// a preflight answer is cached by the browser for ten minutes.
fn cors(config: &Config) -> CorsLayer {
    let origins: Vec<HeaderValue> = config
        .cors_origins
        .iter()
        .map(|o| o.trim())
        .filter(|o| !o.is_empty())
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    let extra = config
        .cors_allow_headers
        .iter()
        .map(|n| n.trim())
        .filter(|n| !n.is_empty())
        .filter_map(|n| HeaderName::from_bytes(n.as_bytes()).ok());
    let allowed: Vec<HeaderName> = [
        header::AUTHORIZATION,
        header::CONTENT_TYPE,
        header::ACCEPT,
        HeaderName::from_static("x-agentgraph-cost"),
        HeaderName::from_static("apollographql-client-name"),
        HeaderName::from_static("apollographql-client-version"),
    ]
    .into_iter()
    .chain(extra)
    .collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([Method::GET, Method::POST])
        .allow_headers(allowed)
        .expose_headers([HeaderName::from_static("x-request-id")])
        .max_age(Duration::from_secs(600))
}

/// gzip or brotli (quality 4, tower-http's default: fast enough per
/// request) for responses above 1 KiB when the client accepts either;
/// smaller ones gain less than the encoding costs. Compressible responses
/// carry `Vary: Accept-Encoding`, compressed or not.
fn compression() -> CompressionLayer<impl Predicate> {
    let predicate = SizeAbove::new(1024)
        .and(NotForContentType::GRPC)
        .and(NotForContentType::IMAGES)
        .and(NotForContentType::SSE);
    CompressionLayer::new()
        .no_deflate()
        .no_zstd()
        .compress_when(predicate)
}

/// Marks the response [`panic_response`] made, for
/// [`request_id_on_panic`] to complete.
#[derive(Clone, Copy)]
struct Panicked;

/// The panic catcher sees the panic, not the request; its response is
/// completed (with the request id) by [`request_id_on_panic`].
fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let mut response = StatusCode::INTERNAL_SERVER_ERROR.into_response();
    response.extensions_mut().insert(Panicked);
    response
}

/// A panicked request's answer: an internal error with its request id,
/// which names the log line.
async fn request_id_on_panic(request: Request, next: Next) -> Response {
    let request_id = http::request_id(request.headers());
    let response = next.run(request).await;
    if response.extensions().get::<Panicked>().is_none() {
        return response;
    }
    tracing::error!(request_id, "a request handler panicked");
    let error = AppError::internal(anyhow::anyhow!("a handler panicked"));
    let body = serde_json::json!({ "errors": [{
        "message": error.public_message(&request_id),
        "extensions": { "code": error.code().as_str(), "requestId": request_id },
    }] });
    (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(body)).into_response()
}

/// Serves until `shutdown` completes; then `/readyz` turns 503, after the
/// configured delay the listener closes, and in-flight requests and the
/// closing of the pool share the configured grace period: whatever is still
/// running or holding a connection when it ends is dropped, so the process
/// always exits.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let grace = state.config().http.shutdown_grace;
    let (stopping_tx, stopping_rx) = tokio::sync::watch::channel(false);
    let flagging_state = state.clone();
    let drain = state.config().http.shutdown_delay;
    let signal = async move {
        shutdown.await;
        // Tell the load balancer first (readyz 503) while still serving, so
        // it stops sending new requests before the listener closes.
        flagging_state.begin_shutdown();
        tracing::info!(
            ?drain,
            "shutting down: /readyz is 503; closing the listener after the delay"
        );
        tokio::time::sleep(drain).await;
        // WebSocket connections are not requests the server waits for:
        // they are told to close (a close frame to each client) and waited
        // for below, within the same grace period.
        flagging_state.close_websockets();
        let _ = stopping_tx.send(true);
    };
    let router = build_router(state.clone());
    let websockets = state.clone();
    let limits = http::ConnectionLimits {
        max_connections: state.config().http.max_connections,
        header_read_timeout: state.config().http.header_read_timeout,
    };
    let server = async move {
        http::serve_connections(listener, router, limits, signal).await;
        websockets.websockets_closed().await;
    };
    let (deadline_tx, deadline_rx) = tokio::sync::oneshot::channel();
    let mut stopping = stopping_rx;
    let grace_over = async move {
        let _ = stopping.wait_for(|stopping| *stopping).await;
        let deadline = tokio::time::Instant::now() + grace;
        let _ = deadline_tx.send(deadline);
        tokio::time::sleep_until(deadline).await;
    };
    tokio::select! {
        () = server => {},
        () = grace_over => {
            tracing::warn!(?grace, "shutdown grace period over; dropping unfinished requests");
        }
    };
    state.stop_background_tasks();
    // The grace period also bounds closing the pool, which waits for every
    // connection to come back.
    let deadline = deadline_rx
        .await
        .unwrap_or_else(|_| tokio::time::Instant::now() + grace);
    let closing = state.services().db.clone().close();
    if tokio::time::timeout_at(deadline, closing).await.is_err() {
        tracing::warn!(
            "connections still in use at the end of the grace period; not waiting for them"
        );
    }
    Ok(())
}

/// Reloads the trusted documents' manifest on every SIGHUP, for as long as
/// the returned task runs (a bad manifest is logged and the one in use
/// stays). Without a manifest, SIGHUP keeps its default meaning.
pub fn reload_on_hangup(state: AppState) -> Option<tokio::task::JoinHandle<()>> {
    state.config().trusted.trusted_documents.as_ref()?;
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut hangups = match signal(SignalKind::hangup()) {
            Ok(hangups) => hangups,
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGHUP; the manifest will not reload");
                return None;
            }
        };
        Some(tokio::spawn(async move {
            while hangups.recv().await.is_some() {
                // Errors are logged by the reload.
                let _ = state.reload_trusted_documents().await;
            }
        }))
    }
    #[cfg(not(unix))]
    None
}

/// Completes on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
