//! The GraphQL endpoint: request parsing (POST body, GET parameters),
//! execution for the bearer's viewer, and the public shape of errors.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use async_graphql::{
    parser::types::{DocumentOperations, ExecutableDocument, OperationType},
    Response as GqlResponse, ServerError,
};
use async_graphql_axum::GraphQLResponse;
use axum::{
    body::Bytes,
    extract::{rejection::BytesRejection, RawQuery, State},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use serde_json::{json, Map, Value};

use super::{
    facts::single_operation_name,
    not_acceptable, persisted_query_not_found,
    playground::graphiql,
    request::{self, Incoming, Unreadable},
    request_error,
    state::AppState,
    unauthorized, with_media, Media, RequestFacts,
};
use crate::{
    config::IntrospectionPolicy,
    db::DataError,
    error::{AppError, ErrorCode},
    graphql::{limits, RequestContext},
    observability::{self, metrics::RequestOutcome, RequestCost},
};

/// `POST /graphql`.
pub async fn graphql_post(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let Some(media) = Media::negotiate(&headers) else {
        return not_acceptable();
    };
    let body = match body {
        Ok(body) => body,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            let limit = state.config().http.body_limit_bytes;
            let message = format!("the request body is larger than the limit of {limit} bytes");
            return request_error(StatusCode::PAYLOAD_TOO_LARGE, media, &message);
        }
        Err(_) => {
            return request_error(
                StatusCode::BAD_REQUEST,
                media,
                "the request body could not be read",
            )
        }
    };
    if !is_json_content_type(&headers) {
        return request_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            media,
            "POST requests must have `Content-Type: application/json`",
        );
    }
    let incoming = match read_incoming(&state, request::post_fields(&body)) {
        Ok(incoming) => incoming,
        Err(unreadable) => return refuse(unreadable, media),
    };
    let document = parse_document(&incoming.request);
    remember(&state, &incoming, &document);
    execute(&state, &headers, incoming.request, document, media).await
}

/// The request in `fields` (read from a POST body or GET parameters), with
/// its persisted query resolved.
fn read_incoming(
    state: &AppState,
    fields: Result<request::Fields, String>,
) -> Result<Incoming, Unreadable> {
    fields
        .map_err(Unreadable::from)
        .and_then(|fields| request::incoming(fields, state.persisted_queries()))
}

/// `GET /graphql`: GraphiQL for a browser, otherwise a query in the URL.
pub async fn graphql_get(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let query = query.unwrap_or_default();
    if query.is_empty() && accepts_html(&headers) {
        return graphiql(State(state)).await;
    }
    let Some(media) = Media::negotiate(&headers) else {
        return not_acceptable();
    };
    let incoming = match read_incoming(&state, request::get_fields(&query)) {
        Ok(incoming) => incoming,
        Err(unreadable) => return refuse(unreadable, media),
    };
    let document = parse_document(&incoming.request);
    if !is_query_operation(&incoming.request, &document) {
        let mut response = request_error(
            StatusCode::METHOD_NOT_ALLOWED,
            media,
            "only queries may be sent with GET; send mutations with POST",
        );
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return response;
    }
    remember(&state, &incoming, &document);
    execute(&state, &headers, incoming.request, document, media).await
}

/// Keeps a document sent with a persisted-query hash, once it parsed.
fn remember(
    state: &AppState,
    incoming: &Incoming,
    document: &Result<ExecutableDocument, ServerError>,
) {
    if let (Some(hash), Ok(_)) = (incoming.persist, document) {
        state
            .persisted_queries()
            .remember(hash, &incoming.request.query);
    }
}

/// The answer to a request that could not be read.
fn refuse(unreadable: Unreadable, media: Media) -> Response {
    match unreadable {
        Unreadable::Malformed(message) => request_error(StatusCode::BAD_REQUEST, media, &message),
        Unreadable::PersistedQueryNotFound => persisted_query_not_found(media),
    }
}

/// Runs one GraphQL request for the bearer of `headers`: its document,
/// parsed once by the caller, is checked against the limits and handed to
/// the schema as it is (never parsed again).
async fn execute(
    state: &AppState,
    headers: &HeaderMap,
    request: async_graphql::Request,
    document: Result<ExecutableDocument, ServerError>,
    media: Media,
) -> Response {
    let request_id = request_id(headers);
    let viewer = match state.token_keys().viewer_from_headers(headers) {
        Ok(viewer) => viewer,
        Err(error) => {
            tracing::info!(%error, "refused a bearer token");
            return unauthorized(media);
        }
    };
    let introspection_allowed = introspection_allowed(state, viewer.is_some());
    let started = Instant::now();
    let cost = Arc::new(RequestCost::default());
    let facts = RequestFacts::default();
    let checked = document.and_then(|document| {
        limits::check(&document, &state.config().limits)
            .map_err(|exceeded| ServerError::new(exceeded.to_string(), None))?;
        Ok(document)
    });
    let mut response = match checked {
        Ok(document) => {
            if let Some(name) = operation_name(&request, &document) {
                facts.name_operation(name);
            }
            let mut request = request
                .data(RequestContext::new(viewer, state.services()))
                .data(facts.clone());
            request.set_parsed_query(document);
            if !introspection_allowed {
                request = request.disable_introspection();
            }
            RequestCost::scope(Arc::clone(&cost), state.schema().execute(request)).await
        }
        Err(refused) => GqlResponse::from_errors(vec![refused]),
    };
    if let Some(operation) = facts.operation() {
        tracing::Span::current().record("operation", operation);
    }
    let label = state.operation_labels().label(RequestOutcome {
        executed: facts.executed(),
        authenticated: viewer.is_some(),
        operation: facts.operation(),
    });
    observability::metrics::record_request(label, started.elapsed());
    publish_errors(&mut response, &request_id);
    if wants_cost(state, headers) {
        response
            .extensions
            .insert("cost".to_owned(), cost_value(&cost, started.elapsed()));
    }
    if facts.executed() {
        return with_media(
            GraphQLResponse::from(response).into_response(),
            StatusCode::OK,
            media,
        );
    }
    // A request error: nothing ran, so the body has no `data` at all.
    let status = match media {
        Media::GraphqlResponse => StatusCode::BAD_REQUEST,
        Media::Json => StatusCode::OK,
    };
    let mut body = json!({ "errors": response.errors });
    if !response.extensions.is_empty() {
        body["extensions"] = json!(response.extensions);
    }
    with_media(axum::Json(body).into_response(), status, media)
}

/// Whether a request (or WebSocket operation) may introspect.
pub(super) fn introspection_allowed(state: &AppState, authenticated: bool) -> bool {
    match state.config().introspection_policy() {
        IntrospectionPolicy::Always => true,
        IntrospectionPolicy::Authenticated => authenticated,
        IntrospectionPolicy::Off => false,
    }
}

/// Rewrites every error into its public shape: a stable code, a message
/// without internal detail, the field at fault when known, and the request
/// id on internal errors (whose detail is logged here, under that id).
pub(super) fn publish_errors(response: &mut GqlResponse, request_id: &str) {
    for error in &mut response.errors {
        let app_error = error.source::<AppError>().cloned().or_else(|| {
            // A data error a resolver passed on as it was: the GraphQL
            // layer's mapping gives it its public shape.
            error.source::<DataError>().cloned().map(AppError::from)
        });
        let (code, field) = match app_error {
            Some(app_error) => {
                match &app_error {
                    AppError::Internal(detail) => {
                        tracing::error!(
                            request_id,
                            error = format!("{detail:#}"),
                            "internal error"
                        );
                    }
                    AppError::Unavailable(detail) => {
                        tracing::warn!(request_id, error = %detail, "database unavailable");
                    }
                    _ => {}
                }
                error.message = app_error.public_message(request_id);
                let field = match &app_error {
                    AppError::BadUserInput { field, .. } => *field,
                    _ => None,
                };
                (app_error.code(), field)
            }
            // Errors async-graphql raised itself: syntax, validation, limits
            // and argument coercion. All are the client's input.
            None => (ErrorCode::BadUserInput, None),
        };
        let extensions = error.extensions.get_or_insert_with(Default::default);
        if extensions.get("code").is_none() {
            extensions.set("code", code.as_str());
        }
        if let Some(field) = field {
            extensions.set("field", field);
        }
        if code == ErrorCode::InternalServerError {
            extensions.set("requestId", request_id);
        }
    }
}

fn cost_value(cost: &RequestCost, elapsed: Duration) -> async_graphql::Value {
    let caches: Map<String, Value> = cost
        .caches()
        .into_iter()
        .map(|(name, outcomes)| {
            (
                name.to_owned(),
                json!({ "hits": outcomes.hits, "misses": outcomes.misses }),
            )
        })
        .collect();
    let value = json!({
        "sqlStatements": cost.statements(),
        "sqlMillis": cost.statement_time().as_secs_f64() * 1e3,
        "caches": caches,
        "durationMillis": elapsed.as_secs_f64() * 1e3,
    });
    async_graphql::Value::from_json(value).unwrap_or_default()
}

fn wants_cost(state: &AppState, headers: &HeaderMap) -> bool {
    state.config().cost_always
        || headers
            .get("x-agentgraph-cost")
            .is_some_and(|v| v.as_bytes() == b"1")
}

fn is_json_content_type(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"))
}

fn accepts_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"))
}

fn request_id(headers: &HeaderMap) -> String {
    headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("unknown")
        .to_owned()
}

/// The request's document, parsed: the one parse it gets.
pub(super) fn parse_document(
    request: &async_graphql::Request,
) -> Result<ExecutableDocument, ServerError> {
    Ok(async_graphql::parser::parse_query(&request.query)?)
}

/// The name of the operation the request runs: the one it asked for, or
/// the name written on the document's only operation.
fn operation_name(
    request: &async_graphql::Request,
    document: &ExecutableDocument,
) -> Option<String> {
    match (&request.operation_name, &document.operations) {
        (Some(name), _) => Some(name.clone()),
        // A single operation's name is not kept by the parser; read it from
        // the text.
        (None, DocumentOperations::Single(_)) => single_operation_name(&request.query),
        (None, DocumentOperations::Multiple(_)) => None,
    }
}

/// Whether the operation a GET would run is a query. A document that does
/// not parse counts as a query: executing it reports the syntax error.
fn is_query_operation(
    request: &async_graphql::Request,
    document: &Result<ExecutableDocument, ServerError>,
) -> bool {
    let Ok(document) = document else {
        return true;
    };
    let operation = match &request.operation_name {
        Some(name) => document
            .operations
            .iter()
            .find(|(op_name, _)| op_name.is_some_and(|n| n.as_str() == name))
            .map(|(_, op)| op.node.ty),
        None => document.operations.iter().next().map(|(_, op)| op.node.ty),
    };
    operation.is_none_or(|ty| ty == OperationType::Query)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_detects_mutations() {
        let mutation =
            async_graphql::Request::new("mutation { createCircle(input: {name: \"x\"}) { id } }");
        assert!(!is_query_operation(&mutation, &parse_document(&mutation)));
        let named = async_graphql::Request::new("query A { viewer { id } } mutation B { x }")
            .operation_name("B");
        assert!(!is_query_operation(&named, &parse_document(&named)));
        let query = async_graphql::Request::new("{ viewer { id } }");
        assert!(is_query_operation(&query, &parse_document(&query)));
    }
}
