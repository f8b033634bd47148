//! agentgraph: the GraphQL API server behind an AI-agent platform's frontend.
//!
//! How a request flows, and which module owns each step:
//!
//! - [`app`] builds the router and runs the server ([`app::serve`] takes the
//!   listener and the shutdown future, so tests run the real thing on port 0).
//! - [`http`] speaks GraphQL-over-HTTP: content types, `Accept` negotiation,
//!   status codes, persisted queries, GraphiQL, `/healthz` and `/readyz`,
//!   and subscriptions over WebSocket; it owns the [`http::AppState`] every
//!   handler shares.
//! - [`auth`] turns the bearer JWT into a [`auth::Viewer`].
//! - [`graphql`] assembles the schema; one module per domain, thin resolvers.
//! - [`loaders`] batch relation lookups per request into single queries.
//! - [`live`] pushes the readiness of followed projects to subscriptions,
//!   through the readiness cache.
//! - [`cache`] lists the shared caches, one module each (agent config, user
//!   instructions, agent runtime, readiness, circle members, project
//!   owner), and the fence that keeps them correct under concurrent changes.
//! - [`changes`] names what a committed write changed in the data, and
//!   carries it to the caches and the live readiness of this replica and of
//!   every other one.
//! - [`runtime`] assembles what starting an agent needs (pure).
//! - [`db`] owns every SQL statement, grouped by domain, and the one write
//!   path ([`db::Db::write`]); it reports [`db::DataError`]s, which
//!   `graphql` turns into [`error::AppError`]s: the one error type `http`
//!   publishes.
//! - [`budget`] keeps a token bucket in cost units per viewer.
//! - [`batch`] narrows a batch load's failure down to the keys at fault.
//! - [`error`] is the one list of public error codes.
//! - [`config`] holds every setting with its flag, env var and default.
//! - [`observability`] sets up tracing and counts each request's cost.
//! - [`seed`] loads the demo data set.
//!
//! Dependencies point down and never back: `app` -> `http` -> `graphql` ->
//! `live` -> `loaders`/`cache` -> `db` -> `entity` (which defines the typed
//! ids), with `observability`, `config`, `error`, `batch`, `readiness` and
//! `changes` below them all (`config` gathers each part's flags, the
//! caches' among them).

pub mod app;
pub mod auth;
pub(crate) mod batch;
pub mod budget;
pub mod cache;
pub mod changes;
pub mod config;
pub mod db;
pub mod error;
pub mod graphql;
pub mod http;
pub(crate) mod live;
pub(crate) mod loaders;
pub mod observability;
pub(crate) mod readiness;
pub(crate) mod runtime;
pub mod seed;
