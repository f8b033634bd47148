//! The GraphQL schema: one module per domain, each with its API types
//! (converted from table rows, never derived on them), queries and
//! mutations. Resolvers stay thin: they check the viewer, validate input and
//! call `loaders`/`db`.

mod agents;
pub mod answer_size;
mod arguments;
mod circles;
pub mod conditions;
mod context;
mod data_errors;
mod discovery;
mod input;
pub mod limits;
mod live;
mod node;
mod pagination;
mod plain;
pub mod prescan;
mod projects;
mod readiness;
mod runtime;
mod schema_description;
mod variables;
mod viewer;

use std::borrow::Cow;

use async_graphql::{
    parser::types::Field,
    registry::{Registry, SDLExportOptions},
    resolver_utils::resolve_container_serial,
    ContainerType, Context, ContextSelectionSet, MergedObject, ObjectType, OutputType, Positioned,
    Schema, SchemaBuilder, ServerResult, Value,
};
use context::ContextExt;

pub use context::{RequestContext, Services};
pub use live::SubscriptionRoot;

use crate::{config::QueryLimits, error::AppError};

/// What every resolver returns. Its error is an [`AppError`], classified
/// by the time a resolver returns (a [`DataError`](crate::db::DataError) by
/// `data_errors`, a database error by `AppError`'s own `From`), so the HTTP
/// layer publishes errors without knowing any data-layer type.
pub type Result<T, E = AppError> = std::result::Result<T, E>;

#[derive(Default, MergedObject)]
#[graphql(name = "Query")]
pub struct QueryRoot(
    viewer::ViewerQuery,
    agents::AgentQuery,
    runtime::RuntimeQuery,
    circles::CircleQuery,
    projects::ProjectQuery,
    node::NodeQuery,
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

/// The mutation root the schema serves: [`MutationRoot`]'s fields, each run
/// with fresh loaders. Root mutation fields run one after another but share
/// the request; a loader that remembered a value before an earlier field's
/// write would show the state from before it (SPEC 8: each root field sees
/// the writes of those before it).
#[derive(Default)]
pub struct Mutation(MutationRoot);

impl OutputType for Mutation {
    fn type_name() -> Cow<'static, str> {
        MutationRoot::type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        MutationRoot::create_type_info(registry)
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        _field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        resolve_container_serial(ctx, self).await
    }
}

impl ContainerType for Mutation {
    async fn resolve_field(&self, ctx: &Context<'_>) -> ServerResult<Option<Value>> {
        if let Ok(request) = ctx.request() {
            request.forget_loaded();
        }
        self.0.resolve_field(ctx).await
    }
}

impl ObjectType for Mutation {}

pub type AppSchema = Schema<QueryRoot, Mutation, SubscriptionRoot>;

/// The schema with its limits; the caller adds [`Services`] as data.
pub fn schema_builder(
    limits: &QueryLimits,
) -> SchemaBuilder<QueryRoot, Mutation, SubscriptionRoot> {
    Schema::build(QueryRoot::default(), Mutation::default(), SubscriptionRoot)
        // Depth, fields and aliases are checked by `limits::check` before the
        // schema sees a document; these two need the schema's field costs.
        .limit_complexity(limits.max_complexity)
        .limit_directives(limits.max_directives)
        // Two extensions only: each costs an async hop on every field.
        .extension(arguments::RequestInput)
        .extension(answer_size::AnswerSize)
        .disable_suggestions()
}

/// The SDL `agentgraph export-schema` prints and `schema.graphql` holds.
pub fn sdl() -> String {
    let limits = crate::config::Config::from_flags(["agentgraph"])
        .map(|config| config.limits)
        .unwrap_or_else(|error| unreachable!("the defaults parse: {error}"));
    // With `@specifiedBy`: the file holds all an introspection tells.
    schema_builder(&limits)
        .finish()
        .sdl_with_options(SDLExportOptions::new().include_specified_by())
}
