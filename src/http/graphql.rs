//! The GraphQL endpoint: request parsing (POST body, GET parameters),
//! execution for the bearer's viewer, and the public shape of errors.

use std::{
    net::SocketAddr,
    sync::Arc,
    time::{Duration, Instant},
};

use async_graphql::{parser::types::OperationType, Response as GqlResponse, ServerError};
use axum::{
    body::Bytes,
    extract::{rejection::BytesRejection, ConnectInfo, RawQuery, State},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Extension,
};
use serde_json::{json, Map, Value};

use super::{
    admission::{self, Admission},
    answer,
    caching::KeptTag,
    documents::ParsedDocument,
    kept::{self, Before, Keeping},
    not_acceptable, persisted_query_not_found,
    playground::graphiql,
    refused,
    request::{self, Incoming, Unreadable},
    request_error,
    state::AppState,
    trusted, unauthenticated, unauthorized, with_media, Media,
};
use crate::{
    auth::{InvalidToken, Viewer},
    config::IntrospectionPolicy,
    error::{AppError, ErrorCode},
    graphql::{answer_size::AnswerMeter, RequestContext},
    observability::{metrics::RequestOutcome, RequestCost},
};

/// `POST /graphql`.
pub async fn graphql_post(
    State(state): State<AppState>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
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
    let fields = || request::post_fields(&body);
    let Read {
        caller,
        incoming,
        keeping,
        document,
    } = match read(&state, &headers, peer, fields, media).await {
        Ok(read) => read,
        Err(answered) => return answered,
    };
    remember(&state, &incoming, &document);
    let request = incoming.request;
    execute(&state, &headers, caller, request, document, media, keeping).await
}

/// A request read, not answered from the response cache, its document
/// parsed (or trusted): what remains is to execute it.
struct Read {
    caller: Caller,
    incoming: Incoming,
    keeping: Option<Keeping>,
    document: Result<Arc<ParsedDocument>, ServerError>,
}

/// Reads a request: its bearer first (a bad token is answered 401 before
/// anything else of the request is read, SPEC 10), then its `fields`, its
/// document named by id or sent as text, the response cache's kept answer
/// (all there is to send, if there is one), and its document parsed. `Err`
/// is the answer already made: a refusal or a kept answer.
async fn read(
    state: &AppState,
    headers: &HeaderMap,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    fields: impl FnOnce() -> Result<request::Fields, String>,
    media: Media,
) -> Result<Read, Response> {
    let Ok(viewer) = authenticate(state, headers) else {
        return Err(unauthorized(media));
    };
    let caller = Caller::new(viewer, peer);
    let viewer = caller.viewer.as_ref();
    let incoming =
        read_incoming(state, fields(), viewer).map_err(|refused| refuse(refused, media))?;
    let keeping = match kept(state, headers, &caller, &incoming, media).await {
        Before::Hit(response) => return Err(response),
        Before::Execute(keeping) => keeping,
    };
    let document = trusted::document(state.documents(), &incoming, viewer.is_some())
        .map_err(|refused| refuse(refused, media))?;
    Ok(Read {
        caller,
        incoming,
        keeping,
        document,
    })
}

/// Who sent a request: the viewer of its token, and the address it came
/// from (what the budget is kept by when it has no token).
struct Caller {
    viewer: Option<Viewer>,
    peer: Option<SocketAddr>,
}

impl Caller {
    fn new(viewer: Option<Viewer>, peer: Option<Extension<ConnectInfo<SocketAddr>>>) -> Self {
        let peer = peer.map(|Extension(ConnectInfo(peer))| peer);
        Self { viewer, peer }
    }
}

/// The response cache's answer to `incoming`, before anything else is done
/// with it (only queries are kept, so a hit is a query's answer). A hit is
/// charged the least a request costs, one unit, to its viewer's budget:
/// answers from memory are cheap, not free, so a viewer over budget is
/// refused them too.
async fn kept(
    state: &AppState,
    headers: &HeaderMap,
    caller: &Caller,
    incoming: &Incoming,
    media: Media,
) -> Before {
    let viewer = caller.viewer.as_ref();
    let before = looked_up(state, headers, viewer, incoming, media).await;
    if let Before::Hit(_) = before {
        if let Err(refusal) = admission::charge_hit(state, viewer, caller.peer, headers) {
            return Before::Hit(refusal.response(media));
        }
    }
    before
}

async fn looked_up(
    state: &AppState,
    headers: &HeaderMap,
    viewer: Option<&Viewer>,
    incoming: &Incoming,
    media: Media,
) -> Before {
    let started = Instant::now();
    let cost = |_: &_| {
        let hit = cost_value(&RequestCost::default(), started.elapsed());
        with_response_cache(hit, "hit")
    };
    let cost: Option<&(dyn Fn(&_) -> _ + Sync)> = wants_cost(state, headers).then_some(&cost);
    let Some(text) = incoming.text_to_keep_by() else {
        return Before::Execute(None);
    };
    let request = &incoming.request;
    kept::before(state, headers, viewer, request, text, media, cost).await
}

/// The viewer of the request's bearer token, checked before anything else
/// of the request is read (SPEC 10: the least possible work before
/// authentication); a bad token is answered 401.
fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<Option<Viewer>, InvalidToken> {
    state
        .token_keys()
        .viewer_from_headers(headers)
        .inspect_err(|error| tracing::info!(%error, "refused a bearer token"))
}

/// The request in `fields` (read from a POST body or GET parameters): a
/// trusted document by id, or text (perhaps a persisted query's), not yet
/// parsed ([`trusted::document`] does that, after the response cache).
fn read_incoming(
    state: &AppState,
    fields: Result<request::Fields, String>,
    viewer: Option<&Viewer>,
) -> Result<Incoming, Unreadable> {
    fields.map_err(Unreadable::from).and_then(|fields| {
        trusted::incoming(
            state.trusted_documents(),
            state.persisted_queries(),
            state.config().introspection_policy(),
            fields,
            viewer,
        )
    })
}

/// `GET /graphql`: GraphiQL for a browser, otherwise a query in the URL.
pub async fn graphql_get(
    State(state): State<AppState>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let query = query.unwrap_or_default();
    if query.is_empty() && accepts_html(&headers) {
        return graphiql(State(state), headers).await;
    }
    let Some(media) = Media::negotiate(&headers) else {
        return not_acceptable();
    };
    let fields = || request::get_fields(&query);
    let Read {
        caller,
        incoming,
        keeping,
        document,
    } = match read(&state, &headers, peer, fields, media).await {
        Ok(read) => read,
        Err(answered) => return answered,
    };
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
    let request = incoming.request;
    execute(&state, &headers, caller, request, document, media, keeping).await
}

/// Keeps a document sent with a persisted-query hash, once it parsed.
fn remember(
    state: &AppState,
    incoming: &Incoming,
    document: &Result<Arc<ParsedDocument>, ServerError>,
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
        Unreadable::TrustedDocumentRequired => refused(
            media,
            ErrorCode::TrustedDocumentRequired,
            trusted::REQUIRED_MESSAGE,
        ),
        Unreadable::TrustedDocumentNotFound => refused(
            media,
            ErrorCode::TrustedDocumentNotFound,
            "no trusted document has this id",
        ),
    }
}

/// Runs one GraphQL request for `viewer`, the bearer of `headers`: its
/// document, parsed and measured by the caller (or taken from the parsed
/// documents), is handed to the schema as it is (never parsed again).
/// Before it runs, its caller is charged its estimated cost and the pool's
/// queue is checked ([`Admission`]).
async fn execute(
    state: &AppState,
    headers: &HeaderMap,
    caller: Caller,
    request: async_graphql::Request,
    document: Result<Arc<ParsedDocument>, ServerError>,
    media: Media,
    keeping: Option<Keeping>,
) -> Response {
    let Caller { viewer, peer } = caller;
    let request_id = request_id(headers);
    // Only a query's answer is kept.
    let keeping = keeping.filter(|_| is_query_operation(&request, &document));
    let introspection_allowed = introspection_allowed(state, viewer.is_some());
    if needs_token_to_introspect(state, viewer.as_ref(), &document) {
        // Loud, not `__schema: null`: tools that read the schema (codegen,
        // graphql-inspector) then say what is missing.
        return unauthenticated(
            media,
            "introspection needs a bearer token: send `Authorization: Bearer <token>`",
            "Bearer",
        );
    }
    let estimated = document.as_ref().map_or(1, |parsed| parsed.estimated_cost);
    let admission = match Admission::enter(state, viewer.as_ref(), peer, headers, estimated) {
        Ok(admission) => admission,
        Err(refusal) => return refusal.response(media),
    };
    let started = Instant::now();
    let cost = Arc::new(RequestCost::default());
    let max_response_bytes = state.config().http.max_response_bytes;
    let meter = Arc::new(AnswerMeter::new(max_response_bytes));
    let mut operation = None;
    let prepared = document.and_then(|parsed| Ok((parsed.prepare(request)?, parsed)));
    let mut response = match prepared {
        Ok((request, parsed)) => {
            // The one asked for, or the document's only one.
            operation = request
                .operation_name
                .clone()
                .or_else(|| parsed.operation_name.clone());
            let mut request = request
                .data(RequestContext::new(viewer, state.services()))
                .data(Arc::clone(&meter));
            if !introspection_allowed {
                request = request.disable_introspection();
            }
            // Boxed: the schema's future is several kilobytes, and every
            // future that holds it inline would copy it when it moves.
            let execution = Box::pin(state.schema().execute(request));
            let execution = kept::reading(keeping.as_ref(), execution);
            meter.bounded(RequestCost::scope(Arc::clone(&cost), execution).await)
        }
        Err(refused) => GqlResponse::from_errors(vec![refused]),
    };
    if let Some(operation) = &operation {
        tracing::Span::current().record("operation", operation.as_str());
    }
    let executed = was_executed(&response);
    state.operation_labels().record(
        RequestOutcome {
            executed,
            authenticated: viewer.is_some(),
            operation: operation.as_deref(),
        },
        started.elapsed(),
    );
    publish_errors(&mut response, &request_id);
    let settled = admission.settle(&cost);
    if wants_cost(state, headers) {
        let mut value = cost_value(&cost, started.elapsed());
        if let async_graphql::Value::Object(fields) = &mut value {
            let budget = async_graphql::Value::from_json(admission::cost_fields(&settled));
            if let Ok(async_graphql::Value::Object(budget)) = budget {
                fields.extend(budget);
            }
        }
        response.extensions.insert("cost".to_owned(), value);
    }
    if executed {
        let body = answer::json_bytes(&response, max_response_bytes);
        let tag =
            keeping.and_then(|keeping| kept::after(state, keeping, operation, &response, &body));
        let mut sent = with_media(answer::with_body(&response, body), StatusCode::OK, media);
        if let Some(tag) = tag {
            sent.extensions_mut().insert(KeptTag(tag));
        }
        return sent;
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

/// Whether `document` introspects where only a token lets it, and the
/// request has none.
fn needs_token_to_introspect(
    state: &AppState,
    viewer: Option<&Viewer>,
    document: &Result<Arc<ParsedDocument>, ServerError>,
) -> bool {
    viewer.is_none()
        && state.config().introspection_policy() == IntrospectionPolicy::Authenticated
        && document.as_ref().is_ok_and(|parsed| parsed.introspects)
}

/// Whether a request (or WebSocket operation) may introspect.
pub(super) fn introspection_allowed(state: &AppState, authenticated: bool) -> bool {
    match state.config().introspection_policy() {
        IntrospectionPolicy::Always => true,
        IntrospectionPolicy::Authenticated => authenticated,
        IntrospectionPolicy::Off => false,
    }
}

/// Most errors one response carries; past them, one more error says how
/// many were left out. A document that fails validation everywhere must
/// not become a response many times its size.
pub(super) const MAX_ERRORS: usize = 100;

/// Rewrites every error into its public shape: a stable code, a message
/// without internal detail, the field at fault when known, and the request
/// id on internal errors (whose detail is logged here, under that id).
/// Only the first [`MAX_ERRORS`] are kept.
pub(super) fn publish_errors(response: &mut GqlResponse, request_id: &str) {
    let left_out = response.errors.len().saturating_sub(MAX_ERRORS);
    if left_out > 0 {
        // The first error left out stands for all of them: its code is
        // theirs as much as any.
        response.errors.truncate(MAX_ERRORS + 1);
    }
    for error in &mut response.errors {
        let (code, field) = match classify(error) {
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
    if let Some(summary) = response.errors.get_mut(MAX_ERRORS) {
        summary.message = format!("{left_out} more errors were left out");
        summary.path.clear();
        summary.locations.clear();
        if let Some(extensions) = summary.extensions.as_mut() {
            extensions.unset("field");
        }
    }
}

/// The application's verdict on `error`, or `None` for an error
/// async-graphql raised itself (those carry no source). A resolver's error
/// carries the [`AppError`] it returned; any other source is one nobody
/// classified, a bug whatever its text says: it becomes an internal error,
/// its text kept for the log and its extensions dropped, so none of it is
/// sent.
fn classify(error: &mut ServerError) -> Option<AppError> {
    error.source.as_ref()?;
    if let Some(app_error) = error.source::<AppError>() {
        return Some(app_error.clone());
    }
    error.extensions = None;
    Some(AppError::internal(anyhow::anyhow!(
        "an error no layer classified: {}",
        error.message
    )))
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

/// `cost` saying how the response cache answered.
fn with_response_cache(cost: async_graphql::Value, outcome: &str) -> async_graphql::Value {
    match cost {
        async_graphql::Value::Object(mut fields) => {
            fields.insert(async_graphql::Name::new("responseCache"), outcome.into());
            async_graphql::Value::Object(fields)
        }
        other => other,
    }
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

/// The request's id (set on every request by the router's outer layer).
pub(crate) fn request_id(headers: &HeaderMap) -> String {
    headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("unknown")
        .to_owned()
}

/// Whether the request got past parsing, the limits and validation and
/// ran. A request error stops it before execution: no `data`, and errors
/// without a `path` (every field error has one, GraphQL spec 7.1.2).
fn was_executed(response: &GqlResponse) -> bool {
    response.data != async_graphql::Value::Null
        || response.errors.iter().any(|error| !error.path.is_empty())
}

/// Whether the operation a GET would run is a query. A document that does
/// not parse counts as a query: executing it reports the syntax error.
fn is_query_operation(
    request: &async_graphql::Request,
    document: &Result<Arc<ParsedDocument>, ServerError>,
) -> bool {
    let Ok(parsed) = document else {
        return true;
    };
    let document = &parsed.document;
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
    use crate::http::documents::ParsedDocuments;

    fn parse(request: &async_graphql::Request) -> Result<Arc<ParsedDocument>, ServerError> {
        let limits = crate::config::Config::from_flags(["agentgraph"])
            .expect("the defaults parse")
            .limits;
        ParsedDocuments::new(0, limits).parse(&request.query, true)
    }

    /// Log lines written while a test runs, to read back.
    #[derive(Clone, Default)]
    struct Captured(Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl tracing_subscriber::fmt::MakeWriter<'_> for Captured {
        type Writer = Self;

        fn make_writer(&self) -> Self {
            self.clone()
        }
    }

    impl Captured {
        fn text(&self) -> String {
            let bytes = self
                .0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            String::from_utf8_lossy(&bytes).into_owned()
        }
    }

    /// `response` published under `request_id`, and what was logged meanwhile.
    fn publish_logged(response: &mut GqlResponse, request_id: &str) -> String {
        let log = Captured::default();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(log.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .finish();
        tracing::subscriber::with_default(subscriber, || publish_errors(response, request_id));
        log.text()
    }

    fn code_of(error: &ServerError) -> Option<&async_graphql::Value> {
        error.extensions.as_ref().and_then(|e| e.get("code"))
    }

    #[test]
    fn a_database_error_nobody_classified_is_internal_and_its_text_stays_in_the_log() {
        use async_graphql::ErrorExtensions;

        let secret = "relation \"ledger_7f3a9c\" does not exist";
        let unclassified =
            async_graphql::Error::new_with_source(sea_orm::DbErr::Custom(secret.to_owned()))
                .extend_with(|_, extensions| extensions.set("detail", secret))
                .into_server_error(async_graphql::Pos { line: 1, column: 3 });
        let mut response = GqlResponse::from_errors(vec![unclassified]);

        let log = publish_logged(&mut response, "req-5e1d");

        let error = &response.errors[0];
        assert_eq!(
            code_of(error),
            Some(&async_graphql::Value::from("INTERNAL_SERVER_ERROR"))
        );
        assert_eq!(error.message, "internal server error (request id req-5e1d)");
        let request_id = error.extensions.as_ref().and_then(|e| e.get("requestId"));
        assert_eq!(request_id, Some(&async_graphql::Value::from("req-5e1d")));
        let sent = serde_json::to_string(&response).expect("a response serializes");
        assert!(!sent.contains("ledger_7f3a9c"), "{sent}");
        // The operator finds the text under the id the client was given.
        let line = log
            .lines()
            .find(|line| line.contains("ledger_7f3a9c"))
            .unwrap_or_else(|| panic!("the text is logged: {log}"));
        assert!(line.contains("ERROR"), "{line}");
        assert!(line.contains("req-5e1d"), "{line}");
    }

    #[test]
    fn errors_async_graphql_raises_itself_stay_the_clients_input() {
        let coercion = async_graphql::InputValueError::<i32>::expected_type("x".into())
            .into_server_error(async_graphql::Pos { line: 1, column: 9 });
        let validation = ServerError::new("Unknown field \"nope\" on type \"Query\".", None);
        let messages = [coercion.message.clone(), validation.message.clone()];
        let mut response = GqlResponse::from_errors(vec![coercion, validation]);

        publish_errors(&mut response, "req-1");

        for (error, message) in response.errors.iter().zip(messages) {
            assert_eq!(
                code_of(error),
                Some(&async_graphql::Value::from("BAD_USER_INPUT"))
            );
            assert_eq!(error.message, message);
        }
    }

    #[test]
    fn get_detects_mutations() {
        let mutation =
            async_graphql::Request::new("mutation { createCircle(input: {name: \"x\"}) { id } }");
        assert!(!is_query_operation(&mutation, &parse(&mutation)));
        let named = async_graphql::Request::new("query A { viewer { id } } mutation B { x }")
            .operation_name("B");
        assert!(!is_query_operation(&named, &parse(&named)));
        let query = async_graphql::Request::new("{ viewer { id } }");
        assert!(is_query_operation(&query, &parse(&query)));
    }
}
