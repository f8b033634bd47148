//! What HTTP caches may do with a GraphQL answer. Every answer names what
//! it varies by (`Authorization` and `Accept`, besides the
//! `Accept-Encoding` compression adds); an answer to a request with a token
//! is private, and only a browser may keep it: a GET answer as
//! `private, no-cache` with a strong `ETag`, so it revalidates with
//! `If-None-Match` and gets a `304` without a body; a POST answer as
//! `private, no-store`. An anonymous answer is `no-store`.
//!
//! The tag is computed here, outside the compression layer, over the bytes
//! sent: the same answer sent gzip, brotli or plain has three tags, as
//! strong tags must (compression at a fixed level is deterministic, so an
//! unchanged answer in one encoding keeps its tag).

use axum::{
    body::{self, Body},
    extract::Request,
    http::{header, HeaderMap, HeaderValue, Method, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};
use sha2::{Digest, Sha256};

/// Marks a response as a GraphQL answer (set by `with_media`): only those
/// get the headers here, not GraphiQL, its assets, the WebSocket upgrade or
/// the health endpoints.
#[derive(Clone, Copy)]
pub(crate) struct GraphqlAnswer;

/// The identity of a kept answer (see `kept`): its `ETag`, without
/// reading or hashing the body.
#[derive(Clone, Copy)]
pub(crate) struct KeptTag(pub(crate) u64);

/// The headers every GraphQL answer varies by.
const VARIES_BY: [&str; 2] = ["Authorization", "Accept"];

/// The middleware: caching headers on GraphQL answers, and the `ETag` and
/// `304` of GET answers.
pub(crate) async fn cache_headers(request: Request, next: Next) -> Response {
    let is_get = request.method() == Method::GET;
    let authenticated = request.headers().contains_key(header::AUTHORIZATION);
    let if_none_match = request.headers().get(header::IF_NONE_MATCH).cloned();
    let response = next.run(request).await;
    if response.extensions().get::<GraphqlAnswer>().is_none() {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    vary(&mut parts.headers);
    let validated = is_get && parts.status == StatusCode::OK;
    let cache_control = match (authenticated, validated) {
        (true, true) => "private, no-cache",
        (true, false) => "private, no-store",
        (false, _) => "no-store",
    };
    parts.headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(cache_control),
    );
    if !validated {
        return Response::from_parts(parts, body);
    }
    if let Some(KeptTag(kept)) = parts.extensions.get::<KeptTag>().copied() {
        // One tag per encoding sent, as strong tags must.
        let encoding = parts
            .headers
            .get(header::CONTENT_ENCODING)
            .and_then(|value| value.to_str().ok())
            .map(|encoding| format!("-{encoding}"))
            .unwrap_or_default();
        let tag = format!("\"k{kept:016x}{encoding}\"");
        return tagged(parts, body, &tag, if_none_match.as_ref());
    }
    // The answer is already whole in memory (and bounded by
    // `--max-response-bytes`): collecting it costs no more than sending it.
    let Ok(bytes) = body::to_bytes(body, usize::MAX).await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let tag = entity_tag(&bytes);
    tagged(parts, Body::from(bytes), &tag, if_none_match.as_ref())
}

/// The answer with its `ETag`, or a `304` when `if_none_match` names it.
fn tagged(
    mut parts: axum::http::response::Parts,
    body: Body,
    tag: &str,
    if_none_match: Option<&HeaderValue>,
) -> Response {
    let matched = if_none_match.is_some_and(|value| matches(value, tag));
    if let Ok(value) = HeaderValue::from_str(tag) {
        parts.headers.insert(header::ETAG, value);
    }
    if matched {
        parts.status = StatusCode::NOT_MODIFIED;
        for name in [
            header::CONTENT_TYPE,
            header::CONTENT_LENGTH,
            header::CONTENT_ENCODING,
        ] {
            parts.headers.remove(name);
        }
        return Response::from_parts(parts, Body::empty());
    }
    Response::from_parts(parts, body)
}

/// One `Vary` header: what inner layers said (compression's
/// `Accept-Encoding`) and [`VARIES_BY`], each once. One header rather than
/// several, since some caches and clients read only the first.
fn vary(headers: &mut HeaderMap) {
    let mut names: Vec<String> = headers
        .get_all(header::VARY)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .collect();
    for name in VARIES_BY {
        if !names.iter().any(|n| n.eq_ignore_ascii_case(name)) {
            names.push(name.to_owned());
        }
    }
    names.dedup_by(|a, b| a.eq_ignore_ascii_case(b));
    if let Ok(value) = HeaderValue::from_str(&names.join(", ")) {
        headers.insert(header::VARY, value);
    }
}

/// A strong entity tag over `bytes`: 128 bits of their SHA-256, quoted.
fn entity_tag(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let hex: String = digest
        .iter()
        .take(16)
        .map(|byte| format!("{byte:02x}"))
        .collect();
    format!("\"{hex}\"")
}

/// Whether an `If-None-Match` value names `tag` (`*`, or a list of tags
/// compared weakly, as RFC 9110 13.1.2 says for this header).
fn matches(if_none_match: &HeaderValue, tag: &str) -> bool {
    let Ok(value) = if_none_match.to_str() else {
        return false;
    };
    value.split(',').map(str::trim).any(|candidate| {
        candidate == "*" || candidate.strip_prefix("W/").unwrap_or(candidate) == tag
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_compares_weakly_and_takes_lists_and_a_star() {
        let tag = entity_tag(b"{}");
        for listed in [
            tag.clone(),
            format!("W/{tag}"),
            format!("\"other\", {tag}"),
            "*".to_owned(),
        ] {
            let value = HeaderValue::from_str(&listed).expect("a header value");
            assert!(matches(&value, &tag), "{listed}");
        }
        let other = HeaderValue::from_static("\"other\"");
        assert!(!matches(&other, &tag));
        assert_ne!(entity_tag(b"{}"), entity_tag(b"{ }"));
    }

    #[test]
    fn vary_is_one_header_naming_each_once() {
        let mut headers = HeaderMap::new();
        headers.append(header::VARY, HeaderValue::from_static("accept-encoding"));
        headers.append(header::VARY, HeaderValue::from_static("accept"));
        vary(&mut headers);
        let values: Vec<_> = headers.get_all(header::VARY).iter().collect();
        assert_eq!(values, ["accept-encoding, accept, Authorization"]);
    }
}
