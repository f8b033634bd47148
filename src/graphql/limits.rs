//! Document limits, measured on the document as it will execute: after
//! fragment expansion, so a fragment spread ten times counts ten times.
//!
//! The HTTP layer parses each document once and calls [`check`] before the
//! schema sees it. That order matters: async-graphql's own passes
//! (directive and recursion checks, validation) walk every fragment spread,
//! so a 1 KB document whose fragments each spread the next one 8 times, 10
//! deep, asks them for 8^10 visits. Here every fragment is measured once
//! and its numbers reused wherever it is spread, so the check is linear in
//! the document, and whatever passes it is small enough for every later
//! pass. (Complexity and directives per field stay with the schema, which
//! knows field costs.)

use std::collections::HashMap;

use async_graphql::parser::types::{
    ExecutableDocument, FragmentDefinition, Selection, SelectionSet,
};

use crate::config::QueryLimits;

/// Levels of selection nesting (fields, inline fragments and spreads alike)
/// at which measuring stops: far above any real query's, and it keeps the
/// walk's recursion shallow whatever the document.
const MAX_NESTING: usize = 64;

/// Why a document was refused: the message a client sees.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct LimitExceeded(String);

/// What executing a document would visit, fragments expanded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DocumentSize {
    /// Field selections.
    pub fields: usize,
    /// Field selections under an alias.
    pub aliases: usize,
    /// Deepest nesting of fields (`{ a { b } }` is 2).
    pub depth: usize,
    /// Deepest nesting of fields, inline fragments and spreads.
    nesting: usize,
}

impl DocumentSize {
    /// `self` with `inner` nested one level below it (or beside it, for
    /// `field_levels == 0`).
    fn absorb(&mut self, inner: DocumentSize, field_levels: usize) {
        self.fields = self.fields.saturating_add(inner.fields);
        self.aliases = self.aliases.saturating_add(inner.aliases);
        self.depth = self.depth.max(inner.depth.saturating_add(field_levels));
        self.nesting = self.nesting.max(inner.nesting.saturating_add(1));
    }
}

/// Refuses `document` when, fragments expanded, it selects more fields or
/// aliases, or nests deeper, than `limits` allow; also when its fragments
/// spread each other in a cycle or one is missing.
pub fn check(document: &ExecutableDocument, limits: &QueryLimits) -> Result<(), LimitExceeded> {
    let size = measure(document, limits)?;
    if size.depth > limits.max_depth {
        return Err(LimitExceeded(format!(
            "the query is nested too deep: {} levels; at most {} are allowed",
            size.depth, limits.max_depth
        )));
    }
    if size.aliases > limits.max_aliases {
        return Err(LimitExceeded(format!(
            "the query uses {} aliases; at most {} are allowed",
            size.aliases, limits.max_aliases
        )));
    }
    if size.fields > limits.max_fields {
        return Err(LimitExceeded(format!(
            "the query selects {} fields; at most {} are allowed",
            size.fields, limits.max_fields
        )));
    }
    Ok(())
}

/// The largest operation or fragment of `document` (fragments are measured
/// too, used or not: validation walks each of them), fragments expanded.
pub fn measure(
    document: &ExecutableDocument,
    limits: &QueryLimits,
) -> Result<DocumentSize, LimitExceeded> {
    let mut measurer = Measurer {
        fragments: &document.fragments,
        measured: HashMap::with_capacity(document.fragments.len()),
        max_nesting: MAX_NESTING.max(limits.max_depth.saturating_mul(3)),
    };
    let mut sizes = Vec::new();
    for (_, operation) in document.operations.iter() {
        sizes.push(measurer.selection_set(&operation.node.selection_set.node, 0)?);
    }
    for name in document.fragments.keys() {
        sizes.push(measurer.fragment(name.as_str(), 0)?);
    }
    let mut largest = DocumentSize::default();
    for size in sizes {
        largest = DocumentSize {
            fields: largest.fields.max(size.fields),
            aliases: largest.aliases.max(size.aliases),
            depth: largest.depth.max(size.depth),
            nesting: largest.nesting.max(size.nesting),
        };
    }
    Ok(largest)
}

enum Measured {
    /// Being measured: meeting it again means a spread cycle.
    InProgress,
    Done(DocumentSize),
}

struct Measurer<'a> {
    fragments: &'a HashMap<async_graphql::Name, async_graphql::Positioned<FragmentDefinition>>,
    measured: HashMap<&'a str, Measured>,
    max_nesting: usize,
}

impl<'a> Measurer<'a> {
    /// The size of `set`, found `level` selections below an operation's root.
    fn selection_set(
        &mut self,
        set: &'a SelectionSet,
        level: usize,
    ) -> Result<DocumentSize, LimitExceeded> {
        if level > self.max_nesting {
            return Err(self.too_nested());
        }
        let mut size = DocumentSize::default();
        for item in &set.items {
            match &item.node {
                Selection::Field(field) => {
                    size.fields = size.fields.saturating_add(1);
                    size.aliases = size
                        .aliases
                        .saturating_add(usize::from(field.node.alias.is_some()));
                    size.depth = size.depth.max(1);
                    size.nesting = size.nesting.max(1);
                    let inner = self.selection_set(&field.node.selection_set.node, level + 1)?;
                    size.absorb(inner, 1);
                }
                Selection::InlineFragment(fragment) => {
                    let inner = self.selection_set(&fragment.node.selection_set.node, level + 1)?;
                    size.absorb(inner, 0);
                }
                Selection::FragmentSpread(spread) => {
                    let inner =
                        self.fragment(spread.node.fragment_name.node.as_str(), level + 1)?;
                    size.absorb(inner, 0);
                }
            }
        }
        if level.saturating_add(size.nesting) > self.max_nesting {
            return Err(self.too_nested());
        }
        Ok(size)
    }

    /// The size of the named fragment: measured on its first spread, reused
    /// on every later one.
    fn fragment(&mut self, name: &'a str, level: usize) -> Result<DocumentSize, LimitExceeded> {
        match self.measured.get(name) {
            Some(Measured::Done(size)) => return Ok(*size),
            Some(Measured::InProgress) => {
                return Err(LimitExceeded(format!(
                    "fragment `{name}` spreads itself (directly or through other fragments)"
                )))
            }
            None => {}
        }
        let Some((key, definition)) = self.fragments.get_key_value(name) else {
            return Err(LimitExceeded(format!("unknown fragment `{name}`")));
        };
        self.measured.insert(key.as_str(), Measured::InProgress);
        let size = self.selection_set(&definition.node.selection_set.node, level)?;
        self.measured.insert(key.as_str(), Measured::Done(size));
        Ok(size)
    }

    fn too_nested(&self) -> LimitExceeded {
        LimitExceeded(format!(
            "the query is nested too deep: selections (fields and fragments) nest more than {} levels",
            self.max_nesting
        ))
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use async_graphql::parser::parse_query;

    use super::*;

    fn limits() -> QueryLimits {
        QueryLimits {
            max_depth: 12,
            max_complexity: 5000,
            max_aliases: 30,
            max_fields: 500,
            max_directives: 4,
        }
    }

    fn size_of(query: &str) -> Result<DocumentSize, LimitExceeded> {
        let document = parse_query(query).unwrap_or_else(|e| panic!("parses: {e}"));
        measure(&document, &limits())
    }

    #[test]
    fn fields_and_aliases_of_fragments_count_once_per_spread() {
        let size = size_of(
            "query { a: agent(name: \"x\") { name ...F } b: agent(name: \"y\") { ...F } }
             fragment F on Agent { description d: status }",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((size.fields, size.aliases, size.depth), (7, 4, 2));
    }

    #[test]
    fn depth_counts_fields_through_fragments_and_inline_fragments() {
        let size = size_of(
            "{ circles { ...C } }
             fragment C on CircleConnection { nodes { ... on Circle { members { agent { name } } } } }",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(size.depth, 5);
    }

    /// Fragment `F{level}` spreads `F{level+1}` `fan_out` times.
    fn exponential_document(fan_out: usize, levels: usize) -> String {
        let mut text = "{ ...F0 }\n".to_owned();
        for level in 0..levels {
            let spreads = format!("...F{} ", level + 1).repeat(fan_out);
            text.push_str(&format!("fragment F{level} on Query {{ {spreads}}}\n"));
        }
        text.push_str(&format!(
            "fragment F{levels} on Query {{ a: __typename }}\n"
        ));
        text
    }

    #[test]
    fn an_exponential_fragment_document_is_measured_in_linear_time() {
        let text = exponential_document(8, 10);
        assert!(
            text.len() < 1500,
            "the document is small: {} bytes",
            text.len()
        );
        let document = parse_query(&text).unwrap_or_else(|e| panic!("parses: {e}"));
        let started = Instant::now();
        let refused = check(&document, &limits());
        let took = started.elapsed();
        let Err(LimitExceeded(message)) = refused else {
            panic!("8^10 aliases accepted")
        };
        assert!(message.contains("1073741824 aliases"), "{message}");
        assert!(took < Duration::from_millis(50), "took {took:?}");
    }

    #[test]
    fn spread_cycles_and_unknown_fragments_are_refused() {
        let cycle = size_of("{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }");
        assert!(matches!(cycle, Err(LimitExceeded(m)) if m.contains("spreads itself")));
        let unknown = size_of("{ ...Nowhere }");
        assert!(matches!(unknown, Err(LimitExceeded(m)) if m.contains("unknown fragment")));
    }

    #[test]
    fn a_long_chain_of_fragments_is_refused_without_deep_recursion() {
        let links = 20_000;
        let mut text = "{ ...F0 }\n".to_owned();
        for i in 0..links {
            text.push_str(&format!("fragment F{i} on Query {{ ...F{} }}\n", i + 1));
        }
        text.push_str(&format!("fragment F{links} on Query {{ __typename }}\n"));
        let refused = size_of(&text);
        assert!(matches!(refused, Err(LimitExceeded(m)) if m.contains("nest")));
    }

    #[test]
    fn limits_are_inclusive() {
        let mut at = limits();
        let document = parse_query("{ a: viewer { id } b: viewer { id } }")
            .unwrap_or_else(|e| panic!("parses: {e}"));
        at.max_aliases = 2;
        at.max_fields = 4;
        at.max_depth = 2;
        assert_eq!(check(&document, &at), Ok(()));
        at.max_aliases = 1;
        assert!(check(&document, &at).is_err());
    }
}
