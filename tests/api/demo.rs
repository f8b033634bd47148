//! The demo data set, loaded the two ways a user loads it: by `serve` on an
//! empty database, and by `agentgraph seed-demo` (the real binary), run
//! twice because seeding is idempotent. Either way the API shows what the
//! README promises: 3 providers, 6 models, 20 agents with 35 tools, 4
//! circles and 3 projects scoring 2.5, 48.5 and 100.

use std::collections::BTreeSet;

use agentgraph::{
    auth::Viewer,
    seed::{
        DEMO_PROJECT_DEVELOPING, DEMO_PROJECT_EXCELLENT, DEMO_PROJECT_INSUFFICIENT, DEMO_USER_ID,
    },
};
use serde_json::{json, Value};

use crate::{
    helpers::{bearer, TestApp},
    projects::table_counts,
    test_both,
};

/// The tables the demo data set writes to besides the project tables.
const AGENT_TABLES: [&str; 7] = [
    "providers",
    "models",
    "agents",
    "agent_tools",
    "user_agent_instructions",
    "circles",
    "circle_members",
];

/// Row counts of every table the demo data set writes to.
async fn row_counts(app: &TestApp) -> Vec<(&'static str, i64)> {
    let mut counts = Vec::new();
    for table in AGENT_TABLES {
        counts.push((table, app.count(table).await));
    }
    counts.extend(table_counts(app).await);
    counts
}

/// Runs `agentgraph seed-demo` against `database_url`, failing with its
/// output unless it succeeds.
pub(crate) async fn seed_demo(database_url: &str) {
    let url = database_url.to_owned();
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_agentgraph"))
            .args(["seed-demo", "--database-url", &url])
            .output()
            .expect("agentgraph seed-demo runs")
    })
    .await
    .expect("the command's thread");
    assert!(
        output.status.success(),
        "seed-demo failed: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

const DEMO: &str = "{
    agents(first: 50) { nodes { name tools { name } model { id provider { id } } } }
    circles(first: 50) { nodes { name } }
    projects(first: 50) { nodes { id readiness { score status } } } }";

/// Reads the demo data set through the API as the demo user and checks it
/// against the README.
async fn assert_the_documented_demo_data(app: &TestApp) {
    let demo_user = bearer(
        &app.keys,
        Viewer {
            id: DEMO_USER_ID,
            is_admin: true,
        },
    );
    let data = app.post(Some(&demo_user), DEMO, json!({})).await.data_ok();
    let agents = data["agents"]["nodes"].as_array().expect("agents");
    assert_eq!(agents.len(), 20, "agents");
    let tools: usize = agents
        .iter()
        .map(|agent| agent["tools"].as_array().map_or(0, Vec::len))
        .sum();
    assert_eq!(tools, 35, "tools");
    let distinct = |pointer: &str| -> BTreeSet<String> {
        agents
            .iter()
            .filter_map(|agent| agent.pointer(pointer).and_then(Value::as_str))
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(distinct("/model/id").len(), 6, "models");
    assert_eq!(distinct("/model/provider/id").len(), 3, "providers");
    assert_eq!(
        data["circles"]["nodes"].as_array().map(Vec::len),
        Some(4),
        "circles"
    );
    let projects = data["projects"]["nodes"].as_array().expect("projects");
    let readiness = |id: entity::ProjectId| {
        projects
            .iter()
            .find(|project| project["id"] == json!(id))
            .map(|project| project["readiness"].clone())
            .unwrap_or_else(|| panic!("demo project {id} in {data}"))
    };
    assert_eq!(projects.len(), 3, "projects");
    assert_eq!(
        readiness(DEMO_PROJECT_INSUFFICIENT),
        json!({ "score": 2.5, "status": "INSUFFICIENT" })
    );
    assert_eq!(
        readiness(DEMO_PROJECT_DEVELOPING),
        json!({ "score": 48.5, "status": "DEVELOPING" })
    );
    assert_eq!(
        readiness(DEMO_PROJECT_EXCELLENT),
        json!({ "score": 100.0, "status": "EXCELLENT" })
    );
}

test_both! {
    async fn serve_loads_the_documented_demo_data_into_an_empty_database(app: TestApp) {
        let empty = row_counts(&app).await;
        assert!(empty.iter().all(|&(_, rows)| rows == 0), "started empty: {empty:?}");
        let served = app.spawn_replica_with_demo_data().await;
        assert_the_documented_demo_data(&served).await;

        let loaded = row_counts(&app).await;
        seed_demo(&app.database_url).await;
        assert_eq!(row_counts(&app).await, loaded, "seed-demo after serve adds nothing");
        assert_the_documented_demo_data(&served).await;
    }
}

test_both! {
    async fn seed_demo_twice_loads_the_documented_demo_data_once(app: TestApp) {
        seed_demo(&app.database_url).await;
        let loaded = row_counts(&app).await;
        assert!(loaded.iter().all(|&(_, rows)| rows > 0), "every table seeded: {loaded:?}");
        seed_demo(&app.database_url).await;
        assert_eq!(row_counts(&app).await, loaded, "the second run adds nothing");
        assert_the_documented_demo_data(&app).await;
    }
}
