//! Faults that stay local (SPEC 10): a load that panics or a key that makes
//! a statement fail harms only the request and the key it belongs to.

use std::{sync::Arc, time::Duration};

use serde_json::json;

use crate::{
    agents::create_agent,
    helpers::{Gql, TestApp},
    runtime::{stats, LoadGate},
    test_both,
};

const AGENT: &str = "query($name: String!) { agent(name: $name) { name } }";

async fn agent(app: &TestApp, name: &str) -> Gql {
    app.post(Some(&app.user), AGENT, json!({ "name": name }))
        .await
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

        let misses_before = stats(&app, "agent_config").misses;
        let joined = tokio::spawn({
            let app = Arc::clone(&app);
            async move { agent(&app, "fragile").await }
        });
        // The miss and the join happen in one step, with no await between.
        tokio::time::timeout(Duration::from_secs(10), async {
            while stats(&app, "agent_config").misses == misses_before {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await
        .expect("the second request missed and joined the held load");
        tokio::time::sleep(Duration::from_millis(50)).await;
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
