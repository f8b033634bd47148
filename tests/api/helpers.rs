//! The test harness: spawn the real server on a fresh database, talk to it
//! over HTTP, and read the database directly to check what was written.

use std::{net::SocketAddr, time::Duration};

use agentgraph::{
    app::{self, Application, Hooks},
    auth::{TokenKeys, Viewer},
    config::Config,
    db::{scratch, Db},
    http::AppState,
};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{json, Value};
use tokio::sync::oneshot;
use uuid::Uuid;

pub(crate) const SECRET: &str = "test-secret-that-signs-every-test-token";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Backend {
    Sqlite,
    Postgres,
}

/// Generates `sqlite` and `postgres` variants of a test. The PostgreSQL one
/// is ignored, with the reason shown by `cargo test`, unless
/// `AGENTGRAPH_TEST_POSTGRES_URL` points at a server.
///
/// `#[flags("--max-depth", "5")]` before `async fn` spawns both servers with
/// those extra command-line flags. A second parameter, `gate: LoadGate`,
/// makes a fresh value of that type (it needs `Default` and a
/// `hooks(&self) -> Hooks` method), spawns the server with its hooks and
/// hands it to the test.
#[macro_export]
macro_rules! test_both {
    (
        $(#[doc = $doc:literal])*
        $(#[flags($($flag:expr),* $(,)?)])?
        async fn $name:ident($app:ident: TestApp $(, $gate:ident: $gate_ty:ty)? $(,)?) $body:block
    ) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            $(#[doc = $doc])*
            async fn run($app: $crate::helpers::TestApp $(, $gate: $gate_ty)?) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                $crate::test_both!(@run $crate::helpers::Backend::Sqlite, [$($($flag),*)?] $(, $gate_ty)?);
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            #[cfg_attr(
                not(agentgraph_postgres_tests),
                ignore = "PostgreSQL not configured: set AGENTGRAPH_TEST_POSTGRES_URL"
            )]
            async fn postgres() {
                $crate::test_both!(@run $crate::helpers::Backend::Postgres, [$($($flag),*)?] $(, $gate_ty)?);
            }
        }
    };
    (@run $backend:expr, [$($flag:expr),*]) => {
        run($crate::helpers::TestApp::spawn_with($backend, &[$($flag),*]).await).await
    };
    (@run $backend:expr, [$($flag:expr),*], $gate_ty:ty) => {{
        let gate = <$gate_ty>::default();
        let hooks = gate.hooks();
        run($crate::helpers::TestApp::spawn_with_hooks($backend, &[$($flag),*], hooks).await, gate).await
    }};
}

/// A running server on its own database.
pub(crate) struct TestApp {
    /// The database kind, for tests that start a second, differently
    /// configured server of the same kind (dev mode).
    pub backend: Backend,
    pub address: SocketAddr,
    pub client: reqwest::Client,
    /// A separate connection for arranging data and checking what was
    /// written; its statements are never charged to a request.
    pub db: Db,
    pub keys: TokenKeys,
    /// The bearer header value of an admin.
    pub admin: String,
    /// The bearer header value of a user without roles.
    pub user: String,
    shutdown: Option<oneshot::Sender<()>>,
    /// The serving task: ends when `app::serve` returns.
    pub served: tokio::task::JoinHandle<std::io::Result<()>>,
    /// The server's state, for reading its cache counters.
    pub state: AppState,
    /// The database every replica of this app uses.
    pub database_url: String,
    /// In dev mode (see [`Self::spawn_dev`]): the demo admin token the
    /// server made up.
    #[allow(dead_code, reason = "for the dev-mode tests only")]
    pub dev_token: Option<String>,
    /// Owned by the first replica only: dropped (and the database with it)
    /// when that replica's test ends.
    _database: Option<ScratchDatabase>,
}

impl TestApp {
    pub(crate) async fn spawn(backend: Backend) -> Self {
        Self::spawn_with(backend, &[]).await
    }

    /// Spawns with extra command-line flags (e.g. a smaller limit).
    pub(crate) async fn spawn_with(backend: Backend, flags: &[&str]) -> Self {
        Self::spawn_with_hooks(backend, flags, Hooks::default()).await
    }

    /// Spawns with extra flags and test hooks installed.
    pub(crate) async fn spawn_with_hooks(backend: Backend, flags: &[&str], hooks: Hooks) -> Self {
        let mut args = vec!["--jwt-secret", SECRET, "--no-demo-data"];
        args.extend_from_slice(flags);
        Self::start(backend, &args, hooks).await
    }

    /// Spawns as `cargo run` would: dev mode (no secret: the server makes
    /// one up and a demo admin token, [`Self::dev_token`]) with the demo
    /// data loaded. The `admin` and `user` tokens do not work here.
    #[allow(dead_code, reason = "for the dev-mode tests only")]
    pub(crate) async fn spawn_dev(backend: Backend) -> Self {
        Self::start(backend, &[], Hooks::default()).await
    }

    /// Spawns on a SQLite file the test made (and removes) itself, e.g. on
    /// a small file system of its own.
    #[allow(dead_code, reason = "for the durability tests only")]
    pub(crate) async fn spawn_on_sqlite_file(path: &std::path::Path, flags: &[&str]) -> Self {
        let url = format!("sqlite://{}?mode=rwc", path.display());
        let mut args = vec!["--jwt-secret", SECRET, "--no-demo-data"];
        args.extend_from_slice(flags);
        Self::start_on(Backend::Sqlite, url, None, &args, Hooks::default()).await
    }

    async fn start(backend: Backend, flags: &[&str], hooks: Hooks) -> Self {
        let database = ScratchDatabase::create(backend).await;
        let url = database.url.clone();
        Self::start_on(backend, url, Some(database), flags, hooks).await
    }

    async fn start_on(
        backend: Backend,
        url: String,
        database: Option<ScratchDatabase>,
        flags: &[&str],
        hooks: Hooks,
    ) -> Self {
        let (config, state, address, shutdown, served, dev_token) =
            start_server(&url, flags, hooks).await;
        let db_config = config.db;
        // Outside the application: its writes reach the application like
        // another replica's (by NOTIFY, on PostgreSQL), never directly.
        let (changes, _no_bus) = agentgraph::changes::channel();
        let db = Db::connect(&url, &db_config, changes)
            .await
            .expect("test connection");
        let keys = TokenKeys::new(SECRET.as_bytes()).expect("the test secret is long enough");
        let admin = bearer(
            &keys,
            Viewer {
                id: Uuid::now_v7().into(),
                is_admin: true,
            },
        );
        let user = bearer(
            &keys,
            Viewer {
                id: Uuid::now_v7().into(),
                is_admin: false,
            },
        );
        Self {
            backend,
            address,
            client: reqwest::Client::new(),
            db,
            keys,
            admin,
            user,
            shutdown: Some(shutdown),
            served,
            state,
            database_url: url,
            dev_token,
            _database: database,
        }
    }

    /// Two replicas on one fresh PostgreSQL database (the only database
    /// several processes share).
    pub(crate) async fn spawn_two_replicas() -> (Self, Self) {
        let a = Self::spawn(Backend::Postgres).await;
        let b = a.spawn_replica().await;
        (a, b)
    }

    /// Another server on the same database: a second replica with its own
    /// pool, caches and invalidation listener.
    pub(crate) async fn spawn_replica(&self) -> Self {
        self.replica(&["--jwt-secret", SECRET, "--no-demo-data"])
            .await
    }

    /// Another replica with extra command-line flags.
    #[allow(dead_code, reason = "for the response cache tests only")]
    pub(crate) async fn spawn_replica_with(&self, flags: &[&str]) -> Self {
        let mut args = vec!["--jwt-secret", SECRET, "--no-demo-data"];
        args.extend_from_slice(flags);
        self.replica(&args).await
    }

    /// Another server on the same database, started the way `agentgraph
    /// serve` starts by default: it loads the demo data set when the
    /// database is empty.
    pub(crate) async fn spawn_replica_with_demo_data(&self) -> Self {
        self.replica(&["--jwt-secret", SECRET]).await
    }

    async fn replica(&self, flags: &[&str]) -> Self {
        let (_, state, address, shutdown, served, dev_token) =
            start_server(&self.database_url, flags, Hooks::default()).await;
        Self {
            backend: self.backend,
            address,
            client: reqwest::Client::new(),
            db: self.db.clone(),
            keys: self.keys.clone(),
            admin: self.admin.clone(),
            user: self.user.clone(),
            shutdown: Some(shutdown),
            served,
            state,
            database_url: self.database_url.clone(),
            dev_token,
            _database: None,
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// A bearer header value for a fresh user.
    pub(crate) fn new_user(&self, is_admin: bool) -> (Uuid, String) {
        let id = Uuid::now_v7();
        (
            id,
            bearer(
                &self.keys,
                Viewer {
                    id: id.into(),
                    is_admin,
                },
            ),
        )
    }

    /// POSTs a GraphQL request as `auth` (a bearer header value, or none),
    /// asking for the cost extension.
    pub(crate) async fn post(&self, auth: Option<&str>, query: &str, variables: Value) -> Gql {
        let mut request = self
            .client
            .post(self.url("/graphql"))
            .header("x-agentgraph-cost", "1")
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(auth) = auth {
            request = request.header("authorization", auth);
        }
        Gql::from(request.send().await.expect("request is sent")).await
    }

    /// Sends any request (method, path, headers and body of the caller's
    /// choosing) and reads the answer, JSON or not.
    pub(crate) async fn send(&self, request: reqwest::RequestBuilder) -> Gql {
        Gql::from(request.send().await.expect("request is sent")).await
    }

    /// Runs `query` as an admin and returns `data`, failing on any error.
    pub(crate) async fn admin_ok(&self, query: &str, variables: Value) -> Value {
        self.post_for_data(&self.admin, query, variables)
            .await
            .data_ok()
    }

    /// Runs `query` as the plain user and returns `data`, failing on any error.
    pub(crate) async fn user_ok(&self, query: &str, variables: Value) -> Value {
        self.post_for_data(&self.user, query, variables)
            .await
            .data_ok()
    }

    /// A request whose `data` only is read: sent without the cost extension,
    /// so the response cache keeps and serves its answer, and every read
    /// after a write in the suite checks the cache's invalidation too.
    /// `AGENTGRAPH_TEST_KEEP_READS=0` sends it with the cost extension (never
    /// stored): the suite in its other mode.
    async fn post_for_data(&self, auth: &str, query: &str, variables: Value) -> Gql {
        if std::env::var("AGENTGRAPH_TEST_KEEP_READS").map_or(true, |v| v != "0") {
            let request = self
                .client
                .post(self.url("/graphql"))
                .header("authorization", auth)
                .json(&json!({ "query": query, "variables": variables }));
            return self.send(request).await;
        }
        self.post(Some(auth), query, variables).await
    }

    /// `SELECT COUNT(*) FROM table`, read directly.
    pub(crate) async fn count(&self, table: &str) -> i64 {
        let backend = self.db.backend();
        let row = self
            .db
            .conn()
            .query_one(Statement::from_string(
                backend,
                format!("SELECT COUNT(*) AS n FROM {table}"),
            ))
            .await
            .expect("count query")
            .expect("a row");
        row.try_get::<i64>("", "n").expect("count")
    }
}

impl TestApp {
    /// Sends the shutdown signal, as SIGTERM would.
    pub(crate) fn shut_down(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

/// Builds and serves an application on `url` on a free port, with `flags`.
async fn start_server(
    url: &str,
    flags: &[&str],
    hooks: Hooks,
) -> (
    Config,
    AppState,
    SocketAddr,
    oneshot::Sender<()>,
    tokio::task::JoinHandle<std::io::Result<()>>,
    Option<String>,
) {
    let mut args = vec!["agentgraph", "--database-url", url];
    args.extend_from_slice(flags);
    let config = Config::from_flags(args).expect("test flags parse");
    let application = Application::build_with(config.clone(), hooks)
        .await
        .expect("application builds");
    let state = application.state.clone();
    let dev_token = application.dev_token.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    let (shutdown, stop) = oneshot::channel::<()>();
    let served = tokio::spawn(app::serve(listener, application.state, async move {
        let _ = stop.await;
    }));
    (config, state, address, shutdown, served, dev_token)
}

pub(crate) fn bearer(keys: &TokenKeys, viewer: Viewer) -> String {
    format!("Bearer {}", keys.issue(viewer, Duration::from_secs(3600)))
}

/// One GraphQL response: HTTP status, content type, headers and the JSON
/// body (a JSON string holding the text when the body is not JSON).
#[derive(Debug)]
pub(crate) struct Gql {
    pub status: u16,
    pub content_type: String,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Gql {
    pub(crate) async fn from(response: reqwest::Response) -> Self {
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let headers = response.headers().clone();
        let text = response.text().await.expect("body");
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Self {
            status,
            content_type,
            headers,
            body,
        }
    }

    /// `data`, after checking there were no errors.
    pub(crate) fn data_ok(self) -> Value {
        assert_eq!(
            self.body["errors"],
            Value::Null,
            "unexpected errors: {}",
            self.body
        );
        assert_eq!(self.status, 200);
        self.body["data"].clone()
    }

    /// The SQL statements the request ran, from the cost extension.
    pub(crate) fn statements(&self) -> u64 {
        self.body["extensions"]["cost"]["sqlStatements"]
            .as_u64()
            .unwrap_or_else(|| panic!("no cost extension in {}", self.body))
    }

    /// The first error's `extensions.code`.
    pub(crate) fn error_code(&self) -> &str {
        self.body["errors"][0]["extensions"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("no error code in {}", self.body))
    }

    pub(crate) fn error_message(&self) -> &str {
        self.body["errors"][0]["message"]
            .as_str()
            .unwrap_or_else(|| panic!("no error message in {}", self.body))
    }

    pub(crate) fn error_field(&self) -> Option<&str> {
        self.body["errors"][0]["extensions"]["field"].as_str()
    }

    /// Fails unless the body has a non-empty `errors` list whose every
    /// entry carries a message and `extensions.code`.
    pub(crate) fn assert_every_error_has_a_code(&self) {
        let errors = self.body["errors"]
            .as_array()
            .unwrap_or_else(|| panic!("no `errors` list in {}", self.body));
        assert!(!errors.is_empty(), "empty `errors` list in {}", self.body);
        for error in errors {
            assert!(
                error["message"].is_string(),
                "an error without a message in {}",
                self.body
            );
            assert!(
                error["extensions"]["code"].is_string(),
                "an error without `extensions.code` in {}",
                self.body
            );
        }
    }

    /// A response header, as text.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A database that exists for one test: a temporary SQLite file, or a
/// PostgreSQL database with a random name, dropped when the test ends
/// (even when it panics).
struct ScratchDatabase {
    url: String,
    cleanup: Option<(String, String)>,
    _dir: Option<tempfile::TempDir>,
}

impl ScratchDatabase {
    async fn create(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display());
                Self {
                    url,
                    cleanup: None,
                    _dir: Some(dir),
                }
            }
            Backend::Postgres => {
                let admin_url = std::env::var("AGENTGRAPH_TEST_POSTGRES_URL")
                    .expect("AGENTGRAPH_TEST_POSTGRES_URL is set for PostgreSQL tests");
                let (url, name) = scratch::create_database(&admin_url, "agentgraph_test")
                    .await
                    .expect("create test database");
                Self {
                    url,
                    cleanup: Some((admin_url, name)),
                    _dir: None,
                }
            }
        }
    }
}

impl Drop for ScratchDatabase {
    fn drop(&mut self) {
        let Some((admin_url, name)) = self.cleanup.take() else {
            return;
        };
        // Drop runs inside the test's runtime, which cannot block on async
        // work; a short-lived thread with its own runtime can.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime
                .block_on(scratch::drop_database(&admin_url, &name))
                .ok()
        })
        .join();
    }
}
