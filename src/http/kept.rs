//! The response cache's part of a GraphQL request
//! ([`responses`](crate::cache::responses)): before execution, a kept
//! answer is sent as it is (no parsing, no resolver, no statement, no JSON
//! encoding); after it, the answer is offered to the cache with what its
//! execution read.
//!
//! A request that asks for the cost extension is served a kept answer
//! (its cost says `responseCache: "hit"` and no statements) but its own
//! answer is never stored: a request asking what an execution cost gets an
//! execution unless someone else's was kept.

use std::{sync::Arc, time::Instant};

use async_graphql::Response as GqlResponse;
use axum::{
    body::{Body, Bytes},
    http::{HeaderMap, StatusCode},
    response::Response,
};

use super::{caching::KeptTag, compressed, state::AppState, with_media, Media};
use crate::{
    auth::Viewer,
    cache::{
        read_set::{self, ReadSet},
        responses::{Answer, Began, Flight, Lookup, RequestKey},
    },
    observability::metrics::RequestOutcome,
};

/// A request the cache may answer or keep the answer of.
pub(super) struct Keeping {
    request: RequestKey,
    viewer: Viewer,
    began: Began,
    reads: Arc<ReadSet>,
    /// Held while it executes: concurrent requests for the same answer
    /// wait for it.
    _flight: Option<Flight>,
}

/// What the cache says before execution.
pub(super) enum Before {
    /// The kept answer.
    Hit(Response),
    /// Execute (noting reads when the answer may be kept).
    Execute(Option<Keeping>),
}

/// Looks `request`, whose document is `text`, up for `viewer`: only
/// signed-in viewers' requests are kept or answered from the cache.
pub(super) async fn before(
    state: &AppState,
    headers: &HeaderMap,
    viewer: Option<&Viewer>,
    request: &async_graphql::Request,
    text: &str,
    media: Media,
    cost: Option<&(dyn Fn(&Answer) -> async_graphql::Value + Sync)>,
) -> Before {
    let cache = &state.services().caches.responses;
    let Some(viewer) = viewer.filter(|_| cache.is_on()) else {
        return Before::Execute(None);
    };
    let started = Instant::now();
    let variables = serde_json::to_vec(&request.variables).unwrap_or_default();
    let key = RequestKey::new(text, request.operation_name.as_deref(), &variables);
    // A request asking what its execution costs is never stored, so it
    // neither waits for another execution nor makes others wait for its.
    let looked = match cost {
        Some(_) => match cache.peek(&key, viewer) {
            Some(answer) => Lookup::Hit(answer),
            None => return Before::Execute(None),
        },
        None => cache.lookup(&key, viewer).await,
    };
    match looked {
        Lookup::Hit(answer) => {
            state.operation_labels().record(
                RequestOutcome {
                    executed: true,
                    authenticated: true,
                    operation: answer.operation.as_deref(),
                },
                started.elapsed(),
            );
            if let Some(operation) = &answer.operation {
                tracing::Span::current().record("operation", operation.as_str());
            }
            let response = match cost {
                Some(cost) => {
                    let body = with_extension(&answer.body, &cost(&answer));
                    sent(body, answer.tag, media)
                }
                None => match compressed::form(headers, &answer) {
                    Some((encoding, body)) => {
                        // Counted in the entry's weight from now on.
                        cache.reweigh(&key, viewer, &answer);
                        compressed::sent(sent(body, answer.tag, media), encoding)
                    }
                    None => sent(answer.body.clone(), answer.tag, media),
                },
            };
            Before::Hit(response)
        }
        Lookup::Miss(flight) => Before::Execute(Some(Keeping {
            request: key,
            viewer: *viewer,
            began: cache.begin(),
            reads: Arc::new(ReadSet::default()),
            _flight: flight,
        })),
    }
}

/// `execution`, noting its reads when its answer may be kept.
pub(super) async fn reading<F: std::future::Future>(
    keeping: Option<&Keeping>,
    execution: F,
) -> F::Output {
    match keeping {
        Some(keeping) => read_set::scope(Arc::clone(&keeping.reads), execution).await,
        None => execution.await,
    }
}

/// Offers `body`, the encoded `response`, to the cache; the tag of the
/// kept answer when it was kept. Only a query's whole answer (no error, no
/// extension, no header of its own) is.
pub(super) fn after(
    state: &AppState,
    keeping: Keeping,
    operation: Option<String>,
    response: &GqlResponse,
    body: &Bytes,
) -> Option<u64> {
    if !response.errors.is_empty()
        || !response.extensions.is_empty()
        || !response.http_headers.is_empty()
        || response.data == async_graphql::Value::Null
    {
        return None;
    }
    let reads = keeping.reads.finish();
    if let Some(reason) = reads.unkeyed {
        tracing::debug!(reason, "answer not kept");
    }
    let kept = state.services().caches.responses.store(
        &keeping.request,
        &keeping.viewer,
        operation,
        keeping.began,
        &reads,
        body.clone(),
    )?;
    Some(kept.tag)
}

/// A kept answer as sent.
pub(super) fn sent(body: Bytes, tag: u64, media: Media) -> Response {
    let mut response = with_media(Response::new(Body::from(body)), StatusCode::OK, media);
    response.extensions_mut().insert(KeptTag(tag));
    response
}

/// `body` (`{"data":...}`, no extensions) with `extensions.cost` added.
fn with_extension(body: &[u8], cost: &async_graphql::Value) -> Bytes {
    let Some(open) = body.strip_suffix(b"}") else {
        return Bytes::copy_from_slice(body);
    };
    let mut with = Vec::with_capacity(body.len() + 256);
    with.extend_from_slice(open);
    with.extend_from_slice(b",\"extensions\":{\"cost\":");
    if serde_json::to_writer(&mut with, cost).is_err() {
        return Bytes::copy_from_slice(body);
    }
    with.extend_from_slice(b"}}");
    Bytes::from(with)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cost_extension_is_added_to_a_kept_body() {
        let cost = async_graphql::Value::from_json(serde_json::json!({ "sqlStatements": 0 }))
            .unwrap_or_default();
        let body = with_extension(br#"{"data":{"a":1}}"#, &cost);
        let read: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        assert_eq!(
            read,
            serde_json::json!({ "data": { "a": 1 }, "extensions": { "cost": { "sqlStatements": 0 } } })
        );
    }
}
