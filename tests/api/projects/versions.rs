//! Every mutation of a project's readiness inputs moves its
//! `state_version` on (in its own transaction); the others do not.

use serde_json::{json, Value};

use super::{
    id_of, ok, populate, state_version, ADD_MEETING, ADD_SIGNAL, ADD_STEP, CREATE_FEATURE,
    CREATE_PERSONA, MARK_ANALYZED, SET_CONTEXT, SET_FOUNDATION, STORE_ANALYSIS,
};
use crate::test_both;

test_both! {
    async fn state_mutations_bump_the_state_version_and_the_others_do_not(app: TestApp) {
        let (_, auth) = app.new_user(false);
        let a = populate(&app, &auth, "Atlas").await;
        let p = json!(a.project);
        let new_feature = ok(&app, &auth, CREATE_FEATURE, json!({ "p": p, "name": "spare" })).await;
        let spare = id_of(&new_feature["createFeature"]);

        let bumps: Vec<(&str, Value)> = vec![
            (CREATE_FEATURE, json!({ "p": p, "name": "x" })),
            ("mutation($id: UUID!) { updateFeature(id: $id, input: { name: \"y\" }) { id } }", json!({ "id": a.feature })),
            ("mutation($id: UUID!) { confirmFeature(id: $id) { id } }", json!({ "id": a.feature })),
            ("mutation($id: UUID!) { deleteFeature(id: $id) { id } }", json!({ "id": spare })),
            (CREATE_PERSONA, json!({ "p": p, "name": "x" })),
            ("mutation($id: UUID!) { updatePersona(id: $id, input: { name: \"y\" }) { id } }", json!({ "id": a.persona })),
            ("mutation($id: UUID!) { deletePersona(id: $id) { id } }", json!({ "id": a.persona })),
            (ADD_STEP, json!({ "p": p, "label": "x", "pos": 0 })),
            ("mutation($id: UUID!) { deleteValuePathStep(id: $id) { id } }", json!({ "id": a.steps[0] })),
            (ADD_MEETING, json!({ "p": p, "title": "x", "at": "2026-01-01T00:00:00Z" })),
            (ADD_SIGNAL, json!({ "p": p, "content": "x", "a": "OTHER" })),
            (SET_FOUNDATION, json!({ "p": p, "input": { "businessCase": "x" } })),
            (SET_CONTEXT, json!({ "p": p, "c": "x" })),
        ];
        for (mutation, variables) in bumps {
            let before = state_version(&app, &a.project).await;
            ok(&app, &auth, mutation, variables).await;
            assert_eq!(state_version(&app, &a.project).await, before + 1, "{mutation}");
        }

        let before = state_version(&app, &a.project).await;
        let steps = ok(&app, &auth, "query($id: UUID!) { project(id: $id) { valuePath { id } } }", json!({ "id": p })).await;
        let mut ids: Vec<Value> = steps["project"]["valuePath"].as_array().cloned().expect("steps")
            .iter().map(|s| s["id"].clone()).collect();
        ids.reverse();
        ok(&app, &auth, "mutation($p: UUID!, $ids: [UUID!]!) { reorderValuePath(projectId: $p, stepIds: $ids) { id } }",
            json!({ "p": p, "ids": ids })).await;
        assert_eq!(state_version(&app, &a.project).await, before + 1, "reorderValuePath");

        let before = state_version(&app, &a.project).await;
        let unchanged: Vec<(&str, Value)> = vec![
            (MARK_ANALYZED, json!({ "p": p, "ids": a.signals })),
            (STORE_ANALYSIS, json!({ "p": p, "a": { "fresh": true } })),
            ("mutation($p: UUID!) { renameProject(id: $p, name: \"Renamed\") { id } }", json!({ "p": p })),
        ];
        for (mutation, variables) in unchanged {
            ok(&app, &auth, mutation, variables).await;
            assert_eq!(state_version(&app, &a.project).await, before, "{mutation}");
        }
    }
}

test_both! {
    async fn each_root_field_of_a_mutation_sees_the_writes_of_the_fields_before_it(app: TestApp) {
        let (_, auth) = app.new_user(false);
        let project = crate::projects::create_project(&app, &auth, "Sequence").await;
        let sequence = "mutation($p: UUID!) {
            a: renameProject(id: $p, name: \"A\") { name counts { features } features(first: 10) { nodes { name } } readiness { score } }
            b: createFeature(projectId: $p, input: { name: \"first\" }) { name }
            p: createPersona(projectId: $p, input: { name: \"buyer\", description: \"who\" }) { name }
            c: renameProject(id: $p, name: \"C\") { name counts { features } features(first: 10) { nodes { name } } readiness { score } }
        }";
        let data = ok(&app, &auth, sequence, json!({ "p": project })).await;
        assert_eq!(data["a"]["counts"]["features"], 0, "{data}");
        assert_eq!(data["a"]["features"]["nodes"], json!([]), "{data}");
        assert_eq!(data["c"]["name"], "C");
        assert_eq!(data["c"]["counts"]["features"], 1, "c reads after b: {data}");
        assert_eq!(data["c"]["features"]["nodes"], json!([{ "name": "first" }]), "{data}");
        assert_eq!(data["a"]["readiness"]["score"], 0.0, "{data}");
        assert_eq!(data["c"]["readiness"]["score"], 5.0, "a persona adds 20 to one of four dimensions: {data}");
    }
}
