//! Parsed documents, kept by their text: a frontend sends the same few
//! documents over and over, so each is scanned, parsed, measured against
//! the limits and named once, and later requests with the same text start
//! from the parsed document. Only documents that parse are kept; the store
//! is bounded by the memory the parsed documents take, estimated from
//! their tokens.

use std::sync::Arc;

use async_graphql::{
    parser::types::{DocumentOperations, ExecutableDocument, Selection, SelectionSet},
    Request, ServerError,
};
use moka::sync::Cache;

use crate::{
    config::QueryLimits,
    graphql::{
        conditions, limits,
        prescan::{self, ScanLimits},
    },
};

/// A document that parsed, with the verdict of the limits on it.
#[derive(Debug)]
pub struct ParsedDocument {
    pub document: ExecutableDocument,
    /// Whether it is within the limits and its directive conditions are
    /// Booleans: the request error that refuses it, if not.
    verdict: Result<(), ServerError>,
    /// The name written on the document's only operation, if it has one.
    pub operation_name: Option<String>,
    /// Tokens of its text, for the smaller budget of anonymous requests.
    tokens: usize,
    /// Whether it selects `__schema` or `__type` anywhere: where
    /// introspection needs a token, such a document is refused without one.
    pub introspects: bool,
    /// What the viewer budgets charge before it runs (1 for a document
    /// the limits refuse): see [`crate::budget::estimated_cost`].
    pub estimated_cost: u64,
}

impl ParsedDocument {
    /// The document to execute, or the request error that refuses it.
    pub fn checked(&self) -> Result<ExecutableDocument, ServerError> {
        self.verdict.clone().map(|()| self.document.clone())
    }

    /// `request` ready to execute this document (never parsed again), or
    /// the request error that refuses it.
    pub fn prepare(&self, mut request: Request) -> Result<Request, ServerError> {
        let document = self.checked()?;
        conditions::fill_defaults(
            &document,
            request.operation_name.as_deref(),
            &mut request.variables,
        );
        request.set_parsed_query(document);
        Ok(request)
    }
}

/// The most bytes a parsed document takes per token of its text, text
/// included: measured at 208 on the costliest shape (a selection of
/// one-letter fields, every token a node of its own, allocator rounding and
/// vector slack included), 33 to 122 on lists, objects, aliases and
/// arguments. `tests/document_memory.rs` holds the store to it.
const PARSED_BYTES_PER_TOKEN: usize = 256;

/// What one stored entry takes besides its text and its parsed document:
/// the key and value handles, the parsed document's own fields and the
/// store's bookkeeping.
const ENTRY_BYTES: usize = 512;

/// Query text -> parsed document, bounded.
pub struct ParsedDocuments {
    store: Cache<Arc<str>, Arc<ParsedDocument>>,
    limits: QueryLimits,
}

impl ParsedDocuments {
    /// A store of at most about `capacity_bytes` of parsed documents
    /// checked against `limits` (0 keeps none: every request parses).
    pub fn new(capacity_bytes: u64, limits: QueryLimits) -> Self {
        let store = Cache::builder()
            .max_capacity(capacity_bytes)
            .weigher(|query: &Arc<str>, parsed: &Arc<ParsedDocument>| {
                u32::try_from(weight(query.len(), parsed.tokens)).unwrap_or(u32::MAX)
            })
            .build();
        Self { store, limits }
    }

    /// `query`, scanned, parsed and measured: from the store, or now (and
    /// then kept). `authenticated` says whether the request carries a
    /// valid token; without one the budget of tokens is smaller.
    pub fn parse(
        &self,
        query: &str,
        authenticated: bool,
    ) -> Result<Arc<ParsedDocument>, ServerError> {
        let scan_limits = ScanLimits::new(&self.limits, authenticated);
        if let Some(parsed) = self.store.get(query) {
            scan_limits.admit_tokens(parsed.tokens).map_err(refusal)?;
            return Ok(parsed);
        }
        let scanned = prescan::scan(query, &scan_limits).map_err(refusal)?;
        let document = async_graphql::parser::parse_query(query)?;
        let measured = limits::check_measured(&document, &self.limits).map_err(refusal);
        let estimated_cost = measured
            .as_ref()
            .map_or(1, |size| crate::budget::estimated_cost(size.data.fields));
        let verdict = measured.and_then(|_| conditions::check(&document));
        let operation_name = only_operation_name(query, &document);
        let introspects = introspects(&document);
        let parsed = Arc::new(ParsedDocument {
            document,
            verdict,
            operation_name,
            tokens: scanned.tokens,
            introspects,
            estimated_cost,
        });
        if self.store.policy().max_capacity() != Some(0) {
            self.store.insert(Arc::from(query), Arc::clone(&parsed));
        }
        Ok(parsed)
    }

    /// The estimated bytes of the documents held now.
    pub fn weighted_bytes(&self) -> u64 {
        self.store.run_pending_tasks();
        self.store.weighted_size()
    }
}

/// The bytes a stored document of `text_bytes` and `tokens` takes, at most.
fn weight(text_bytes: usize, tokens: usize) -> usize {
    tokens
        .saturating_mul(PARSED_BYTES_PER_TOKEN)
        .saturating_add(text_bytes)
        .saturating_add(ENTRY_BYTES)
}

fn refusal(exceeded: limits::LimitExceeded) -> ServerError {
    ServerError::new(exceeded.to_string(), None)
}

/// Whether any operation or fragment of `document` selects `__schema` or
/// `__type` (`__typename` is no introspection: clients add it everywhere).
/// Each fragment is looked into once, where it is defined; the scan bounded
/// the nesting before the document was parsed.
fn introspects(document: &ExecutableDocument) -> bool {
    fn in_set(set: &SelectionSet) -> bool {
        set.items.iter().any(|item| match &item.node {
            Selection::Field(field) => {
                matches!(field.node.name.node.as_str(), "__schema" | "__type")
                    || in_set(&field.node.selection_set.node)
            }
            Selection::InlineFragment(fragment) => in_set(&fragment.node.selection_set.node),
            Selection::FragmentSpread(_) => false,
        })
    }
    document
        .operations
        .iter()
        .any(|(_, operation)| in_set(&operation.node.selection_set.node))
        || document
            .fragments
            .values()
            .any(|fragment| in_set(&fragment.node.selection_set.node))
}

/// The name of the document's only operation, if it has one name: always
/// a GraphQL name the document declares.
fn only_operation_name(query: &str, document: &ExecutableDocument) -> Option<String> {
    match &document.operations {
        // The parser does not keep a single operation's name.
        DocumentOperations::Single(_) => prescan::first_operation_name(query).map(str::to_owned),
        DocumentOperations::Multiple(operations) if operations.len() == 1 => {
            operations.keys().next().map(|name| name.to_string())
        }
        DocumentOperations::Multiple(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> QueryLimits {
        let mut limits = crate::config::Config::from_flags(["agentgraph"])
            .expect("the defaults parse")
            .limits;
        limits.max_depth = 3;
        limits.max_anonymous_tokens = 6;
        limits
    }

    #[test]
    fn a_document_is_parsed_once_and_keeps_its_verdict() {
        let documents = ParsedDocuments::new(1 << 20, limits());
        let first = documents.parse("{ viewer { id } }", true).expect("parses");
        let again = documents.parse("{ viewer { id } }", true).expect("parses");
        assert!(
            Arc::ptr_eq(&first, &again),
            "the second parse is the stored one"
        );
        assert!(first.checked().is_ok());

        let deep = documents
            .parse("{ a { b { c { d } } } }", true)
            .expect("parses");
        let refused = documents
            .parse("{ a { b { c { d } } } }", true)
            .expect("parses");
        assert!(Arc::ptr_eq(&deep, &refused));
        assert!(
            refused.checked().is_err(),
            "the limits' verdict is kept too"
        );
    }

    #[test]
    fn introspection_is_found_in_operations_fragments_and_inline_fragments() {
        let documents = ParsedDocuments::new(0, limits());
        for (query, expected) in [
            ("{ viewer { id } __typename }", false),
            ("{ __schema { types { name } } }", true),
            (
                "{ ... on Query { __type(name: \"Query\") { name } } }",
                true,
            ),
            (
                "{ ...F } fragment F on Query { __schema { description } }",
                true,
            ),
        ] {
            let parsed = documents.parse(query, true).expect("parses");
            assert_eq!(parsed.introspects, expected, "{query}");
        }
    }

    #[test]
    fn syntax_errors_are_request_errors_and_not_kept() {
        let documents = ParsedDocuments::new(1 << 20, limits());
        assert!(documents.parse("{ viewer {", true).is_err());
        documents.store.run_pending_tasks();
        assert_eq!(documents.store.entry_count(), 0);
    }

    #[test]
    fn a_zero_sized_store_keeps_nothing() {
        let documents = ParsedDocuments::new(0, limits());
        let first = documents.parse("{ viewer { id } }", true).expect("parses");
        let again = documents.parse("{ viewer { id } }", true).expect("parses");
        assert!(!Arc::ptr_eq(&first, &again));
    }

    #[test]
    fn anonymous_requests_get_the_smaller_token_budget_stored_or_not() {
        let documents = ParsedDocuments::new(1 << 20, limits());
        let seven_tokens = "{ viewer { id name } }";
        assert!(documents.parse("{ viewer { id } }", false).is_ok());
        assert!(documents.parse(seven_tokens, false).is_err());
        assert!(documents.parse(seven_tokens, true).is_ok());
        let stored = documents.parse(seven_tokens, false);
        assert!(stored.is_err_and(|e| e.message.contains("6 tokens")));
    }

    #[test]
    fn nothing_is_parsed_or_kept_past_the_scan() {
        let documents = ParsedDocuments::new(1 << 20, limits());
        let deep = format!(
            "{{ a(x: {}1{}) }}",
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        let refused = documents.parse(&deep, true).expect_err("too deep");
        assert!(refused.message.contains("nests"), "{}", refused.message);
        assert_eq!(documents.weighted_bytes(), 0);
    }

    #[test]
    fn the_weight_follows_the_tokens_not_the_text() {
        let documents = ParsedDocuments::new(1 << 20, limits());
        documents.parse("{a b}", true).expect("parses");
        let few = documents.weighted_bytes();
        documents
            .parse(
                &format!("{{ viewer {{ id }} }} # {}", "x".repeat(1000)),
                true,
            )
            .expect("parses");
        let commented = documents.weighted_bytes() - few;
        assert_eq!(few, weight(5, 4) as u64);
        assert_eq!(commented, weight(1020, 6) as u64);
    }
}
