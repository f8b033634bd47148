//! HTTP caching says what it means: GraphQL answers vary by
//! `Authorization` and `Accept`; an answer to a request with a token is
//! private (a GET one revalidated by a strong `ETag` over the bytes sent,
//! `If-None-Match` answered `304` without a body; a POST one not stored);
//! an anonymous answer is not stored. And what browsers need from CORS.

use serde_json::json;

use crate::{helpers::TestApp, test_both};

/// The status, the named headers (each joined, lowercase names) and the
/// body as sent.
struct Sent {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Vec<u8>,
}

impl Sent {
    async fn from(response: reqwest::Response) -> Self {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.bytes().await.expect("body").to_vec();
        Self {
            status,
            headers,
            body,
        }
    }

    fn header(&self, name: &str) -> Option<String> {
        let values: Vec<&str> = self
            .headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        (!values.is_empty()).then(|| values.join(", "))
    }

    fn varies_by(&self, name: &str) -> bool {
        self.header("vary")
            .is_some_and(|vary| vary.split(',').any(|n| n.trim().eq_ignore_ascii_case(name)))
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

async fn get(
    app: &TestApp,
    auth: Option<&str>,
    params: &[(&str, &str)],
    extra: &[(&str, &str)],
) -> Sent {
    let mut request = app.client.get(app.url("/graphql")).query(params);
    if let Some(auth) = auth {
        request = request.header("authorization", auth);
    }
    for (name, value) in extra {
        request = request.header(*name, *value);
    }
    Sent::from(request.send().await.expect("sent")).await
}

async fn post(app: &TestApp, auth: Option<&str>, body: serde_json::Value) -> Sent {
    let mut request = app.client.post(app.url("/graphql")).json(&body);
    if let Some(auth) = auth {
        request = request.header("authorization", auth);
    }
    Sent::from(request.send().await.expect("sent")).await
}

test_both! {
    // Over the bytes: for answers the response cache does not keep (a kept
    // answer's tag is its identity, see `responses`).
    #[flags("--response-cache-bytes", "0")]
    async fn an_authenticated_get_answer_is_private_and_revalidates_with_its_etag(app: TestApp) {
        let query = [("query", "{ viewer { id isAdmin } }")];
        let first = get(&app, Some(&app.admin), &query, &[]).await;
        assert_eq!(first.status, 200);
        assert_eq!(first.header("cache-control").as_deref(), Some("private, no-cache"));
        assert!(first.varies_by("authorization") && first.varies_by("accept"), "{:?}", first.header("vary"));
        let etag = first.header("etag").expect("an ETag");
        // Strong, and over the exact bytes sent.
        assert!(!etag.starts_with("W/"), "{etag}");
        assert_eq!(etag, format!("\"{}\"", &sha256_hex(&first.body)[..32]));

        let again = get(&app, Some(&app.admin), &query, &[("if-none-match", &etag)]).await;
        assert_eq!(again.status, 304);
        assert!(again.body.is_empty());
        assert_eq!(again.header("etag"), Some(etag.clone()));
        assert_eq!(again.header("cache-control").as_deref(), Some("private, no-cache"));
        assert!(again.varies_by("authorization"));

        // Another viewer's answer has other bytes, so another tag.
        let other = get(&app, Some(&app.user), &query, &[("if-none-match", &etag)]).await;
        assert_eq!(other.status, 200);
        assert_ne!(other.header("etag"), Some(etag.clone()));
        assert!(!other.body.is_empty());

        let stale = get(&app, Some(&app.admin), &query, &[("if-none-match", "\"0123\"")]).await;
        assert_eq!(stale.status, 200);
        assert_eq!(stale.body, first.body);
    }
}

test_both! {
    async fn a_persisted_get_answer_carries_an_etag_and_a_post_answer_is_not_stored(app: TestApp) {
        let query = "query Me { viewer { id } }";
        let hash = sha256_hex(query.as_bytes());
        let extensions = json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } });
        let posted = post(&app, Some(&app.admin), json!({ "query": query, "extensions": extensions })).await;
        assert_eq!(posted.status, 200);
        assert_eq!(posted.header("cache-control").as_deref(), Some("private, no-store"));
        assert!(posted.varies_by("authorization") && posted.varies_by("accept"));
        assert_eq!(posted.header("etag"), None);

        let extensions = extensions.to_string();
        let params = [("extensions", extensions.as_str())];
        let got = get(&app, Some(&app.admin), &params, &[]).await;
        assert_eq!(got.status, 200, "{}", String::from_utf8_lossy(&got.body));
        let etag = got.header("etag").expect("an ETag");
        let again = get(&app, Some(&app.admin), &params, &[("if-none-match", &etag)]).await;
        assert_eq!(again.status, 304);
        assert!(again.body.is_empty());
    }
}

test_both! {
    async fn anonymous_answers_and_refusals_are_never_stored(app: TestApp) {
        let anonymous = get(&app, None, &[("query", "{ __typename }")], &[]).await;
        assert_eq!(anonymous.status, 200);
        assert_eq!(anonymous.header("cache-control").as_deref(), Some("no-store"));
        assert!(anonymous.varies_by("authorization") && anonymous.varies_by("accept"));

        let posted = post(&app, None, json!({ "query": "{ __typename }" })).await;
        assert_eq!(posted.header("cache-control").as_deref(), Some("no-store"));

        // A refused token: private, and not stored either.
        let refused = get(&app, Some("Bearer nope"), &[("query", "{ __typename }")], &[]).await;
        assert_eq!(refused.status, 401);
        assert_eq!(refused.header("cache-control").as_deref(), Some("private, no-store"));
        assert_eq!(refused.header("etag"), None);

        // Not GraphQL answers: left as they were.
        let health = Sent::from(app.client.get(app.url("/healthz")).send().await.expect("sent")).await;
        assert_eq!(health.status, 200);
        assert_eq!(health.header("etag"), None);
        assert!(!health.varies_by("authorization"));
    }
}

test_both! {
    // Over the bytes: for answers the response cache does not keep (a kept
    // answer's tag is its identity, see `responses`).
    #[flags("--response-cache-bytes", "0")]
    async fn each_encoding_of_an_answer_has_its_own_strong_tag(app: TestApp) {
        // Large enough to be compressed.
        let query = [("query", "{ __schema { types { name description fields { name description } } } }")];
        let auth = Some(app.admin.as_str());
        let plain = get(&app, auth, &query, &[("accept-encoding", "identity")]).await;
        let gzip = get(&app, auth, &query, &[("accept-encoding", "gzip")]).await;
        assert_eq!(plain.header("content-encoding"), None);
        assert_eq!(gzip.header("content-encoding").as_deref(), Some("gzip"));
        assert!(gzip.varies_by("accept-encoding") && gzip.varies_by("authorization"));
        let (plain_tag, gzip_tag) = (plain.header("etag").expect("tag"), gzip.header("etag").expect("tag"));
        assert_ne!(plain_tag, gzip_tag);
        assert_eq!(gzip_tag, format!("\"{}\"", &sha256_hex(&gzip.body)[..32]));

        let again = get(&app, auth, &query, &[("accept-encoding", "gzip"), ("if-none-match", &gzip_tag)]).await;
        assert_eq!(again.status, 304);
        assert!(again.body.is_empty());
        assert_eq!(again.header("content-encoding"), None);
        let other = get(&app, auth, &query, &[("accept-encoding", "identity"), ("if-none-match", &gzip_tag)]).await;
        assert_eq!(other.status, 200);
        assert_eq!(other.body, plain.body);
    }
}

const ORIGIN: &str = "https://app.example";

test_both! {
    #[flags("--cors-origins", "https://app.example", "--cors-allow-headers", "x-trace-id, baggage")]
    async fn cors_lets_real_clients_headers_through_and_exposes_the_request_id(app: TestApp) {
        let preflight = Sent::from(
            app.client
                .request(reqwest::Method::OPTIONS, app.url("/graphql"))
                .header("origin", ORIGIN)
                .header("access-control-request-method", "POST")
                .header(
                    "access-control-request-headers",
                    "authorization, content-type, apollographql-client-name, apollographql-client-version, x-trace-id, baggage",
                )
                .send()
                .await
                .expect("sent"),
        )
        .await;
        assert!(preflight.status < 300, "{}", preflight.status);
        assert_eq!(preflight.header("access-control-allow-origin").as_deref(), Some(ORIGIN));
        assert_eq!(preflight.header("access-control-max-age").as_deref(), Some("600"));
        let allowed = preflight.header("access-control-allow-headers").unwrap_or_default().to_ascii_lowercase();
        for name in ["authorization", "content-type", "apollographql-client-name", "apollographql-client-version", "x-trace-id", "baggage"] {
            assert!(allowed.split(',').any(|n| n.trim() == name), "{name} not in {allowed}");
        }

        let answer = Sent::from(
            app.client
                .post(app.url("/graphql"))
                .header("origin", ORIGIN)
                .header("authorization", &app.user)
                .header("apollographql-client-name", "web")
                .json(&json!({ "query": "{ viewer { id } }" }))
                .send()
                .await
                .expect("sent"),
        )
        .await;
        assert_eq!(answer.status, 200);
        assert_eq!(answer.header("access-control-allow-origin").as_deref(), Some(ORIGIN));
        let exposed = answer.header("access-control-expose-headers").unwrap_or_default().to_ascii_lowercase();
        assert!(exposed.split(',').any(|n| n.trim() == "x-request-id"), "{exposed}");
        assert!(answer.header("x-request-id").is_some());
    }
}
