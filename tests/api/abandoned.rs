//! Abandoned work (SPEC 10): a request dropped mid-way (client gone,
//! deadline passed) never keeps a pool connection, never separates a commit
//! from its invalidation, and never keeps the server from shutting down.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use agentgraph::{app::Hooks, db::AfterCommitHook};
use futures::FutureExt;
use sea_orm::{ConnectionTrait, TransactionTrait};
use serde_json::json;
use tokio::sync::oneshot;

use crate::{
    agents::create_agent,
    helpers::{Backend, Gql, TestApp},
    runtime::LoadGate,
    test_both,
};

const RUNTIME: &str =
    "query($name: String!) { agentRuntime(agentName: $name) { effectiveSystemPrompt } }";

async fn runtime(app: &TestApp, name: &str) -> Gql {
    app.post(Some(&app.user), RUNTIME, json!({ "name": name }))
        .await
}

/// Where to report arrival, and what releases the held commit.
type ArmedCommit = (oneshot::Sender<()>, oneshot::Receiver<()>);

/// Holds the next commit after `COMMIT` and before its invalidations are
/// delivered, until released.
#[derive(Clone, Default)]
struct CommitGate {
    armed: Arc<Mutex<Option<ArmedCommit>>>,
}

impl CommitGate {
    fn hooks(&self) -> Hooks {
        let armed = Arc::clone(&self.armed);
        let hook: AfterCommitHook = Arc::new(move || {
            let taken = armed.lock().expect("gate lock").take();
            async move {
                if let Some((reached, release)) = taken {
                    let _ = reached.send(());
                    let _ = release.await;
                }
            }
            .boxed()
        });
        Hooks {
            after_commit: Some(hook),
            ..Hooks::default()
        }
    }

    /// Returns (reached, release).
    fn arm(&self) -> (oneshot::Receiver<()>, oneshot::Sender<()>) {
        let (reached_tx, reached_rx) = oneshot::channel();
        let (release_tx, release_rx) = oneshot::channel();
        *self.armed.lock().expect("gate lock") = Some((reached_tx, release_rx));
        (reached_rx, release_tx)
    }
}

async fn reached(gate: oneshot::Receiver<()>) {
    tokio::time::timeout(Duration::from_secs(10), gate)
        .await
        .expect("the gate was reached in time")
        .expect("the gate was reached");
}

test_both! {
    /// A shared cache load whose only waiter is dropped (here by the request
    /// deadline) still finishes and stores what it read.
    #[flags("--request-timeout", "500ms")]
    async fn an_abandoned_cache_load_finishes_on_its_own(app: TestApp, gate: LoadGate) {
        let app = Arc::new(app);
        create_agent(&app, json!({ "name": "left", "systemPrompt": "Stay." })).await;
        let (arrived, release) = gate.arm("agent_config");
        let abandoned = {
            let app = Arc::clone(&app);
            tokio::spawn(async move { runtime(&app, "left").await })
        };
        reached(arrived).await;
        let abandoned = abandoned.await.expect("request task");
        assert_eq!(
            abandoned.status, 504,
            "the deadline dropped the request: {}",
            abandoned.body
        );

        release.send(()).expect("release the held load");
        tokio::time::sleep(Duration::from_millis(800)).await;
        let next = runtime(&app, "left").await;
        assert_eq!(
            next.body["data"]["agentRuntime"]["effectiveSystemPrompt"],
            "Stay."
        );
        assert_eq!(
            next.body["extensions"]["cost"]["caches"]["agent_config"],
            json!({ "hits": 1, "misses": 0 }),
            "the abandoned load stored its value with no request driving it: {}",
            next.body
        );
        assert_eq!(next.statements(), 0, "{}", next.body);
    }
}

/// Six requests for unknown agents, abandoned while their loads wait on a
/// locked table, must not keep a pool of four: once the lock goes, every
/// connection comes back and later requests are served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(agentgraph_postgres_tests),
    ignore = "PostgreSQL not configured: set AGENTGRAPH_TEST_POSTGRES_URL"
)]
async fn loads_abandoned_behind_a_table_lock_give_their_connections_back_postgres() {
    let flags = [
        "--db-max-connections",
        "4",
        "--db-acquire-timeout",
        "1s",
        "--request-timeout",
        "500ms",
    ];
    let app = TestApp::spawn_with(Backend::Postgres, &flags).await;
    let locker = app.db.conn().begin().await.expect("begin");
    locker
        .execute_unprepared("LOCK TABLE agents IN ACCESS EXCLUSIVE MODE")
        .await
        .expect("lock");
    let locked_at = Instant::now();
    let names: Vec<String> = (0..6).map(|i| format!("ghost-{i}")).collect();
    let abandoned = futures::future::join_all(names.iter().map(|name| runtime(&app, name))).await;
    for response in &abandoned {
        assert_eq!(response.status, 504, "{}", response.body);
    }
    tokio::time::sleep(Duration::from_secs(3).saturating_sub(locked_at.elapsed())).await;
    locker.commit().await.expect("unlock");

    let deadline = Instant::now() + Duration::from_secs(5);
    while app.state.services().db.pool_connections().0 > 0 {
        assert!(
            Instant::now() < deadline,
            "connections still held 5 s after the lock went: {:?}",
            app.state.services().db.pool_connections()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for name in &names {
        let later = runtime(&app, name).await;
        assert_eq!(later.status, 200, "{}", later.body);
        assert_eq!(
            later.body["errors"],
            serde_json::Value::Null,
            "{}",
            later.body
        );
        assert_eq!(later.body["data"]["agentRuntime"], serde_json::Value::Null);
    }
}

test_both! {
    /// A mutation whose request is dropped after `COMMIT` still invalidates
    /// what it changed: commit and invalidation are one unit.
    #[flags("--request-timeout", "500ms")]
    async fn a_mutation_abandoned_after_commit_still_invalidates(app: TestApp, gate: CommitGate) {
        let app = Arc::new(app);
        create_agent(&app, json!({ "name": "edited", "systemPrompt": "old" })).await;
        runtime(&app, "edited").await;
        let cached = runtime(&app, "edited").await;
        assert_eq!(
            cached.statements(),
            0,
            "the runtime is cached: {}",
            cached.body
        );

        let (arrived, release) = gate.arm();
        let update = {
            let app = Arc::clone(&app);
            tokio::spawn(async move {
                let change = "mutation { updateAgent(name: \"edited\", input: { systemPrompt: \"new\" }) { systemPrompt } }";
                app.post(Some(&app.admin), change, json!({})).await
            })
        };
        reached(arrived).await;
        let update = update.await.expect("mutation task");
        assert_eq!(
            update.status, 504,
            "the deadline dropped the request: {}",
            update.body
        );
        release.send(()).expect("release the commit");

        let deadline = Instant::now() + Duration::from_secs(2);
        loop {
            let read = runtime(&app, "edited").await;
            let prompt = read.body["data"]["agentRuntime"]["effectiveSystemPrompt"].clone();
            if prompt == "new" {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the committed change was never invalidated: still {prompt}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

test_both! {
    #[flags("--shutdown-grace", "1s")]
    async fn shutdown_ends_within_the_grace_period_while_a_connection_is_stuck(app: TestApp) {
        let mut app = app;
        // A connection that never comes back: closing the pool waits for it.
        let stuck = app.state.services().db.conn().begin().await.expect("begin");
        let started = Instant::now();
        app.shut_down();
        let served = tokio::time::timeout(Duration::from_secs(10), &mut app.served).await;
        assert!(served.is_ok(), "serve had not returned 10 s after shutdown");
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "took {:?} with a 1 s grace period",
            started.elapsed()
        );
        drop(stuck);
    }
}
