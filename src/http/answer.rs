//! Writing an executed answer: into a buffer that refuses to grow past
//! `--max-response-bytes`, so the limit holds for the bytes sent even where
//! the meter that stops execution (`graphql::answer_size`) counts short.

use std::io::{self, Write};

use async_graphql::Response as GqlResponse;
use axum::{
    body::{Body, Bytes},
    response::Response,
};

use crate::graphql::answer_size;

/// The answer as a JSON body, or, when it would be larger than
/// `max_bytes`, the refusal of it (`data: null` and one error).
pub(super) fn json_bytes(response: &GqlResponse, max_bytes: usize) -> Bytes {
    Bytes::from(bounded_json(response, max_bytes))
}

/// `body`, the bytes of `response`, as a response.
pub(super) fn with_body(response: &GqlResponse, body: Bytes) -> Response {
    // async-graphql's own `Cache-Control` (from `cache_control` on types,
    // which none declares) is not sent: `caching` decides it, by who asked.
    let mut http = Response::new(Body::from(body));
    http.headers_mut().extend(response.http_headers.clone());
    http
}

fn bounded_json(response: &GqlResponse, max_bytes: usize) -> Vec<u8> {
    let mut writer = Bounded {
        written: Vec::new(),
        limit: max_bytes,
    };
    match serde_json::to_writer(&mut writer, response) {
        Ok(()) => writer.written,
        Err(_) => {
            let mut refused = GqlResponse::from_errors(vec![answer_size::too_large(max_bytes)]);
            // The refusal is a field error of the answer: `data` is null.
            refused.data = async_graphql::Value::Null;
            serde_json::to_vec(&refused).unwrap_or_default()
        }
    }
}

/// A buffer that fails a write that would take it past `limit` bytes.
struct Bounded {
    written: Vec<u8>,
    limit: usize,
}

impl Write for Bounded {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        if self.written.len().saturating_add(bytes.len()) > self.limit {
            return Err(io::Error::other("the answer is over the limit"));
        }
        self.written.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_over_the_limit_is_replaced_by_its_refusal() {
        let answer = GqlResponse::new(async_graphql::Value::String("x".repeat(100)));
        let fits = bounded_json(&answer, 1000);
        assert_eq!(fits, serde_json::to_vec(&answer).unwrap_or_default());
        let refused: serde_json::Value =
            serde_json::from_slice(&bounded_json(&answer, 50)).unwrap_or_default();
        assert_eq!(refused["data"], serde_json::Value::Null);
        let message = refused["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains("larger than the limit of 50 bytes"),
            "{refused}"
        );
    }
}
