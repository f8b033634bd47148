//! Readiness through the API: the SPEC 5 numbers, the statement budget of
//! the two cache tiers.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use agentgraph::changes::Change;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::{
    fixtures::{insert_project, Shape},
    helpers::TestApp,
    runtime::LoadGate,
    test_both,
};

const READINESS: &str = "query($id: UUID!) { project(id: $id) { readiness { score status blockers
    dimensions { valuePath problem solution engagement } } counts { features confirmedFeatures personas
    valuePathSteps meetings signals clientSignals foundationFields hasStrategicContext } } }";

async fn readiness(app: &TestApp, auth: &str, id: Uuid) -> Value {
    app.post(Some(auth), READINESS, json!({ "id": id }))
        .await
        .data_ok()["project"]
        .clone()
}

const ALL_BLOCKERS: [&str; 5] = [
    "No value path steps",
    "No problem statement",
    "No confirmed features",
    "No personas",
    "No client signals",
];

test_both! {
    async fn an_empty_project_scores_zero_with_every_blocker(app: TestApp) {
        let (owner, auth) = app.new_user(false);
        let id = insert_project(&app, owner, Shape::default()).await;
        let project = readiness(&app, &auth, id).await;
        assert_eq!(project["readiness"]["score"], 0.0);
        assert_eq!(project["readiness"]["status"], "INSUFFICIENT");
        assert_eq!(project["readiness"]["blockers"], json!(ALL_BLOCKERS));
        assert_eq!(project["counts"]["features"], 0);
    }
}

test_both! {
    async fn each_dimension_clamps_as_specified(app: TestApp) {
        let (owner, auth) = app.new_user(false);
        // (shape, dimension, expected value)
        let cases = [
            (Shape { steps: 4, ..Shape::default() }, "valuePath", 80.0),
            (Shape { steps: 5, ..Shape::default() }, "valuePath", 100.0),
            (Shape { steps: 6, ..Shape::default() }, "valuePath", 100.0),
            (Shape { foundation_fields: 4, ..Shape::default() }, "problem", 80.0),
            (Shape { foundation_fields: 5, ..Shape::default() }, "problem", 100.0),
            (Shape { features: 7, confirmed: 4, ..Shape::default() }, "solution", 48.0),
            (Shape { features: 5, confirmed: 5, ..Shape::default() }, "solution", 60.0),
            (Shape { features: 6, confirmed: 6, ..Shape::default() }, "solution", 60.0),
            (Shape { personas: 1, ..Shape::default() }, "solution", 20.0),
            (Shape { personas: 2, ..Shape::default() }, "solution", 40.0),
            (Shape { personas: 3, ..Shape::default() }, "solution", 40.0),
            (Shape { signals: 9, ..Shape::default() }, "engagement", 45.0),
            (Shape { signals: 10, ..Shape::default() }, "engagement", 50.0),
            (Shape { signals: 11, ..Shape::default() }, "engagement", 50.0),
            (Shape { meetings: 1, ..Shape::default() }, "engagement", 15.0),
            (Shape { meetings: 2, ..Shape::default() }, "engagement", 30.0),
            (Shape { meetings: 3, ..Shape::default() }, "engagement", 30.0),
            (Shape { strategic_context: true, ..Shape::default() }, "engagement", 20.0),
        ];
        for (shape, dimension, expected) in cases {
            let id = insert_project(&app, owner, shape).await;
            let project = readiness(&app, &auth, id).await;
            assert_eq!(project["readiness"]["dimensions"][dimension], expected, "{dimension} for {}", project["counts"]);
        }
    }
}

test_both! {
    async fn status_boundaries_and_blockers_follow_the_score(app: TestApp) {
        let (owner, auth) = app.new_user(false);
        let base = Shape { steps: 5, ..Shape::default() };
        let cases = [
            (Shape { foundation_fields: 2, ..base }, 35.0, "INSUFFICIENT"),
            (Shape { foundation_fields: 3, ..base }, 40.0, "DEVELOPING"),
            (Shape { foundation_fields: 4, signals: 10, meetings: 2, ..base }, 65.0, "DEVELOPING"),
            (Shape { foundation_fields: 5, signals: 10, meetings: 2, ..base }, 70.0, "READY"),
            (Shape { foundation_fields: 5, signals: 10, meetings: 2, strategic_context: true, personas: 1, ..base }, 80.0, "READY"),
            (Shape { foundation_fields: 5, signals: 10, meetings: 2, strategic_context: true, personas: 2, ..base }, 85.0, "EXCELLENT"),
            (
                Shape { foundation_fields: 5, signals: 10, client_signals: 1, meetings: 2, strategic_context: true, personas: 2, features: 5, confirmed: 5, ..base },
                100.0,
                "EXCELLENT",
            ),
        ];
        for (shape, score, status) in cases {
            let id = insert_project(&app, owner, shape).await;
            let project = readiness(&app, &auth, id).await;
            assert_eq!(project["readiness"]["score"], score);
            assert_eq!(project["readiness"]["status"], status, "score {score}");
        }
        // Rounding: value path 20, solution 12, engagement 5 -> 9.25 -> 9.3.
        let id = insert_project(&app, owner, Shape { steps: 1, features: 1, confirmed: 1, signals: 1, ..Shape::default() }).await;
        assert_eq!(readiness(&app, &auth, id).await["readiness"]["score"], 9.3);

        let full = Shape { steps: 1, foundation_fields: 1, features: 1, confirmed: 1, personas: 1, signals: 1, client_signals: 1, ..Shape::default() };
        let id = insert_project(&app, owner, full).await;
        assert_eq!(readiness(&app, &auth, id).await["readiness"]["blockers"], json!([]));
        let id = insert_project(&app, owner, Shape { client_signals: 0, ..full }).await;
        assert_eq!(readiness(&app, &auth, id).await["readiness"]["blockers"], json!(["No client signals"]));
        let id = insert_project(&app, owner, Shape { confirmed: 0, ..full }).await;
        assert_eq!(readiness(&app, &auth, id).await["readiness"]["blockers"], json!(["No confirmed features"]));
    }
}

test_both! {
    async fn a_page_of_readiness_costs_the_page_plus_at_most_two_statements(app: TestApp) {
        let (owner, auth) = app.new_user(false);
        let query = "query($n: Int!) { projects(first: $n) { nodes { readiness { score } } } }";
        let mut created = 0;
        for n in [1usize, 10, 50] {
            for _ in created..n {
                insert_project(&app, owner, Shape { steps: 2, signals: 3, client_signals: 1, ..Shape::default() }).await;
            }
            created = n;
            // Memory empty: the page, the persisted snapshots, one aggregate.
            app.state.changes().deliver(&[Change::Everything]);
            let cold = app.post(Some(&auth), query, json!({ "n": n })).await;
            assert_eq!(cold.body["data"]["projects"]["nodes"].as_array().map(Vec::len), Some(n));
            assert!(cold.statements() <= 3, "cold, {n} projects: {} statements", cold.statements());

            let warm = app.post(Some(&auth), query, json!({ "n": n })).await;
            assert_eq!(warm.statements(), 1, "warm, {n} projects: only the page");
            assert_eq!(warm.body["extensions"]["cost"]["caches"]["readiness"]["hits"], n);

            // Snapshots persist off the request path; once they are there, a
            // process with an empty memory tier reads them instead of
            // recomputing.
            let started = Instant::now();
            while app.count("readiness").await < i64::try_from(n).expect("small") {
                assert!(started.elapsed() < Duration::from_secs(5), "snapshots were persisted");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            app.state.changes().deliver(&[Change::Everything]);
            let from_table = app.post(Some(&auth), query, json!({ "n": n })).await;
            assert_eq!(from_table.statements(), 2, "page + persisted snapshots, no aggregate");
        }
    }
}

async fn create_project(app: &TestApp, auth: &str) -> Uuid {
    let data = app
        .post(
            Some(auth),
            "mutation { createProject(input: { name: \"p\" }) { id } }",
            json!({}),
        )
        .await
        .data_ok();
    data["createProject"]["id"]
        .as_str()
        .expect("id")
        .parse()
        .expect("uuid")
}

/// Runs a mutation as `auth` and returns the first field's `id`, if any.
async fn mutate(app: &TestApp, auth: &str, query: &str, variables: Value) -> Option<String> {
    let data = app.post(Some(auth), query, variables).await.data_ok();
    let first = data
        .as_object()
        .and_then(|o| o.values().next())
        .cloned()
        .unwrap_or(Value::Null);
    first.get("id").and_then(Value::as_str).map(str::to_owned)
}

test_both! {
    async fn every_state_mutation_is_read_back_at_once_in_counts_and_readiness(app: TestApp) {
        let (_, auth) = app.new_user(false);
        let id = create_project(&app, &auth).await;
        let p = json!({ "p": id });
        let read = || async { readiness(&app, &auth, id).await };
        assert_eq!(read().await["counts"]["features"], 0); // warm

        let feature = mutate(&app, &auth, "mutation($p: UUID!) { createFeature(projectId: $p, input: { name: \"f\" }) { id } }", p.clone()).await.expect("feature id");
        assert_eq!(read().await["counts"]["features"], 1);
        mutate(&app, &auth, "mutation($f: UUID!) { confirmFeature(id: $f) { id } }", json!({ "f": feature })).await;
        let after = read().await;
        assert_eq!(after["counts"]["confirmedFeatures"], 1);
        assert_eq!(after["readiness"]["dimensions"]["solution"], 12.0);
        mutate(&app, &auth, "mutation($f: UUID!) { confirmFeature(id: $f, confirmed: false) { id } }", json!({ "f": feature })).await;
        assert_eq!(read().await["counts"]["confirmedFeatures"], 0);
        mutate(&app, &auth, "mutation($f: UUID!) { deleteFeature(id: $f) { id } }", json!({ "f": feature })).await;
        assert_eq!(read().await["counts"]["features"], 0);

        let persona = mutate(&app, &auth, "mutation($p: UUID!) { createPersona(projectId: $p, input: { name: \"buyer\" }) { id } }", p.clone()).await.expect("persona id");
        assert_eq!(read().await["counts"]["personas"], 1);
        mutate(&app, &auth, "mutation($x: UUID!) { deletePersona(id: $x) { id } }", json!({ "x": persona })).await;
        assert_eq!(read().await["counts"]["personas"], 0);

        let step = mutate(&app, &auth, "mutation($p: UUID!) { addValuePathStep(projectId: $p, input: { label: \"s\" }) { id } }", p.clone()).await.expect("step id");
        let after = read().await;
        assert_eq!(after["counts"]["valuePathSteps"], 1);
        assert!(!after["readiness"]["blockers"].as_array().expect("list").contains(&json!("No value path steps")));
        mutate(&app, &auth, "mutation($x: UUID!) { deleteValuePathStep(id: $x) { id } }", json!({ "x": step })).await;
        assert_eq!(read().await["counts"]["valuePathSteps"], 0);

        mutate(&app, &auth, "mutation($p: UUID!) { addMeeting(projectId: $p, input: { title: \"kickoff\", heldAt: \"2026-11-01T10:00:00Z\" }) { id } }", p.clone()).await;
        assert_eq!(read().await["counts"]["meetings"], 1);

        mutate(&app, &auth, "mutation($p: UUID!) { addSignal(projectId: $p, input: { source: \"call\", authority: CLIENT, content: \"c\" }) { id } }", p.clone()).await;
        let after = read().await;
        assert_eq!((after["counts"]["signals"].clone(), after["counts"]["clientSignals"].clone()), (json!(1), json!(1)));

        mutate(&app, &auth, "mutation($p: UUID!) { setFoundation(projectId: $p, input: { problemStatement: \"pain\", targetUsers: \"ops\" }) { problemStatement } }", p.clone()).await;
        let after = read().await;
        assert_eq!(after["counts"]["foundationFields"], 2);
        assert!(!after["readiness"]["blockers"].as_array().expect("list").contains(&json!("No problem statement")));
        mutate(&app, &auth, "mutation($p: UUID!) { setFoundation(projectId: $p, input: { problemStatement: null }) { problemStatement } }", p.clone()).await;
        assert_eq!(read().await["counts"]["foundationFields"], 1);

        mutate(&app, &auth, "mutation($p: UUID!) { setStrategicContext(projectId: $p, content: \"why\") { content } }", p.clone()).await;
        let after = read().await;
        assert_eq!(after["counts"]["hasStrategicContext"], true);
        // meetings 1 (15) + signals 1 (5) + context (20) = 40 engagement.
        assert_eq!(after["readiness"]["dimensions"]["engagement"], 40.0);
    }
}

test_both! {
    async fn a_mutation_beats_a_readiness_load_in_flight(app: TestApp, gate: LoadGate) {
        let app = Arc::new(app);
        let (_, auth) = app.new_user(false);
        let id = create_project(&app, &auth).await;
        let add = "mutation($p: UUID!) { addSignal(projectId: $p, input: { source: \"s\", authority: OTHER, content: \"c\" }) { id } }";
        for round in 0..10i64 {
            // A change first, so the next read has to load.
            mutate(&app, &auth, add, json!({ "p": id })).await;
            let before = 2 * round + 1;
            let (reached, release) = gate.arm("readiness");
            let held = {
                let (app, auth) = (Arc::clone(&app), auth.clone());
                tokio::spawn(async move { readiness(&app, &auth, id).await })
            };
            if tokio::time::timeout(Duration::from_secs(10), reached)
                .await
                .is_err()
            {
                let finished = held.await;
                panic!(
                    "round {round}: the load never reached the gate; the read returned {finished:?}"
                );
            }
            mutate(&app, &auth, add, json!({ "p": id })).await;
            let during = readiness(&app, &auth, id).await;
            assert_eq!(
                during["counts"]["signals"],
                before + 1,
                "a read after the mutation does not join the held load"
            );
            release.send(()).expect("release");
            let old = held.await.expect("held request");
            assert_eq!(
                old["counts"]["signals"], before,
                "the held load read before the commit"
            );
            let later = readiness(&app, &auth, id).await;
            assert_eq!(
                later["counts"]["signals"],
                before + 1,
                "never stale after the release"
            );
        }
    }
}

const DI_CONTEXT: &str = "query($id: UUID!) { project(id: $id) { diContext(signalsLimit: 2) {
    state { counts { signals } foundation { problemStatement } } readiness { score }
    analysis { analyzedAt } unanalyzedSignals { content } unanalyzedSignalCount cacheValid } } }";

test_both! {
    async fn di_context_gathers_each_piece_once_and_knows_when_its_cache_is_valid(app: TestApp) {
        let (owner, auth) = app.new_user(false);
        let id = insert_project(&app, owner, Shape { signals: 3, client_signals: 1, foundation_fields: 1, ..Shape::default() }).await;
        let cold = app.post(Some(&auth), DI_CONTEXT, json!({ "id": id })).await;
        // project, readiness (persisted snapshots + aggregate), foundation,
        // analysis, unanalyzed signals.
        assert!(cold.statements() <= 6, "cold: {}", cold.statements());
        let context = cold.data_ok()["project"]["diContext"].clone();
        assert_eq!(context["state"]["counts"]["signals"], 3);
        assert_eq!(context["state"]["foundation"]["problemStatement"], "problem");
        assert_eq!(context["unanalyzedSignals"].as_array().map(Vec::len), Some(2), "limited");
        assert_eq!(context["unanalyzedSignalCount"], 3, "but counted in full");
        assert_eq!((context["analysis"].clone(), context["cacheValid"].clone()), (Value::Null, json!(false)));

        let warm = app.post(Some(&auth), DI_CONTEXT, json!({ "id": id })).await;
        assert_eq!(warm.statements(), 3, "readiness and the owner from memory: foundation, analysis, signals");

        let store = "mutation($p: UUID!) { storeDiAnalysis(projectId: $p, analysis: { summary: \"ok\" }) { analyzedAt } }";
        mutate(&app, &auth, store, json!({ "p": id })).await;
        let with_analysis = app.post(Some(&auth), DI_CONTEXT, json!({ "id": id })).await.data_ok();
        assert_eq!(with_analysis["project"]["diContext"]["cacheValid"], false, "signals are still unanalyzed");

        let signals = "query($id: UUID!) { project(id: $id) { signals(first: 10) { nodes { id } } } }";
        let ids: Vec<Value> = app.post(Some(&auth), signals, json!({ "id": id })).await.data_ok()["project"]["signals"]["nodes"]
            .as_array().expect("nodes").iter().map(|n| n["id"].clone()).collect();
        mutate(&app, &auth, "mutation($p: UUID!, $s: [UUID!]!) { markSignalsAnalyzed(projectId: $p, signalIds: $s) { id } }", json!({ "p": id, "s": ids })).await;
        let valid = app.post(Some(&auth), DI_CONTEXT, json!({ "id": id })).await.data_ok();
        assert_eq!(valid["project"]["diContext"]["unanalyzedSignalCount"], 0);
        assert_eq!(valid["project"]["diContext"]["cacheValid"], true);

        mutate(&app, &auth, "mutation($p: UUID!) { addSignal(projectId: $p, input: { source: \"s\", authority: CLIENT, content: \"new\" }) { id } }", json!({ "p": id })).await;
        let invalid = app.post(Some(&auth), DI_CONTEXT, json!({ "id": id })).await.data_ok();
        assert_eq!(invalid["project"]["diContext"]["cacheValid"], false, "a new signal");
        assert_eq!(invalid["project"]["diContext"]["unanalyzedSignals"][0]["content"], "new");
    }
}
