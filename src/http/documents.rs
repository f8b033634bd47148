//! Parsed documents, kept by their text: a frontend sends the same few
//! documents over and over, so each is parsed, measured against the
//! limits and named once, and later requests with the same text start from the
//! parsed document. Only documents that parse are kept; the store is
//! bounded by an estimate of the bytes the parsed documents take.

use std::sync::Arc;

use async_graphql::{
    parser::types::{DocumentOperations, ExecutableDocument},
    ServerError,
};
use moka::sync::Cache;

use crate::{
    config::QueryLimits,
    graphql::limits::{self, LimitExceeded},
};

/// A document that parsed, with the verdict of the limits on it.
#[derive(Debug)]
pub struct ParsedDocument {
    pub document: ExecutableDocument,
    /// Whether its expanded size is within the limits.
    pub within_limits: Result<(), LimitExceeded>,
    /// The name written on the document's only operation, if it has one.
    pub operation_name: Option<String>,
}

impl ParsedDocument {
    /// The document to execute, or the request error that refuses it.
    pub fn checked(&self) -> Result<ExecutableDocument, ServerError> {
        match &self.within_limits {
            Ok(()) => Ok(self.document.clone()),
            Err(exceeded) => Err(ServerError::new(exceeded.to_string(), None)),
        }
    }
}

/// A parsed document takes several times the bytes of its text (every
/// name, position and node is its own value); this factor turns the text's
/// length into the weight the store is bounded by.
const PARSED_BYTES_PER_TEXT_BYTE: usize = 8;

/// Query text -> parsed document, bounded.
pub struct ParsedDocuments {
    store: Cache<Arc<str>, Arc<ParsedDocument>>,
    limits: QueryLimits,
}

impl ParsedDocuments {
    /// A store of about `capacity_bytes` of parsed documents checked
    /// against `limits` (0 keeps none: every request parses).
    pub fn new(capacity_bytes: u64, limits: QueryLimits) -> Self {
        let store = Cache::builder()
            .max_capacity(capacity_bytes)
            .weigher(|query: &Arc<str>, _: &Arc<ParsedDocument>| {
                u32::try_from(query.len().saturating_mul(PARSED_BYTES_PER_TEXT_BYTE))
                    .unwrap_or(u32::MAX)
            })
            .build();
        Self { store, limits }
    }

    /// `query`, parsed and measured: from the store, or now (and then kept).
    pub fn parse(&self, query: &str) -> Result<Arc<ParsedDocument>, ServerError> {
        if let Some(parsed) = self.store.get(query) {
            return Ok(parsed);
        }
        let document = async_graphql::parser::parse_query(query)?;
        let within_limits = limits::check(&document, &self.limits);
        let operation_name = only_operation_name(query, &document);
        let parsed = Arc::new(ParsedDocument {
            document,
            within_limits,
            operation_name,
        });
        if self.store.policy().max_capacity() != Some(0) {
            self.store.insert(Arc::from(query), Arc::clone(&parsed));
        }
        Ok(parsed)
    }
}

/// The name of the document's only operation, if it has one name.
fn only_operation_name(query: &str, document: &ExecutableDocument) -> Option<String> {
    match &document.operations {
        // A single operation's name is not kept by the parser; read it from
        // the text.
        DocumentOperations::Single(_) => single_operation_name(query),
        DocumentOperations::Multiple(operations) if operations.len() == 1 => {
            operations.keys().next().map(|name| name.to_string())
        }
        DocumentOperations::Multiple(_) => None,
    }
}

/// The name in `query Name` / `mutation Name`, for a document with one
/// operation.
fn single_operation_name(query: &str) -> Option<String> {
    let mut words = query.split(|c: char| c.is_whitespace() || matches!(c, '{' | '(' | '@'));
    let keyword = words.by_ref().find(|w| !w.is_empty())?;
    if !matches!(keyword, "query" | "mutation" | "subscription") {
        return None;
    }
    words.find(|w| !w.is_empty()).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> QueryLimits {
        QueryLimits {
            max_depth: 3,
            max_complexity: 5000,
            max_aliases: 30,
            max_fields: 500,
            max_directives: 4,
        }
    }

    #[test]
    fn a_document_is_parsed_once_and_keeps_its_verdict() {
        let documents = ParsedDocuments::new(1 << 20, limits());
        let first = documents.parse("{ viewer { id } }").expect("parses");
        let again = documents.parse("{ viewer { id } }").expect("parses");
        assert!(
            Arc::ptr_eq(&first, &again),
            "the second parse is the stored one"
        );
        assert!(first.checked().is_ok());

        let deep = documents.parse("{ a { b { c { d } } } }").expect("parses");
        let refused = documents.parse("{ a { b { c { d } } } }").expect("parses");
        assert!(Arc::ptr_eq(&deep, &refused));
        assert!(
            refused.checked().is_err(),
            "the limits' verdict is kept too"
        );
    }

    #[test]
    fn syntax_errors_are_request_errors_and_not_kept() {
        let documents = ParsedDocuments::new(1 << 20, limits());
        assert!(documents.parse("{ viewer {").is_err());
        documents.store.run_pending_tasks();
        assert_eq!(documents.store.entry_count(), 0);
    }

    #[test]
    fn a_zero_sized_store_keeps_nothing() {
        let documents = ParsedDocuments::new(0, limits());
        let first = documents.parse("{ viewer { id } }").expect("parses");
        let again = documents.parse("{ viewer { id } }").expect("parses");
        assert!(!Arc::ptr_eq(&first, &again));
    }

    #[test]
    fn the_name_of_a_single_operation_is_read_from_its_text() {
        assert_eq!(
            single_operation_name("query Runtime($a: Int) { x }").as_deref(),
            Some("Runtime")
        );
        assert_eq!(
            single_operation_name("  mutation Save{ x }").as_deref(),
            Some("Save")
        );
        assert_eq!(single_operation_name("{ viewer { id } }"), None);
    }
}
