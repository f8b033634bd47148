//! The statement budget of a page of projects with all their state: one
//! statement for the page and one per relation, for any page size.

use serde_json::{json, Value};

use crate::{fixtures::insert_projects, test_both};

const PAGE: &str = "query($n: Int!) { projects(first: $n) { nodes {
    features(first: 3) { nodes { name } }
    personas { name }
    valuePath { label }
    meetings(first: 2) { nodes { title } }
    signals(first: 2, unanalyzedOnly: true) { nodes { content } }
    foundation { problemStatement }
    strategicContext { content } } } }";

/// What every inserted project shows in [`PAGE`].
fn expected_node() -> Value {
    json!({
        "features": { "nodes": [{ "name": "feature 0" }, { "name": "feature 1" }, { "name": "feature 2" }] },
        "personas": [{ "name": "persona 0" }, { "name": "persona 1" }],
        "valuePath": [{ "label": "step 0" }, { "label": "step 1" }, { "label": "step 2" }],
        "meetings": { "nodes": [{ "title": "meeting 0" }, { "title": "meeting 1" }] },
        "signals": { "nodes": [{ "content": "signal 1" }, { "content": "signal 2" }] },
        "foundation": { "problemStatement": "problem" },
        "strategicContext": { "content": "context" },
    })
}

test_both! {
    async fn a_page_of_projects_with_all_state_costs_the_same_statements_for_any_size(app: TestApp) {
        let (owner, auth) = app.new_user(false);
        let mut inserted = 0;
        let mut counts = Vec::new();
        for n in [1usize, 10, 30] {
            insert_projects(&app, owner, n - inserted).await;
            inserted = n;
            let response = app.post(Some(&auth), PAGE, json!({ "n": n })).await;
            let statements = response.statements();
            let data = response.data_ok();
            let nodes = data["projects"]["nodes"].as_array().cloned().expect("nodes");
            assert_eq!(nodes.len(), n);
            for node in &nodes {
                assert_eq!(node, &expected_node());
            }
            eprintln!("projects(first: {n}) with all seven state relations: {statements} statements");
            counts.push(statements);
        }
        assert!(counts.iter().all(|&c| c == counts[0]), "statements grew with the page: {counts:?}");
        assert!(counts[0] <= 1 + 7, "{counts:?}");
    }
}

test_both! {
    async fn later_pages_of_children_are_right_for_every_project(app: TestApp) {
        let (owner, auth) = app.new_user(false);
        insert_projects(&app, owner, 3).await;
        let first = "{ projects { nodes { id features(first: 2) { pageInfo { endCursor } } } } }";
        let data = super::super::ok(&app, &auth, first, json!({})).await;
        let project = data["projects"]["nodes"][1].clone();
        let next = "query($id: UUID!, $after: String) { project(id: $id) {
            features(first: 2, after: $after) { nodes { name } pageInfo { hasNextPage } } } }";
        let rest = super::super::ok(&app, &auth, next,
            json!({ "id": project["id"], "after": project["features"]["pageInfo"]["endCursor"] })).await;
        assert_eq!(rest["project"]["features"]["nodes"], json!([{ "name": "feature 2" }, { "name": "feature 3" }]));
        assert_eq!(rest["project"]["features"]["pageInfo"]["hasNextPage"], false);
    }
}
