//! Bad input to the state mutations: a clear error naming the field, never
//! a 5xx, and nothing written.

use serde_json::{json, Value};
use uuid::Uuid;

use super::{
    create_project, ok, populate, state_version, stored_analysis, table_counts, ADD_SIGNAL,
    ADD_STEP, CREATE_FEATURE, MARK_ANALYZED, STORE_ANALYSIS,
};
use crate::test_both;

test_both! {
    async fn unknown_ids_are_not_found_and_write_nothing(app: TestApp) {
        let (_, auth) = app.new_user(false);
        let a = populate(&app, &auth, "Atlas").await;
        let counts = table_counts(&app).await;
        let version = state_version(&app, &a.project).await;
        let nobody = Uuid::now_v7();
        let cases: Vec<(&str, &str, Value)> = vec![
            ("project", CREATE_FEATURE, json!({ "p": nobody, "name": "x" })),
            ("feature", "mutation($id: UUID!) { updateFeature(id: $id, input: { name: \"x\" }) { id } }", json!({ "id": nobody })),
            ("feature", "mutation($id: UUID!) { confirmFeature(id: $id) { id } }", json!({ "id": nobody })),
            ("feature", "mutation($id: UUID!) { deleteFeature(id: $id) { id } }", json!({ "id": nobody })),
            ("persona", "mutation($id: UUID!) { updatePersona(id: $id, input: { name: \"x\" }) { id } }", json!({ "id": nobody })),
            ("persona", "mutation($id: UUID!) { deletePersona(id: $id) { id } }", json!({ "id": nobody })),
            ("value path step", "mutation($id: UUID!) { deleteValuePathStep(id: $id) { id } }", json!({ "id": nobody })),
            ("project", "mutation($p: UUID!) { setStrategicContext(projectId: $p, content: \"x\") { content } }", json!({ "p": nobody })),
            // One unknown id among known ones: nothing is marked.
            ("signal", MARK_ANALYZED, json!({ "p": a.project, "ids": [a.signals[0], nobody] })),
        ];
        for (what, mutation, variables) in cases {
            let response = app.post(Some(&auth), mutation, variables).await;
            assert_eq!(response.status, 200, "{}", response.body);
            assert_eq!(response.error_code(), "NOT_FOUND", "{mutation}");
            assert_eq!(response.error_message(), format!("{what} not found"), "{mutation}");
        }
        let unanalyzed = ok(&app, &auth, "query($id: UUID!) { project(id: $id) { signals(unanalyzedOnly: true) { nodes { id } } } }",
            json!({ "id": a.project })).await;
        assert_eq!(unanalyzed["project"]["signals"]["nodes"].as_array().map(Vec::len), Some(2));
        assert_eq!(table_counts(&app).await, counts);
        assert_eq!(state_version(&app, &a.project).await, version);
    }
}

test_both! {
    async fn an_unknown_signal_authority_is_a_graphql_input_error(app: TestApp) {
        let (_, auth) = app.new_user(false);
        let project = create_project(&app, &auth, "Atlas").await;
        let as_variable = app.post(Some(&auth), ADD_SIGNAL, json!({ "p": project, "content": "x", "a": "BOSS" })).await;
        assert!(as_variable.status < 500, "{}", as_variable.status);
        assert_eq!(as_variable.error_code(), "BAD_USER_INPUT", "{}", as_variable.body);
        let inline = app.post(Some(&auth),
            "mutation($p: UUID!) { addSignal(projectId: $p, input: { source: \"x\", authority: BOSS, content: \"x\" }) { id } }",
            json!({ "p": project })).await;
        assert!(inline.status < 500, "{}", inline.status);
        assert_eq!(inline.error_code(), "BAD_USER_INPUT", "{}", inline.body);
        let lowercase = app.post(Some(&auth), ADD_SIGNAL, json!({ "p": project, "content": "x", "a": "client" })).await;
        assert_eq!(lowercase.error_code(), "BAD_USER_INPUT", "{}", lowercase.body);
        assert_eq!(app.count("signals").await, 0);
    }
}

test_both! {
    async fn invalid_texts_positions_and_lists_name_their_field_and_write_nothing(app: TestApp) {
        let (_, auth) = app.new_user(false);
        let a = populate(&app, &auth, "Atlas").await;
        let counts = table_counts(&app).await;
        let version = state_version(&app, &a.project).await;
        let p = json!(a.project);
        let long_name = "n".repeat(101);
        let long_description = "d".repeat(4_001);
        let long_text = "t".repeat(32_001);
        let many_ids: Vec<Uuid> = (0..1_001).map(|_| Uuid::now_v7()).collect();
        let cases: Vec<(&str, &str, Value)> = vec![
            ("name", CREATE_FEATURE, json!({ "p": p, "name": "   " })),
            ("name", CREATE_FEATURE, json!({ "p": p, "name": long_name })),
            ("description", CREATE_FEATURE, json!({ "p": p, "name": "ok", "d": long_description })),
            ("name", "mutation($id: UUID!) { updateFeature(id: $id, input: { name: \"\" }) { id } }", json!({ "id": a.feature })),
            ("name", "mutation($p: UUID!, $n: String!) { createPersona(projectId: $p, input: { name: $n }) { id } }", json!({ "p": p, "n": long_name })),
            ("description", "mutation($id: UUID!, $d: String!) { updatePersona(id: $id, input: { description: $d }) { id } }",
                json!({ "id": a.persona, "d": long_description })),
            ("label", ADD_STEP, json!({ "p": p, "label": " " })),
            ("position", ADD_STEP, json!({ "p": p, "label": "ok", "pos": -1 })),
            ("stepIds", "mutation($p: UUID!, $ids: [UUID!]!) { reorderValuePath(projectId: $p, stepIds: $ids) { id } }",
                json!({ "p": p, "ids": [a.steps[0]] })),
            ("stepIds", "mutation($p: UUID!, $ids: [UUID!]!) { reorderValuePath(projectId: $p, stepIds: $ids) { id } }",
                json!({ "p": p, "ids": [a.steps[0], a.steps[0]] })),
            ("stepIds", "mutation($p: UUID!, $ids: [UUID!]!) { reorderValuePath(projectId: $p, stepIds: $ids) { id } }",
                json!({ "p": p, "ids": [a.steps[0], a.steps[1], Uuid::now_v7()] })),
            ("title", "mutation($p: UUID!) { addMeeting(projectId: $p, input: { title: \"\", heldAt: \"2026-01-01T00:00:00Z\" }) { id } }", json!({ "p": p })),
            ("notes", "mutation($p: UUID!, $n: String!) { addMeeting(projectId: $p, input: { title: \"t\", heldAt: \"2026-01-01T00:00:00Z\", notes: $n }) { id } }",
                json!({ "p": p, "n": long_text })),
            ("source", "mutation($p: UUID!) { addSignal(projectId: $p, input: { source: \" \", authority: CLIENT, content: \"x\" }) { id } }", json!({ "p": p })),
            ("content", ADD_SIGNAL, json!({ "p": p, "content": "", "a": "CLIENT" })),
            ("content", ADD_SIGNAL, json!({ "p": p, "content": long_text, "a": "CLIENT" })),
            ("signalIds", MARK_ANALYZED, json!({ "p": p, "ids": many_ids })),
            ("problemStatement", "mutation($p: UUID!, $t: String!) { setFoundation(projectId: $p, input: { targetUsers: \"ok\", problemStatement: $t }) { projectId } }",
                json!({ "p": p, "t": long_description })),
            ("content", "mutation($p: UUID!, $c: String!) { setStrategicContext(projectId: $p, content: $c) { content } }", json!({ "p": p, "c": long_text })),
            ("content", "mutation($p: UUID!) { setStrategicContext(projectId: $p, content: \"  \") { content } }", json!({ "p": p })),
            ("analysis", STORE_ANALYSIS, json!({ "p": p, "a": [1, 2] })),
            ("analysis", STORE_ANALYSIS, json!({ "p": p, "a": "text" })),
        ];
        for (field, mutation, variables) in cases {
            let response = app.post(Some(&auth), mutation, variables).await;
            assert_eq!(response.status, 200, "{}", response.body);
            assert_eq!(response.error_code(), "BAD_USER_INPUT", "{mutation}: {}", response.body);
            assert_eq!(response.error_field(), Some(field), "{mutation}: {}", response.body);
            assert!(response.error_message().contains(field), "{}", response.error_message());
        }
        assert_eq!(table_counts(&app).await, counts);
        assert_eq!(state_version(&app, &a.project).await, version);
    }
}

test_both! {
    #[flags("--body-limit-bytes", "1048576")]
    async fn an_analysis_over_256_kib_is_rejected(app: TestApp) {
        let (_, auth) = app.new_user(false);
        let project = create_project(&app, &auth, "Atlas").await;
        let fits = json!({ "text": "a".repeat(256 * 1024 - 20) });
        ok(&app, &auth, STORE_ANALYSIS, json!({ "p": project, "a": fits })).await;
        let too_big = json!({ "text": "a".repeat(256 * 1024) });
        let response = app.post(Some(&auth), STORE_ANALYSIS, json!({ "p": project, "a": too_big })).await;
        assert_eq!(response.error_code(), "BAD_USER_INPUT");
        assert_eq!(response.error_field(), Some("analysis"));
        let stored = stored_analysis(&app, &project).await.expect("the first one stays");
        assert_eq!(stored.analysis, fits);
    }
}
