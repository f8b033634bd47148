//! Every setting: its command-line flag, environment variable and default.
//! Gathered here, except each cache's, which its own module declares
//! ([`crate::cache`]) and this one flattens in. `agentgraph --help` prints
//! these doc comments.

use std::{net::SocketAddr, time::Duration};

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::cache::CacheConfig;

mod validate;

pub use validate::InvalidConfig;

/// The command line: a subcommand (serve by default) and the settings.
#[derive(Debug, Parser)]
#[command(
    name = "agentgraph",
    version,
    about = "GraphQL API server for agents, circles and projects"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub config: Config,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Subcommand)]
pub enum Command {
    /// Serve HTTP (the default): migrate, load the demo data into an empty
    /// database, and print the GraphiQL URL.
    Serve,
    /// Apply pending migrations and exit.
    Migrate,
    /// Load the demo data set (idempotent) and exit.
    SeedDemo,
    /// Print the GraphQL schema (SDL) and exit.
    ExportSchema,
}

/// All settings. Each flag has an environment variable of the same meaning.
#[derive(Clone, Debug, Args)]
pub struct Config {
    /// Database to use: `sqlite://FILE?mode=rwc` (embedded, created on start)
    /// or `postgres://USER@HOST/DB`.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://agentgraph.db?mode=rwc",
        value_parser = database_url,
        global = true
    )]
    pub database_url: DatabaseUrl,

    /// Address to serve HTTP on.
    #[arg(
        long,
        env = "AGENTGRAPH_LISTEN",
        default_value = "127.0.0.1:8000",
        global = true
    )]
    pub listen: SocketAddr,

    /// HS256 secret that signs bearer tokens. Without it the server runs in
    /// dev mode: a random secret for the process and a printed demo token.
    #[arg(
        long,
        env = "AGENTGRAPH_JWT_SECRET",
        hide_env_values = true,
        value_parser = secret,
        global = true
    )]
    pub jwt_secret: Option<Secret>,

    /// Dev mode (no `--jwt-secret`) on an address other than loopback:
    /// without this flag the server refuses to start, since the dev token
    /// is an admin's.
    #[arg(long, env = "AGENTGRAPH_ALLOW_REMOTE_DEV_MODE", global = true)]
    pub allow_remote_dev_mode: bool,

    /// Origins allowed by CORS, comma separated (none by default); each an
    /// exact `scheme://host[:port]` (`*` is refused: credentials are sent).
    #[arg(
        long,
        env = "AGENTGRAPH_CORS_ORIGINS",
        value_delimiter = ',',
        global = true
    )]
    pub cors_origins: Vec<String>,

    /// Request headers a browser may send cross-origin besides those every
    /// client sends (`Authorization`, `Content-Type`, `Accept`,
    /// `x-agentgraph-cost`, and Apollo's `apollographql-client-name` and
    /// `apollographql-client-version`), comma separated.
    #[arg(
        long,
        env = "AGENTGRAPH_CORS_ALLOW_HEADERS",
        value_delimiter = ',',
        global = true
    )]
    pub cors_allow_headers: Vec<String>,

    /// Who may use introspection and GraphiQL. Default: `always` in dev
    /// mode, `authenticated` otherwise.
    #[arg(long, env = "AGENTGRAPH_INTROSPECTION", global = true)]
    pub introspection: Option<IntrospectionPolicy>,

    /// Log format.
    #[arg(
        long,
        env = "AGENTGRAPH_LOG_FORMAT",
        default_value = "text",
        global = true
    )]
    pub log_format: LogFormat,

    /// Do not load the demo data set into an empty database on `serve`.
    #[arg(long, env = "AGENTGRAPH_NO_DEMO_DATA", global = true)]
    pub no_demo_data: bool,

    /// Report each request's cost in the response `extensions` even without
    /// the `x-agentgraph-cost: 1` header.
    #[arg(long, env = "AGENTGRAPH_COST_ALWAYS", global = true)]
    pub cost_always: bool,

    #[command(flatten)]
    pub db: DbConfig,

    #[command(flatten)]
    pub http: HttpConfig,

    #[command(flatten)]
    pub limits: QueryLimits,

    /// Every cache's capacity and lifetime (see the cache table).
    #[command(flatten)]
    pub caches: CacheConfig,

    /// PostgreSQL only: silence on the listener for other replicas' changes after which its
    /// connection is tested (a dead one makes the replica flush its caches
    /// and reconnect).
    #[arg(long, env = "AGENTGRAPH_LISTENER_HEARTBEAT", default_value = "5s", value_parser = duration, global = true)]
    pub listener_heartbeat: Duration,

    #[command(flatten)]
    pub live: LiveConfig,

    /// The budget per viewer (see [`crate::budget`]).
    #[command(flatten)]
    pub budget: crate::budget::BudgetConfig,
    /// Trusted documents (declared with their module).
    #[command(flatten)]
    pub trusted: crate::http::TrustedConfig,
}

/// GraphQL subscriptions over WebSocket (`graphql-transport-ws` on
/// `/graphql`).
#[derive(Clone, Debug, Args)]
pub struct LiveConfig {
    /// How long a change waits before it is pushed, so that a burst of
    /// changes to one project becomes one recomputation and one event (the
    /// latest value).
    #[arg(long, env = "AGENTGRAPH_SUBSCRIPTION_COALESCE", default_value = "50ms", value_parser = duration, global = true)]
    pub subscription_coalesce: Duration,

    /// Most subscriptions one WebSocket connection may hold at once.
    #[arg(
        long,
        env = "AGENTGRAPH_MAX_SUBSCRIPTIONS_PER_CONNECTION",
        default_value_t = 10,
        global = true
    )]
    pub max_subscriptions_per_connection: usize,

    /// Most WebSocket connections this process holds at once (beyond: 503).
    #[arg(
        long,
        env = "AGENTGRAPH_MAX_WEBSOCKET_CONNECTIONS",
        default_value_t = 1000,
        global = true
    )]
    pub max_websocket_connections: usize,

    /// Most WebSocket connections without a valid token (anonymous after
    /// `connection_init`) held at once, so that they cannot take every
    /// place; beyond, an anonymous `connection_init` is closed with 4403.
    /// Default: half of `--max-websocket-connections`.
    #[arg(
        long,
        env = "AGENTGRAPH_MAX_ANONYMOUS_WEBSOCKET_CONNECTIONS",
        global = true
    )]
    pub max_anonymous_websocket_connections: Option<usize>,

    /// How long a new WebSocket may take to send `connection_init`; past
    /// it the socket is closed with 4408.
    #[arg(long, env = "AGENTGRAPH_WEBSOCKET_INIT_TIMEOUT", default_value = "5s", value_parser = duration, global = true)]
    pub websocket_init_timeout: Duration,

    /// How often the server pings an idle WebSocket client; a client silent
    /// for twice this long (no pong, no message) is disconnected.
    #[arg(long, env = "AGENTGRAPH_WEBSOCKET_KEEPALIVE", default_value = "15s", value_parser = duration, global = true)]
    pub websocket_keepalive: Duration,
}

/// Connection pool and statement settings. Short defaults: a request that
/// cannot get a connection fails fast instead of queueing for 30 s.
#[derive(Clone, Debug, Args)]
pub struct DbConfig {
    /// Maximum connections in the pool.
    #[arg(
        long,
        env = "AGENTGRAPH_DB_MAX_CONNECTIONS",
        default_value_t = 10,
        global = true
    )]
    pub db_max_connections: u32,

    /// How long a request waits for a pooled connection (`3s`, `500ms`).
    #[arg(long, env = "AGENTGRAPH_DB_ACQUIRE_TIMEOUT", default_value = "3s", value_parser = duration, global = true)]
    pub db_acquire_timeout: Duration,

    /// PostgreSQL `statement_timeout` (`0s` disables it).
    #[arg(long, env = "AGENTGRAPH_DB_STATEMENT_TIMEOUT", default_value = "5s", value_parser = duration, global = true)]
    pub db_statement_timeout: Duration,

    /// SQLite: how long a write waits for another process's write lock
    /// before it fails (`SERVICE_UNAVAILABLE`).
    #[arg(long, env = "AGENTGRAPH_DB_BUSY_TIMEOUT", default_value = "5s", value_parser = duration, global = true)]
    pub db_busy_timeout: Duration,

    /// Queue every request for a connection, however long the queue. By
    /// default a request the pool cannot serve within the acquire timeout
    /// is refused at once (503, `OVERLOADED`, `Retry-After`).
    #[arg(long, env = "AGENTGRAPH_NO_LOAD_SHEDDING", global = true)]
    pub no_load_shedding: bool,
}

/// HTTP limits and timings.
#[derive(Clone, Debug, Args)]
pub struct HttpConfig {
    /// Most HTTP connections open at once. Past it a connection is
    /// answered 503 with `Retry-After` and closed (`/healthz` still
    /// answers); WebSocket connections count against
    /// `--max-websocket-connections` instead once upgraded.
    #[arg(
        long,
        env = "AGENTGRAPH_MAX_CONNECTIONS",
        default_value_t = 4096,
        global = true
    )]
    pub max_connections: usize,

    /// How long a client may take to send a request's headers, counted
    /// from the connection's opening or the end of the previous response:
    /// it also closes idle keep-alive connections.
    #[arg(long, env = "AGENTGRAPH_HEADER_READ_TIMEOUT", default_value = "30s", value_parser = duration, global = true)]
    pub header_read_timeout: Duration,

    /// Largest accepted request body, in bytes (larger: 413).
    #[arg(long, env = "AGENTGRAPH_BODY_LIMIT_BYTES", default_value_t = 1024 * 1024, global = true)]
    pub body_limit_bytes: usize,

    /// Largest answer, in bytes of JSON before compression: a larger one
    /// stops being built once past it and is refused (`BAD_USER_INPUT`).
    /// Far above any page the limits allow in practice (nested circles:
    /// 50 KB), below what would let one request hold much memory.
    #[arg(long, env = "AGENTGRAPH_MAX_RESPONSE_BYTES", default_value_t = 8 * 1024 * 1024, global = true)]
    pub max_response_bytes: usize,

    /// Deadline for one request (past it: 504).
    #[arg(long, env = "AGENTGRAPH_REQUEST_TIMEOUT", default_value = "10s", value_parser = duration, global = true)]
    pub request_timeout: Duration,

    /// On shutdown, how long in-flight requests may take to finish.
    #[arg(long, env = "AGENTGRAPH_SHUTDOWN_GRACE", default_value = "20s", value_parser = duration, global = true)]
    pub shutdown_grace: Duration,

    /// On shutdown, how long to keep serving with `/readyz` at 503 before
    /// closing the listener (lets a load balancer notice first).
    #[arg(long, env = "AGENTGRAPH_SHUTDOWN_DELAY", default_value = "0s", value_parser = duration, global = true)]
    pub shutdown_delay: Duration,

    /// Bytes of documents the automatic persisted query store keeps (by
    /// size, not count: a document may be as large as the body limit);
    /// 0 keeps none, so every hash-only request is answered
    /// `PERSISTED_QUERY_NOT_FOUND`.
    #[arg(
        long,
        env = "AGENTGRAPH_PERSISTED_QUERIES_BYTES",
        default_value_t = 16 * 1024 * 1024,
        global = true
    )]
    pub persisted_queries_bytes: u64,

    /// Estimated bytes of parsed documents kept by their text, so a
    /// document sent again is neither parsed nor measured again; 0 parses
    /// every request.
    #[arg(
        long,
        env = "AGENTGRAPH_DOCUMENT_CACHE_BYTES",
        default_value_t = 16 * 1024 * 1024,
        global = true
    )]
    pub document_cache_bytes: u64,
}

/// Parses `600s`, `2m`, `250ms`.
pub(crate) fn duration(text: &str) -> Result<Duration, humantime::DurationError> {
    humantime::parse_duration(text)
}

/// A value that must never reach a log: its `Debug` says only that it is
/// set.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

fn secret(text: &str) -> Result<Secret, std::convert::Infallible> {
    Ok(Secret(text.to_owned()))
}

/// A database URL; its `Debug` hides the password it may carry.
#[derive(Clone)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let url = &self.0;
        let authority_start = url.find("://").map_or(0, |at| at + 3);
        let authority_end = url[authority_start..]
            .find('/')
            .map_or(url.len(), |at| authority_start + at);
        let authority = &url[authority_start..authority_end];
        let password = authority.rfind('@').and_then(|at| {
            let user_info = &authority[..at];
            user_info
                .find(':')
                .map(|colon| (authority_start + colon + 1, authority_start + at))
        });
        match password {
            Some((start, end)) => write!(
                f,
                "{:?}",
                format!("{}<redacted>{}", &url[..start], &url[end..])
            ),
            None => write!(f, "{url:?}"),
        }
    }
}

fn database_url(text: &str) -> Result<DatabaseUrl, std::convert::Infallible> {
    Ok(DatabaseUrl(text.to_owned()))
}

/// Limits checked before any resolver runs.
#[derive(Clone, Debug, Args)]
pub struct QueryLimits {
    /// Deepest selection nesting allowed.
    #[arg(
        long,
        env = "AGENTGRAPH_MAX_DEPTH",
        default_value_t = 12,
        global = true
    )]
    pub max_depth: usize,

    /// Highest query complexity: each field costs 1, and a list multiplies
    /// its children by the most items it can hold (`first`, `signalsLimit`,
    /// the length of an id list; 20 for lists without a size argument), so
    /// this bounds the objects an answer holds. Room for 50 circles with
    /// 20 members each and their agents, models and providers (7,100).
    #[arg(
        long,
        env = "AGENTGRAPH_MAX_COMPLEXITY",
        default_value_t = 10_000,
        global = true
    )]
    pub max_complexity: usize,

    /// Most aliased fields in one document.
    #[arg(
        long,
        env = "AGENTGRAPH_MAX_ALIASES",
        default_value_t = 30,
        global = true
    )]
    pub max_aliases: usize,

    /// Most field selections in one document.
    #[arg(
        long,
        env = "AGENTGRAPH_MAX_FIELDS",
        default_value_t = 500,
        global = true
    )]
    pub max_fields: usize,

    /// Most directives written at one place (a field, fragment, operation
    /// or variable).
    #[arg(
        long,
        env = "AGENTGRAPH_MAX_DIRECTIVES",
        default_value_t = 4,
        global = true
    )]
    pub max_directives: usize,

    /// Most tokens (names, punctuation, values) in a document sent with a
    /// valid token; counted before it is parsed.
    #[arg(
        long,
        env = "AGENTGRAPH_MAX_TOKENS",
        default_value_t = 10_000,
        global = true
    )]
    pub max_tokens: usize,

    /// Most tokens in a document sent without a token: room for the
    /// standard introspection queries, and little more.
    #[arg(
        long,
        env = "AGENTGRAPH_MAX_ANONYMOUS_TOKENS",
        default_value_t = 1_000,
        global = true
    )]
    pub max_anonymous_tokens: usize,

    /// Deepest nesting of brackets (`{`, `[`, `(` together) in a document;
    /// counted before it is parsed.
    #[arg(
        long,
        env = "AGENTGRAPH_MAX_NESTING",
        default_value_t = 32,
        global = true
    )]
    pub max_nesting: usize,

    /// Most arguments of one field or directive, and most variables of one
    /// operation.
    #[arg(
        long,
        env = "AGENTGRAPH_MAX_ARGUMENTS",
        default_value_t = 32,
        global = true
    )]
    pub max_arguments: usize,

    /// Longest single token (a string, number or name) written in a
    /// document, in bytes; counted before it is parsed. Long text belongs
    /// in variables, which the input rules bound per argument.
    #[arg(
        long,
        env = "AGENTGRAPH_MAX_LITERAL_BYTES",
        default_value_t = 256 * 1024,
        global = true
    )]
    pub max_literal_bytes: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum IntrospectionPolicy {
    /// Anyone, even without a token.
    Always,
    /// Requests with a valid token only.
    Authenticated,
    /// Nobody.
    Off,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

impl Config {
    /// Settings parsed exactly as the command line would parse `args`
    /// (the first item is the program name): what tests and embedders use to
    /// get the documented defaults plus their overrides.
    pub fn from_flags<I, T>(args: I) -> Result<Self, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        Cli::try_parse_from(args).map(|cli| cli.config)
    }

    /// Dev mode: no secret configured, so the process makes one up.
    pub fn is_dev_mode(&self) -> bool {
        self.jwt_secret.is_none()
    }

    pub fn introspection_policy(&self) -> IntrospectionPolicy {
        self.introspection.unwrap_or(if self.is_dev_mode() {
            IntrospectionPolicy::Always
        } else {
            IntrospectionPolicy::Authenticated
        })
    }

    pub fn is_postgres(&self) -> bool {
        self.database_url.as_str().starts_with("postgres")
    }
}

impl LiveConfig {
    /// `--max-anonymous-websocket-connections`, or its default.
    pub fn max_anonymous_websockets(&self) -> usize {
        self.max_anonymous_websocket_connections
            .unwrap_or(self.max_websocket_connections / 2)
    }
}
