//! The servers under test, in this process: the real agentgraph server
//! (`Application::build` + `app::serve`, exactly what `main` runs) and the
//! floor server, a plain axum handler on its own port and the same stack
//! (tokio, hyper, axum), which shows what the machine can do at all.
//!
//! Both run on a tokio runtime of their own ([`SERVER_WORKER_THREADS`]
//! workers, every thread named [`SERVER_THREADS`]), apart from the runtime
//! of the load generator, so [`crate::cpu`] can tell the server's CPU time
//! from the clients'.

use std::net::SocketAddr;

use agentgraph::{
    app::{self, Application},
    config::Config,
    http::AppState,
};
use anyhow::Context as _;
use axum::{routing::get, Router};
use tokio::{
    net::TcpListener,
    runtime::{Handle, Runtime},
    sync::oneshot,
    task::JoinHandle,
};

/// Signs the bench's tokens; the server is configured with it.
pub(crate) const JWT_SECRET: &str = "agentgraph-bench-secret-not-for-production";

/// Pool size of the server under test.
pub(crate) const DB_MAX_CONNECTIONS: &str = "20";

/// Subscriptions one WebSocket connection of the fan-out row holds, and the
/// server's limit for it (1,000 subscribers over 10 connections).
pub(crate) const SUBSCRIPTIONS_PER_CONNECTION: usize = 100;

/// Worker threads of the servers' runtime.
pub(crate) const SERVER_WORKER_THREADS: usize = 2;

/// The name of every thread of the servers' runtime, blocking threads
/// included. The kernel keeps 15 bytes of a thread's name, and
/// [`crate::cpu`] matches what it keeps.
pub(crate) const SERVER_THREADS: &str = "agentgraph-srv";
const _: () = assert!(SERVER_THREADS.len() <= 15);

/// Both servers, running until [`Servers::stop`].
pub(crate) struct Servers {
    /// `http://127.0.0.1:<port>/graphql` of the real server.
    pub graphql_url: String,
    /// `http://127.0.0.1:<port>/` of the plain axum handler.
    pub floor_url: String,
    /// The real server's state: its database handle and invalidation bus.
    pub state: AppState,
    stops: Vec<oneshot::Sender<()>>,
    tasks: Vec<JoinHandle<std::io::Result<()>>>,
    /// Last, so it outlives everything above when dropped.
    runtime: ServerRuntime,
}

/// The servers' runtime. Dropped, it shuts down without waiting (a runtime
/// must not block inside another runtime's task): by then [`Servers::stop`]
/// has let both servers finish, or the run was interrupted.
struct ServerRuntime {
    handle: Handle,
    runtime: Option<Runtime>,
}

impl ServerRuntime {
    fn start() -> anyhow::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(SERVER_WORKER_THREADS)
            .thread_name(SERVER_THREADS)
            .enable_all()
            .build()
            .context("starting the servers' tokio runtime")?;
        Ok(Self {
            handle: runtime.handle().clone(),
            runtime: Some(runtime),
        })
    }
}

impl Drop for ServerRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// What starting the servers yields, before the runtime is added.
struct Started {
    graphql_url: String,
    floor_url: String,
    state: AppState,
    stops: Vec<oneshot::Sender<()>>,
    tasks: Vec<JoinHandle<std::io::Result<()>>>,
}

/// Builds the real server on `database_url` (already migrated and loaded;
/// no demo data) and starts both servers on ports chosen by the system,
/// all on the servers' runtime: the pool, the caches' background tasks and
/// the listening sockets belong to it.
pub(crate) async fn start(database_url: &str) -> anyhow::Result<Servers> {
    start_with(database_url, &[]).await
}

/// [`start`] with `extra` server flags (the abusive-viewer row's budget).
pub(crate) async fn start_with(database_url: &str, extra: &[&str]) -> anyhow::Result<Servers> {
    let subscriptions = SUBSCRIPTIONS_PER_CONNECTION.to_string();
    // The trusted documents' rows name the circles page by id.
    let manifest = std::env::temp_dir().join(format!(
        "agentgraph-bench-trusted-{}.json",
        std::process::id()
    ));
    std::fs::write(&manifest, crate::workloads::trusted_manifest())
        .context("writing the trusted documents' manifest")?;
    let manifest = manifest
        .to_str()
        .context("a UTF-8 temporary directory")?
        .to_owned();
    let mut flags = vec![
        "agentgraph",
        "--trusted-documents",
        &manifest,
        "--database-url",
        database_url,
        "--jwt-secret",
        JWT_SECRET,
        "--no-demo-data",
        "--db-max-connections",
        DB_MAX_CONNECTIONS,
        "--max-subscriptions-per-connection",
        &subscriptions,
    ];
    flags.extend_from_slice(extra);
    let config = Config::from_flags(flags).context("server flags")?;
    let runtime = ServerRuntime::start()?;
    let started = runtime
        .handle
        .spawn(start_on_this_runtime(config))
        .await
        .context("starting the servers")??;
    Ok(Servers {
        graphql_url: started.graphql_url,
        floor_url: started.floor_url,
        state: started.state,
        stops: started.stops,
        tasks: started.tasks,
        runtime,
    })
}

/// [`start`], on the servers' runtime (`tokio::spawn` and the sockets use
/// the runtime they are called on).
async fn start_on_this_runtime(config: Config) -> anyhow::Result<Started> {
    let application = Application::build(config)
        .await
        .context("building the server")?;
    let state = application.state;

    let (graphql_address, graphql_stop, graphql_task) = {
        let listener = bind().await?;
        let address = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(app::serve(listener, state.clone(), async move {
            let _ = stopped.await;
        }));
        (address, stop, task)
    };
    let (floor_address, floor_stop, floor_task) = start_floor().await?;
    Ok(Started {
        graphql_url: format!("http://{graphql_address}/graphql"),
        floor_url: format!("http://{floor_address}/"),
        state,
        stops: vec![graphql_stop, floor_stop],
        tasks: vec![graphql_task, floor_task],
    })
}

async fn bind() -> anyhow::Result<TcpListener> {
    TcpListener::bind("127.0.0.1:0")
        .await
        .context("binding 127.0.0.1:0")
}

/// `GET /` answering "ok": the floor every other figure is read against.
async fn start_floor() -> anyhow::Result<(
    SocketAddr,
    oneshot::Sender<()>,
    JoinHandle<std::io::Result<()>>,
)> {
    let listener = bind().await?;
    let address = listener.local_addr()?;
    let router = Router::new().route("/", get(|| async { "ok" }));
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .await
    });
    Ok((address, stop, task))
}

impl Servers {
    /// Stops both servers and waits until they are gone (the real one
    /// closes its pool), so the database can be dropped; then the runtime.
    pub(crate) async fn stop(self) {
        for stop in self.stops {
            let _ = stop.send(());
        }
        for task in self.tasks {
            match task.await {
                Ok(Ok(())) => {}
                Ok(Err(error)) => eprintln!("a server stopped with an error: {error}"),
                Err(error) => eprintln!("a server task failed: {error}"),
            }
        }
        drop(self.runtime);
    }
}
