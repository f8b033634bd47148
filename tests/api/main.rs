//! The integration tests: one binary, one module per feature. Each test runs
//! against the real router over real HTTP, once on SQLite and once on
//! PostgreSQL, each time on a fresh database.

mod fixtures;
mod helpers;

mod abandoned;
mod agents;
mod answers;
mod auth;
mod browser;
mod budget;
mod caching;
mod circles;
mod clients;
mod compression;
mod connections;
mod demo;
mod durability;
mod errors;
mod faults;
mod identity;
mod introspection;
mod isolation;
mod limits;
mod observability;
mod persisted;
mod playground;
mod prescan;
mod projects;
mod protocol;
mod readiness;
mod replicas;
mod responses;
mod runtime;
mod schema;
mod startup;
mod subscriptions;
mod trusted;
mod ws;
mod ws_limits;
