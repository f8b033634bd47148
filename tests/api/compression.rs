//! Response compression (SPEC 2): above about 1 KB, gzip or brotli when the
//! client accepts it, with `Vary: Accept-Encoding`; small answers as they
//! are. Measured on the nested circles answer.

use std::io::Read;

use serde_json::{json, Value};

use crate::{helpers::TestApp, test_both};

/// The nested circles query GraphiQL opens with in dev mode.
const NESTED_CIRCLES: &str = "{ circles(first: 20) { nodes { name members { role agent { name \
     model { modelName provider { name } } } } } } }";

/// 20 circles with every demo agent in each, made through the API.
async fn fill_circles(app: &TestApp, bearer: &str) {
    let post = |query: String| async move {
        let response = app.post(Some(bearer), &query, json!({})).await;
        assert_eq!(response.body["errors"], Value::Null, "{}", response.body);
        response.body["data"].clone()
    };
    let agents = post("{ agents(first: 100) { nodes { name } } }".into()).await;
    let names: Vec<String> = agents["agents"]["nodes"]
        .as_array()
        .expect("agents")
        .iter()
        .filter_map(|a| a["name"].as_str().map(str::to_owned))
        .collect();
    let creates: Vec<String> = (0..20)
        .map(|i| format!("c{i}: createCircle(input: {{ name: \"Load circle {i:02}\" }}) {{ id }}"))
        .collect();
    let created = post(format!("mutation {{ {} }}", creates.join(" "))).await;
    let adds: Vec<String> = (0..20)
        .flat_map(|i| {
            let id = created[format!("c{i}")]["id"]
                .as_str()
                .expect("id")
                .to_owned();
            names.iter().enumerate().map(move |(j, name)| {
                format!(
                    "a{i}_{j}: addCircleMember(circleId: \"{id}\", agentName: \"{name}\") {{ id }}"
                )
            })
        })
        .collect();
    for chunk in adds.chunks(30) {
        post(format!("mutation {{ {} }}", chunk.join(" "))).await;
    }
}

/// GETs the nested circles answer with `accept-encoding`, returning the
/// encoding, `Vary` and the body as sent.
async fn fetch(
    app: &TestApp,
    bearer: &str,
    encoding: &str,
) -> (Option<String>, Option<String>, Vec<u8>) {
    let response = app
        .client
        .get(app.url("/graphql"))
        .query(&[("query", NESTED_CIRCLES)])
        .header("authorization", bearer)
        .header("accept-encoding", encoding)
        .send()
        .await
        .expect("sent");
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let (content_encoding, vary) = (header("content-encoding"), header("vary"));
    let body = response.bytes().await.expect("body").to_vec();
    (content_encoding, vary, body)
}

test_both! {
    async fn large_answers_are_compressed_with_gzip_or_brotli(app: TestApp) {
        let app = TestApp::spawn_dev(app.backend).await;
        let bearer = format!("Bearer {}", app.dev_token.as_deref().expect("dev token"));
        fill_circles(&app, &bearer).await;

        let (encoding, vary, raw) = fetch(&app, &bearer, "identity").await;
        assert_eq!(encoding, None);
        assert!(vary.is_some_and(|v| v.to_ascii_lowercase().contains("accept-encoding")));
        let answer: Value = serde_json::from_slice(&raw).expect("JSON");
        assert_eq!(answer["data"]["circles"]["nodes"].as_array().map(Vec::len), Some(20));

        let (encoding, vary, gzip) = fetch(&app, &bearer, "gzip").await;
        assert_eq!(encoding.as_deref(), Some("gzip"));
        assert!(vary.is_some_and(|v| v.to_ascii_lowercase().contains("accept-encoding")));
        let mut unzipped = Vec::new();
        flate2::read::GzDecoder::new(gzip.as_slice())
            .read_to_end(&mut unzipped)
            .expect("valid gzip");
        assert_eq!(unzipped, raw);

        let (encoding, _, br) = fetch(&app, &bearer, "br;q=1.0, gzip;q=0.5").await;
        assert_eq!(encoding.as_deref(), Some("br"));
        let mut unbrotlied = Vec::new();
        brotli::Decompressor::new(br.as_slice(), 4096)
            .read_to_end(&mut unbrotlied)
            .expect("valid brotli");
        assert_eq!(unbrotlied, raw);

        eprintln!(
            "nested circles answer: {} bytes raw, {} gzip, {} br",
            raw.len(),
            gzip.len(),
            br.len()
        );
        assert!(gzip.len() * 5 < raw.len(), "gzip {} of {}", gzip.len(), raw.len());
        assert!(br.len() < gzip.len(), "br {} vs gzip {}", br.len(), gzip.len());
    }
}

test_both! {
    async fn small_answers_are_sent_as_they_are(app: TestApp) {
        let response = app
            .client
            .post(app.url("/graphql"))
            .header("authorization", &app.admin)
            .header("accept-encoding", "gzip, br")
            .json(&json!({ "query": "{ viewer { id } }" }))
            .send()
            .await
            .expect("sent");
        assert_eq!(response.headers().get("content-encoding"), None);
        let body: Value = response.json().await.expect("JSON");
        assert_eq!(body["errors"], Value::Null);
    }
}
