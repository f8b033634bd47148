//! Schema migrations of agentgraph, one migration per change.
//!
//! Every table, foreign key, index, default and CHECK constraint lives here
//! (the `entity` crate only mirrors the columns). Each migration runs on both
//! SQLite and PostgreSQL, and its `down()` drops what its `up()` created, in
//! reverse order.
//!
//! Timestamps have no database default: the application always writes them,
//! so SQLite stores them in one text format and they compare correctly.

pub use sea_orm_migration::prelude::*;
pub use sea_orm_migration::MigratorTrait;

mod m20261121_000001_agents;
mod m20261121_000002_circles;
mod m20261121_000003_projects;
mod m20261130_000004_write_probe;

/// The ordered list of agentgraph's migrations.
#[derive(Debug)]
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261121_000001_agents::Migration),
            Box::new(m20261121_000002_circles::Migration),
            Box::new(m20261121_000003_projects::Migration),
            Box::new(m20261130_000004_write_probe::Migration),
        ]
    }
}
