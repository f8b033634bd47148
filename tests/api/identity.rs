//! What a normalized client cache needs: children link to their parent as
//! an object, a mutation's payload carries the project's new counts and
//! readiness, and a pushed readiness names its project.

use serde_json::{json, Value};

use crate::{
    agents::create_agent, circles::create_circle, helpers::TestApp, projects::create_project,
    test_both, ws::WsClient,
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
            projectId score project { id counts { features } readiness { score } } } }";
        client.subscribe_to("1", subscription, json!({ "p": project })).await;
        let current = client.readiness("1").await;
        assert_eq!(current["projectId"], project.as_str());
        assert_eq!(current["project"]["id"], project.as_str());
        assert_eq!(current["project"]["counts"]["features"], 0);

        app.user_ok(CREATE, json!({ "p": project, "name": "export" })).await;
        let changed = client.readiness("1").await;
        assert_eq!(changed["project"]["id"], project.as_str());
        assert_eq!(changed["project"]["counts"]["features"], 1, "{changed}");
        assert_eq!(changed["project"]["readiness"]["score"], changed["score"]);
    }
}
