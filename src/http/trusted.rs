//! Trusted documents: the operations a frontend was built with, loaded
//! from a manifest at start, so that a request may name one by its id
//! instead of sending its text, and, with `--trusted-documents-only`, must.
//!
//! The manifest is what the clients' build tools emit: a JSON object from
//! id to document text (graphql-codegen's client preset
//! `persistedDocuments`, sha256 hex ids, optionally written `sha256:<hex>`;
//! Relay's local `persistConfig`, md5 hex ids), or Apollo's persisted query
//! manifest (`{ format, version, operations: [{ id, body, .. }] }`). Ids are
//! opaque strings; only a leading `sha256:` is ignored, on both sides.
//!
//! Every entry is parsed, measured against the limits and validated
//! against the schema once, when the manifest is loaded: a bad entry stops
//! the server at start (or, on a reload, keeps the manifest in use), naming
//! the entry. A request by id then starts from the parsed document: no
//! parse, no scan, no limits walk. What async-graphql still does on every
//! request is its own validation (`check_rules`, crate-private and run by
//! `Schema::execute` for any request, parsed or not): it is where the
//! complexity of `first: $n` meets the request's variables, so it could
//! not be done once per document anyway.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    sync::{Arc, PoisonError, RwLock},
};

use anyhow::Context as _;
use async_graphql::{
    parser::types::{DocumentOperations, ExecutableDocument, Selection, SelectionSet},
    Name, ServerError,
};
use clap::Args;
use metrics::Counter;
use serde_json::Value;

use super::{
    documents::{ParsedDocument, ParsedDocuments},
    persisted::{PersistedQueries, PERSISTED_QUERY_VERSION},
    request::{self, Fields, Incoming, Unreadable},
};
use crate::{
    auth::Viewer,
    config::{IntrospectionPolicy, QueryLimits},
    graphql::AppSchema,
};

/// Trusted documents (a manifest of the operations clients may run by id).
#[derive(Clone, Debug, Default, Args)]
pub struct TrustedConfig {
    /// A manifest of trusted documents (JSON: id -> document text, as
    /// graphql-codegen's `persistedDocuments` and Relay's persisted queries
    /// write it, or Apollo's persisted query manifest). Requests may then
    /// name a document by `documentId`, `doc_id` or
    /// `extensions.persistedQuery.sha256Hash`. Checked at start; SIGHUP
    /// reloads it.
    #[arg(long, env = "AGENTGRAPH_TRUSTED_DOCUMENTS", global = true)]
    pub trusted_documents: Option<PathBuf>,

    /// Refuse every request that does not name a trusted document
    /// (`TRUSTED_DOCUMENT_REQUIRED`), before its text is parsed; automatic
    /// persisted queries cannot register. Introspection documents still
    /// run for whom `--introspection` lets introspect.
    #[arg(
        long,
        env = "AGENTGRAPH_TRUSTED_DOCUMENTS_ONLY",
        requires = "trusted_documents",
        global = true
    )]
    pub trusted_documents_only: bool,

    /// With `--trusted-documents-only`: admin tokens may still send
    /// documents as text.
    #[arg(
        long,
        env = "AGENTGRAPH_TRUSTED_DOCUMENTS_ADMIN_TEXT",
        requires = "trusted_documents_only",
        global = true
    )]
    pub trusted_documents_admin_text: bool,
}

/// One trusted document, parsed and checked.
#[derive(Debug)]
pub(crate) struct TrustedDocument {
    pub(crate) parsed: Arc<ParsedDocument>,
    /// Its text: what the response cache keys its answers by, as it keys
    /// the same text sent as text (a request by id carries no text).
    pub(crate) text: Arc<str>,
    /// Requests served by this document (labelled by its id: the manifest
    /// bounds the series).
    served: Counter,
}

/// A loaded manifest: id -> document.
#[derive(Debug, Default)]
pub(crate) struct Manifest {
    by_id: HashMap<String, Arc<TrustedDocument>>,
}

impl Manifest {
    fn get(&self, id: &str) -> Option<Arc<TrustedDocument>> {
        self.by_id.get(key(id)).cloned()
    }

    pub(crate) fn len(&self) -> usize {
        self.by_id.len()
    }
}

/// The manifest in use (swapped whole on reload) and the mode.
pub struct TrustedDocuments {
    config: TrustedConfig,
    /// `None` without `--trusted-documents`. Read for an instant per
    /// request (the `Arc` is cloned out), replaced whole on reload.
    current: RwLock<Option<Arc<Manifest>>>,
}

impl TrustedDocuments {
    /// Loads the manifest `config` names, if any; an error names the file
    /// and the entry at fault.
    pub async fn load(
        config: &TrustedConfig,
        limits: &QueryLimits,
        schema: &AppSchema,
    ) -> anyhow::Result<Self> {
        let current = match &config.trusted_documents {
            Some(path) => Some(Arc::new(load_manifest(path, limits, schema).await?)),
            None => None,
        };
        if let Some(manifest) = &current {
            tracing::info!(documents = manifest.len(), "trusted documents loaded");
        }
        Ok(Self {
            config: config.clone(),
            current: RwLock::new(current),
        })
    }

    fn current(&self) -> Option<Arc<Manifest>> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Loads the manifest again and puts it in use; on any error the one in
    /// use stays. Requests running meanwhile keep the document they took.
    /// Dropped before it ends, it changes nothing.
    pub async fn reload(&self, limits: &QueryLimits, schema: &AppSchema) -> anyhow::Result<usize> {
        let Some(path) = &self.config.trusted_documents else {
            anyhow::bail!("no --trusted-documents manifest is configured");
        };
        let manifest = load_manifest(path, limits, schema).await?;
        let documents = manifest.len();
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Some(Arc::new(manifest));
        Ok(documents)
    }
}

/// What a request was found to name.
#[derive(Debug, Default)]
pub(super) enum Source {
    /// Text, parsed as usual.
    #[default]
    Text,
    /// A trusted document.
    Trusted(Arc<TrustedDocument>),
    /// Text in trusted-only mode from a viewer who may introspect: it runs
    /// only if it introspects and does nothing else.
    IntrospectionText,
}

/// Why a request was refused, as a metric label.
#[derive(Clone, Copy)]
enum Refusal {
    /// Text (or an unknown hash) where only trusted documents run.
    Required,
    /// An id no trusted document has.
    UnknownId,
}

fn count_refusal(refusal: Refusal) -> Unreadable {
    let (reason, unreadable) = match refusal {
        Refusal::Required => ("required", Unreadable::TrustedDocumentRequired),
        Refusal::UnknownId => ("unknown_id", Unreadable::TrustedDocumentNotFound),
    };
    metrics::counter!("agentgraph_trusted_document_refusals_total", "reason" => reason)
        .increment(1);
    unreadable
}

/// The request `fields` describe: a trusted document when they name one,
/// else text (or a persisted query) as [`request::incoming`] reads it,
/// unless trusted-only mode refuses it first.
pub(super) fn incoming(
    trusted: &TrustedDocuments,
    persisted: &PersistedQueries,
    introspection: IntrospectionPolicy,
    mut fields: Fields,
    viewer: Option<&Viewer>,
) -> Result<Incoming, Unreadable> {
    let manifest = trusted.current();
    if let Some(id) = fields.document_id.take() {
        let Value::String(id) = id else {
            return Err(Unreadable::Malformed(
                "`documentId` (or `doc_id`) must be a string".into(),
            ));
        };
        if fields.has_query_text() {
            return Err(Unreadable::Malformed(
                "send either `documentId` or `query`, not both".into(),
            ));
        }
        return match manifest.and_then(|manifest| manifest.get(&id)) {
            Some(document) => by_id(document, fields),
            None => Err(count_refusal(Refusal::UnknownId)),
        };
    }
    if let Some(manifest) = &manifest {
        if let Some(document) = apollo_hash(&fields).and_then(|hash| manifest.get(hash)) {
            return by_id(document, fields);
        }
    }
    if !trusted.config.trusted_documents_only
        || (trusted.config.trusted_documents_admin_text && viewer.is_some_and(|v| v.is_admin))
    {
        return request::incoming(fields, persisted);
    }
    let may_introspect = match introspection {
        IntrospectionPolicy::Always => true,
        IntrospectionPolicy::Authenticated => viewer.is_some(),
        IntrospectionPolicy::Off => false,
    };
    if may_introspect && fields.has_query_text() && apollo_hash(&fields).is_none() {
        let mut incoming = request::incoming(fields, persisted)?;
        incoming.source = Source::IntrospectionText;
        return Ok(incoming);
    }
    Err(count_refusal(Refusal::Required))
}

/// A request for `document`, with the variables and operation name of
/// `fields` (its text is not copied: the parsed document is what runs).
/// Counted here, as it is read: an answer the response cache keeps is
/// served by the document as much as an executed one.
fn by_id(document: Arc<TrustedDocument>, fields: Fields) -> Result<Incoming, Unreadable> {
    let request = request::with_document(String::new(), fields)?;
    document.served.increment(1);
    Ok(Incoming {
        request,
        persist: None,
        source: Source::Trusted(document),
    })
}

/// The document of an [`Incoming`] request: the trusted one, or its text
/// parsed by `documents`. Text in trusted-only mode that does more than
/// introspect is refused.
pub(super) fn document(
    documents: &ParsedDocuments,
    incoming: &Incoming,
    authenticated: bool,
) -> Result<Result<Arc<ParsedDocument>, ServerError>, Unreadable> {
    match &incoming.source {
        Source::Trusted(document) => Ok(Ok(Arc::clone(&document.parsed))),
        Source::Text => Ok(documents.parse(&incoming.request.query, authenticated)),
        Source::IntrospectionText => {
            let parsed = documents.parse(&incoming.request.query, authenticated);
            match parsed {
                Ok(parsed) if only_introspects(&parsed.document) => Ok(Ok(parsed)),
                _ => Err(count_refusal(Refusal::Required)),
            }
        }
    }
}

/// The parsed document a WebSocket subscription runs: the trusted one its
/// `extensions.persistedQuery.sha256Hash` names, or its text, unless
/// trusted-only mode refuses text.
pub(super) fn subscription_document(
    trusted: &TrustedDocuments,
    documents: &ParsedDocuments,
    request: &async_graphql::Request,
    viewer: Option<&Viewer>,
) -> Result<Arc<ParsedDocument>, ServerError> {
    let hash = request
        .extensions
        .get("persistedQuery")
        .and_then(|persisted| match persisted {
            async_graphql::Value::Object(fields) => fields.get("sha256Hash"),
            _ => None,
        })
        .and_then(|hash| match hash {
            async_graphql::Value::String(hash) => Some(hash.as_str()),
            _ => None,
        });
    if let (Some(hash), Some(manifest)) = (hash, trusted.current()) {
        if let Some(document) = manifest.get(hash) {
            document.served.increment(1);
            return Ok(Arc::clone(&document.parsed));
        }
    }
    let config = &trusted.config;
    if config.trusted_documents_only
        && !(config.trusted_documents_admin_text && viewer.is_some_and(|v| v.is_admin))
    {
        count_refusal(Refusal::Required);
        return Err(required_error());
    }
    documents.parse(&request.query, viewer.is_some())
}

/// The message of `TRUSTED_DOCUMENT_REQUIRED`.
pub(super) const REQUIRED_MESSAGE: &str =
    "this server runs trusted documents only: name one by `documentId`";

fn required_error() -> ServerError {
    let mut error = ServerError::new(REQUIRED_MESSAGE, None);
    let mut extensions = async_graphql::ErrorExtensionValues::default();
    extensions.set(
        "code",
        crate::error::ErrorCode::TrustedDocumentRequired.as_str(),
    );
    error.extensions = Some(extensions);
    error
}

/// The hash of Apollo's `extensions.persistedQuery`, when it is version 1
/// and a string.
fn apollo_hash(fields: &Fields) -> Option<&str> {
    let persisted = fields.extensions.as_ref()?.get("persistedQuery")?;
    if persisted.get("version").and_then(Value::as_i64) != Some(PERSISTED_QUERY_VERSION) {
        return None;
    }
    persisted.get("sha256Hash")?.as_str()
}

/// The id a manifest entry or a request is looked up by.
fn key(id: &str) -> &str {
    id.strip_prefix("sha256:").unwrap_or(id)
}

/// Whether every operation of `document` selects only `__schema`,
/// `__type` and `__typename` at its root (directly or in inline
/// fragments; a fragment spread at the root counts as something else).
fn only_introspects(document: &ExecutableDocument) -> bool {
    fn root(set: &SelectionSet) -> bool {
        set.items.iter().all(|item| match &item.node {
            Selection::Field(field) => matches!(
                field.node.name.node.as_str(),
                "__schema" | "__type" | "__typename"
            ),
            Selection::InlineFragment(fragment) => root(&fragment.node.selection_set.node),
            Selection::FragmentSpread(_) => false,
        })
    }
    document
        .operations
        .iter()
        .all(|(_, operation)| root(&operation.node.selection_set.node))
}

/// Why a manifest cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum ManifestError {
    #[error("not valid JSON: {0}")]
    Json(String),
    #[error(
        "expected a JSON object from id to document text, or an Apollo persisted query manifest"
    )]
    Shape,
    #[error("entry `{id}`: {reason}")]
    Entry { id: String, reason: String },
}

fn entry_error(id: &str, reason: impl Into<String>) -> ManifestError {
    ManifestError::Entry {
        id: id.to_owned(),
        reason: reason.into(),
    }
}

/// The entries (id, text) of a manifest, in either shape; ids unique once a
/// leading `sha256:` is dropped.
pub(crate) fn parse_manifest(text: &str) -> Result<Vec<(String, String)>, ManifestError> {
    let value: Value =
        serde_json::from_str(text).map_err(|e| ManifestError::Json(e.to_string()))?;
    let Value::Object(mut object) = value else {
        return Err(ManifestError::Shape);
    };
    let apollo =
        object.get("format").and_then(Value::as_str) == Some("apollo-persisted-query-manifest");
    let entries: Vec<(String, Value)> = if apollo {
        if object.get("version").and_then(Value::as_i64) != Some(1) {
            return Err(entry_error("version", "only version 1 is supported"));
        }
        let Some(Value::Array(operations)) = object.remove("operations") else {
            return Err(ManifestError::Shape);
        };
        operations
            .into_iter()
            .enumerate()
            .map(|(at, mut operation)| {
                let id = operation
                    .get("id")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .ok_or_else(|| {
                        entry_error(&format!("operations[{at}]"), "`id` must be a string")
                    })?;
                let body = operation
                    .get_mut("body")
                    .map(Value::take)
                    .unwrap_or(Value::Null);
                Ok((id, body))
            })
            .collect::<Result<_, ManifestError>>()?
    } else {
        object.into_iter().collect()
    };
    let mut seen: HashMap<String, ()> = HashMap::with_capacity(entries.len());
    entries
        .into_iter()
        .map(|(id, body)| {
            if key(&id).is_empty() {
                return Err(entry_error(&id, "an id must not be empty"));
            }
            let Value::String(body) = body else {
                return Err(entry_error(&id, "the document must be a string"));
            };
            if seen.insert(key(&id).to_owned(), ()).is_some() {
                return Err(entry_error(&id, "the id appears twice"));
            }
            Ok((id, body))
        })
        .collect()
}

/// Reads, parses, measures and validates the manifest at `path`.
async fn load_manifest(
    path: &Path,
    limits: &QueryLimits,
    schema: &AppSchema,
) -> anyhow::Result<Manifest> {
    let context = || format!("trusted documents manifest {}", path.display());
    // Small, and read at start or on SIGHUP only.
    let text = std::fs::read_to_string(path).with_context(context)?;
    let entries = parse_manifest(&text).with_context(context)?;
    // No store: each entry is parsed once, here, and kept by the manifest.
    let parser = ParsedDocuments::new(0, limits.clone());
    let mut by_id = HashMap::with_capacity(entries.len());
    for (id, body) in entries {
        let parsed = parser
            .parse(&body, true)
            .and_then(|parsed| parsed.checked().map(|_| parsed))
            .map_err(|error| entry_error(&id, error.message))
            .with_context(context)?;
        validate(schema, &parsed.document)
            .await
            .map_err(|reason| entry_error(&id, reason))
            .with_context(context)?;
        let served =
            metrics::counter!("agentgraph_trusted_document_requests_total", "id" => id.clone());
        let document = TrustedDocument {
            parsed,
            text: Arc::from(body),
            served,
        };
        by_id.insert(key(&id).to_owned(), Arc::new(document));
    }
    Ok(Manifest { by_id })
}

/// The operation name the validation probe asks for: no document has it.
const PROBE: &str = "__agentgraphValidationProbe";

/// Validates `document` against `schema` without running it: the schema is
/// asked for an operation no document has, after its validation (which
/// covers every operation of the document) has run; only that refusal
/// means the document is valid. Each operation is put under a name, so
/// that the variables' check, which looks at the one operation to run,
/// finds none. Values that come from variables (the complexity of
/// `first: $n`) are checked on every request, with the variables.
async fn validate(schema: &AppSchema, document: &ExecutableDocument) -> Result<(), String> {
    let mut probe = document.clone();
    if let DocumentOperations::Single(operation) = probe.operations {
        let named = HashMap::from([(Name::new("__agentgraphOnly"), operation)]);
        probe.operations = DocumentOperations::Multiple(named);
    }
    let mut request = async_graphql::Request::new(String::new()).operation_name(PROBE);
    request.set_parsed_query(probe);
    let response = schema.execute(request).await;
    let unknown = format!(r#"Unknown operation named "{PROBE}""#);
    let problems: Vec<String> = response
        .errors
        .into_iter()
        .map(|error| error.message)
        .filter(|message| *message != unknown && !is_unbound_variable(message))
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

/// async-graphql's complexity walk, given no variables, reports each
/// variable a size argument uses as "Variable n is not defined." (unlike
/// the rule for undeclared variables, which quotes `"$n"`).
fn is_unbound_variable(message: &str) -> bool {
    message.starts_with("Variable ")
        && message.ends_with(" is not defined.")
        && !message.contains('"')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(entries: &[(String, String)]) -> Vec<&str> {
        entries.iter().map(|(id, _)| id.as_str()).collect()
    }

    #[test]
    fn a_codegen_manifest_maps_hashes_to_documents() {
        let text =
            include_str!("../../tests/api/fixtures/trusted/codegen-persisted-documents.json");
        let entries = parse_manifest(text).expect("parses");
        assert_eq!(entries.len(), 2);
        assert!(entries
            .iter()
            .all(|(id, body)| id.len() == 64 && body.contains("query")));
    }

    #[test]
    fn a_relay_manifest_maps_md5_ids_to_documents() {
        let text = include_str!("../../tests/api/fixtures/trusted/relay-persisted-queries.json");
        let entries = parse_manifest(text).expect("parses");
        assert_eq!(entries.len(), 2);
        assert!(entries.iter().all(|(id, _)| id.len() == 32));
    }

    #[test]
    fn an_apollo_manifest_lists_operations() {
        let text =
            include_str!("../../tests/api/fixtures/trusted/apollo-persisted-query-manifest.json");
        let entries = parse_manifest(text).expect("parses");
        assert_eq!(entries.len(), 2);
        assert!(entries.iter().all(|(_, body)| body.starts_with("query")));
    }

    #[test]
    fn prefixed_ids_are_found_either_way_and_may_not_repeat() {
        let entries =
            parse_manifest(r#"{ "sha256:abc": "{ a }", "def": "{ b }" }"#).expect("parses");
        let mut found = ids(&entries);
        found.sort_unstable();
        assert_eq!(found, ["def", "sha256:abc"]);
        assert_eq!(key("sha256:abc"), key("abc"));
        let twice = parse_manifest(r#"{ "sha256:abc": "{ a }", "abc": "{ b }" }"#);
        assert!(
            matches!(&twice, Err(ManifestError::Entry { id, reason })
                if id.ends_with("abc") && reason == "the id appears twice"),
            "{twice:?}"
        );
    }

    #[test]
    fn malformed_manifests_are_refused_naming_the_entry() {
        assert!(matches!(
            parse_manifest("{nope"),
            Err(ManifestError::Json(_))
        ));
        assert_eq!(parse_manifest("[]"), Err(ManifestError::Shape));
        assert_eq!(
            parse_manifest(r#"{ "x1": 42 }"#),
            Err(entry_error("x1", "the document must be a string"))
        );
        assert_eq!(
            parse_manifest(r#"{ "": "{ a }" }"#),
            Err(entry_error("", "an id must not be empty"))
        );
        let apollo = r#"{ "format": "apollo-persisted-query-manifest", "version": 1,
            "operations": [{ "id": "op1", "body": "{ a }" }, { "body": "{ b }" }] }"#;
        assert_eq!(
            parse_manifest(apollo),
            Err(entry_error("operations[1]", "`id` must be a string"))
        );
    }

    #[test]
    fn only_root_introspection_counts_as_introspection() {
        let parse = |text: &str| async_graphql::parser::parse_query(text).expect("parses");
        assert!(only_introspects(&parse(
            "query IntrospectionQuery { __schema { types { name } } }"
        )));
        assert!(only_introspects(&parse(
            "{ __typename ... on Query { __type(name: \"A\") { name } } }"
        )));
        assert!(!only_introspects(&parse(
            "{ __schema { description } viewer { id } }"
        )));
        assert!(!only_introspects(&parse(
            "{ ...F } fragment F on Query { __typename }"
        )));
    }

    #[test]
    fn only_the_complexity_walks_unbound_variables_are_forgiven() {
        assert!(is_unbound_variable("Variable first is not defined."));
        assert!(!is_unbound_variable(r#"Variable "$first" is not defined"#));
        assert!(!is_unbound_variable(
            r#"Variable "$first" is not defined by operation "A""#
        ));
    }
}

#[cfg(test)]
mod validation_tests {
    use super::*;

    #[tokio::test]
    async fn validation_probe_reports_what_the_schema_refuses() {
        let limits = crate::config::Config::from_flags(["agentgraph"])
            .expect("the defaults parse")
            .limits;
        let schema = crate::graphql::schema_builder(&limits).finish();
        let parse = |text: &str| async_graphql::parser::parse_query(text).expect("parses");
        for text in [
            "{ agent(nope: \"x\") { name } }",
            "{ viewer { nope } }",
            "query A { viewer { id } } query B { agent { name } }",
            "query ($n: Int) { viewer { id } }",
        ] {
            let result = validate(&schema, &parse(text)).await;
            assert!(result.is_err(), "{text}");
        }
        for text in [
            "query A($first: Int) { circles(first: $first) { nodes { id } } }",
            "{ viewer { id } }",
        ] {
            assert_eq!(validate(&schema, &parse(text)).await, Ok(()), "{text}");
        }
    }
}
