//! Faults: the database going away and coming back, graceful shutdown.

use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde_json::json;

use crate::{
    helpers::{Backend, TestApp},
    test_both,
};

/// Runs `sql` on the configured maintenance database (not the test's own).
async fn admin_sql(sql: &str) {
    let admin_url = std::env::var("AGENTGRAPH_TEST_POSTGRES_URL").expect("postgres configured");
    let admin = sea_orm::Database::connect(&admin_url)
        .await
        .expect("admin connection");
    admin
        .execute_unprepared(sql)
        .await
        .expect("admin statement");
    let _ = admin.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(agentgraph_postgres_tests),
    ignore = "PostgreSQL not configured: set AGENTGRAPH_TEST_POSTGRES_URL"
)]
async fn with_the_database_gone_requests_fail_fast_and_the_server_recovers_by_itself() {
    let app = TestApp::spawn_with(Backend::Postgres, &["--db-acquire-timeout", "500ms"]).await;
    let name: String = app
        .db
        .conn()
        .query_one(Statement::from_string(
            DbBackend::Postgres,
            "SELECT current_database() AS name",
        ))
        .await
        .expect("query")
        .and_then(|row| row.try_get("", "name").ok())
        .expect("name");
    let query = "{ agents(first: 1) { nodes { name } } }";

    // The database refuses new connections and drops the open ones: as if
    // it went down, for this test's database only.
    admin_sql(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false")).await;
    admin_sql(&format!("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}' AND pid <> pg_backend_pid()")).await;

    let started = Instant::now();
    let down = app.post(Some(&app.user), query, json!({})).await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "failed fast: {:?}",
        started.elapsed()
    );
    assert_eq!(down.status, 200);
    assert_eq!(down.error_code(), "SERVICE_UNAVAILABLE", "{}", down.body);
    let ready = app
        .client
        .get(app.url("/readyz"))
        .send()
        .await
        .expect("readyz");
    assert_eq!(ready.status(), 503);
    let alive = app
        .client
        .get(app.url("/healthz"))
        .send()
        .await
        .expect("healthz");
    assert_eq!(alive.status(), 200, "the process stays up");

    // The database comes back; the server recovers without a restart.
    admin_sql(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true")).await;
    let started = Instant::now();
    loop {
        let response = app.post(Some(&app.user), query, json!({})).await;
        let ready = app
            .client
            .get(app.url("/readyz"))
            .send()
            .await
            .expect("readyz")
            .status();
        if response.body["errors"].is_null() && ready == 200 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "recovered: {}",
            response.body
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

crate::test_both! {
    #[flags("--shutdown-delay", "700ms")]
    async fn on_shutdown_readyz_turns_503_while_requests_are_still_served(app: TestApp) {
        let mut app = app;
        let ready = app.client.get(app.url("/readyz")).send().await.expect("readyz");
        assert_eq!(ready.status(), 200);
        app.shut_down();
        tokio::time::sleep(Duration::from_millis(100)).await;
        let ready = app.client.get(app.url("/readyz")).send().await.expect("readyz");
        assert_eq!(ready.status(), 503, "draining");
        let served = app.post(Some(&app.user), "{ viewer { id } }", json!({})).await;
        assert_eq!(served.status, 200, "still serving while draining");
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let closed = reqwest::Client::new().get(app.url("/healthz")).send().await;
        assert!(closed.is_err(), "the listener is closed after the delay");
    }
}

test_both! {
    async fn a_stopped_application_frees_its_caches(app: TestApp) {
        let caches = std::sync::Arc::downgrade(&app.state.services().caches);
        let mut app = app;
        app.shut_down();
        let _ = (&mut app.served).await;
        drop(app);
        // Background tasks are aborted at shutdown; they let go at their next poll.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while caches.strong_count() > 0 {
            assert!(std::time::Instant::now() < deadline, "the caches outlived their application");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}
