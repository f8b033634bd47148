//! A budget per viewer (issue 21): a viewer over its budget gets 429 with
//! `Retry-After` and `RATE_LIMITED`, nothing runs, other viewers go on;
//! caches make a read cheaper; the budget refills; admins are exempt;
//! subscriptions are charged when they start. And load shedding: with the
//! pool's queue longer than the acquire timeout can serve, new requests
//! get 503 at once and `/readyz` says the pool is saturated, until it
//! drains.

use std::time::{Duration, Instant};

use sea_orm::sqlx;
use serde_json::{json, Value};

use crate::{
    agents::create_agent,
    fixtures::{insert_project, Shape},
    helpers::{Gql, TestApp},
    test_both,
    ws::WsClient,
};

/// Two cost units (1 for the request, 1 per field); costs 1 once run,
/// since nothing in it reaches the database.
const TYPENAME: &str = "{ __typename }";

const RUNTIME: &str =
    "query($name: String!) { agentRuntime(agentName: $name) { effectiveSystemPrompt } }";

/// Sends `TYPENAME` as `auth` until refused; the refusal and how many
/// were answered before it.
async fn until_refused(app: &TestApp, auth: Option<&str>) -> (Gql, usize) {
    for answered in 0..50 {
        let response = app.post(auth, TYPENAME, json!({})).await;
        if response.status != 200 {
            return (response, answered);
        }
        assert_eq!(
            response.body["data"]["__typename"], "Query",
            "{}",
            response.body
        );
    }
    panic!("50 requests and no refusal");
}

fn retry_after(response: &Gql) -> u64 {
    response
        .header("retry-after")
        .and_then(|value| value.parse().ok())
        .unwrap_or_else(|| panic!("a Retry-After in seconds: {:?}", response.headers))
}

fn assert_rate_limited(response: &Gql) {
    assert_eq!(response.status, 429, "{}", response.body);
    assert_eq!(response.error_code(), "RATE_LIMITED", "{}", response.body);
    assert!(
        response.body.get("data").is_none(),
        "nothing ran: {}",
        response.body
    );
    let seconds = retry_after(response);
    assert!(seconds >= 1, "{seconds}");
    assert_eq!(
        response.body["errors"][0]["extensions"]["retryAfterSeconds"], seconds,
        "{}",
        response.body
    );
}

test_both! {
    #[flags("--budget-rate", "1", "--budget-burst", "5")]
    async fn a_viewer_over_its_budget_is_refused_while_another_is_not(app: TestApp) {
        let (_, spender) = app.new_user(false);
        let (refused, answered) = until_refused(&app, Some(&spender)).await;
        assert_rate_limited(&refused);
        // A full bucket of 5, each request 2 up front and 1 kept: four
        // answered at least (the refill adds a little meanwhile).
        assert!((4..10).contains(&answered), "{answered} answered first");

        let (_, other) = app.new_user(false);
        let answer = app.post(Some(&other), TYPENAME, json!({})).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        // Anonymous requests spend the client address's budget, not the
        // spender's.
        let anonymous = app.post(None, TYPENAME, json!({})).await;
        assert_eq!(anonymous.status, 200, "{}", anonymous.body);
        let still = app.post(Some(&spender), TYPENAME, json!({})).await;
        assert_rate_limited(&still);
        let metrics = app.client.get(app.url("/metrics")).send().await.expect("metrics");
        let text = metrics.text().await.expect("text");
        assert!(text.contains("agentgraph_requests_over_budget_total"), "{text}");
    }
}

test_both! {
    #[flags("--budget-rate", "2", "--budget-burst", "4")]
    async fn the_budget_refills_after_the_retry_after(app: TestApp) {
        let (_, viewer) = app.new_user(false);
        let (refused, _) = until_refused(&app, Some(&viewer)).await;
        assert_rate_limited(&refused);
        let wait = retry_after(&refused);
        assert!(wait <= 1, "2 units a second refill the 2 missing within 1 s: {wait}");
        tokio::time::sleep(Duration::from_secs(wait)).await;
        let answer = app.post(Some(&viewer), TYPENAME, json!({})).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        let remaining = answer.body["extensions"]["cost"]["remainingBudget"].as_f64();
        assert!(remaining.is_some(), "{}", answer.body);
    }
}

test_both! {
    #[flags("--budget-rate", "1", "--budget-burst", "1000")]
    async fn a_warm_read_is_charged_less_than_a_cold_one(app: TestApp) {
        create_agent(&app, json!({ "name": "costed", "systemPrompt": "Count." })).await;
        let (_, viewer) = app.new_user(false);
        let cold = app.post(Some(&viewer), RUNTIME, json!({ "name": "costed" })).await;
        let warm = app.post(Some(&viewer), RUNTIME, json!({ "name": "costed" })).await;
        assert!(cold.statements() > 0, "the first read runs SQL: {}", cold.body);
        assert_eq!(warm.statements(), 0, "the second is answered by caches: {}", warm.body);
        let (cold, warm) = (&cold.body["extensions"]["cost"], &warm.body["extensions"]["cost"]);
        // agentRuntime and effectiveSystemPrompt: 2 fields, 1 request.
        assert_eq!(cold["estimatedCost"], 3, "{cold}");
        assert_eq!(warm["estimatedCost"], 3, "{warm}");
        assert_eq!(cold["actualCost"], 3, "nothing answered by caches: {cold}");
        assert_eq!(warm["actualCost"], 1, "all answered by caches: {warm}");
        let (before, after) = (
            cold["remainingBudget"].as_f64().expect("a budget"),
            warm["remainingBudget"].as_f64().expect("a budget"),
        );
        // (1 unit a second: the refill within the test rounds away.)
        assert_eq!(before, 997.0, "the cold read kept 3: {cold}");
        assert_eq!(after, 996.0, "the warm read kept 1: {warm}");
    }
}

test_both! {
    #[flags("--budget-rate", "1", "--budget-burst", "3")]
    async fn admins_are_exempt_from_the_budget(app: TestApp) {
        for _ in 0..10 {
            let answer = app.post(Some(&app.admin), TYPENAME, json!({})).await;
            assert_eq!(answer.status, 200, "{}", answer.body);
            let cost = &answer.body["extensions"]["cost"];
            assert_eq!(cost["remainingBudget"], Value::Null, "nothing charged: {cost}");
            assert_eq!(cost["estimatedCost"], 2, "{cost}");
        }
        let (refused, _) = until_refused(&app, Some(&app.user)).await;
        assert_rate_limited(&refused);
    }
}

test_both! {
    #[flags("--budget-rate", "1", "--budget-burst", "12")]
    async fn a_subscription_is_charged_when_it_starts(app: TestApp) {
        let (owner, viewer) = app.new_user(false);
        let project = insert_project(&app, owner, Shape::EVERY_KIND).await.to_string();
        // 1 + 10 fields: 11 of the 12 units.
        let mut socket = WsClient::open(&app, Some(&viewer)).await;
        socket.subscribe("first", &project).await;
        // It runs: the current readiness comes.
        socket.readiness("first").await;
        // An HTTP request of the same viewer now finds 1 unit (and a
        // little refill), fewer than its 2.
        let refused = app.post(Some(&viewer), TYPENAME, json!({})).await;
        assert_rate_limited(&refused);
        // So does a second subscription: refused before it runs.
        socket.subscribe("second", &project).await;
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let message = socket.message().await;
            if message["id"] == "second" {
                // Refused as every operation is before it runs: one
                // result with the error and no data.
                assert_eq!(message["type"], "next", "{message}");
                assert_eq!(message["payload"]["data"], Value::Null, "{message}");
                let error = &message["payload"]["errors"][0];
                assert_eq!(error["extensions"]["code"], "RATE_LIMITED", "{message}");
                assert!(error["extensions"]["retryAfterSeconds"].as_u64() >= Some(1), "{message}");
                break;
            }
            assert!(Instant::now() < deadline, "no answer to the second subscription");
        }
    }
}

const AGENTS: &str = "{ agents(first: 1) { nodes { name } } }";

/// The application pool's only connection, taken from it directly
/// (held, never read).
#[allow(dead_code)]
enum Held {
    Postgres(sqlx::pool::PoolConnection<sqlx::Postgres>),
    Sqlite(sqlx::pool::PoolConnection<sqlx::Sqlite>),
}

async fn take_the_connection(app: &TestApp) -> Held {
    let conn = app.state.services().db.conn();
    match app.backend {
        crate::helpers::Backend::Postgres => Held::Postgres(
            conn.get_postgres_connection_pool()
                .acquire()
                .await
                .expect("a connection"),
        ),
        crate::helpers::Backend::Sqlite => Held::Sqlite(
            conn.get_sqlite_connection_pool()
                .acquire()
                .await
                .expect("a connection"),
        ),
    }
}

async fn readyz(app: &TestApp) -> (u16, String) {
    let response = app
        .client
        .get(app.url("/readyz"))
        .send()
        .await
        .expect("readyz");
    let status = response.status().as_u16();
    (status, response.text().await.expect("text"))
}

test_both! {
    #[flags("--db-max-connections", "1", "--db-acquire-timeout", "4s")]
    async fn a_queue_the_pool_cannot_serve_in_time_sheds_new_requests_until_it_drains(app: TestApp) {
        let first = app.post(Some(&app.user), AGENTS, json!({})).await;
        assert_eq!(first.status, 200, "{}", first.body);
        let held = take_the_connection(&app).await;
        // Three requests queue for the one connection: three different
        // pages, so that the response cache does not let the later ones
        // wait for the first one's answer instead of the pool.
        let queued: Vec<_> = (1..=3)
            .map(|first| {
                let query = format!("{{ agents(first: {first}) {{ nodes {{ name }} }} }}");
                let request = app
                    .client
                    .post(app.url("/graphql"))
                    .header("authorization", &app.user)
                    .json(&json!({ "query": query }));
                tokio::spawn(async move { request.send().await.expect("sent").status().as_u16() })
            })
            .collect();
        // Two of them wait beyond the one connection; the pool has made no
        // progress for 2.5 s, so they need 5 s: past the 4 s timeout.
        tokio::time::sleep(Duration::from_millis(2500)).await;
        let started = Instant::now();
        let shed = app.post(Some(&app.user), AGENTS, json!({})).await;
        assert!(started.elapsed() < Duration::from_secs(1), "at once: {:?}", started.elapsed());
        assert_eq!(shed.status, 503, "{}", shed.body);
        assert_eq!(shed.error_code(), "OVERLOADED", "{}", shed.body);
        assert!(retry_after(&shed) >= 1);
        let (status, body) = readyz(&app).await;
        assert_eq!(status, 503, "{body}");
        assert!(body.starts_with("saturated"), "{body}");

        drop(held);
        for request in queued {
            assert_eq!(request.await.expect("joined"), 200, "the queued ones are served");
        }
        let served = app.post(Some(&app.user), AGENTS, json!({})).await;
        assert_eq!(served.status, 200, "{}", served.body);
        assert!(served.body["errors"].is_null(), "{}", served.body);
        assert_eq!(readyz(&app).await.0, 200);
        let metrics = app.client.get(app.url("/metrics")).send().await.expect("metrics");
        let text = metrics.text().await.expect("text");
        assert!(text.contains("agentgraph_requests_shed_total"), "{text}");
    }
}

test_both! {
    #[flags("--budget-rate", "1", "--budget-burst", "6")]
    async fn answers_from_the_response_cache_are_charged_one_unit_and_refused_over_budget(app: TestApp) {
        let (_, viewer) = app.new_user(false);
        // Stored by the first request (2 up front, 1 kept), then served
        // from memory at 1 unit each: 6 units answer the first and about
        // five hits (the refill adds a little meanwhile); then a request
        // is refused although nothing would run for it.
        let mut answered = 0;
        let refused = loop {
            let answer = crate::responses::plain(&app, &viewer, TYPENAME, json!({})).await;
            if answer.status != 200 {
                break answer;
            }
            answered += 1;
            assert!(answered < 20, "hits are charged: no refusal after {answered}");
        };
        assert_rate_limited(&refused);
        assert!((6..12).contains(&answered), "{answered} answered first");
        let kept = crate::responses::stats(&app);
        assert!(kept.hits >= 5, "the later requests were hits: {kept:?}");
    }
}
