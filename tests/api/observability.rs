//! The per-request cost extension and `/metrics`.

use serde_json::json;

use crate::{
    agents::{create_agent, insert_model},
    helpers::TestApp,
    test_both,
};

const CIRCLES: &str =
    "{ circles(first: 10) { nodes { members { agent { model { provider { name } } } } } } }";
const RUNTIME: &str = "{ agentRuntime(agentName: \"costly\") { effectiveSystemPrompt } }";

async fn arrange(app: &TestApp) {
    let model_id = insert_model(app, "openai", "gpt").await;
    create_agent(app, json!({ "name": "costly", "modelId": model_id })).await;
    app.admin_ok(
        "mutation { createCircle(input: { name: \"c\" }) { id } }",
        json!({}),
    )
    .await;
}

test_both! {
    async fn the_cost_extension_reports_each_requests_own_statements_and_cache_outcomes(app: TestApp) {
        arrange(&app).await;
        let cold = app.post(Some(&app.user), RUNTIME, json!({})).await;
        let cost = &cold.body["extensions"]["cost"];
        assert_eq!(cost["sqlStatements"], 2, "config and instructions loads: {cost}");
        assert_eq!(cost["caches"]["agent_runtime"], json!({ "hits": 0, "misses": 1 }));
        assert_eq!(cost["caches"]["agent_config"], json!({ "hits": 0, "misses": 1 }));
        assert_eq!(cost["caches"]["user_instructions"], json!({ "hits": 0, "misses": 1 }));
        assert!(cost["durationMillis"].as_f64().is_some_and(|ms| ms > 0.0));

        let warm = app.post(Some(&app.user), RUNTIME, json!({})).await;
        assert_eq!(warm.body["extensions"]["cost"]["sqlStatements"], 0);
        assert_eq!(warm.body["extensions"]["cost"]["caches"], json!({ "agent_runtime": { "hits": 1, "misses": 0 } }));

        // Two different queries at once, many times: each response carries
        // only its own numbers.
        let pairs = futures::future::join_all((0..20).map(|_| async {
            futures::future::join(
                app.post(Some(&app.user), CIRCLES, json!({})),
                app.post(Some(&app.user), RUNTIME, json!({})),
            )
            .await
        }))
        .await;
        let mut circles_statements = 0;
        for (circles, runtime) in pairs {
            // The page, and the members JOIN for the one request whose miss
            // started the load: the others joined it or hit what it stored.
            assert!((1..=2).contains(&circles.statements()), "{}", circles.body);
            circles_statements += circles.statements();
            let members = &circles.body["extensions"]["cost"]["caches"]["circle_members"];
            assert_eq!(members["hits"].as_u64().unwrap_or(0) + members["misses"].as_u64().unwrap_or(0), 1, "{}", circles.body);
            assert_eq!(runtime.statements(), 0);
            assert_eq!(runtime.body["extensions"]["cost"]["caches"]["agent_runtime"]["hits"], 1);
        }
        assert_eq!(circles_statements, 20 + 1, "20 pages and one members load");
    }
}

test_both! {
    async fn without_the_header_there_is_no_cost_extension(app: TestApp) {
        let response = app
            .client
            .post(app.url("/graphql"))
            .header("authorization", &app.user)
            .json(&json!({ "query": "{ viewer { id } }" }))
            .send()
            .await
            .expect("sent");
        let body: serde_json::Value = response.json().await.expect("json");
        assert_eq!(body.get("extensions"), None);
    }
}

fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics
        .lines()
        .find(|line| line.starts_with(series) && line[series.len()..].starts_with(' '))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
}

test_both! {
    async fn metrics_expose_every_family_and_move_with_requests(app: TestApp) {
        arrange(&app).await;
        let scrape = || async {
            let response = app.client.get(app.url("/metrics")).send().await.expect("scrape");
            assert_eq!(response.status(), 200);
            response.text().await.expect("text")
        };
        app.post(Some(&app.user), RUNTIME, json!({})).await;
        let before = scrape().await;
        for family in [
            "agentgraph_request_duration_seconds_bucket",
            "agentgraph_sql_statements_total",
            "agentgraph_sql_statement_duration_seconds_bucket",
            "agentgraph_cache_hits_total",
            "agentgraph_cache_misses_total",
            "agentgraph_cache_entries",
            "agentgraph_cache_evictions_total",
            "agentgraph_db_pool_connections",
        ] {
            assert!(before.contains(family), "{family} missing from /metrics");
        }
        let hits = "agentgraph_cache_hits_total{cache=\"agent_runtime\"}";
        let requests = "agentgraph_request_duration_seconds_count{operation=\"Runtime\"}";
        let hits_before = sample(&before, hits).unwrap_or(0.0);
        let requests_before = sample(&before, requests).unwrap_or(0.0);
        for _ in 0..3 {
            app.post(Some(&app.user), &format!("query Runtime {RUNTIME}"), json!({})).await.data_ok();
        }
        let after = scrape().await;
        assert!(sample(&after, hits).unwrap_or(0.0) >= hits_before + 3.0, "runtime hits moved");
        assert!(sample(&after, requests).unwrap_or(0.0) >= requests_before + 3.0, "request histogram moved");
        for cache in ["agent_config", "user_instructions", "agent_runtime", "readiness", "circle_members", "project_owner"] {
            let entries = format!("agentgraph_cache_entries{{cache=\"{cache}\"}}");
            assert!(sample(&after, &entries).is_some(), "{cache} missing from /metrics");
        }
        // The names come from the cache table: each cache reports under its own.
        let reported: Vec<&str> = app.state.services().caches.stats().iter().map(|(name, _, _)| *name).collect();
        let described: Vec<&str> = agentgraph::cache::TABLE.iter().map(|info| info.name).collect();
        assert_eq!(reported, described);
    }
}

/// The `operation` label values of the request latency histogram.
pub(crate) fn operation_labels(metrics: &str) -> std::collections::BTreeSet<String> {
    let prefix = "agentgraph_request_duration_seconds_count{operation=\"";
    metrics
        .lines()
        .filter_map(|line| line.strip_prefix(prefix))
        .filter_map(|rest| rest.split('"').next())
        .map(str::to_owned)
        .collect()
}

test_both! {
    async fn clients_cannot_grow_the_metrics_with_operation_names(app: TestApp) {
        let scrape = || async {
            app.client.get(app.url("/metrics")).send().await.expect("scrape").text().await.expect("text")
        };
        // Names a client chose, on requests that never ran or carried no token.
        for i in 0..150 {
            app.post(None, &format!("query Stranger{i} {{ __typename }}"), json!({})).await;
            app.post(Some(&app.user), &format!("query Broken{i} {{ noSuchField }}"), json!({})).await;
        }
        let labels = operation_labels(&scrape().await);
        assert!(labels.contains("unauthenticated") && labels.contains("refused"), "{labels:?}");
        assert!(
            !labels.iter().any(|l| l.starts_with("Stranger") || l.starts_with("Broken")),
            "client-chosen names became labels: {labels:?}"
        );

        // Executed, authenticated names: the first 100 get series, the rest share one.
        for i in 0..150 {
            app.post(Some(&app.user), &format!("query Named{i} {{ __typename }}"), json!({})).await.data_ok();
        }
        let labels = operation_labels(&scrape().await);
        let named = labels.iter().filter(|l| l.starts_with("Named")).count();
        assert_eq!(named, agentgraph::observability::metrics::MAX_OPERATION_LABELS, "{labels:?}");
        assert!(labels.contains("other"), "{labels:?}");
        assert!(labels.contains("Named0") && !labels.contains("Named149"), "{labels:?}");
    }
}
