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
//!
//! Selections under `__schema` and `__type` are introspection: answered
//! from the schema in memory, never from the database, and as deep as the
//! standard introspection query needs (its `TypeRef` fragment nests
//! `ofType` 7 to 9 times, 13 to 15 levels in all). They are measured apart,
//! against the fixed [`INTROSPECTION_LIMITS`], so GraphiQL, codegen and
//! other tools work while the configured limits keep guarding data. Whether
//! introspection is allowed at all is the schema's decision, made after.

use std::collections::HashMap;

use async_graphql::parser::types::{
    ExecutableDocument, FragmentDefinition, Selection, SelectionSet,
};

use crate::config::QueryLimits;

/// Levels of selection nesting (fields, inline fragments and spreads alike)
/// at which measuring stops: far above any real query's, and it keeps the
/// walk's recursion shallow whatever the document.
const MAX_NESTING: usize = 64;

/// The limits of the introspection part of a document: room for the
/// standard introspection query of graphql-js 15 to 17 with every option
/// on (15 levels, about 260 fields), and not much more.
pub const INTROSPECTION_LIMITS: Counts = Counts {
    fields: 600,
    aliases: 30,
    depth: 20,
};

/// Why a document was refused: the message a client sees.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct LimitExceeded(String);

impl LimitExceeded {
    pub(crate) fn new(message: String) -> Self {
        Self(message)
    }
}

/// Field selections, aliases and depth of one part of a document.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Field selections.
    pub fields: usize,
    /// Field selections under an alias.
    pub aliases: usize,
    /// Deepest nesting of fields (`{ a { b } }` is 2).
    pub depth: usize,
}

impl Counts {
    /// `self` with `inner` nested `field_levels` fields below it.
    fn absorb(&mut self, inner: Counts, field_levels: usize) {
        self.fields = self.fields.saturating_add(inner.fields);
        self.aliases = self.aliases.saturating_add(inner.aliases);
        if inner.depth > 0 {
            self.depth = self.depth.max(inner.depth.saturating_add(field_levels));
        }
    }

    fn max(self, other: Counts) -> Counts {
        Counts {
            fields: self.fields.max(other.fields),
            aliases: self.aliases.max(other.aliases),
            depth: self.depth.max(other.depth),
        }
    }

    fn check(&self, limits: Counts, what: &str) -> Result<(), LimitExceeded> {
        if self.depth > limits.depth {
            return Err(LimitExceeded(format!(
                "the {what} is nested too deep: {} levels; at most {} are allowed",
                self.depth, limits.depth
            )));
        }
        if self.aliases > limits.aliases {
            return Err(LimitExceeded(format!(
                "the {what} uses {} aliases; at most {} are allowed",
                self.aliases, limits.aliases
            )));
        }
        if self.fields > limits.fields {
            return Err(LimitExceeded(format!(
                "the {what} selects {} fields; at most {} are allowed",
                self.fields, limits.fields
            )));
        }
        Ok(())
    }
}

/// What executing a document would visit, fragments expanded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DocumentSize {
    /// Everything but introspection: held to the configured limits.
    pub data: Counts,
    /// `__schema` and `__type` with all below them (depth counted from the
    /// operation's root): held to [`INTROSPECTION_LIMITS`].
    pub introspection: Counts,
    /// Deepest nesting of fields, inline fragments and spreads.
    nesting: usize,
    /// Field selections of the whole document, data and introspection:
    /// every operation and every fragment summed, each fragment counted
    /// on its own and again wherever it is spread. What validation's rules
    /// walk, so what bounds their work.
    pub whole: (usize, usize),
}

impl DocumentSize {
    /// Counts everything as introspection.
    fn move_into_introspection(&mut self) {
        self.introspection.absorb(self.data, 0);
        self.data = Counts::default();
    }

    /// `self` with `inner` nested one level below it (or beside it, for
    /// `field_levels == 0`).
    fn absorb(&mut self, inner: DocumentSize, field_levels: usize) {
        self.data.absorb(inner.data, field_levels);
        self.introspection.absorb(inner.introspection, field_levels);
        self.nesting = self.nesting.max(inner.nesting.saturating_add(1));
    }
}

/// The meta fields that open introspection.
fn opens_introspection(name: &str) -> bool {
    matches!(name, "__schema" | "__type")
}

/// `__Type`, `__Field` and the other introspection types: the spec reserves
/// names starting with `__` for them. Fragments on them (the standard
/// query's `FullType`, `InputValue`, `TypeRef`) are introspection even when
/// measured on their own.
fn is_introspection_type(name: &str) -> bool {
    name.starts_with("__")
}

/// Refuses `document` when, fragments expanded, it selects more fields or
/// aliases, or nests deeper, than `limits` allow; also when its fragments
/// spread each other in a cycle or one is missing.
pub fn check(document: &ExecutableDocument, limits: &QueryLimits) -> Result<(), LimitExceeded> {
    check_measured(document, limits).map(|_| ())
}

/// [`check`], and what it measured when the document passes: its
/// `data.fields` are the document's static cost for the viewer budgets.
pub fn check_measured(
    document: &ExecutableDocument,
    limits: &QueryLimits,
) -> Result<DocumentSize, LimitExceeded> {
    let size = measure(document, limits)?;
    let configured = Counts {
        fields: limits.max_fields,
        aliases: limits.max_aliases,
        depth: limits.max_depth,
    };
    size.data.check(configured, "query")?;
    size.introspection
        .check(INTROSPECTION_LIMITS, "introspection query")?;
    let (data, introspection) = size.whole;
    whole_fields(data, limits.max_fields, "document")?;
    whole_fields(introspection, INTROSPECTION_LIMITS.fields, "introspection")?;
    Ok(size)
}

fn whole_fields(fields: usize, limit: usize, what: &str) -> Result<(), LimitExceeded> {
    if fields <= limit {
        return Ok(());
    }
    Err(LimitExceeded(format!(
        "the {what} selects {fields} fields, counting every fragment on its own and wherever it is spread; at most {limit} are allowed"
    )))
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
        let (data, introspection) = largest.whole;
        largest = DocumentSize {
            data: largest.data.max(size.data),
            introspection: largest.introspection.max(size.introspection),
            nesting: largest.nesting.max(size.nesting),
            whole: (
                data.saturating_add(size.data.fields),
                introspection.saturating_add(size.introspection.fields),
            ),
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
                    let own = Counts {
                        fields: 1,
                        aliases: usize::from(field.node.alias.is_some()),
                        depth: 1,
                    };
                    let inner = self.selection_set(&field.node.selection_set.node, level + 1)?;
                    if opens_introspection(field.node.name.node.as_str()) {
                        // The whole subtree is introspection, whatever
                        // fragments it spreads.
                        let mut subtree = own;
                        subtree.absorb(inner.data, 1);
                        subtree.absorb(inner.introspection, 1);
                        size.introspection.absorb(subtree, 0);
                        size.nesting = size.nesting.max(inner.nesting.saturating_add(1));
                    } else {
                        size.data.absorb(own, 0);
                        size.absorb(inner, 1);
                    }
                    size.nesting = size.nesting.max(1);
                }
                Selection::InlineFragment(fragment) => {
                    let mut inner =
                        self.selection_set(&fragment.node.selection_set.node, level + 1)?;
                    if let Some(condition) = &fragment.node.type_condition {
                        if is_introspection_type(&condition.node.on.node) {
                            inner.move_into_introspection();
                        }
                    }
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
        let mut size = self.selection_set(&definition.node.selection_set.node, level)?;
        if is_introspection_type(&definition.node.type_condition.node.on.node) {
            size.move_into_introspection();
        }
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
        crate::config::Config::from_flags(["agentgraph"])
            .expect("the defaults parse")
            .limits
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
        assert_eq!(
            (size.data.fields, size.data.aliases, size.data.depth),
            (7, 4, 2)
        );
    }

    #[test]
    fn depth_counts_fields_through_fragments_and_inline_fragments() {
        let size = size_of(
            "{ circles { ...C } }
             fragment C on CircleConnection { nodes { ... on Circle { members { agent { name } } } } }",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(size.data.depth, 5);
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
    fn introspection_is_measured_apart_from_data() {
        let size = size_of(
            "{ viewer { id } __schema { types { ...T } } a: __type(name: \"Query\") { name } }
             fragment T on __Type { name fields { type { ofType { ofType { name } } } } }",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            size.data,
            Counts {
                fields: 2,
                aliases: 0,
                depth: 2
            }
        );
        assert_eq!(
            size.introspection,
            Counts {
                fields: 10,
                aliases: 1,
                depth: 7
            }
        );
    }

    #[test]
    fn the_standard_introspection_queries_fit_the_introspection_limits() {
        for query in [
            include_str!("../../tests/api/fixtures/introspection-graphql-16.15.0.graphql"),
            include_str!("../../tests/api/fixtures/introspection-graphql-15.10.1.graphql"),
        ] {
            let size = size_of(query).unwrap_or_else(|e| panic!("{e}"));
            eprintln!("{:?}", size.introspection);
            assert_eq!(size.data, Counts::default());
            assert!(size.introspection.depth >= 13, "{size:?}");
            let document = parse_query(query).unwrap_or_else(|e| panic!("parses: {e}"));
            assert_eq!(check(&document, &limits()), Ok(()));
        }
    }

    #[test]
    fn deep_introspection_passes_where_deep_data_does_not() {
        let deep = |field: &str| {
            let mut text = "name".to_owned();
            for _ in 0..11 {
                text = format!("ofType {{ {text} }}");
            }
            format!("{{ {field} {{ {text} }} }}")
        };
        let introspection =
            parse_query(deep("__type(name: \"Query\")")).unwrap_or_else(|e| panic!("parses: {e}"));
        assert_eq!(check(&introspection, &limits()), Ok(()));
        let data = parse_query(deep("viewer")).unwrap_or_else(|e| panic!("parses: {e}"));
        assert!(check(&data, &limits()).is_err());
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
