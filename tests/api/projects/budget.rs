//! Statement budgets that must not grow with a page of projects:
//! `diContext` on every project, children paged after a cursor, and the same
//! relation asked for under several aliases inside fragments. Each query
//! runs on pages of 1, 10 and 50 projects and must cost the same number of
//! statements every time, and return for each project what a query of that
//! project alone returns.

use chrono::Utc;
use entity::di_analyses;
use sea_orm::{ActiveModelTrait, Set};
use serde_json::{json, Value};
use uuid::Uuid;

use super::ok;
use crate::{fixtures::insert_projects, helpers::TestApp, test_both};

const SIZES: [usize; 3] = [1, 10, 50];

fn assert_same_for_every_size(what: &str, counts: &[u64], at_most: u64) {
    assert!(
        counts.iter().all(|&c| c == counts[0]),
        "{what}: statements grew with the page: {counts:?}"
    );
    assert!(counts[0] <= at_most, "{what}: {counts:?} > {at_most}");
}

/// What a project shows of its children paged after cursors; the same for
/// a page of projects and for one project.
const CHILDREN_AFTER: &str = "id
    features(first: 2, after: $f) { nodes { name } pageInfo { hasNextPage hasPreviousPage } }
    meetings(first: 2, after: $m) { nodes { title } pageInfo { hasNextPage } }
    signals(first: 2, after: $s) { nodes { content } pageInfo { hasNextPage } }
    fresh: signals(first: 2, after: $s, unanalyzedOnly: true) { nodes { content } pageInfo { hasNextPage } }";

fn page_after() -> String {
    format!(
        "query($n: Int!, $p: String, $f: String, $m: String, $s: String) {{
        projects(first: $n, after: $p) {{ nodes {{ {CHILDREN_AFTER} }} }} }}"
    )
}

fn one_after() -> String {
    format!(
        "query($id: UUID!, $f: String, $m: String, $s: String) {{
        project(id: $id) {{ {CHILDREN_AFTER} }} }}"
    )
}

const FIRST_CURSORS: &str = "query($id: UUID!) { project(id: $id) {
    features(first: 1) { pageInfo { endCursor } }
    meetings(first: 1) { pageInfo { endCursor } }
    signals(first: 1) { pageInfo { endCursor } } } }";

/// The end cursors of the first one-item pages of `project`'s features,
/// meetings and signals.
async fn first_cursors(app: &TestApp, auth: &str, project: Uuid) -> [Value; 3] {
    let data = ok(app, auth, FIRST_CURSORS, json!({ "id": project })).await;
    ["features", "meetings", "signals"].map(|c| data["project"][c]["pageInfo"]["endCursor"].clone())
}

test_both! {
    async fn pages_after_a_cursor_cost_the_same_statements_for_any_number_of_projects(app: TestApp) {
        let (owner, auth) = app.new_user(false);
        // A project before the page: its cursors start the page and its
        // children's pages, so every project of the page is after them.
        let before = insert_projects(&app, owner, 1).await[0];
        let projects_cursor = ok(&app, &auth, "{ projects(first: 1) { pageInfo { endCursor } } }", json!({})).await
            ["projects"]["pageInfo"]["endCursor"].clone();
        let [_, meetings_cursor, signals_cursor] = first_cursors(&app, &auth, before).await;
        let mut ids = Vec::new();
        let mut counts = Vec::new();
        for n in SIZES {
            ids.extend(insert_projects(&app, owner, n - ids.len()).await);
            // Features continue after the first feature of the page's middle
            // project: nothing of the projects before it, the rest of its
            // own, and everything of those after it.
            let middle = n / 2;
            let [features_cursor, _, _] = first_cursors(&app, &auth, ids[middle]).await;
            let cursors = json!({ "f": features_cursor, "m": meetings_cursor, "s": signals_cursor });
            let mut variables = cursors.clone();
            variables["n"] = json!(n);
            variables["p"] = projects_cursor.clone();
            let response = app.post(Some(&auth), &page_after(), variables).await;
            let statements = response.statements();
            eprintln!("projects(first: {n}, after) with features, meetings, signals after cursors: {statements} statements");
            counts.push(statements);
            let nodes = response.data_ok()["projects"]["nodes"].as_array().cloned().expect("nodes");
            assert_eq!(nodes.len(), n);
            for (i, node) in nodes.iter().enumerate() {
                assert_eq!(node["id"], json!(ids[i]), "the page starts after `before`");
                let features: &[&str] = match i.cmp(&middle) {
                    std::cmp::Ordering::Less => &[],
                    std::cmp::Ordering::Equal => &["feature 1", "feature 2"],
                    std::cmp::Ordering::Greater => &["feature 0", "feature 1"],
                };
                let names: Vec<Value> = features.iter().map(|f| json!({ "name": f })).collect();
                assert_eq!(node["features"]["nodes"], json!(names), "project {i} of {n}");
                assert_eq!(node["features"]["pageInfo"], json!({ "hasNextPage": i >= middle, "hasPreviousPage": true }));
                // Held later than `before`'s newest meeting: the newest is
                // not after the cursor (newest first), the two older are.
                assert_eq!(node["meetings"], json!({
                    "nodes": [{ "title": "meeting 1" }, { "title": "meeting 2" }],
                    "pageInfo": { "hasNextPage": false },
                }));
                assert_eq!(node["signals"], json!({
                    "nodes": [{ "content": "signal 0" }, { "content": "signal 1" }],
                    "pageInfo": { "hasNextPage": true },
                }));
                assert_eq!(node["fresh"], json!({
                    "nodes": [{ "content": "signal 1" }, { "content": "signal 2" }],
                    "pageInfo": { "hasNextPage": false },
                }));
                let mut alone = cursors.clone();
                alone["id"] = json!(ids[i]);
                let one = ok(&app, &auth, &one_after(), alone).await;
                assert_eq!(&one["project"], node, "project {i} of {n} alone");
            }
        }
        // The page, then one statement per relation and filter.
        assert_same_for_every_size("pages after cursors", &counts, 5);
    }
}

/// Stores an analysis for the projects of `ids` at even positions, so a page
/// shows projects with and without one.
async fn insert_analyses(app: &TestApp, ids: &[Uuid]) {
    for id in ids.iter().step_by(2) {
        di_analyses::ActiveModel {
            project_id: Set((*id).into()),
            analysis: Set(json!({ "about": id })),
            analyzed_at: Set(Utc::now()),
        }
        .insert(app.db.conn())
        .await
        .expect("analysis");
    }
}

/// Inserts projects for `owner` until it has `total` (with analyses for
/// every other one, counting from the first); returns all their ids.
async fn grow_to(app: &TestApp, owner: Uuid, ids: &mut Vec<Uuid>, total: usize) {
    let added = insert_projects(app, owner, total - ids.len()).await;
    let offset = ids.len() % 2;
    ids.extend_from_slice(&added);
    insert_analyses(app, &added[offset..]).await;
}

const DI_PAGE: &str =
    "query($n: Int!) { projects(first: $n) { nodes { id diContext(signalsLimit: 1) {
    state { counts { features signals } foundation { problemStatement } }
    readiness { score status }
    analysis { analysis }
    unanalyzedSignals { content }
    unanalyzedSignalCount cacheValid } } } }";

test_both! {
    async fn di_context_on_a_page_of_projects_costs_the_same_statements_for_any_size(app: TestApp) {
        let (owner, auth) = app.new_user(false);
        let mut ids = Vec::new();
        let (mut cold_counts, mut warm_counts) = (Vec::new(), Vec::new());
        for n in SIZES {
            grow_to(&app, owner, &mut ids, n).await;
            let cold = app.post(Some(&auth), DI_PAGE, json!({ "n": n })).await;
            let warm = app.post(Some(&auth), DI_PAGE, json!({ "n": n })).await;
            eprintln!("projects(first: {n}) {{ diContext }}: {} statements cold, {} warm", cold.statements(), warm.statements());
            cold_counts.push(cold.statements());
            warm_counts.push(warm.statements());
            let data = cold.data_ok();
            assert_eq!(data, warm.data_ok(), "warm answers as cold");
            let nodes = data["projects"]["nodes"].as_array().cloned().expect("nodes");
            assert_eq!(nodes.len(), n);
            for (i, node) in nodes.iter().enumerate() {
                assert_eq!(node["id"], json!(ids[i]));
                let context = &node["diContext"];
                assert_eq!(context["state"], json!({
                    "counts": { "features": 4, "signals": 3 },
                    "foundation": { "problemStatement": "problem" },
                }));
                assert!(context["readiness"]["score"].is_number(), "{context}");
                let analysis = if i % 2 == 0 { json!({ "analysis": { "about": ids[i] } }) } else { Value::Null };
                assert_eq!(context["analysis"], analysis, "project {i}");
                assert_eq!(context["unanalyzedSignals"], json!([{ "content": "signal 1" }]));
                assert_eq!(context["unanalyzedSignalCount"], 2);
                assert_eq!(context["cacheValid"], false);
            }
        }
        // The page, readiness (persisted snapshots + aggregate; none warm),
        // foundations, analyses, unanalyzed signals with their counts.
        assert_same_for_every_size("diContext, cold", &cold_counts, 6);
        assert_same_for_every_size("diContext, warm", &warm_counts, 4);
    }
}

const ALIASES: &str = "query($n: Int!, $f: String) { projects(first: $n) { nodes { id ...Evidence } } }
fragment Evidence on Project {
    a: features(first: 2) { nodes { name } }
    b: features(first: 2, after: $f) { nodes { name } }
    c: features(first: 3) { nodes { name } }
    r: readiness { score }
    foundation { problemStatement }
    ...Discovery
}
fragment Discovery on Project {
    s: readiness { status }
    d: diContext(signalsLimit: 1) { unanalyzedSignalCount unanalyzedSignals { content } state { foundation { problemStatement } } }
    e: diContext(signalsLimit: 2) { unanalyzedSignals { content } analysis { analysis } }
    z: diContext(signalsLimit: 0) { unanalyzedSignalCount unanalyzedSignals { content } }
}";

test_both! {
    async fn aliases_inside_fragments_cost_the_same_statements_for_any_page(app: TestApp) {
        let (owner, auth) = app.new_user(false);
        let mut ids = Vec::new();
        let (mut cold_counts, mut warm_counts) = (Vec::new(), Vec::new());
        for n in SIZES {
            grow_to(&app, owner, &mut ids, n).await;
            let [features_cursor, _, _] = first_cursors(&app, &auth, ids[0]).await;
            let variables = json!({ "n": n, "f": features_cursor });
            let cold = app.post(Some(&auth), ALIASES, variables.clone()).await;
            let warm = app.post(Some(&auth), ALIASES, variables).await;
            eprintln!("projects(first: {n}) with aliased features, readiness and diContext in fragments: {} statements cold, {} warm",
                cold.statements(), warm.statements());
            cold_counts.push(cold.statements());
            warm_counts.push(warm.statements());
            let nodes = cold.data_ok()["projects"]["nodes"].as_array().cloned().expect("nodes");
            assert_eq!(nodes.len(), n);
            for (i, node) in nodes.iter().enumerate() {
                let names = |names: &[&str]| json!({ "nodes": names.iter().map(|f| json!({ "name": f })).collect::<Vec<_>>() });
                assert_eq!(node["a"], names(&["feature 0", "feature 1"]));
                let after = if i == 0 { ["feature 1", "feature 2"] } else { ["feature 0", "feature 1"] };
                assert_eq!(node["b"], names(&after), "project {i}: after the first project's first feature");
                assert_eq!(node["c"], names(&["feature 0", "feature 1", "feature 2"]));
                assert!(node["r"]["score"].is_number());
                assert!(node["s"]["status"].is_string());
                assert_eq!(node["foundation"]["problemStatement"], "problem");
                assert_eq!(node["d"], json!({
                    "unanalyzedSignalCount": 2,
                    "unanalyzedSignals": [{ "content": "signal 1" }],
                    "state": { "foundation": { "problemStatement": "problem" } },
                }));
                let analysis = if i % 2 == 0 { json!({ "analysis": { "about": ids[i] } }) } else { Value::Null };
                assert_eq!(node["e"], json!({
                    "unanalyzedSignals": [{ "content": "signal 1" }, { "content": "signal 2" }],
                    "analysis": analysis,
                }));
                assert_eq!(node["z"], json!({ "unanalyzedSignalCount": 2, "unanalyzedSignals": [] }), "counted even when none are listed");
            }
        }
        // The page, first pages of features (any size), features after the
        // cursor, readiness (cold: persisted snapshots + aggregate),
        // foundations, analyses, unanalyzed signals.
        assert_same_for_every_size("aliases in fragments, cold", &cold_counts, 8);
        assert_same_for_every_size("aliases in fragments, warm", &warm_counts, 6);
    }
}

const VIEWER_ALIASES: &str = "query($a: UUID!, $b: UUID!) {
    one: project(id: $a) { ...Named }
    two: project(id: $b) { ...Named }
    viewer { ...Mine } me: viewer { ...Mine } }
fragment Named on Project { name }
fragment Mine on Viewer { mine: instructions { agentName } again: instructions { agentName } }";

test_both! {
    async fn aliased_root_projects_and_instructions_are_read_once(app: TestApp) {
        let (owner, auth) = app.new_user(false);
        let ids = insert_projects(&app, owner, 2).await;
        let response = app.post(Some(&auth), VIEWER_ALIASES, json!({ "a": ids[0], "b": ids[1] })).await;
        eprintln!("two aliased projects and four aliased instruction lists: {} statements", response.statements());
        let statements = response.statements();
        let data = response.data_ok();
        assert_eq!(data["one"]["name"], format!("p-{}", ids[0]));
        assert_eq!(data["two"]["name"], format!("p-{}", ids[1]));
        assert_eq!(data["viewer"]["mine"], json!([]));
        assert_eq!(data["me"]["again"], json!([]));
        // Both projects in one statement, the viewer's instructions in one.
        assert_eq!(statements, 2);
    }
}

const READINESS_OF: &str =
    "query($id: UUID!) { project(id: $id) { readiness { score status blockers } } }";

test_both! {
    async fn a_known_projects_readiness_costs_no_statement_and_stays_private(app: TestApp) {
        let (owner, auth) = app.new_user(false);
        let (_, stranger) = app.new_user(false);
        let id = insert_projects(&app, owner, 1).await[0];
        let cold = app.post(Some(&auth), READINESS_OF, json!({ "id": id })).await;
        assert!(cold.statements() >= 1);
        let warm = app.post(Some(&auth), READINESS_OF, json!({ "id": id })).await;
        assert_eq!(warm.statements(), 0, "owner and readiness from memory: {}", warm.body);
        assert_eq!(warm.body["extensions"]["cost"]["caches"]["project_owner"], json!({ "hits": 1, "misses": 0 }));
        assert!(warm.data_ok()["project"]["readiness"]["score"].is_number());

        // The owner is known now; another user still gets null, at the
        // cost of an unknown id (tests/api/isolation.rs compares the two).
        let theirs = app.post(Some(&stranger), READINESS_OF, json!({ "id": id })).await;
        assert_eq!(theirs.statements(), 1);
        assert_eq!(theirs.data_ok()["project"], Value::Null);
        let unknown = app.post(Some(&auth), READINESS_OF, json!({ "id": Uuid::now_v7() })).await;
        assert_eq!(unknown.data_ok()["project"], Value::Null);
    }
}
