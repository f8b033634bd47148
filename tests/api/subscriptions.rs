//! Readiness pushed live over WebSocket (`graphql-transport-ws`): the
//! current value on subscribe, a new one within a second of a mutation on
//! this replica or another, one computation per change however many
//! subscribe, and the refusals and limits around it.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::{
    helpers::{TestApp, SECRET},
    projects::{create_project, CREATE_PERSONA},
    test_both,
    ws::{Heard, WsClient},
};

/// Every event must arrive within this long of the mutation's response: a
/// bound that says "it arrives", generous enough for a loaded two-core
/// machine. How fast it arrives is measured by the benchmark's fan-out row.
const DEADLINE: Duration = Duration::from_secs(5);

/// Adds a persona (a readiness input) to `project` through HTTP.
async fn add_persona(app: &TestApp, auth: &str, project: &str) {
    let name = format!("persona {}", Uuid::now_v7());
    app.post(
        Some(auth),
        CREATE_PERSONA,
        json!({ "p": project, "name": name }),
    )
    .await
    .data_ok();
}

fn has_blocker(readiness: &Value, blocker: &str) -> bool {
    readiness["blockers"]
        .as_array()
        .is_some_and(|b| b.iter().any(|x| x == blocker))
}

async fn metric(app: &TestApp, name: &str) -> f64 {
    let text = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    text.lines()
        .find_map(|line| line.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{name} in /metrics"))
}

test_both! {
    async fn a_subscriber_gets_the_current_readiness_then_each_change_within_a_second(app: TestApp) {
        let project = create_project(&app, &app.user, "live").await;
        let mut client = WsClient::open(&app, Some(&app.user)).await;
        client.subscribe("1", &project).await;
        let current = client.readiness("1").await;
        assert_eq!(current["score"], 0.0);
        assert!(has_blocker(&current, "No personas"), "{current}");
        assert_eq!(metric(&app, "agentgraph_subscriptions_active").await, 1.0);

        for _ in 0..3 {
            add_persona(&app, &app.user, &project).await;
            let sent = Instant::now();
            let changed = client.readiness("1").await;
            assert!(sent.elapsed() < DEADLINE, "took {:?}", sent.elapsed());
            assert!(!has_blocker(&changed, "No personas"), "{changed}");
            assert_ne!(changed["computedAt"], current["computedAt"]);
        }
        assert!(metric(&app, "agentgraph_subscription_events_total").await >= 4.0);

        client.send(json!({ "id": "1", "type": "complete" })).await;
        let started = Instant::now();
        while metric(&app, "agentgraph_subscriptions_active").await != 0.0 {
            assert!(started.elapsed() < Duration::from_secs(2), "the subscription ended");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

test_both! {
    async fn subscriptions_need_a_valid_token_and_the_viewers_own_project(app: TestApp) {
        let project = create_project(&app, &app.user, "private").await;

        let mut anonymous = WsClient::open(&app, None).await;
        anonymous.subscribe("1", &project).await;
        let refused = anonymous.next("1").await;
        assert_eq!(refused["errors"][0]["extensions"]["code"], "UNAUTHENTICATED", "{refused}");
        assert_eq!(anonymous.message().await["type"], "complete");

        let mut forged = WsClient::connect(&app, json!({ "authorization": "Bearer not.a.jwt" })).await;
        assert_eq!(forged.closed().await.0, 4403);

        let (_, stranger) = app.new_user(false);
        let mut foreign = WsClient::open(&app, Some(&stranger)).await;
        foreign.subscribe("1", &project).await;
        let refused = foreign.next("1").await;
        assert_eq!(refused["errors"][0]["extensions"]["code"], "NOT_FOUND", "{refused}");
        assert_eq!(refused["errors"][0]["message"], "project not found");
        assert_eq!(foreign.message().await["type"], "complete");
        let missing = Uuid::now_v7().to_string();
        foreign.subscribe("2", &missing).await;
        let refused = foreign.next("2").await;
        assert_eq!(refused["errors"][0]["extensions"]["code"], "NOT_FOUND", "{refused}");
    }
}

/// A bearer token for a fresh user that the server accepts for about
/// `seconds` more (its `exp` lies within the tolerated clock skew).
fn token_valid_for(seconds: u64) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    let exp = now + seconds - agentgraph::auth::CLOCK_LEEWAY_SECS;
    let claims = json!({ "sub": Uuid::now_v7().to_string(), "exp": exp });
    let token = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .expect("HS256 signs");
    format!("Bearer {token}")
}

test_both! {
    async fn the_connection_closes_when_its_token_expires(app: TestApp) {
        let auth = token_valid_for(2);
        let mut client = WsClient::open(&app, Some(&auth)).await;
        let started = Instant::now();
        let (code, reason) = client.closed().await;
        assert_eq!(code, 4403, "{reason}");
        assert!(started.elapsed() < Duration::from_secs(4), "{:?}", started.elapsed());
    }
}

test_both! {
    #[flags("--max-subscriptions-per-connection", "2", "--max-depth", "2", "--max-websocket-connections", "1")]
    async fn the_query_subscription_and_connection_limits_hold(app: TestApp) {
        let project = create_project(&app, &app.user, "limits").await;
        let mut client = WsClient::open(&app, Some(&app.user)).await;
        let shallow = "subscription($p: UUID!) { readinessChanged(projectId: $p) { score } }";
        // Too deep for `--max-depth 2`: refused before anything runs.
        client.subscribe("deep", &project).await;
        let refused = client.next("deep").await;
        assert_eq!(refused["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{refused}");
        assert!(refused["errors"][0]["message"].as_str().unwrap_or("").contains("nested too deep"), "{refused}");
        assert_eq!(client.message().await["type"], "complete");

        for id in ["a", "b"] {
            client.subscribe_to(id, shallow, json!({ "p": project })).await;
            assert!(client.next(id).await["data"]["readinessChanged"]["score"].is_number());
        }
        client.subscribe_to("c", shallow, json!({ "p": project })).await;
        let refused = client.next("c").await;
        let message = refused["errors"][0]["message"].as_str().unwrap_or("");
        assert!(message.contains("limit of 2 subscriptions"), "{refused}");

        // The process holds one connection: a second is refused before the
        // upgrade.
        let response = app
            .client
            .get(app.url("/graphql"))
            .header("connection", "upgrade")
            .header("upgrade", "websocket")
            .header("sec-websocket-version", "13")
            .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
            .header("sec-websocket-protocol", "graphql-transport-ws")
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status().as_u16(), 503);
    }
}

test_both! {
    #[flags("--subscription-coalesce", "300ms")]
    async fn a_burst_of_changes_is_one_computation_and_one_event_with_the_latest_value(app: TestApp) {
        let project = create_project(&app, &app.user, "burst").await;
        let mut client = WsClient::open(&app, Some(&app.user)).await;
        client.subscribe("1", &project).await;
        let before = client.readiness("1").await;
        let loads = app.state.services().caches.readiness.stats().loads;
        for _ in 0..5 {
            add_persona(&app, &app.user, &project).await;
        }
        let latest = client.readiness("1").await;
        assert_ne!(latest["computedAt"], before["computedAt"]);
        assert!(client.stays_silent_for(Duration::from_millis(600)).await, "one event for the burst");
        assert_eq!(app.state.services().caches.readiness.stats().loads - loads, 1);
        // The event carries the state after the last change.
        let read = app
            .post(Some(&app.user), "query($id: UUID!) { project(id: $id) { readiness { computedAt } } }", json!({ "id": project }))
            .await
            .data_ok();
        assert_eq!(read["project"]["readiness"]["computedAt"], latest["computedAt"]);
    }
}

test_both! {
    #[flags("--subscription-coalesce", "5ms")]
    async fn a_stalled_subscriber_does_not_delay_the_others(app: TestApp) {
        let project = create_project(&app, &app.user, "stalled").await;
        // Subscribes, then never reads again.
        let mut stalled = WsClient::open(&app, Some(&app.user)).await;
        for id in 0..10 {
            stalled.subscribe(&id.to_string(), &project).await;
        }
        let mut client = WsClient::open(&app, Some(&app.user)).await;
        client.subscribe("1", &project).await;
        client.readiness("1").await;
        for _ in 0..20 {
            add_persona(&app, &app.user, &project).await;
            let sent = Instant::now();
            client.readiness("1").await;
            assert!(sent.elapsed() < DEADLINE, "took {:?}", sent.elapsed());
        }
        drop(stalled);
    }
}

test_both! {
    #[flags("--max-subscriptions-per-connection", "100")]
    async fn a_thousand_subscribers_cost_one_readiness_computation_per_change(app: TestApp) {
        let project = create_project(&app, &app.user, "popular").await;
        let mut clients = Vec::new();
        for _ in 0..10 {
            let mut client = WsClient::open(&app, Some(&app.user)).await;
            for id in 0..100 {
                client.subscribe(&id.to_string(), &project).await;
            }
            clients.push(client);
        }
        for client in &mut clients {
            for _ in 0..100 {
                assert_eq!(client.message().await["type"], "next");
            }
        }
        let caches = &app.state.services().caches;
        for change in 1..=3 {
            let before = caches.readiness.stats().loads;
            add_persona(&app, &app.user, &project).await;
            let sent = Instant::now();
            for client in &mut clients {
                for _ in 0..100 {
                    let payload = client.message().await["payload"].clone();
                    assert!(payload["errors"].is_null(), "{payload}");
                }
            }
            let last = sent.elapsed();
            assert!(last < DEADLINE, "change {change}: the last event after {last:?}");
            let loads = caches.readiness.stats().loads - before;
            assert_eq!(loads, 1, "change {change}: one readiness computation for 1,000 subscribers");
        }
    }
}

test_both! {
    async fn shutdown_closes_every_subscription_with_going_away(app: TestApp) {
        let mut app = app;
        let project = create_project(&app, &app.user, "closing").await;
        let mut client = WsClient::open(&app, Some(&app.user)).await;
        client.subscribe("1", &project).await;
        client.readiness("1").await;
        app.shut_down();
        let (code, _) = client.closed().await;
        assert_eq!(code, 1001);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(agentgraph_postgres_tests),
    ignore = "PostgreSQL not configured: set AGENTGRAPH_TEST_POSTGRES_URL"
)]
async fn a_mutation_on_one_replica_reaches_subscribers_on_another_within_a_second() {
    let (a, b) = TestApp::spawn_two_replicas().await;
    let project = create_project(&a, &a.user, "shared").await;
    let mut client = WsClient::open(&b, Some(&b.user)).await;
    client.subscribe("1", &project).await;
    client.readiness("1").await;
    for _ in 0..5 {
        add_persona(&a, &a.user, &project).await;
        let sent = Instant::now();
        let changed = client.readiness("1").await;
        assert!(sent.elapsed() < DEADLINE, "took {:?}", sent.elapsed());
        assert!(!has_blocker(&changed, "No personas"), "{changed}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(agentgraph_postgres_tests),
    ignore = "PostgreSQL not configured: set AGENTGRAPH_TEST_POSTGRES_URL"
)]
async fn a_replica_whose_listener_reconnects_pushes_a_fresh_value() {
    use agentgraph::changes::postgres::application_name;
    use sea_orm::{ConnectionTrait, Statement};

    let (a, b) = TestApp::spawn_two_replicas().await;
    let project = create_project(&a, &a.user, "shared").await;
    let mut client = WsClient::open(&b, Some(&b.user)).await;
    client.subscribe("1", &project).await;
    let before = client.readiness("1").await;

    let b_listener = application_name(b.state.changes().origin());
    a.db.conn()
        .execute(Statement::from_string(
            sea_orm::DbBackend::Postgres,
            format!("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '{b_listener}'"),
        ))
        .await
        .expect("terminate");
    // Changed while b may not hear it: b must push it once it reconnects.
    add_persona(&a, &a.user, &project).await;
    let after = match client.hear_within(Duration::from_secs(15)).await {
        Heard::Message(message) => message["payload"]["data"]["readinessChanged"].clone(),
        Heard::Closed(code, reason) => panic!("closed: {code} {reason}"),
    };
    assert!(!has_blocker(&after, "No personas"), "{after}");
    assert_ne!(after["computedAt"], before["computedAt"]);
}

/// `claims` signed with HS256 and `secret`, as a bearer header value.
fn signed_with(secret: &str, claims: &Value) -> String {
    let token = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("HS256 signs");
    format!("Bearer {token}")
}

test_both! {
    async fn a_refused_connection_is_told_why(app: TestApp) {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).expect("after 1970").as_secs();
        let fresh = json!({ "sub": Uuid::now_v7().to_string(), "exp": now + 3600 });
        let stale = json!({ "sub": Uuid::now_v7().to_string(), "exp": now - 3600 });
        let cases = [
            (signed_with("another-secret-of-at-least-32-bytes!", &fresh), "signature"),
            (signed_with(SECRET, &stale), "expired"),
            ("Basic dXNlcjpwYXNz".to_owned(), "Bearer <token>"),
        ];
        let mut reasons = Vec::new();
        for (auth, expected) in cases {
            let mut client = WsClient::connect(&app, json!({ "Authorization": auth })).await;
            let (code, reason) = client.closed().await;
            assert_eq!(code, 4403, "{reason}");
            assert!(reason.contains(expected), "{expected}: {reason}");
            reasons.push(reason);
        }
        assert_ne!(reasons[0], reasons[1]);
        let mut client = WsClient::connect(&app, json!({ "Authorization": 5 })).await;
        let (code, reason) = client.closed().await;
        assert_eq!(code, 4403, "{reason}");
        assert!(reason.contains("connection_init"), "{reason}");

        // Anonymous: the token goes in connection_init, not in a header.
        let project = create_project(&app, &app.user, "mine").await;
        let mut anonymous = WsClient::open(&app, None).await;
        anonymous.subscribe("1", &project).await;
        let refused = anonymous.next("1").await;
        assert_eq!(refused["errors"][0]["extensions"]["code"], "UNAUTHENTICATED", "{refused}");
        let message = refused["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(message.contains("connection_init"), "{message}");
        assert!(!message.contains("header"), "{message}");
    }
}
