//! The GraphQL schema: one module per domain, each with its API types
//! (converted from table rows, never derived on them), queries and
//! mutations. Resolvers stay thin: they check the viewer, validate input and
//! call `loaders`/`db`.

mod agents;
mod circles;
mod context;
mod discovery;
mod input;
mod limits;
mod pagination;
mod projects;
mod readiness;
mod runtime;
mod viewer;

use async_graphql::{EmptySubscription, MergedObject, Schema, SchemaBuilder};

pub use context::{RequestContext, Services};
pub use limits::DocumentLimits;

use crate::config::QueryLimits;

#[derive(Default, MergedObject)]
#[graphql(name = "Query")]
pub struct QueryRoot(
    viewer::ViewerQuery,
    agents::AgentQuery,
    runtime::RuntimeQuery,
    circles::CircleQuery,
    projects::ProjectQuery,
);

#[derive(Default, MergedObject)]
#[graphql(name = "Mutation")]
pub struct MutationRoot(
    agents::AgentMutation,
    viewer::InstructionsMutation,
    circles::CircleMutation,
    projects::ProjectMutation,
    projects::StructureMutation,
    projects::EvidenceMutation,
);

pub type AppSchema = Schema<QueryRoot, MutationRoot, EmptySubscription>;

/// The schema with its limits; the caller adds [`Services`] as data.
pub fn schema_builder(
    limits: &QueryLimits,
) -> SchemaBuilder<QueryRoot, MutationRoot, EmptySubscription> {
    Schema::build(
        QueryRoot::default(),
        MutationRoot::default(),
        EmptySubscription,
    )
    .limit_depth(limits.max_depth)
    .limit_complexity(limits.max_complexity)
    .limit_directives(limits.max_directives)
    .disable_suggestions()
    .extension(DocumentLimits::from(limits))
}

/// The SDL `agentgraph export-schema` prints and `schema.graphql` holds.
pub fn sdl() -> String {
    let limits = crate::config::Config::from_flags(["agentgraph"])
        .map(|config| config.limits)
        .unwrap_or_else(|error| unreachable!("the defaults parse: {error}"));
    schema_builder(&limits).finish().sdl()
}
