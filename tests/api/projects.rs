//! Project state through the API: every field and mutation round-trips, the
//! owner rule, bad input, batching and the state version.

mod bad_input;
mod batching;
mod budget;
mod owners;
mod versions;

use entity::{di_analyses, projects};
use sea_orm::EntityTrait;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::{helpers::TestApp, test_both};

/// Runs `query` as `auth` and returns `data`, failing on any error.
pub(crate) async fn ok(app: &TestApp, auth: &str, query: &str, variables: Value) -> Value {
    app.post(Some(auth), query, variables).await.data_ok()
}

pub(crate) async fn create_project(app: &TestApp, auth: &str, name: &str) -> String {
    let data = ok(
        app,
        auth,
        "mutation($n: String!) { createProject(input: { name: $n }) { id } }",
        json!({ "n": name }),
    )
    .await;
    id_of(&data["createProject"])
}

/// The `id` of a returned object.
pub(crate) fn id_of(object: &Value) -> String {
    object["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {object}"))
        .to_owned()
}

pub(crate) fn uuid(id: &str) -> Uuid {
    id.parse().expect("a UUID")
}

/// The project's `state_version`, read directly.
pub(crate) async fn state_version(app: &TestApp, project: &str) -> i64 {
    projects::Entity::find_by_id(uuid(project))
        .one(app.db.conn())
        .await
        .expect("project query")
        .expect("project exists")
        .state_version
}

/// Row counts of every project table, read directly.
pub(crate) async fn table_counts(app: &TestApp) -> Vec<(&'static str, i64)> {
    let mut counts = Vec::new();
    for table in [
        "projects",
        "features",
        "personas",
        "vp_steps",
        "meetings",
        "signals",
        "strategic_contexts",
        "foundations",
        "di_analyses",
    ] {
        counts.push((table, app.count(table).await));
    }
    counts
}

pub(crate) async fn stored_analysis(app: &TestApp, project: &str) -> Option<di_analyses::Model> {
    di_analyses::Entity::find_by_id(uuid(project))
        .one(app.db.conn())
        .await
        .expect("analysis query")
}

/// Every state field of one project.
pub(crate) const FULL_STATE: &str = "query($id: UUID!) { project(id: $id) { id name
    features(first: 10) { nodes { id projectId name description confirmed createdAt } pageInfo { hasNextPage } }
    personas { id projectId name description createdAt }
    valuePath { id projectId position label description }
    meetings(first: 10) { nodes { id projectId title heldAt notes } }
    signals(first: 10) { nodes { id projectId source authority content createdAt analyzedAt } }
    unanalyzed: signals(unanalyzedOnly: true) { nodes { id } }
    foundation { projectId problemStatement targetUsers valueProposition businessCase constraints updatedAt }
    strategicContext { projectId content updatedAt } } }";

pub(crate) const CREATE_FEATURE: &str = "mutation($p: UUID!, $name: String!, $d: String! = \"\") {
    createFeature(projectId: $p, input: { name: $name, description: $d }) { id projectId name description confirmed createdAt } }";
pub(crate) const CREATE_PERSONA: &str = "mutation($p: UUID!, $name: String!) {
    createPersona(projectId: $p, input: { name: $name, description: \"who\" }) { id projectId name description createdAt } }";
pub(crate) const ADD_STEP: &str = "mutation($p: UUID!, $label: String!, $pos: Int) {
    addValuePathStep(projectId: $p, input: { label: $label, description: \"step\", position: $pos }) { id projectId position label description } }";
pub(crate) const ADD_MEETING: &str = "mutation($p: UUID!, $title: String!, $at: DateTime!) {
    addMeeting(projectId: $p, input: { title: $title, heldAt: $at, notes: \"notes\" }) { id projectId title heldAt notes } }";
pub(crate) const ADD_SIGNAL: &str = "mutation($p: UUID!, $content: String!, $a: SignalAuthority!) {
    addSignal(projectId: $p, input: { source: \"interview\", authority: $a, content: $content }) {
        id projectId source authority content createdAt analyzedAt } }";
pub(crate) const SET_FOUNDATION: &str = "mutation($p: UUID!, $input: SetFoundationInput!) {
    setFoundation(projectId: $p, input: $input) {
        projectId problemStatement targetUsers valueProposition businessCase constraints updatedAt } }";
pub(crate) const SET_CONTEXT: &str = "mutation($p: UUID!, $c: String!) {
    setStrategicContext(projectId: $p, content: $c) { projectId content updatedAt } }";
pub(crate) const STORE_ANALYSIS: &str = "mutation($p: UUID!, $a: JSON!) {
    storeDiAnalysis(projectId: $p, analysis: $a) { projectId analysis analyzedAt } }";
pub(crate) const MARK_ANALYZED: &str = "mutation($p: UUID!, $ids: [UUID!]!) {
    markSignalsAnalyzed(projectId: $p, signalIds: $ids) { id analyzedAt } }";

/// The ids of a project with one or more of every kind of state.
pub(crate) struct Populated {
    pub project: String,
    pub feature: String,
    pub persona: String,
    pub steps: Vec<String>,
    pub signals: Vec<String>,
}

/// A project of `auth` with two features, a persona, two steps, a meeting,
/// two signals, a foundation, a strategic context and a DI analysis.
pub(crate) async fn populate(app: &TestApp, auth: &str, name: &str) -> Populated {
    let project = create_project(app, auth, name).await;
    let p = json!(project);
    let feature = ok(
        app,
        auth,
        CREATE_FEATURE,
        json!({ "p": p, "name": "Export", "d": "CSV" }),
    )
    .await;
    ok(
        app,
        auth,
        CREATE_FEATURE,
        json!({ "p": p, "name": "Import" }),
    )
    .await;
    let persona = ok(app, auth, CREATE_PERSONA, json!({ "p": p, "name": "Ada" })).await;
    let mut steps = Vec::new();
    for label in ["Discover", "Decide"] {
        let step = ok(app, auth, ADD_STEP, json!({ "p": p, "label": label })).await;
        steps.push(id_of(&step["addValuePathStep"]));
    }
    ok(
        app,
        auth,
        ADD_MEETING,
        json!({ "p": p, "title": "Kick-off", "at": "2026-01-05T10:00:00Z" }),
    )
    .await;
    let mut signals = Vec::new();
    for (content, authority) in [("Too slow", "CLIENT"), ("Competitor cheaper", "RESEARCH")] {
        let signal = ok(
            app,
            auth,
            ADD_SIGNAL,
            json!({ "p": p, "content": content, "a": authority }),
        )
        .await;
        signals.push(id_of(&signal["addSignal"]));
    }
    ok(
        app,
        auth,
        SET_FOUNDATION,
        json!({ "p": p, "input": { "problemStatement": "Slow reports" } }),
    )
    .await;
    ok(
        app,
        auth,
        SET_CONTEXT,
        json!({ "p": p, "c": "Enterprise first" }),
    )
    .await;
    ok(
        app,
        auth,
        STORE_ANALYSIS,
        json!({ "p": p, "a": { "gaps": [] } }),
    )
    .await;
    Populated {
        project,
        feature: id_of(&feature["createFeature"]),
        persona: id_of(&persona["createPersona"]),
        steps,
        signals,
    }
}

test_both! {
    async fn features_are_created_updated_confirmed_and_deleted(app: TestApp) {
        let (_, auth) = app.new_user(false);
        let project = create_project(&app, &auth, "Atlas").await;
        let created = ok(&app, &auth, CREATE_FEATURE, json!({ "p": project, "name": "Export", "d": "CSV export" })).await["createFeature"].clone();
        assert_eq!(created["projectId"], json!(project));
        assert_eq!(created["confirmed"], false);
        let id = id_of(&created);

        let update = "mutation($id: UUID!) { updateFeature(id: $id, input: { name: \"Export v2\" }) { name description confirmed } }";
        let updated = ok(&app, &auth, update, json!({ "id": id })).await;
        assert_eq!(updated["updateFeature"], json!({ "name": "Export v2", "description": "CSV export", "confirmed": false }));
        let confirm = "mutation($id: UUID!) { confirmFeature(id: $id) { confirmed } }";
        assert_eq!(ok(&app, &auth, confirm, json!({ "id": id })).await["confirmFeature"]["confirmed"], true);

        let state = ok(&app, &auth, FULL_STATE, json!({ "id": project })).await;
        let feature = &state["project"]["features"]["nodes"][0];
        assert_eq!(feature["name"], "Export v2");
        assert_eq!(feature["confirmed"], true);
        assert_eq!(feature["createdAt"], created["createdAt"]);

        let unconfirm = "mutation($id: UUID!) { confirmFeature(id: $id, confirmed: false) { confirmed } }";
        assert_eq!(ok(&app, &auth, unconfirm, json!({ "id": id })).await["confirmFeature"]["confirmed"], false);

        let delete = "mutation($id: UUID!) { deleteFeature(id: $id) { id name } }";
        let deleted = ok(&app, &auth, delete, json!({ "id": id })).await;
        assert_eq!(deleted["deleteFeature"], json!({ "id": id, "name": "Export v2" }));
        let state = ok(&app, &auth, FULL_STATE, json!({ "id": project })).await;
        assert_eq!(state["project"]["features"]["nodes"], json!([]));
        let again = app.post(Some(&auth), delete, json!({ "id": id })).await;
        assert_eq!(again.error_message(), "feature not found");
    }
}

test_both! {
    async fn personas_are_created_updated_and_deleted(app: TestApp) {
        let (_, auth) = app.new_user(false);
        let project = create_project(&app, &auth, "Atlas").await;
        let ada = id_of(&ok(&app, &auth, CREATE_PERSONA, json!({ "p": project, "name": "Ada" })).await["createPersona"]);
        ok(&app, &auth, CREATE_PERSONA, json!({ "p": project, "name": "Bob" })).await;

        let update = "mutation($id: UUID!) { updatePersona(id: $id, input: { description: \"analyst\" }) { name description } }";
        let updated = ok(&app, &auth, update, json!({ "id": ada })).await;
        assert_eq!(updated["updatePersona"], json!({ "name": "Ada", "description": "analyst" }));
        let state = ok(&app, &auth, FULL_STATE, json!({ "id": project })).await;
        let names: Vec<_> = state["project"]["personas"].as_array().expect("list").iter().map(|p| p["name"].clone()).collect();
        assert_eq!(names, [json!("Ada"), json!("Bob")]);
        assert_eq!(state["project"]["personas"][0]["description"], "analyst");

        let delete = "mutation($id: UUID!) { deletePersona(id: $id) { name description } }";
        let deleted = ok(&app, &auth, delete, json!({ "id": ada })).await;
        assert_eq!(deleted["deletePersona"], json!({ "name": "Ada", "description": "analyst" }));
        let state = ok(&app, &auth, FULL_STATE, json!({ "id": project })).await;
        assert_eq!(state["project"]["personas"].as_array().map(Vec::len), Some(1));
    }
}

/// The labels of the project's value path, in order, with their positions.
async fn value_path(app: &TestApp, auth: &str, project: &str) -> Vec<(String, i64)> {
    let state = ok(app, auth, FULL_STATE, json!({ "id": project })).await;
    state["project"]["valuePath"]
        .as_array()
        .expect("list")
        .iter()
        .map(|s| {
            (
                s["label"].as_str().expect("label").to_owned(),
                s["position"].as_i64().expect("position"),
            )
        })
        .collect()
}

fn path(labels: &[&str]) -> Vec<(String, i64)> {
    (0..)
        .zip(labels)
        .map(|(i, l)| ((*l).to_owned(), i))
        .collect()
}

test_both! {
    async fn value_path_steps_are_inserted_reordered_and_deleted_with_dense_positions(app: TestApp) {
        let (_, auth) = app.new_user(false);
        let project = create_project(&app, &auth, "Atlas").await;
        let mut ids = Vec::new();
        for (label, position) in [("b", json!(null)), ("d", json!(null)), ("a", json!(0)), ("c", json!(2)), ("e", json!(99))] {
            let step = ok(&app, &auth, ADD_STEP, json!({ "p": project, "label": label, "pos": position })).await;
            ids.push((label, id_of(&step["addValuePathStep"])));
        }
        assert_eq!(value_path(&app, &auth, &project).await, path(&["a", "b", "c", "d", "e"]));

        let id = |label: &str| ids.iter().find(|(l, _)| *l == label).map(|(_, id)| id.clone()).expect("step");
        let reorder = "mutation($p: UUID!, $ids: [UUID!]!) { reorderValuePath(projectId: $p, stepIds: $ids) { label position } }";
        let order = ["e", "d", "c", "b", "a"].map(id);
        let reordered = ok(&app, &auth, reorder, json!({ "p": project, "ids": order })).await;
        assert_eq!(reordered["reorderValuePath"][0], json!({ "label": "e", "position": 0 }));
        assert_eq!(value_path(&app, &auth, &project).await, path(&["e", "d", "c", "b", "a"]));

        let delete = "mutation($id: UUID!) { deleteValuePathStep(id: $id) { label position } }";
        let deleted = ok(&app, &auth, delete, json!({ "id": id("c") })).await;
        assert_eq!(deleted["deleteValuePathStep"], json!({ "label": "c", "position": 2 }));
        assert_eq!(value_path(&app, &auth, &project).await, path(&["e", "d", "b", "a"]));
    }
}

test_both! {
    async fn meetings_list_newest_first_and_page_with_cursors(app: TestApp) {
        let (_, auth) = app.new_user(false);
        let project = create_project(&app, &auth, "Atlas").await;
        for (title, at) in [("Second", "2026-02-01T09:00:00Z"), ("First", "2026-01-01T09:00:00+02:00"),
                            ("Fourth", "2026-04-01T09:00:00Z"), ("Third", "2026-03-01T09:00:00Z")] {
            let added = ok(&app, &auth, ADD_MEETING, json!({ "p": project, "title": title, "at": at })).await;
            assert_eq!(added["addMeeting"]["title"], title);
            assert_eq!(added["addMeeting"]["notes"], "notes");
        }
        let page = "query($id: UUID!, $after: String) { project(id: $id) {
            meetings(first: 3, after: $after) { nodes { title heldAt } pageInfo { hasNextPage endCursor } } } }";
        let first = ok(&app, &auth, page, json!({ "id": project })).await["project"]["meetings"].clone();
        let titles: Vec<_> = first["nodes"].as_array().expect("nodes").iter().map(|m| m["title"].clone()).collect();
        assert_eq!(titles, [json!("Fourth"), json!("Third"), json!("Second")]);
        assert_eq!(first["pageInfo"]["hasNextPage"], true);
        let rest = ok(&app, &auth, page, json!({ "id": project, "after": first["pageInfo"]["endCursor"] })).await;
        let rest = &rest["project"]["meetings"];
        assert_eq!(rest["nodes"], json!([{ "title": "First", "heldAt": "2026-01-01T07:00:00+00:00" }]));
        assert_eq!(rest["pageInfo"]["hasNextPage"], false);
    }
}

test_both! {
    async fn signals_are_added_filtered_paged_and_marked_analyzed(app: TestApp) {
        let (_, auth) = app.new_user(false);
        let project = create_project(&app, &auth, "Atlas").await;
        let mut ids = Vec::new();
        for (n, authority) in ["CLIENT", "CONSULTANT", "RESEARCH", "OTHER", "CLIENT"].into_iter().enumerate() {
            let added = ok(&app, &auth, ADD_SIGNAL, json!({ "p": project, "content": format!("s{n}"), "a": authority })).await;
            assert_eq!(added["addSignal"]["authority"], authority);
            assert_eq!(added["addSignal"]["analyzedAt"], Value::Null);
            ids.push(id_of(&added["addSignal"]));
        }
        let marked = ok(&app, &auth, MARK_ANALYZED, json!({ "p": project, "ids": [ids[3], ids[1], ids[1]] })).await;
        let marked = marked["markSignalsAnalyzed"].as_array().cloned().expect("list");
        assert_eq!(marked.iter().map(id_of).collect::<Vec<_>>(), [ids[1].clone(), ids[3].clone()], "by id, once each");
        assert!(marked.iter().all(|s| s["analyzedAt"].is_string()));
        let again = ok(&app, &auth, MARK_ANALYZED, json!({ "p": project, "ids": [ids[1]] })).await;
        assert_eq!(again["markSignalsAnalyzed"][0]["analyzedAt"], marked[0]["analyzedAt"], "keeps the first time");

        let page = "query($id: UUID!, $only: Boolean, $after: String) { project(id: $id) {
            signals(first: 2, unanalyzedOnly: $only, after: $after) { nodes { id content analyzedAt } pageInfo { hasNextPage endCursor } } } }";
        let mut seen = Vec::new();
        let mut after = Value::Null;
        loop {
            let data = ok(&app, &auth, page, json!({ "id": project, "only": true, "after": after })).await;
            let signals = &data["project"]["signals"];
            for node in signals["nodes"].as_array().expect("nodes") {
                assert_eq!(node["analyzedAt"], Value::Null);
                seen.push(node["content"].as_str().expect("content").to_owned());
            }
            if signals["pageInfo"]["hasNextPage"] != true {
                break;
            }
            after = signals["pageInfo"]["endCursor"].clone();
        }
        assert_eq!(seen, ["s0", "s2", "s4"]);
        let all = ok(&app, &auth, page, json!({ "id": project })).await;
        assert_eq!(all["project"]["signals"]["nodes"][1]["content"], "s1");
        assert_eq!(all["project"]["signals"]["nodes"][1]["analyzedAt"], marked[0]["analyzedAt"]);
    }
}

test_both! {
    async fn foundation_strategic_context_and_analysis_are_upserted(app: TestApp) {
        let (_, auth) = app.new_user(false);
        let project = create_project(&app, &auth, "Atlas").await;
        let state = ok(&app, &auth, FULL_STATE, json!({ "id": project })).await;
        assert_eq!(state["project"]["foundation"], Value::Null);
        assert_eq!(state["project"]["strategicContext"], Value::Null);

        let first = ok(&app, &auth, SET_FOUNDATION, json!({ "p": project, "input": {
            "problemStatement": "Slow reports", "targetUsers": "Analysts", "constraints": "EU only" } })).await;
        assert_eq!(first["setFoundation"]["valueProposition"], Value::Null);
        let second = ok(&app, &auth, SET_FOUNDATION, json!({ "p": project, "input": {
            "valueProposition": "Ten times faster", "constraints": null } })).await["setFoundation"].clone();
        assert_eq!(second["problemStatement"], "Slow reports", "omitted fields keep their value");
        assert_eq!(second["targetUsers"], "Analysts");
        assert_eq!(second["valueProposition"], "Ten times faster");
        assert_eq!(second["constraints"], Value::Null, "null clears");

        ok(&app, &auth, SET_CONTEXT, json!({ "p": project, "c": "Mid-market" })).await;
        let context = ok(&app, &auth, SET_CONTEXT, json!({ "p": project, "c": "Enterprise first" })).await["setStrategicContext"].clone();
        assert_eq!(context["content"], "Enterprise first");

        let state = ok(&app, &auth, FULL_STATE, json!({ "id": project })).await;
        assert_eq!(state["project"]["foundation"], second);
        assert_eq!(state["project"]["strategicContext"], context);
        assert_eq!(app.count("foundations").await, 1);
        assert_eq!(app.count("strategic_contexts").await, 1);

        let analysis = json!({ "gaps": ["no client signals"], "next": [{ "action": "interview", "impact": 3 }] });
        ok(&app, &auth, STORE_ANALYSIS, json!({ "p": project, "a": { "old": true } })).await;
        let stored = ok(&app, &auth, STORE_ANALYSIS, json!({ "p": project, "a": analysis })).await["storeDiAnalysis"].clone();
        assert_eq!(stored["analysis"], analysis);
        assert_eq!(stored["projectId"], json!(project));
        let row = stored_analysis(&app, &project).await.expect("stored");
        assert_eq!(row.analysis, analysis);
        assert_eq!(json!(row.analyzed_at.to_rfc3339()), stored["analyzedAt"]);
        assert_eq!(app.count("di_analyses").await, 1);
    }
}

test_both! {
    async fn features_page_by_id_and_viewer_lists_its_own_projects(app: TestApp) {
        let (_, auth) = app.new_user(false);
        let (_, other) = app.new_user(false);
        let project = create_project(&app, &auth, "Atlas").await;
        create_project(&app, &auth, "Borealis").await;
        create_project(&app, &other, "Not mine").await;
        for name in ["f1", "f2", "f3"] {
            ok(&app, &auth, CREATE_FEATURE, json!({ "p": project, "name": name })).await;
        }
        let page = "query($id: UUID!, $after: String) { project(id: $id) {
            features(first: 2, after: $after) { nodes { name } pageInfo { hasNextPage hasPreviousPage endCursor } } } }";
        let first = ok(&app, &auth, page, json!({ "id": project })).await["project"]["features"].clone();
        assert_eq!(first["nodes"], json!([{ "name": "f1" }, { "name": "f2" }]));
        assert_eq!(first["pageInfo"]["hasNextPage"], true);
        let rest = ok(&app, &auth, page, json!({ "id": project, "after": first["pageInfo"]["endCursor"] })).await;
        assert_eq!(rest["project"]["features"]["nodes"], json!([{ "name": "f3" }]));
        assert_eq!(rest["project"]["features"]["pageInfo"]["hasPreviousPage"], true);

        let viewer = "query($after: String) { viewer { projects(first: 1, after: $after) {
            nodes { name features(first: 1) { nodes { name } } } pageInfo { hasNextPage endCursor } } } }";
        let first = ok(&app, &auth, viewer, json!({})).await["viewer"]["projects"].clone();
        assert_eq!(first["nodes"], json!([{ "name": "Atlas", "features": { "nodes": [{ "name": "f1" }] } }]));
        assert_eq!(first["pageInfo"]["hasNextPage"], true);
        let rest = ok(&app, &auth, viewer, json!({ "after": first["pageInfo"]["endCursor"] })).await;
        assert_eq!(rest["viewer"]["projects"]["nodes"], json!([{ "name": "Borealis", "features": { "nodes": [] } }]));
        assert_eq!(rest["viewer"]["projects"]["pageInfo"]["hasNextPage"], false);
    }
}
