//! Document limits async-graphql does not check itself: how many aliases
//! and field selections one document may hold. Checked right after parsing,
//! so an oversized document is refused before validation and before any
//! resolver or statement runs. (Depth, complexity and directives per field
//! are configured on the schema builder.)

use std::sync::Arc;

use async_graphql::{
    extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery},
    parser::types::{ExecutableDocument, Selection, SelectionSet},
    ServerError, ServerResult, Variables,
};

use crate::config::QueryLimits;

/// The extension factory installed on the schema.
#[derive(Clone, Copy, Debug)]
pub struct DocumentLimits {
    max_aliases: usize,
    max_fields: usize,
}

impl From<&QueryLimits> for DocumentLimits {
    fn from(limits: &QueryLimits) -> Self {
        Self {
            max_aliases: limits.max_aliases,
            max_fields: limits.max_fields,
        }
    }
}

impl ExtensionFactory for DocumentLimits {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(*self)
    }
}

#[async_trait::async_trait]
impl Extension for DocumentLimits {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        let counts = SelectionCounts::of(&document);
        if counts.aliases > self.max_aliases {
            return Err(ServerError::new(
                format!(
                    "the query uses {} aliases; at most {} are allowed",
                    counts.aliases, self.max_aliases
                ),
                None,
            ));
        }
        if counts.fields > self.max_fields {
            return Err(ServerError::new(
                format!(
                    "the query selects {} fields; at most {} are allowed",
                    counts.fields, self.max_fields
                ),
                None,
            ));
        }
        Ok(document)
    }
}

/// Fields and aliases written in a document (each fragment counted once).
#[derive(Debug, Default, PartialEq, Eq)]
struct SelectionCounts {
    fields: usize,
    aliases: usize,
}

impl SelectionCounts {
    fn of(document: &ExecutableDocument) -> Self {
        let mut counts = Self::default();
        for (_, operation) in document.operations.iter() {
            counts.add(&operation.node.selection_set.node);
        }
        for fragment in document.fragments.values() {
            counts.add(&fragment.node.selection_set.node);
        }
        counts
    }

    fn add(&mut self, set: &SelectionSet) {
        for item in &set.items {
            match &item.node {
                Selection::Field(field) => {
                    self.fields += 1;
                    self.aliases += usize::from(field.node.alias.is_some());
                    self.add(&field.node.selection_set.node);
                }
                Selection::InlineFragment(fragment) => self.add(&fragment.node.selection_set.node),
                Selection::FragmentSpread(_) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use async_graphql::parser::parse_query;

    use super::*;

    #[test]
    fn counts_fields_and_aliases_in_operations_and_fragments() {
        let document = parse_query(
            "query { a: agent(name: \"x\") { name ...F } b: agent(name: \"y\") { id } }
             fragment F on Agent { description d: status }",
        )
        .unwrap_or_else(|e| panic!("parses: {e}"));
        assert_eq!(
            SelectionCounts::of(&document),
            SelectionCounts {
                fields: 6,
                aliases: 3
            }
        );
    }
}
