//! The GraphiQL page (SPEC 2): served by the binary with every asset, from
//! its own origin only; in dev mode prefilled with the demo token and
//! example operations that run; in production prefilled with nothing.

use serde_json::{json, Value};

use crate::{
    helpers::{Gql, TestApp},
    test_both,
};

async fn page(app: &TestApp, path: &str) -> Gql {
    app.send(app.client.get(app.url(path)).header("accept", "text/html"))
        .await
}

/// The values of every `src="…"` and `href="…"` in `html`.
fn references(html: &str) -> Vec<String> {
    let mut found = Vec::new();
    for attribute in ["src=\"", "href=\""] {
        for piece in html.split(attribute).skip(1) {
            found.push(piece.split('"').next().unwrap_or_default().to_owned());
        }
    }
    found
}

/// The settings the server wrote into the page for GraphiQL.
fn settings(html: &str) -> Value {
    let start = html
        .find("<script id=\"agentgraph-settings\" type=\"application/json\">")
        .expect("settings element");
    let json = &html[start..];
    let json = &json[json.find('>').expect("tag end") + 1..json.find("</script>").expect("end")];
    serde_json::from_str(json).expect("settings are JSON")
}

test_both! {
    async fn graphiql_loads_every_asset_from_its_own_origin(app: TestApp) {
        let root = page(&app, "/").await;
        let html = root.body.as_str().expect("HTML").to_owned();
        assert_eq!(page(&app, "/graphql").await.body, root.body, "the same page at / and /graphql");
        assert!(!html.contains("http://") && !html.contains("https://"), "an absolute URL: {html}");
        let csp = root.header("content-security-policy").expect("a CSP");
        assert!(csp.contains("default-src 'self'") && csp.contains("connect-src 'self'"), "{csp}");

        let assets = references(&html);
        assert_eq!(assets.len(), 5, "{assets:?}");
        for path in &assets {
            assert!(path.starts_with("/graphiql/"), "{path} is not one of ours");
            let response = app.client.get(app.url(path)).send().await.expect("sent");
            assert_eq!(response.status(), 200, "{path}");
            let header = |name: &str| {
                response.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
            };
            let content_type = header("content-type");
            let expected = if path.ends_with(".css") { "text/css" } else { "text/javascript" };
            assert!(content_type.starts_with(expected), "{path}: {content_type}");
            assert!(header("cache-control").contains("immutable"), "{path}");
            assert!(!response.bytes().await.expect("body").is_empty(), "{path}");
        }
        let stale = app.client.get(app.url("/graphiql/0000000000000000/graphiql.min.js")).send().await.expect("sent");
        assert_eq!(stale.status(), 404);
        let prefix = assets[0].rsplit_once('/').expect("a path").0;
        let unknown = app.client.get(app.url(&format!("{prefix}/SHA256SUMS"))).send().await.expect("sent");
        assert_eq!(unknown.status(), 404);
    }
}

test_both! {
    async fn in_production_graphiql_is_prefilled_with_nothing(app: TestApp) {
        let html = page(&app, "/").await.body.as_str().expect("HTML").to_owned();
        let settings = settings(&html);
        assert_eq!(settings, json!({ "endpoint": "/graphql" }));
        assert!(!html.contains("Bearer"));
    }
}

test_both! {
    async fn in_dev_mode_graphiql_opens_with_the_demo_token_and_examples_that_run(app: TestApp) {
        let app = TestApp::spawn_dev(app.backend).await;
        let token = app.dev_token.clone().expect("a dev token");
        let html = page(&app, "/").await.body.as_str().expect("HTML").to_owned();
        let settings = settings(&html);
        let headers: Value = serde_json::from_str(settings["headers"].as_str().expect("headers"))
            .expect("headers are JSON");
        assert_eq!(headers, json!({ "Authorization": format!("Bearer {token}") }));

        let tabs = settings["tabs"].as_array().expect("tabs");
        let queries: Vec<&str> = tabs.iter().map(|t| t["query"].as_str().expect("query")).collect();
        for expected in ["circles(", "agentRuntime(", "readiness", "diContext", "mutation"] {
            assert!(queries.iter().any(|q| q.contains(expected)), "no example with {expected}");
        }
        for tab in tabs {
            let query = tab["query"].as_str().expect("query");
            let variables: Value = tab["variables"]
                .as_str()
                .map_or(json!({}), |v| serde_json::from_str(v).expect("variables are JSON"));
            let headers: Value = serde_json::from_str(tab["headers"].as_str().expect("tab headers"))
                .expect("tab headers are JSON");
            let bearer = headers["Authorization"].as_str().expect("Authorization");
            let data = app.post(Some(bearer), query, variables).await.data_ok();
            let first = data.as_object().and_then(|o| o.values().next()).expect("a root field");
            assert!(!first.is_null(), "{query} found nothing: {data}");
            if query.contains("circles(") {
                assert!(!first["nodes"].as_array().expect("nodes").is_empty(), "{data}");
            }
        }
    }
}
