//! Every string a request brings, checked once before execution: the
//! variables and every argument written in the document (field and
//! directive arguments, variable defaults), however deep in a list, an
//! input object or a `JSON` value. A meaningless control character
//! anywhere refuses the request with `BAD_USER_INPUT` naming the argument,
//! before any resolver runs, so no domain can forget the rule.
//!
//! The same extension coerces the variables to their declared types
//! before anything runs ([`super::variables`]): every extension costs an
//! async hop on every field, so the request-level checks share one.

use std::{convert::Infallible, sync::Arc};

use async_graphql::{
    extensions::{
        Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextPrepareRequest,
    },
    parser::types::{Directive, ExecutableDocument, Selection, SelectionSet},
    Name, Pos, Positioned, Request, ServerError, ServerResult, Value, Variables,
};

use super::input::control_character_path;

/// Refuses variables that do not coerce to their types, and control
/// characters in the strings of a request's arguments.
pub(super) struct RequestInput;

impl ExtensionFactory for RequestInput {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(RequestInput)
    }
}

#[async_trait::async_trait]
impl Extension for RequestInput {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        mut request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        super::variables::check_request(&ctx.schema_env.registry, &mut request)?;
        next.run(ctx, request).await
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        check_variables(variables)?;
        check_document(&document)?;
        Ok(document)
    }
}

fn check_variables(variables: &Variables) -> ServerResult<()> {
    variables
        .iter()
        .try_for_each(|(name, value)| check(name, value, None))
}

/// The literal arguments of every operation and fragment (a variable in
/// them is checked as a variable).
fn check_document(document: &ExecutableDocument) -> ServerResult<()> {
    let mut pending: Vec<&SelectionSet> = Vec::new();
    for (_, operation) in document.operations.iter() {
        let operation = &operation.node;
        for definition in &operation.variable_definitions {
            if let Some(default) = &definition.node.default_value {
                check(&definition.node.name.node, &default.node, Some(default.pos))?;
            }
        }
        check_directives(&operation.directives)?;
        pending.push(&operation.selection_set.node);
    }
    for fragment in document.fragments.values() {
        check_directives(&fragment.node.directives)?;
        pending.push(&fragment.node.selection_set.node);
    }
    // Its own stack: no nesting of selections makes this recurse.
    while let Some(selection_set) = pending.pop() {
        for selection in &selection_set.items {
            match &selection.node {
                Selection::Field(field) => {
                    check_arguments(&field.node.arguments)?;
                    check_directives(&field.node.directives)?;
                    pending.push(&field.node.selection_set.node);
                }
                Selection::FragmentSpread(spread) => check_directives(&spread.node.directives)?,
                Selection::InlineFragment(inline) => {
                    check_directives(&inline.node.directives)?;
                    pending.push(&inline.node.selection_set.node);
                }
            }
        }
    }
    Ok(())
}

fn check_directives(directives: &[Positioned<Directive>]) -> ServerResult<()> {
    directives
        .iter()
        .try_for_each(|directive| check_arguments(&directive.node.arguments))
}

fn check_arguments(
    arguments: &[(Positioned<Name>, Positioned<async_graphql_value::Value>)],
) -> ServerResult<()> {
    arguments.iter().try_for_each(|(name, value)| {
        // Variables inside are checked with the variables.
        let literal = value
            .node
            .clone()
            .into_const_with(|_| Ok::<_, Infallible>(Value::Null))
            .unwrap_or_else(|never| match never {});
        check(&name.node, &literal, Some(value.pos))
    })
}

fn check(name: &str, value: &Value, pos: Option<Pos>) -> ServerResult<()> {
    match control_character_path(name, value) {
        None => Ok(()),
        Some(path) => {
            let mut error = ServerError::new(
                format!(
                    "`{path}` contains a control character; only tab, newline and carriage return are allowed in text"
                ),
                pos,
            );
            let extensions = error.extensions.get_or_insert_with(Default::default);
            extensions.set("code", crate::error::ErrorCode::BadUserInput.as_str());
            extensions.set("field", path);
            Err(error)
        }
    }
}
