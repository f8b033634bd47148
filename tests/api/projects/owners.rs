//! The owner rule: user B acting on user A's project (or A's child ids)
//! sees nothing and changes nothing.

use serde_json::{json, Value};

use super::{
    create_project, ok, populate, state_version, stored_analysis, table_counts, FULL_STATE,
    MARK_ANALYZED,
};
use crate::test_both;

test_both! {
    async fn another_users_project_is_not_found_for_every_field_and_mutation(app: TestApp) {
        let (_, alice) = app.new_user(false);
        let (_, bob) = app.new_user(false);
        let a = populate(&app, &alice, "Alice's").await;
        let bobs_project = create_project(&app, &bob, "Bob's").await;

        let before = ok(&app, &alice, FULL_STATE, json!({ "id": a.project })).await;
        let counts = table_counts(&app).await;
        let version = state_version(&app, &a.project).await;
        let analysis = stored_analysis(&app, &a.project).await;

        // Queries: the project does not exist for Bob, with any field.
        let seen = ok(&app, &bob, FULL_STATE, json!({ "id": a.project })).await;
        assert_eq!(seen["project"], Value::Null);
        let lists = ok(&app, &bob, "{ projects { nodes { id } } viewer { projects { nodes { id } } } }", json!({})).await;
        assert_eq!(lists["projects"]["nodes"], json!([{ "id": bobs_project }]));
        assert_eq!(lists["viewer"]["projects"]["nodes"], json!([{ "id": bobs_project }]));

        let p = json!(a.project);
        let attempts: Vec<(&str, &str, Value)> = vec![
            ("project", "mutation($p: UUID!) { createFeature(projectId: $p, input: { name: \"x\" }) { id } }", json!({ "p": p })),
            ("feature", "mutation($id: UUID!) { updateFeature(id: $id, input: { name: \"x\" }) { id } }", json!({ "id": a.feature })),
            ("feature", "mutation($id: UUID!) { confirmFeature(id: $id) { id } }", json!({ "id": a.feature })),
            ("feature", "mutation($id: UUID!) { deleteFeature(id: $id) { id } }", json!({ "id": a.feature })),
            ("project", "mutation($p: UUID!) { createPersona(projectId: $p, input: { name: \"x\" }) { id } }", json!({ "p": p })),
            ("persona", "mutation($id: UUID!) { updatePersona(id: $id, input: { name: \"x\" }) { id } }", json!({ "id": a.persona })),
            ("persona", "mutation($id: UUID!) { deletePersona(id: $id) { id } }", json!({ "id": a.persona })),
            ("project", "mutation($p: UUID!) { addValuePathStep(projectId: $p, input: { label: \"x\" }) { id } }", json!({ "p": p })),
            ("project", "mutation($p: UUID!, $ids: [UUID!]!) { reorderValuePath(projectId: $p, stepIds: $ids) { id } }",
                json!({ "p": p, "ids": [a.steps[1], a.steps[0]] })),
            ("value path step", "mutation($id: UUID!) { deleteValuePathStep(id: $id) { id } }", json!({ "id": a.steps[0] })),
            ("project", "mutation($p: UUID!) { addMeeting(projectId: $p, input: { title: \"x\", heldAt: \"2026-01-01T00:00:00Z\" }) { id } }", json!({ "p": p })),
            ("project", "mutation($p: UUID!) { addSignal(projectId: $p, input: { source: \"x\", authority: CLIENT, content: \"x\" }) { id } }", json!({ "p": p })),
            ("project", MARK_ANALYZED, json!({ "p": p, "ids": a.signals })),
            // Alice's signal ids through Bob's own project.
            ("signal", MARK_ANALYZED, json!({ "p": bobs_project, "ids": a.signals })),
            ("project", "mutation($p: UUID!) { setFoundation(projectId: $p, input: { problemStatement: \"x\" }) { projectId } }", json!({ "p": p })),
            ("project", "mutation($p: UUID!) { setStrategicContext(projectId: $p, content: \"x\") { projectId } }", json!({ "p": p })),
            ("project", "mutation($p: UUID!) { storeDiAnalysis(projectId: $p, analysis: { x: 1 }) { projectId } }", json!({ "p": p })),
            ("project", "mutation($p: UUID!) { renameProject(id: $p, name: \"x\") { id } }", json!({ "p": p })),
        ];
        for (what, mutation, variables) in attempts {
            let response = app.post(Some(&bob), mutation, variables).await;
            assert_eq!(response.error_code(), "NOT_FOUND", "{mutation}: {}", response.body);
            assert_eq!(response.error_message(), format!("{what} not found"), "{mutation}");
            assert_eq!(response.body["data"], Value::Null, "{mutation}");
        }

        assert_eq!(table_counts(&app).await, counts, "nothing was written");
        assert_eq!(ok(&app, &alice, FULL_STATE, json!({ "id": a.project })).await, before, "nothing changed");
        assert_eq!(state_version(&app, &a.project).await, version);
        assert_eq!(stored_analysis(&app, &a.project).await, analysis);
    }
}
