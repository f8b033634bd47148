//! Circles and members through the API, and the nested query's budget.

use chrono::Utc;
use entity::{circle_members, circles};
use sea_orm::{ActiveModelTrait, Set};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::{
    agents::{create_agent, insert_model},
    helpers::TestApp,
    test_both,
};

const CREATE_CIRCLE: &str = "mutation($name: String!) { createCircle(input: { name: $name, description: \"d\" }) { id name } }";

pub(crate) async fn create_circle(app: &TestApp, name: &str) -> String {
    let data = app.admin_ok(CREATE_CIRCLE, json!({ "name": name })).await;
    data["createCircle"]["id"].as_str().expect("id").to_owned()
}

const MEMBERS: &str =
    "query($id: UUID!) { circle(id: $id) { name members { role isActive agent { name } } } }";

test_both! {
    async fn members_are_added_updated_and_removed(app: TestApp) {
        create_agent(&app, json!({ "name": "lead-agent" })).await;
        create_agent(&app, json!({ "name": "helper-agent" })).await;
        let circle = create_circle(&app, "core").await;

        let add = "mutation($c: UUID!, $a: String!, $r: String) { addCircleMember(circleId: $c, agentName: $a, role: $r) { role agent { name } } }";
        let added = app.admin_ok(add, json!({ "c": circle, "a": "lead-agent", "r": "lead" })).await;
        assert_eq!(added["addCircleMember"]["agent"]["name"], "lead-agent");
        app.admin_ok(add, json!({ "c": circle, "a": "helper-agent" })).await;

        let members = app.user_ok(MEMBERS, json!({ "id": circle })).await;
        assert_eq!(members["circle"]["members"], json!([
            { "role": "lead", "isActive": true, "agent": { "name": "lead-agent" } },
            { "role": "member", "isActive": true, "agent": { "name": "helper-agent" } },
        ]));

        let update = "mutation($c: UUID!) { updateCircleMember(circleId: $c, agentName: \"helper-agent\", input: { role: \"reviewer\", isActive: false }) { role isActive } }";
        let updated = app.admin_ok(update, json!({ "c": circle })).await;
        assert_eq!(updated["updateCircleMember"], json!({ "role": "reviewer", "isActive": false }));

        let remove = "mutation($c: UUID!) { removeCircleMember(circleId: $c, agentName: \"lead-agent\") { role agent { name } } }";
        let removed = app.admin_ok(remove, json!({ "c": circle })).await;
        assert_eq!(removed["removeCircleMember"]["role"], "lead");
        let members = app.user_ok(MEMBERS, json!({ "id": circle })).await;
        assert_eq!(members["circle"]["members"], json!([
            { "role": "reviewer", "isActive": false, "agent": { "name": "helper-agent" } },
        ]));
    }
}

test_both! {
    async fn membership_errors_are_clear_and_write_nothing(app: TestApp) {
        create_agent(&app, json!({ "name": "solo" })).await;
        let circle = create_circle(&app, "pair").await;
        let add = "mutation($c: UUID!, $a: String!) { addCircleMember(circleId: $c, agentName: $a) { role } }";
        app.admin_ok(add, json!({ "c": circle, "a": "solo" })).await;

        let twice = app.post(Some(&app.admin), add, json!({ "c": circle, "a": "solo" })).await;
        assert_eq!(twice.error_code(), "BAD_USER_INPUT");
        assert_eq!(twice.error_field(), Some("agentName"));
        let unknown_agent = app.post(Some(&app.admin), add, json!({ "c": circle, "a": "nobody" })).await;
        assert_eq!(unknown_agent.error_code(), "NOT_FOUND");
        let unknown_circle = app.post(Some(&app.admin), add, json!({ "c": Uuid::now_v7(), "a": "solo" })).await;
        assert_eq!(unknown_circle.error_message(), "circle not found");
        assert_eq!(app.count("circle_members").await, 1);

        let duplicate = app.post(Some(&app.admin), CREATE_CIRCLE, json!({ "name": "pair" })).await;
        assert_eq!(duplicate.error_message(), "a circle named `pair` already exists");
        assert_eq!(app.count("circles").await, 1);
    }
}

test_both! {
    async fn an_unknown_circle_is_null(app: TestApp) {
        let data = app.user_ok(MEMBERS, json!({ "id": Uuid::now_v7() })).await;
        assert_eq!(data["circle"], Value::Null);
    }
}

test_both! {
    async fn circles_page_by_name(app: TestApp) {
        for name in ["c3", "c1", "c2"] {
            create_circle(&app, name).await;
        }
        let first = app.user_ok("{ circles(first: 2) { nodes { name } pageInfo { hasNextPage endCursor } } }", json!({})).await;
        assert_eq!(first["circles"]["nodes"], json!([{ "name": "c1" }, { "name": "c2" }]));
        assert_eq!(first["circles"]["pageInfo"]["hasNextPage"], true);
        let rest = app.user_ok("query($a: String) { circles(first: 2, after: $a) { nodes { name } pageInfo { hasNextPage } } }",
            json!({ "a": first["circles"]["pageInfo"]["endCursor"] })).await;
        assert_eq!(rest["circles"]["nodes"], json!([{ "name": "c3" }]));
        assert_eq!(rest["circles"]["pageInfo"]["hasNextPage"], false);
    }
}

/// Inserts `count` circles (named after `prefix`) with three members each.
async fn insert_circles(app: &TestApp, prefix: &str, count: usize, agent_ids: &[Uuid]) {
    for c in 0..count {
        let circle_id = Uuid::now_v7();
        circles::ActiveModel {
            id: Set(circle_id.into()),
            name: Set(format!("{prefix}-{c:03}")),
            description: Set(String::new()),
            created_at: Set(Utc::now()),
        }
        .insert(app.db.conn())
        .await
        .expect("circle");
        for (m, agent_id) in agent_ids.iter().cycle().skip(c).take(3).enumerate() {
            circle_members::ActiveModel {
                id: Set(Uuid::now_v7().into()),
                circle_id: Set(circle_id.into()),
                agent_id: Set((*agent_id).into()),
                role: Set(if m == 0 { "lead" } else { "member" }.to_owned()),
                is_active: Set(true),
                joined_at: Set(Utc::now()),
            }
            .insert(app.db.conn())
            .await
            .expect("member");
        }
    }
}

test_both! {
    async fn the_nested_circles_query_takes_at_most_two_statements_for_any_page(app: TestApp) {
        let model_id = insert_model(&app, "anthropic", "claude").await;
        let mut agent_ids = Vec::new();
        for n in 0..6 {
            let model = if n % 2 == 0 { json!(model_id) } else { Value::Null };
            let agent = create_agent(&app, json!({ "name": format!("member-{n}"), "modelId": model })).await;
            agent_ids.push(agent["id"].as_str().expect("id").parse::<Uuid>().expect("uuid"));
        }
        let query = "query($n: Int!) { circles(first: $n) { nodes { name
            members { role agent { name model { modelName provider { name } } } } } } }";
        let mut inserted = 0;
        for n in [1usize, 10, 50] {
            insert_circles(&app, &format!("batch{n:02}"), n - inserted, &agent_ids).await;
            inserted = n;
            let response = app.post(Some(&app.user), query, json!({ "n": n })).await;
            let nodes = response.body["data"]["circles"]["nodes"].as_array().cloned().expect("nodes");
            assert_eq!(nodes.len(), n);
            assert!(nodes.iter().all(|c| c["members"].as_array().map(Vec::len) == Some(3)), "{}", response.body);
            let with_provider = nodes.iter().flat_map(|c| c["members"].as_array().cloned().unwrap_or_default())
                .filter(|m| m["agent"]["model"]["provider"]["name"] == "anthropic").count();
            assert!(with_provider > 0, "models and providers are joined in");
            assert!(response.statements() <= 2, "{} statements for {n} circles", response.statements());
            eprintln!("circles(first: {n}) with members -> agent -> model -> provider: {} statements", response.statements());
        }
    }
}

const CIRCLES_AFTER: &str = "query($n: Int!, $after: String) {
    circles(first: $n, after: $after) { nodes { name ...Members } } }
fragment Members on Circle {
    roles: members { role }
    agents: members { agent { name all: tools { name } again: tools { name } } } }";

test_both! {
    // Members and their tools count 20 each in complexity: 50 circles of
    // this query are 43,100, above the default limit, and this test is
    // about statements, not limits.
    #[flags("--max-complexity", "50000")]
    async fn a_page_after_a_cursor_with_aliased_members_takes_the_same_statements_for_any_size(app: TestApp) {
        let mut agent_ids = Vec::new();
        for n in 0..4 {
            let agent = create_agent(&app, json!({ "name": format!("member-{n}") })).await;
            agent_ids.push(agent["id"].as_str().expect("id").parse::<Uuid>().expect("uuid"));
        }
        insert_circles(&app, "a-first", 1, &agent_ids).await;
        let after = app.user_ok("{ circles(first: 1) { pageInfo { endCursor } } }", json!({})).await
            ["circles"]["pageInfo"]["endCursor"].clone();
        let mut inserted = 0;
        for n in [1usize, 10, 50] {
            insert_circles(&app, &format!("page{n:02}"), n - inserted, &agent_ids).await;
            inserted = n;
            let response = app.post(Some(&app.user), CIRCLES_AFTER, json!({ "n": n, "after": after })).await;
            let statements = response.statements();
            eprintln!("circles(first: {n}, after) with aliased members and tools: {statements} statements");
            let nodes = response.data_ok()["circles"]["nodes"].as_array().cloned().expect("nodes");
            assert_eq!(nodes.len(), n);
            for node in &nodes {
                assert!(node["name"].as_str().is_some_and(|name| !name.starts_with("a-first")), "{node}");
                assert_eq!(node["roles"], json!([{ "role": "lead" }, { "role": "member" }, { "role": "member" }]));
                let agents = node["agents"].as_array().cloned().expect("members");
                assert_eq!(agents.len(), 3);
                assert!(agents.iter().all(|m| m["agent"]["all"] == json!([]) && m["agent"]["again"] == json!([])), "{node}");
            }
            // The page, the members JOIN of circles not seen before, and the
            // configs (tools) of member agents not seen before: never more,
            // whatever the page size.
            assert!((2..=3).contains(&statements), "{statements} statements for {n} circles");
        }
    }
}

const NESTED: &str = "{ circles(first: 20) { nodes { name
    members { role isActive agent { name status model { modelName provider { name } } } } } } }";

/// The members of the only circle, as the nested query shows them.
fn members_of(data: &Value) -> Value {
    data["circles"]["nodes"][0]["members"].clone()
}

test_both! {
    async fn warm_nested_circles_cost_one_statement_and_follow_every_change(app: TestApp) {
        let model_id = insert_model(&app, "anthropic", "claude").await;
        create_agent(&app, json!({ "name": "lead-agent", "modelId": model_id })).await;
        create_agent(&app, json!({ "name": "helper-agent" })).await;
        let circle = create_circle(&app, "core").await;
        let add = "mutation($c: UUID!, $a: String!) { addCircleMember(circleId: $c, agentName: $a, role: \"lead\") { role } }";
        app.admin_ok(add, json!({ "c": circle, "a": "lead-agent" })).await;

        let cold = app.post(Some(&app.user), NESTED, json!({})).await;
        assert_eq!(cold.statements(), 2, "the page and the members JOIN");
        let warm = app.post(Some(&app.user), NESTED, json!({})).await;
        assert_eq!(warm.statements(), 1, "the page only: {}", warm.body);
        assert_eq!(warm.body["extensions"]["cost"]["caches"]["circle_members"], json!({ "hits": 1, "misses": 0 }));
        assert_eq!(members_of(&warm.data_ok()), json!([{ "role": "lead", "isActive": true, "agent": {
            "name": "lead-agent", "status": "ACTIVE", "model": { "modelName": "claude", "provider": { "name": "anthropic" } } } }]));

        // A member joins: the list is read afresh.
        app.admin_ok(add, json!({ "c": circle, "a": "helper-agent" })).await;
        let joined = app.user_ok(NESTED, json!({})).await;
        assert_eq!(members_of(&joined)[1]["agent"]["name"], "helper-agent");

        // An agent changes: the summaries in member lists follow.
        let pause = "mutation { updateAgent(name: \"lead-agent\", input: { status: PAUSED, modelId: null }) { status } }";
        app.admin_ok(pause, json!({})).await;
        let paused = app.user_ok(NESTED, json!({})).await;
        assert_eq!(members_of(&paused)[0]["agent"], json!({ "name": "lead-agent", "status": "PAUSED", "model": null }));

        // A membership changes, then goes.
        let update = "mutation($c: UUID!) { updateCircleMember(circleId: $c, agentName: \"helper-agent\", input: { isActive: false }) { isActive } }";
        app.admin_ok(update, json!({ "c": circle })).await;
        assert_eq!(members_of(&app.user_ok(NESTED, json!({})).await)[1]["isActive"], false);
        let remove = "mutation($c: UUID!) { removeCircleMember(circleId: $c, agentName: \"lead-agent\") { role } }";
        app.admin_ok(remove, json!({ "c": circle })).await;
        let left = members_of(&app.user_ok(NESTED, json!({})).await);
        assert_eq!(left.as_array().map(Vec::len), Some(1));
        assert_eq!(left[0]["agent"]["name"], "helper-agent");
    }
}

const MEMBER_TEXTS: &str = "query($n: Int!) { circles(first: $n) { nodes {
    members { agent { name systemPrompt skillNames tools { name } } } } } }";

test_both! {
    async fn member_agents_long_texts_and_tools_come_from_the_agent_config_cache(app: TestApp) {
        let mut agent_ids = Vec::new();
        for n in 0..4 {
            let agent = create_agent(&app, json!({ "name": format!("texts-{n}"), "systemPrompt": format!("prompt {n}"), "skillNames": ["s"] })).await;
            agent_ids.push(agent["id"].as_str().expect("id").parse::<Uuid>().expect("uuid"));
        }
        app.admin_ok("mutation { setAgentTool(agentName: \"texts-0\", input: { name: \"search\", toolType: \"http\" }) { name } }", json!({})).await;
        insert_circles(&app, "texts", 12, &agent_ids).await;
        let cold = app.post(Some(&app.user), MEMBER_TEXTS, json!({ "n": 12 })).await;
        // The page, the members JOIN (no long texts), the members' configs.
        assert_eq!(cold.statements(), 3, "{}", cold.body);
        let data = cold.data_ok();
        let members: Vec<Value> = data["circles"]["nodes"].as_array().expect("nodes").iter()
            .flat_map(|c| c["members"].as_array().cloned().unwrap_or_default()).collect();
        assert_eq!(members.len(), 36);
        for member in &members {
            let agent = &member["agent"];
            let n = agent["name"].as_str().and_then(|name| name.strip_prefix("texts-")).expect("name");
            assert_eq!(agent["systemPrompt"], format!("prompt {n}"));
            assert_eq!(agent["skillNames"], json!(["s"]));
            let tools = if n == "0" { json!([{ "name": "search" }]) } else { json!([]) };
            assert_eq!(agent["tools"], tools);
        }
        let warm = app.post(Some(&app.user), MEMBER_TEXTS, json!({ "n": 12 })).await;
        assert_eq!(warm.statements(), 1, "the page; members and configs from memory");
    }
}

/// Every plain field of a member, its agent, model and provider, under
/// aliases; `__typename` sends the same selection down the general path.
const PLAIN_MEMBERS: &str = "query($typename: Boolean!) { circles(first: 5) { nodes { members {
    id circleId role active: isActive joinedAt
    agent { id name status temperature maxTokens createdAt updatedAt
        model { id modelName modelAlias provider { id name kind: apiType } } }
    ... @include(if: $typename) { __typename } } } } }";

test_both! {
    async fn plain_member_fields_answer_exactly_what_the_general_path_answers(app: TestApp) {
        let model_id = insert_model(&app, "anthropic", "claude").await;
        let mut agent_ids = Vec::new();
        for n in 0..4 {
            let model = if n % 2 == 0 { json!(model_id) } else { Value::Null };
            let input = json!({ "name": format!("plain-{n}"), "modelId": model, "temperature": 0.5, "maxTokens": 100 + n });
            let agent = create_agent(&app, input).await;
            agent_ids.push(agent["id"].as_str().expect("id").parse::<Uuid>().expect("uuid"));
        }
        insert_circles(&app, "plain", 5, &agent_ids).await;
        let fast = app.user_ok(PLAIN_MEMBERS, json!({ "typename": false })).await;
        let mut general = app.user_ok(PLAIN_MEMBERS, json!({ "typename": true })).await;
        for circle in general["circles"]["nodes"].as_array_mut().expect("nodes") {
            for member in circle["members"].as_array_mut().expect("members") {
                let removed = member.as_object_mut().and_then(|m| m.remove("__typename"));
                assert_eq!(removed, Some(json!("CircleMember")));
            }
        }
        assert_eq!(fast, general);
        let first = &fast["circles"]["nodes"][0]["members"][0];
        assert_eq!(first["role"], "lead");
        assert_eq!(first["agent"]["status"], "ACTIVE");
        assert_eq!(first["agent"]["model"]["provider"]["kind"], "openai", "{first}");
    }
}
