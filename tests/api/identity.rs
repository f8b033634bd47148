//! What a normalized client cache needs: children link to their parent as
//! an object, a mutation's payload carries the project's new counts and
//! readiness, and a pushed readiness names its project.

use serde_json::{json, Value};
use uuid::Uuid;

use crate::{
    agents::create_agent,
    circles::create_circle,
    helpers::TestApp,
    projects::{create_project, populate},
    test_both,
    ws::WsClient,
};

const WATCHED: &str = "query($p: UUID!) { project(id: $p) { id
    counts { features confirmedFeatures } readiness { projectId score } } }";

const CREATE: &str = "mutation($p: UUID!, $name: String!) {
    createFeature(projectId: $p, input: { name: $name }) { id confirmed
        project { id counts { features confirmedFeatures } readiness { projectId score } } } }";

const CONFIRM: &str = "mutation($id: UUID!) { confirmFeature(id: $id) { id confirmed
    project { id counts { features confirmedFeatures } readiness { projectId score } } } }";

async fn watched(app: &TestApp, project: &str) -> Value {
    app.user_ok(WATCHED, json!({ "p": project })).await["project"].clone()
}

test_both! {
    async fn a_mutation_payload_carries_the_projects_new_counts_and_readiness(app: TestApp) {
        let project = create_project(&app, &app.user, "cached").await;
        let before = watched(&app, &project).await;
        assert_eq!(before["counts"], json!({ "features": 0, "confirmedFeatures": 0 }));
        assert_eq!(before["readiness"]["projectId"], project.as_str());

        let created = app.user_ok(CREATE, json!({ "p": project, "name": "export" })).await;
        let created = &created["createFeature"];
        assert_eq!(created["project"]["id"], project.as_str());
        assert_eq!(created["project"]["counts"], json!({ "features": 1, "confirmedFeatures": 0 }));
        assert_eq!(created["project"], watched(&app, &project).await, "the payload is what a read shows");

        let feature = created["id"].as_str().expect("id");
        let confirmed = app.user_ok(CONFIRM, json!({ "id": feature })).await;
        let confirmed = &confirmed["confirmFeature"];
        assert_eq!(confirmed["confirmed"], true);
        assert_eq!(confirmed["project"]["counts"], json!({ "features": 1, "confirmedFeatures": 1 }));
        assert_ne!(confirmed["project"]["readiness"]["score"], before["readiness"]["score"]);
        assert_eq!(confirmed["project"], watched(&app, &project).await, "the payload is what a read shows");

        let foundation = "mutation($p: UUID!) { setFoundation(projectId: $p, input: { problemStatement: \"slow\" }) {
            project { id counts { foundationFields } readiness { score } } } }";
        let set = app.user_ok(foundation, json!({ "p": project })).await;
        assert_eq!(set["setFoundation"]["project"]["counts"]["foundationFields"], 1);
        assert_ne!(set["setFoundation"]["project"]["readiness"]["score"], confirmed["project"]["readiness"]["score"]);
    }
}

test_both! {
    async fn children_reach_their_project_and_members_their_circle(app: TestApp) {
        let project = create_project(&app, &app.user, "parents").await;
        app.user_ok(CREATE, json!({ "p": project, "name": "export" })).await;
        let query = "query($p: UUID!) { project(id: $p) {
            features(first: 5) { nodes { project { id name } } }
            readiness { project { id name } } } }";
        let data = app.user_ok(query, json!({ "p": project })).await;
        let parent = json!({ "id": project, "name": "parents" });
        assert_eq!(data["project"]["features"]["nodes"][0]["project"], parent);
        assert_eq!(data["project"]["readiness"]["project"], parent);

        create_agent(&app, json!({ "name": "lead-agent" })).await;
        create_agent(&app, json!({ "name": "helper-agent" })).await;
        let circle = create_circle(&app, "core").await;
        let add = "mutation($c: UUID!, $a: String!) { addCircleMember(circleId: $c, agentName: $a) {
            circle { id name } } }";
        let added = app.admin_ok(add, json!({ "c": circle, "a": "lead-agent" })).await;
        assert_eq!(added["addCircleMember"]["circle"], json!({ "id": circle, "name": "core" }));
        app.admin_ok(add, json!({ "c": circle, "a": "helper-agent" })).await;
        let members = "query($c: UUID!) { circle(id: $c) { members { circleId circle { id name } } } }";
        let data = app.user_ok(members, json!({ "c": circle })).await;
        let member = json!({ "circleId": circle, "circle": { "id": circle, "name": "core" } });
        assert_eq!(data["circle"]["members"], json!([member, member]));
    }
}

test_both! {
    async fn a_readiness_event_carries_the_project_identity(app: TestApp) {
        let project = create_project(&app, &app.user, "live").await;
        let mut client = WsClient::open(&app, Some(&app.user)).await;
        let subscription = "subscription($p: UUID!) { readinessChanged(projectId: $p) {
            projectId score project { id name counts { features } readiness { score } } } }";
        client.subscribe_to("1", subscription, json!({ "p": project })).await;
        let current = client.readiness("1").await;
        assert_eq!(current["projectId"], project.as_str());
        assert_eq!(current["project"]["id"], project.as_str());
        assert_eq!(current["project"]["counts"]["features"], 0);

        assert_eq!(current["project"]["name"], "live");

        let rename = "mutation($p: UUID!) { renameProject(id: $p, name: \"renamed\") { id } }";
        app.user_ok(rename, json!({ "p": project })).await;
        app.user_ok(CREATE, json!({ "p": project, "name": "export" })).await;
        let changed = client.readiness("1").await;
        assert_eq!(changed["project"]["id"], project.as_str());
        assert_eq!(changed["project"]["name"], "renamed", "an event reads its project as it is now");
        assert_eq!(changed["project"]["counts"]["features"], 1, "{changed}");
        assert_eq!(changed["project"]["readiness"]["score"], changed["score"]);
    }
}

const NODES: &str = "query($ids: [UUID!]!) { nodes(ids: $ids) { __typename id } }";

test_both! {
    async fn node_finds_every_type_by_its_id_and_hides_what_the_viewer_may_not_see(app: TestApp) {
        let state = populate(&app, &app.user, "nodes").await;
        let meeting = app
            .user_ok("query($p: UUID!) { project(id: $p) { meetings(first: 1) { nodes { id } } } }", json!({ "p": state.project }))
            .await["project"]["meetings"]["nodes"][0]["id"]
            .clone();
        let agent = create_agent(&app, json!({ "name": "lead-agent" })).await;
        let agent_id = agent_id(&app, "lead-agent").await;
        assert!(agent.is_object());
        let tool = app
            .admin_ok(
                "mutation { setAgentTool(agentName: \"lead-agent\", input: { name: \"search\", toolType: \"http\" }) { id } }",
                json!({}),
            )
            .await["setAgentTool"]["id"]
            .clone();
        let circle = create_circle(&app, "core").await;
        let member = app
            .admin_ok(
                "mutation($c: UUID!) { addCircleMember(circleId: $c, agentName: \"lead-agent\") { id } }",
                json!({ "c": circle }),
            )
            .await["addCircleMember"]["id"]
            .clone();
        let unknown = Uuid::now_v7().to_string();

        let owned = [
            ("Project", json!(state.project)),
            ("Feature", json!(state.feature)),
            ("Persona", json!(state.persona)),
            ("ValuePathStep", json!(state.steps[0])),
            ("Signal", json!(state.signals[0])),
            ("Meeting", meeting),
        ];
        let shared = [
            ("Agent", json!(agent_id)),
            ("AgentTool", tool),
            ("Circle", json!(circle)),
            ("CircleMember", member),
        ];
        let mut ids: Vec<Value> = owned.iter().chain(&shared).map(|(_, id)| id.clone()).collect();
        ids.push(json!(unknown));
        let mut expected: Vec<Value> = owned
            .iter()
            .chain(&shared)
            .map(|(ty, id)| json!({ "__typename": ty, "id": id }))
            .collect();
        expected.push(Value::Null);

        let response = app.post(Some(&app.user), NODES, json!({ "ids": ids })).await;
        let statements = response.statements();
        assert_eq!(response.data_ok()["nodes"], json!(expected));
        // One statement finds the types, one per type of project state
        // reads the rows, and the rest comes through loaders and caches:
        // never a statement per id.
        assert!(statements <= 12, "{statements} statements");

        for (ty, id) in owned.iter().chain(&shared) {
            let one = app.user_ok("query($id: UUID!) { node(id: $id) { __typename id } }", json!({ "id": id })).await;
            assert_eq!(one["node"], json!({ "__typename": ty, "id": id }));
        }
        let fragment = app
            .user_ok("query($id: UUID!) { node(id: $id) { id ... on Feature { name project { id } } } }", json!({ "id": state.feature }))
            .await;
        assert_eq!(fragment["node"], json!({ "id": state.feature, "name": "Export", "project": { "id": state.project } }));

        // Another user: project state is null, exactly like an unknown id;
        // agents and circles are everyone's.
        let (_, stranger) = app.new_user(false);
        let theirs = app.post(Some(&stranger), NODES, json!({ "ids": ids })).await.data_ok();
        let mut expected: Vec<Value> = owned.iter().map(|_| Value::Null).collect();
        expected.extend(shared.iter().map(|(ty, id)| json!({ "__typename": ty, "id": id })));
        expected.push(Value::Null);
        assert_eq!(theirs["nodes"], json!(expected));
        let foreign = app.post(Some(&stranger), "query($id: UUID!) { node(id: $id) { id } }", json!({ "id": state.project })).await;
        let missing = app.post(Some(&stranger), "query($id: UUID!) { node(id: $id) { id } }", json!({ "id": unknown })).await;
        assert_eq!(foreign.data_ok(), missing.data_ok());
    }
}

async fn agent_id(app: &TestApp, name: &str) -> String {
    app.user_ok(
        "query($n: String!) { agent(name: $n) { id } }",
        json!({ "n": name }),
    )
    .await["agent"]["id"]
        .as_str()
        .expect("id")
        .to_owned()
}
