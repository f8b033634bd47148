//! Faults that stay local (SPEC 10): a load that panics or a key that makes
//! a statement fail harms only the request and the key it belongs to.

use std::{sync::Arc, time::Duration};

use serde_json::{json, Value};
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::{
    agents::create_agent,
    helpers::{Backend, Gql, TestApp},
    projects::create_project,
    runtime::{stats, LoadGate},
    test_both,
};

const AGENT: &str = "query($name: String!) { agent(name: $name) { name } }";

async fn agent(app: &TestApp, name: &str) -> Gql {
    app.post(Some(&app.user), AGENT, json!({ "name": name }))
        .await
}

/// Sends a request for agent `name` and returns once it has joined the
/// agent config load held at the gate.
async fn join_held_agent_load(app: &Arc<TestApp>, name: &str) -> JoinHandle<Gql> {
    let misses_before = stats(app, "agent_config").misses;
    let joined = tokio::spawn({
        let (app, name) = (Arc::clone(app), name.to_owned());
        async move { agent(&app, &name).await }
    });
    // The miss and the join happen in one step, with no await between.
    tokio::time::timeout(Duration::from_secs(10), async {
        while stats(app, "agent_config").misses == misses_before {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the request missed and joined the held load");
    tokio::time::sleep(Duration::from_millis(50)).await;
    joined
}

fn assert_internal_with_request_id(response: &Gql) {
    assert_eq!(response.status, 200, "{}", response.body);
    assert_eq!(
        response.body["data"]["agent"],
        json!(null),
        "{}",
        response.body
    );
    assert_eq!(
        response.error_code(),
        "INTERNAL_SERVER_ERROR",
        "{}",
        response.body
    );
    let request_id = response.body["errors"][0]["extensions"]["requestId"]
        .as_str()
        .unwrap_or_else(|| panic!("no requestId in {}", response.body));
    assert!(
        response.error_message().contains(request_id),
        "{}",
        response.body
    );
}

test_both! {
    /// The request whose load panicked and the request that joined that
    /// load both get an internal error; the next request loads afresh
    /// instead of joining the dead load.
    async fn a_cache_load_that_panics_fails_its_waiters_and_releases_its_key(app: TestApp, gate: LoadGate) {
        let app = Arc::new(app);
        create_agent(&app, json!({ "name": "fragile" })).await;
        let (reached, release) = gate.arm_to_panic("agent_config");
        let first = tokio::spawn({
            let app = Arc::clone(&app);
            async move { agent(&app, "fragile").await }
        });
        tokio::time::timeout(Duration::from_secs(10), reached)
            .await
            .expect("the load reached the gate in time")
            .expect("the load read the database and is held");

        let joined = join_held_agent_load(&app, "fragile").await;
        release.send(()).expect("release the held load");

        for waiter in [first, joined] {
            let response = tokio::time::timeout(Duration::from_secs(10), waiter)
                .await
                .expect("a waiter of a panicked load is answered, not left hanging")
                .expect("request task");
            assert_internal_with_request_id(&response);
        }
        let later = agent(&app, "fragile").await;
        assert_eq!(later.data_ok()["agent"]["name"], "fragile", "a later request loads afresh");
        assert_eq!(agent(&app, "fragile").await.statements(), 0, "and what it loaded is cached");
    }
}

test_both! {
    /// A name the database refuses (on PostgreSQL, one holding a NUL byte)
    /// fails only its own key: the agents looked up in the same batch, and
    /// a request that joined that batch's load, get their data. The API
    /// refuses such a name before any load (control characters are refused
    /// in every argument), so the batch is driven through the shared cache
    /// itself, against the real database, as any future key source would.
    async fn a_key_the_database_refuses_fails_only_itself(app: TestApp, gate: LoadGate) {
        let app = Arc::new(app);
        for name in ["alpha", "omega"] {
            create_agent(&app, json!({ "name": name })).await;
        }
        let refused_up_front = app
            .post(Some(&app.user), "query($n: String!) { agent(name: $n) { name } }", json!({ "n": "al\u{0}pha" }))
            .await;
        assert_eq!(refused_up_front.error_code(), "BAD_USER_INPUT", "{}", refused_up_front.body);

        let (reached, release) = gate.arm("agent_config");
        let names: Vec<String> = ["alpha", "al\u{0}pha", "omega"].map(str::to_owned).into();
        let batch = tokio::spawn({
            let app = Arc::clone(&app);
            let names = names.clone();
            async move { app.state.services().caches.agent_configs.get_many(&names).await }
        });
        tokio::time::timeout(Duration::from_secs(10), reached)
            .await
            .expect("the load reached the gate in time")
            .expect("the load read the database and is held");
        let joined = join_held_agent_load(&app, "omega").await;
        release.send(()).expect("release the held load");

        let batch = batch.await.expect("load task").expect("the batch as a whole succeeds");
        let name_of = |key: &String| batch.get(key).map(|found| found.map(|config| config.agent.agent.name.clone()));
        assert_eq!(name_of(&names[0]).expect("alpha loads").as_deref(), Some("alpha"));
        assert_eq!(name_of(&names[2]).expect("omega loads").as_deref(), Some("omega"));
        match app.backend {
            Backend::Postgres => assert!(
                matches!(name_of(&names[1]), Err(agentgraph::error::AppError::BadUserInput { .. })),
                "the refused key fails alone, as the client's input"
            ),
            // SQLite compares a text holding NUL like any other: no such agent.
            Backend::Sqlite => assert_eq!(name_of(&names[1]).expect("no error"), None),
        }
        let joined = joined.await.expect("request task");
        assert_eq!(joined.data_ok()["agent"]["name"], "omega");
        let warm = agent(&app, "alpha").await;
        assert_eq!(warm.statements(), 0, "the good keys were stored: {}", warm.body);
    }
}

/// A response as another user may compare it: status, data, errors and the
/// cost extension without its timings (wall-clock noise, not a signal).
fn observable(response: &Gql) -> Value {
    let mut cost = response.body["extensions"]["cost"].clone();
    if let Some(cost) = cost.as_object_mut() {
        cost.remove("sqlMillis");
        cost.remove("durationMillis");
    }
    json!({
        "status": response.status,
        "data": response.body["data"],
        "errors": response.body["errors"],
        "cost": cost,
    })
}

const PROJECT_READINESS: &str =
    "query($id: UUID!) { project(id: $id) { name readiness { score } } }";

test_both! {
    /// Another user's project id and an id nobody uses answer the same, in
    /// data, errors, status and the cost extension, on the first read and
    /// on later ones; even after the owner's reads warmed every cache.
    async fn another_users_project_and_a_missing_one_look_the_same(app: TestApp) {
        let (_, owner) = app.new_user(false);
        let (_, stranger) = app.new_user(false);
        let theirs = create_project(&app, &owner, "private").await;
        for _ in 0..2 {
            app.post(Some(&owner), PROJECT_READINESS, json!({ "id": theirs })).await.data_ok();
        }
        let missing = Uuid::now_v7().to_string();
        for round in ["cold", "warm", "warm again"] {
            let foreign = app.post(Some(&stranger), PROJECT_READINESS, json!({ "id": theirs })).await;
            let unknown = app.post(Some(&stranger), PROJECT_READINESS, json!({ "id": missing })).await;
            assert_eq!(foreign.body["data"]["project"], Value::Null, "{round}: {}", foreign.body);
            assert_eq!(observable(&foreign), observable(&unknown), "{round}");
        }
    }
}
