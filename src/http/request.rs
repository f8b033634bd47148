//! Reading one GraphQL request from a POST body or GET parameters, with
//! its persisted query resolved. Messages name JSON, never Rust types.

use async_graphql::Variables;
use serde_json::Value;

use super::{
    persisted::{self, DocumentHash, PersistedQueries, PersistedQueryError},
    trusted::Source,
};

/// The members of a request, as sent.
#[derive(Debug, Default)]
pub(super) struct Fields {
    query: Option<Value>,
    variables: Option<Value>,
    operation_name: Option<Value>,
    pub(super) extensions: Option<Value>,
    /// A trusted document's id: `documentId` (GraphQL over HTTP, codegen)
    /// or `doc_id` (Relay).
    pub(super) document_id: Option<Value>,
}

impl Fields {
    /// Whether a document was sent as text.
    pub(super) fn has_query_text(&self) -> bool {
        matches!(&self.query, Some(Value::String(query)) if !query.trim().is_empty())
    }
}

/// A request ready to run.
pub(super) struct Incoming {
    pub request: async_graphql::Request,
    /// Set when the document came with a persisted-query hash: once it
    /// parses, it is remembered under this hash.
    pub persist: Option<DocumentHash>,
    /// Where its document comes from.
    pub source: Source,
}

impl Incoming {
    /// The text of its document, by which the response cache keeps its
    /// answers (a trusted document's own text when it came by id), or
    /// `None` when its answers are not looked up there: text that
    /// trusted-only mode lets through only to introspect must not be
    /// answered with what a trusted document of the same text was.
    pub(super) fn text_to_keep_by(&self) -> Option<&str> {
        match &self.source {
            Source::Text => Some(&self.request.query),
            Source::Trusted(document) => Some(&document.text),
            Source::IntrospectionText => None,
        }
    }
}

/// Why a request cannot run.
#[derive(Debug)]
pub(super) enum Unreadable {
    /// Malformed: a message for the client.
    Malformed(String),
    /// A hash-only request whose document is not stored.
    PersistedQueryNotFound,
    /// Trusted-only mode, and the request names no trusted document.
    TrustedDocumentRequired,
    /// The request names a trusted document by an id the manifest lacks.
    TrustedDocumentNotFound,
}

impl From<String> for Unreadable {
    fn from(message: String) -> Self {
        Self::Malformed(message)
    }
}

/// A POST body: one JSON object with `query` and optional `variables`,
/// `operationName` and `extensions`.
pub(super) fn post_fields(body: &[u8]) -> Result<Fields, String> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| format!("the request body is not valid JSON: {e}"))?;
    match value {
        Value::Object(mut fields) => Ok(Fields {
            query: fields.remove("query"),
            variables: fields.remove("variables"),
            operation_name: fields.remove("operationName"),
            extensions: fields.remove("extensions"),
            document_id: fields
                .remove("documentId")
                .or_else(|| fields.remove("doc_id")),
        }),
        Value::Array(_) => Err(
            "batched requests (a JSON array) are not supported; send one request per POST".into(),
        ),
        _ => Err("the request body must be a JSON object with a `query`".into()),
    }
}

/// GET parameters: `query` and `operationName` as text, `variables` and
/// `extensions` as JSON text.
pub(super) fn get_fields(raw: &str) -> Result<Fields, String> {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(raw.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let param = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let json_param = |name: &str| match param(name) {
        Some(text) if !text.is_empty() => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| format!("`{name}` is not valid JSON: {e}")),
        _ => Ok(None),
    };
    Ok(Fields {
        query: param("query").map(Value::String),
        variables: json_param("variables")?,
        operation_name: param("operationName").map(Value::String),
        extensions: json_param("extensions")?,
        document_id: param("documentId")
            .or_else(|| param("doc_id"))
            .map(Value::String),
    })
}

/// The request `fields` describe, its document taken from `persisted` when
/// only a hash was sent.
pub(super) fn incoming(
    mut fields: Fields,
    persisted: &PersistedQueries,
) -> Result<Incoming, Unreadable> {
    let query = match fields.query.take() {
        Some(Value::String(query)) if !query.trim().is_empty() => Some(query),
        Some(Value::String(_)) | None | Some(Value::Null) => None,
        Some(_) => return Err(Unreadable::Malformed("`query` must be a string".into())),
    };
    let (query, persist) = match persisted::requested_hash(fields.extensions.as_ref()) {
        Ok(None) => match query {
            Some(query) => (query, None),
            None => return Err(Unreadable::Malformed("`query` is required".into())),
        },
        Ok(Some(hash)) => {
            let sent = query.is_some();
            match persisted.resolve(hash, query) {
                Ok(query) => (query, sent.then_some(hash)),
                Err(PersistedQueryError::NotFound) => {
                    return Err(Unreadable::PersistedQueryNotFound)
                }
                Err(PersistedQueryError::Invalid(message)) => {
                    return Err(Unreadable::Malformed(message.into()))
                }
            }
        }
        Err(PersistedQueryError::Invalid(message)) => {
            return Err(Unreadable::Malformed(message.into()))
        }
        Err(PersistedQueryError::NotFound) => return Err(Unreadable::PersistedQueryNotFound),
    };
    let request = with_document(query, fields)?;
    Ok(Incoming {
        request,
        persist,
        source: Source::Text,
    })
}

/// A request for `query` with the variables, operation name and
/// extensions of `fields`, checked.
pub(super) fn with_document(
    query: String,
    fields: Fields,
) -> Result<async_graphql::Request, Unreadable> {
    let mut request = async_graphql::Request::new(query);
    match fields.variables {
        None | Some(Value::Null) => {}
        Some(Value::Object(map)) => {
            request = request.variables(Variables::from_json(Value::Object(map)))
        }
        Some(_) => return Err("`variables` must be a JSON object".to_owned().into()),
    }
    match fields.operation_name {
        None | Some(Value::Null) => {}
        Some(Value::String(name)) => request = request.operation_name(name),
        Some(_) => return Err("`operationName` must be a string".to_owned().into()),
    }
    match fields.extensions {
        None | Some(Value::Null) | Some(Value::Object(_)) => {}
        Some(_) => return Err("`extensions` must be a JSON object".to_owned().into()),
    }
    Ok(request)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_post(body: &[u8]) -> Result<Incoming, Unreadable> {
        incoming(post_fields(body)?, &PersistedQueries::new(1024))
    }

    fn message(result: Result<Incoming, Unreadable>) -> String {
        match result {
            Err(Unreadable::Malformed(message)) => message,
            Err(other) => panic!("refused as {other:?}"),
            Ok(_) => panic!("accepted"),
        }
    }

    #[test]
    fn body_errors_name_json_not_rust_types() {
        assert_eq!(
            message(read_post(b"{\"query\": 1}")),
            "`query` must be a string"
        );
        assert!(message(read_post(b"[{}]")).contains("batched"));
        assert!(message(read_post(b"{nope")).starts_with("the request body is not valid JSON"));
        assert_eq!(message(read_post(b"{}")), "`query` is required");
        assert_eq!(
            message(read_post(b"{\"query\": \"{a}\", \"extensions\": 1}")),
            "`extensions` must be a JSON object"
        );
    }
}
