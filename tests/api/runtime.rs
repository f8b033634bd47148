//! `agentRuntime`, the viewer's instructions, and the caches behind them:
//! content, statement budget, single flight, the stale-set race,
//! read-your-writes and the background refresh.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use agentgraph::{app::Hooks, cache::AfterLoadHook, observability::StatsSnapshot};
use futures::FutureExt;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{json, Value};
use tokio::sync::oneshot;

use crate::{
    agents::{create_agent, insert_model},
    helpers::TestApp,
    test_both,
};

const RUNTIME: &str = "query($name: String!) { agentRuntime(agentName: $name) {
    agent { name status tools { name } } model { modelName } provider { name }
    tools { name } instructions effectiveSystemPrompt } }";

async fn runtime(app: &TestApp, auth: &str, name: &str) -> crate::helpers::Gql {
    app.post(Some(auth), RUNTIME, json!({ "name": name })).await
}

const SET_MINE: &str = "mutation($a: String!, $i: String!) { setMyAgentInstructions(agentName: $a, instructions: $i) { agentName instructions } }";
const CLEAR_MINE: &str =
    "mutation($a: String!) { clearMyAgentInstructions(agentName: $a) { agentName instructions } }";

/// An agent with a model, a base and a system prompt, one active and one
/// inactive tool.
async fn arrange_agent(app: &TestApp, name: &str) {
    let model_id = insert_model(app, &format!("{name}-provider"), "m-1").await;
    create_agent(app, json!({ "name": name, "basePrompt": "Base.", "systemPrompt": "System.", "modelId": model_id })).await;
    let tool = "mutation($a: String!, $t: String!, $on: Boolean!) { setAgentTool(agentName: $a, input: { name: $t, toolType: \"function\", isActive: $on }) { name } }";
    app.admin_ok(tool, json!({ "a": name, "t": "active-tool", "on": true }))
        .await;
    app.admin_ok(tool, json!({ "a": name, "t": "idle-tool", "on": false }))
        .await;
}

pub(crate) fn stats(app: &TestApp, cache: &str) -> StatsSnapshot {
    app.state
        .services()
        .caches
        .stats()
        .into_iter()
        .find(|(name, _, _)| *name == cache)
        .map(|(_, stats, _)| stats)
        .expect("cache exists")
}

test_both! {
    async fn the_runtime_joins_prompts_and_only_the_viewers_instructions(app: TestApp) {
        arrange_agent(&app, "coach").await;
        let (_, alice) = app.new_user(false);
        let (_, bob) = app.new_user(false);

        let plain = runtime(&app, &alice, "coach").await.data_ok()["agentRuntime"].clone();
        assert_eq!(plain["effectiveSystemPrompt"], "Base.\n\nSystem.");
        assert_eq!(plain["instructions"], Value::Null);
        assert_eq!(plain["model"]["modelName"], "m-1");
        assert_eq!(plain["provider"]["name"], "coach-provider");
        assert_eq!(plain["tools"], json!([{ "name": "active-tool" }]), "only active tools");
        assert_eq!(plain["agent"]["tools"].as_array().map(Vec::len), Some(2));

        app.post(Some(&alice), SET_MINE, json!({ "a": "coach", "i": "Be brief." })).await.data_ok();
        let mine = runtime(&app, &alice, "coach").await.data_ok()["agentRuntime"].clone();
        assert_eq!(mine["effectiveSystemPrompt"], "Base.\n\nSystem.\n\nBe brief.");
        assert_eq!(mine["instructions"], "Be brief.");

        let theirs = runtime(&app, &bob, "coach").await.data_ok()["agentRuntime"].clone();
        assert_eq!(theirs["effectiveSystemPrompt"], "Base.\n\nSystem.", "bob never sees alice's instructions");
        let bobs_list = app.post(Some(&bob), "{ viewer { instructions { agentName } } }", json!({})).await.data_ok();
        assert_eq!(bobs_list["viewer"]["instructions"], json!([]));
        let alices_list = app.post(Some(&alice), "{ viewer { instructions { agentName instructions } } }", json!({})).await.data_ok();
        assert_eq!(alices_list["viewer"]["instructions"], json!([{ "agentName": "coach", "instructions": "Be brief." }]));
    }
}

test_both! {
    async fn an_unknown_agent_has_no_runtime_and_no_instructions(app: TestApp) {
        let response = runtime(&app, &app.user, "nobody").await;
        assert_eq!(response.data_ok()["agentRuntime"], Value::Null);
        let set = app.post(Some(&app.user), SET_MINE, json!({ "a": "nobody", "i": "x" })).await;
        assert_eq!(set.error_code(), "NOT_FOUND");
        assert_eq!(app.count("user_agent_instructions").await, 0);
        let long = app.post(Some(&app.user), SET_MINE, json!({ "a": "nobody", "i": "x".repeat(32_001) })).await;
        assert_eq!(long.error_field(), Some("instructions"));
    }
}

test_both! {
    async fn a_warm_runtime_runs_no_statement_and_a_cold_one_at_most_three(app: TestApp) {
        arrange_agent(&app, "budget").await;
        let cold = runtime(&app, &app.user, "budget").await;
        assert!(cold.statements() <= 3, "cold: {} statements", cold.statements());
        assert!(cold.statements() >= 1, "the agent changed after start, so its config was cold");
        for _ in 0..3 {
            let warm = runtime(&app, &app.user, "budget").await;
            assert_eq!(warm.statements(), 0, "warm: {}", warm.body);
            assert_eq!(warm.body["extensions"]["cost"]["caches"]["agent_runtime"]["hits"], 1);
        }
    }
}

test_both! {
    async fn two_hundred_concurrent_cold_requests_load_config_and_instructions_once(app: TestApp) {
        arrange_agent(&app, "crowd").await;
        let before_config = stats(&app, "agent_config").loads;
        let before_instructions = stats(&app, "user_instructions").loads;
        let responses = futures::future::join_all((0..200).map(|_| runtime(&app, &app.user, "crowd"))).await;
        assert!(responses.iter().all(|r| r.body["data"]["agentRuntime"]["agent"]["name"] == "crowd"));
        assert_eq!(stats(&app, "agent_config").loads - before_config, 1);
        assert_eq!(stats(&app, "user_instructions").loads - before_instructions, 1);
        let statements: u64 = responses.iter().map(|r| r.statements()).sum();
        assert_eq!(statements, 2, "one config load and one instructions load in all");
    }
}

/// Holds the next load of one cache right after its database read, until
/// released; reports when it got there.
#[derive(Clone, Default)]
pub(crate) struct LoadGate {
    armed: Arc<Mutex<Option<ArmedGate>>>,
}

/// The cache to hold, where to report arrival, what releases it, and
/// whether the load then panics.
type ArmedGate = (
    &'static str,
    oneshot::Sender<()>,
    oneshot::Receiver<()>,
    bool,
);

impl LoadGate {
    pub(crate) fn hooks(&self) -> Hooks {
        let armed = Arc::clone(&self.armed);
        let hook: AfterLoadHook = Arc::new(move |cache| {
            let mut slot = armed.lock().expect("gate lock");
            let taken = match slot.as_ref() {
                Some((target, _, _, _)) if *target == cache => slot.take(),
                _ => None,
            };
            async move {
                if let Some((_, reached, release, panics)) = taken {
                    let _ = reached.send(());
                    let _ = release.await;
                    assert!(!panics, "the held load panics, as the gate was armed to");
                }
            }
            .boxed()
        });
        Hooks {
            after_load: Some(hook),
            ..Hooks::default()
        }
    }

    /// Arms the gate for `cache`; returns (reached, release).
    pub(crate) fn arm(&self, cache: &'static str) -> (oneshot::Receiver<()>, oneshot::Sender<()>) {
        self.arm_with(cache, false)
    }

    /// Arms the gate for `cache` so that the held load panics once
    /// released; returns (reached, release).
    pub(crate) fn arm_to_panic(
        &self,
        cache: &'static str,
    ) -> (oneshot::Receiver<()>, oneshot::Sender<()>) {
        self.arm_with(cache, true)
    }

    fn arm_with(
        &self,
        cache: &'static str,
        panics: bool,
    ) -> (oneshot::Receiver<()>, oneshot::Sender<()>) {
        let (reached_tx, reached_rx) = oneshot::channel();
        let (release_tx, release_rx) = oneshot::channel();
        *self.armed.lock().expect("gate lock") = Some((cache, reached_tx, release_rx, panics));
        (reached_rx, release_tx)
    }
}

test_both! {
    async fn an_invalidation_beats_a_load_in_flight(app: TestApp, gate: LoadGate) {
        let app = Arc::new(app);
        create_agent(&app, json!({ "name": "racer" })).await;
        let update = "mutation($p: String!) { updateAgent(name: \"racer\", input: { systemPrompt: $p }) { systemPrompt } }";
        for round in 1..=20 {
            // The update leaves the config cold, so the next read loads it.
            let before = format!("round {round}: before");
            app.admin_ok(update, json!({ "p": before })).await;
            let (reached, release) = gate.arm("agent_config");
            let held = {
                let app = Arc::clone(&app);
                tokio::spawn(async move { runtime(&app, &app.user.clone(), "racer").await })
            };
            tokio::time::timeout(Duration::from_secs(10), reached)
                .await
                .expect("the load reached the gate in time")
                .expect("the load read the database and is held");
            let after = format!("round {round}: after");
            app.admin_ok(update, json!({ "p": after })).await;

            let during = runtime(&app, &app.user, "racer").await.data_ok();
            assert_eq!(
                during["agentRuntime"]["effectiveSystemPrompt"],
                after.as_str(),
                "a read after the mutation does not join the held load"
            );

            let discards_before = stats(&app, "agent_config").stale_discards;
            release.send(()).expect("release the held load");
            let held = held.await.expect("held request").data_ok();
            assert_eq!(
                held["agentRuntime"]["effectiveSystemPrompt"],
                before.as_str(),
                "the held load read before the commit"
            );
            assert_eq!(
                stats(&app, "agent_config").stale_discards,
                discards_before + 1,
                "round {round}: its result was refused"
            );

            let later = runtime(&app, &app.user, "racer").await.data_ok();
            assert_eq!(
                later["agentRuntime"]["effectiveSystemPrompt"],
                after.as_str(),
                "never stale after the release"
            );
            assert_eq!(
                runtime(&app, &app.user, "racer").await.statements(),
                0,
                "and the fresh value is what is cached"
            );
        }
    }
}

test_both! {
    async fn every_mutation_of_a_cached_thing_is_read_back_at_once(app: TestApp) {
        arrange_agent(&app, "rw").await;
        read(&app).await; // warm

        app.admin_ok("mutation { updateAgent(name: \"rw\", input: { systemPrompt: \"Changed.\" }) { name } }", json!({})).await;
        assert_eq!(read(&app).await["effectiveSystemPrompt"], "Base.\n\nChanged.");

        app.admin_ok("mutation { setAgentTool(agentName: \"rw\", input: { name: \"new-tool\", toolType: \"http\" }) { name } }", json!({})).await;
        assert_eq!(read(&app).await["tools"], json!([{ "name": "active-tool" }, { "name": "new-tool" }]));

        app.admin_ok("mutation { removeAgentTool(agentName: \"rw\", toolName: \"active-tool\") { name } }", json!({})).await;
        assert_eq!(read(&app).await["tools"], json!([{ "name": "new-tool" }]));

        app.admin_ok("mutation { updateAgent(name: \"rw\", input: { modelId: null }) { name } }", json!({})).await;
        assert_eq!(read(&app).await["model"], Value::Null);

        app.admin_ok("mutation { archiveAgent(name: \"rw\") { name } }", json!({})).await;
        assert_eq!(read(&app).await["agent"]["status"], "ARCHIVED");

        app.user_ok(SET_MINE, json!({ "a": "rw", "i": "Mine." })).await;
        assert_eq!(read(&app).await["instructions"], "Mine.");
        app.user_ok(SET_MINE, json!({ "a": "rw", "i": "Mine, again." })).await;
        assert_eq!(read(&app).await["instructions"], "Mine, again.");
        let cleared = app.user_ok(CLEAR_MINE, json!({ "a": "rw" })).await;
        assert_eq!(cleared["clearMyAgentInstructions"]["instructions"], Value::Null);
        assert_eq!(read(&app).await["instructions"], Value::Null);
        assert_eq!(read(&app).await["effectiveSystemPrompt"], "Base.\n\nChanged.");
    }
}

async fn read(app: &TestApp) -> Value {
    runtime(app, &app.user, "rw").await.data_ok()["agentRuntime"].clone()
}

test_both! {
    #[flags("--agent-cache-refresh", "300ms")]
    async fn the_background_refresh_picks_up_a_direct_database_change(app: TestApp) {
        arrange_agent(&app, "edited").await;
        runtime(&app, &app.user, "edited").await.data_ok();
        let warm = runtime(&app, &app.user, "edited").await;
        assert_eq!(warm.statements(), 0);
        let circle = app.admin_ok("mutation { createCircle(input: { name: \"edits\" }) { id } }", json!({})).await["createCircle"]["id"].clone();
        app.admin_ok("mutation($c: UUID!) { addCircleMember(circleId: $c, agentName: \"edited\") { role } }", json!({ "c": circle })).await;
        let members = "query($c: UUID!) { circle(id: $c) { members { agent { status } } } }";
        let status = || async { app.user_ok(members, json!({ "c": circle })).await["circle"]["members"][0]["agent"]["status"].clone() };
        assert_eq!(status().await, "ACTIVE");

        let backend = app.db.backend();
        app.db
            .conn()
            .execute(Statement::from_string(backend, "UPDATE agents SET system_prompt = 'Edited by hand.', status = 'paused' WHERE name = 'edited'"))
            .await
            .expect("direct update");
        let started = Instant::now();
        loop {
            let data = runtime(&app, &app.user, "edited").await.data_ok();
            if data["agentRuntime"]["effectiveSystemPrompt"] == "Base.\n\nEdited by hand." && status().await == "PAUSED" {
                break;
            }
            assert!(started.elapsed() < Duration::from_millis(300 * 3), "not refreshed within ~one period");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}
