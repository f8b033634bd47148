//! HTTP: open connections and their limits ([`connections`]), the
//! GraphQL-over-HTTP endpoint ([`graphql`], reading requests in
//! [`request`], automatic persisted queries in [`persisted`], parsed
//! documents kept by their text in [`documents`], trusted documents by id
//! in [`trusted`]), the GraphiQL
//! page and its embedded assets ([`playground`]), health, readiness and
//! metrics ([`ops`]), subscriptions over WebSocket ([`websocket`]), what
//! HTTP caches may do with an answer ([`caching`]), the response cache's
//! part of a request ([`kept`]), and the response shapes they share.
//!
//! GraphQL-over-HTTP rules applied here: POST takes `application/json` only
//! (else 415); GET runs queries only (a mutation: 405); array batching is
//! refused (400); the response media type follows `Accept`, and a request
//! error (the document could not be parsed or validated, so nothing ran) has
//! no `data` and is a 400 under `application/graphql-response+json`.

mod admission;
mod answer;
mod caching;
mod compressed;
mod connections;
mod documents;
mod graphql;
mod kept;
mod ops;
mod persisted;
mod playground;
mod request;
mod state;
mod trusted;
mod websocket;

use axum::{
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use serde_json::json;

pub(crate) use caching::cache_headers;
pub use connections::{serve_connections, ConnectionLimits};
pub use documents::ParsedDocuments;
pub(crate) use graphql::request_id;
pub use graphql::{graphql_get, graphql_post};
pub use ops::{healthz, metrics, readyz};
pub use persisted::PersistedQueries;
pub use playground::{graphiql, graphiql_asset, Playground};
pub use state::{AppState, StateParts};
pub use trusted::{TrustedConfig, TrustedDocuments};
pub use websocket::graphql_get_or_websocket;

use crate::error::ErrorCode;

/// The response media types a client can ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Media {
    /// `application/graphql-response+json`: request errors are 4xx.
    GraphqlResponse,
    /// `application/json`: the legacy type; well-formed requests get 200.
    Json,
}

impl Media {
    const GRAPHQL_RESPONSE: &'static str = "application/graphql-response+json";

    pub(crate) fn negotiate(headers: &HeaderMap) -> Option<Self> {
        let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
            return Some(Self::Json);
        };
        let types: Vec<String> = accept
            .split(',')
            .map(|part| {
                part.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase()
            })
            .collect();
        if types.iter().any(|t| t == Self::GRAPHQL_RESPONSE) {
            Some(Self::GraphqlResponse)
        } else if types
            .iter()
            .any(|t| matches!(t.as_str(), "application/json" | "application/*" | "*/*"))
        {
            Some(Self::Json)
        } else {
            None
        }
    }

    fn content_type(self) -> HeaderValue {
        HeaderValue::from_static(match self {
            Self::GraphqlResponse => Self::GRAPHQL_RESPONSE,
            Self::Json => "application/json",
        })
    }
}

pub(crate) fn with_media(mut response: Response, status: StatusCode, media: Media) -> Response {
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, media.content_type());
    response.extensions_mut().insert(caching::GraphqlAnswer);
    response
}

/// A request the server refuses before GraphQL sees it: a GraphQL-shaped
/// body with one error and no `data`.
pub(crate) fn request_error(status: StatusCode, media: Media, message: &str) -> Response {
    let body = json!({ "errors": [{ "message": message, "extensions": { "code": ErrorCode::BadUserInput.as_str() } }] });
    with_media(axum::Json(body).into_response(), status, media)
}

pub(crate) fn unauthorized(media: Media) -> Response {
    unauthenticated(
        media,
        "invalid or expired token",
        "Bearer error=\"invalid_token\"",
    )
}

/// A request that needs a token it does not carry: 401 whatever the media
/// type, as for a bad token, with the `UNAUTHENTICATED` code and the
/// challenge `challenge`.
pub(crate) fn unauthenticated(media: Media, message: &str, challenge: &'static str) -> Response {
    let body = json!({ "errors": [{
        "message": message,
        "extensions": { "code": ErrorCode::Unauthenticated.as_str() },
    }] });
    let mut response = with_media(
        axum::Json(body).into_response(),
        StatusCode::UNAUTHORIZED,
        media,
    );
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(challenge),
    );
    response
}

/// A hash-only persisted query the server does not hold. Apollo Client and
/// urql match on this exact message and code, then resend with the
/// document. Nothing ran, so it is a request error (200 under
/// `application/json`, 400 under `application/graphql-response+json`).
pub(crate) fn persisted_query_not_found(media: Media) -> Response {
    refused(
        media,
        ErrorCode::PersistedQueryNotFound,
        "PersistedQueryNotFound",
    )
}

/// A request refused before anything ran, with `code`: a request error
/// (200 under `application/json`, 400 under
/// `application/graphql-response+json`).
pub(crate) fn refused(media: Media, code: ErrorCode, message: &str) -> Response {
    let body = json!({ "errors": [{
        "message": message,
        "extensions": { "code": code.as_str() },
    }] });
    let status = match media {
        Media::GraphqlResponse => StatusCode::BAD_REQUEST,
        Media::Json => StatusCode::OK,
    };
    with_media(axum::Json(body).into_response(), status, media)
}

pub(crate) fn not_acceptable() -> Response {
    let body = json!({ "errors": [{
        "message": "`Accept` must allow application/graphql-response+json or application/json",
        "extensions": { "code": ErrorCode::BadUserInput.as_str() },
    }] });
    with_media(
        axum::Json(body).into_response(),
        StatusCode::NOT_ACCEPTABLE,
        Media::Json,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_static(value));
        headers
    }

    #[test]
    fn accept_negotiation() {
        assert_eq!(Media::negotiate(&HeaderMap::new()), Some(Media::Json));
        assert_eq!(
            Media::negotiate(&accept(
                "application/graphql-response+json, application/json;q=0.9"
            )),
            Some(Media::GraphqlResponse)
        );
        assert_eq!(Media::negotiate(&accept("*/*")), Some(Media::Json));
        assert_eq!(Media::negotiate(&accept("text/html")), None);
    }
}
