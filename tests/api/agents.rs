//! Agents, models, providers and tools through the API.

use entity::{models, providers};
use sea_orm::{ActiveModelTrait, Set};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::{helpers::TestApp, test_both};

/// Inserts a provider and a model directly; returns the model id.
pub(crate) async fn insert_model(app: &TestApp, provider: &str, model: &str) -> Uuid {
    let provider_id = Uuid::now_v7();
    providers::ActiveModel {
        id: Set(provider_id.into()),
        name: Set(provider.to_owned()),
        api_type: Set("openai".to_owned()),
    }
    .insert(app.db.conn())
    .await
    .expect("provider");
    let model_id = Uuid::now_v7();
    models::ActiveModel {
        id: Set(model_id.into()),
        provider_id: Set(provider_id.into()),
        model_name: Set(model.to_owned()),
        model_alias: Set(Some(format!("{model}-alias"))),
    }
    .insert(app.db.conn())
    .await
    .expect("model");
    model_id
}

pub(crate) const CREATE_AGENT: &str = "mutation($input: CreateAgentInput!) {
    createAgent(input: $input) { id name status systemPrompt skillNames temperature maxTokens
        model { modelName modelAlias provider { name } } tools { name } } }";

pub(crate) async fn create_agent(app: &TestApp, input: Value) -> Value {
    app.admin_ok(CREATE_AGENT, json!({ "input": input })).await["createAgent"].clone()
}

const AGENT: &str = "query($name: String!) { agent(name: $name) {
    name description systemPrompt basePrompt skillNames status temperature maxTokens
    model { modelName provider { name apiType } } tools { name toolType config isActive } } }";

test_both! {
    async fn a_created_agent_reads_back_with_its_model_and_provider(app: TestApp) {
        let model_id = insert_model(&app, "openai", "gpt-4o").await;
        let created = create_agent(&app, json!({
            "name": "planner", "systemPrompt": "Plan.", "skillNames": ["plan", "estimate"],
            "modelId": model_id, "temperature": 0.3, "maxTokens": 2048,
        })).await;
        assert_eq!(created["status"], "ACTIVE");
        assert_eq!(created["model"]["provider"]["name"], "openai");

        let agent = app.user_ok(AGENT, json!({ "name": "planner" })).await["agent"].clone();
        assert_eq!(agent["systemPrompt"], "Plan.");
        assert_eq!(agent["basePrompt"], "");
        assert_eq!(agent["skillNames"], json!(["plan", "estimate"]));
        assert_eq!(agent["temperature"], 0.3);
        assert_eq!(agent["maxTokens"], 2048);
        assert_eq!(agent["model"]["modelName"], "gpt-4o");
        assert_eq!(agent["model"]["provider"]["apiType"], "openai");
        assert_eq!(agent["tools"], json!([]));
    }
}

test_both! {
    async fn an_unknown_agent_is_null(app: TestApp) {
        let data = app.user_ok(AGENT, json!({ "name": "nobody" })).await;
        assert_eq!(data["agent"], Value::Null);
    }
}

test_both! {
    async fn agents_page_by_name_and_filter_by_status(app: TestApp) {
        for name in ["delta", "alpha", "charlie", "bravo", "echo"] {
            create_agent(&app, json!({ "name": name })).await;
        }
        app.admin_ok("mutation { archiveAgent(name: \"charlie\") { status } }", json!({})).await;
        let page = "query($after: String, $status: AgentStatus) {
            agents(first: 2, after: $after, status: $status) {
                nodes { name } pageInfo { hasNextPage endCursor } } }";

        let mut names = Vec::new();
        let mut after = Value::Null;
        loop {
            let data = app.user_ok(page, json!({ "after": after })).await;
            let agents = &data["agents"];
            names.extend(agents["nodes"].as_array().expect("nodes").iter().map(|n| n["name"].clone()));
            if agents["pageInfo"]["hasNextPage"] != true {
                break;
            }
            after = agents["pageInfo"]["endCursor"].clone();
        }
        assert_eq!(names, json!(["alpha", "bravo", "charlie", "delta", "echo"]).as_array().cloned().expect("list"));

        let archived = app.user_ok(page, json!({ "status": "ARCHIVED" })).await;
        assert_eq!(archived["agents"]["nodes"], json!([{ "name": "charlie" }]));
    }
}

test_both! {
    async fn update_agent_changes_given_fields_and_null_clears_the_model(app: TestApp) {
        let model_id = insert_model(&app, "anthropic", "claude").await;
        create_agent(&app, json!({ "name": "writer", "modelId": model_id, "temperature": 1.0, "description": "d" })).await;
        let update = "mutation($input: UpdateAgentInput!) { updateAgent(name: \"writer\", input: $input) {
            description systemPrompt temperature status model { modelName } } }";
        let updated = app.admin_ok(update, json!({ "input": {
            "systemPrompt": "Write well.", "modelId": null, "status": "PAUSED" } })).await["updateAgent"].clone();
        assert_eq!(updated["systemPrompt"], "Write well.");
        assert_eq!(updated["description"], "d", "omitted fields stay");
        assert_eq!(updated["temperature"], 1.0, "omitted nullable fields stay");
        assert_eq!(updated["status"], "PAUSED");
        assert_eq!(updated["model"], Value::Null);
    }
}

test_both! {
    async fn set_agent_tool_inserts_then_replaces_and_remove_returns_it(app: TestApp) {
        create_agent(&app, json!({ "name": "searcher" })).await;
        let set = "mutation($input: AgentToolInput!) { setAgentTool(agentName: \"searcher\", input: $input) {
            name toolType config isActive } }";
        app.admin_ok(set, json!({ "input": { "name": "web", "toolType": "http", "config": { "url": "a" } } })).await;
        let replaced = app.admin_ok(set, json!({ "input": {
            "name": "web", "toolType": "http", "config": { "url": "b" }, "isActive": false } })).await;
        assert_eq!(replaced["setAgentTool"]["config"], json!({ "url": "b" }));
        assert_eq!(app.count("agent_tools").await, 1, "same name replaces");

        let agent = app.user_ok(AGENT, json!({ "name": "searcher" })).await;
        assert_eq!(agent["agent"]["tools"][0]["isActive"], false);

        let removed = app.admin_ok(
            "mutation { removeAgentTool(agentName: \"searcher\", toolName: \"web\") { name } }", json!({})).await;
        assert_eq!(removed["removeAgentTool"]["name"], "web");
        assert_eq!(app.count("agent_tools").await, 0);
        let again = app.post(Some(&app.admin),
            "mutation { removeAgentTool(agentName: \"searcher\", toolName: \"web\") { name } }", json!({})).await;
        assert_eq!(again.error_code(), "NOT_FOUND");
    }
}

test_both! {
    async fn a_duplicate_agent_name_is_a_clear_error_that_writes_nothing(app: TestApp) {
        create_agent(&app, json!({ "name": "twin" })).await;
        let again = app.post(Some(&app.admin), CREATE_AGENT, json!({ "input": { "name": "twin" } })).await;
        assert_eq!(again.error_code(), "BAD_USER_INPUT");
        assert_eq!(again.error_field(), Some("name"));
        assert_eq!(again.error_message(), "an agent named `twin` already exists");
        assert_eq!(app.count("agents").await, 1);
    }
}

test_both! {
    async fn invalid_agent_input_names_the_field_and_writes_nothing(app: TestApp) {
        let cases = [
            (json!({ "name": "has space" }), "name"),
            (json!({ "name": "ok", "temperature": 3.5 }), "temperature"),
            (json!({ "name": "ok", "maxTokens": 0 }), "maxTokens"),
            (json!({ "name": "ok", "modelId": Uuid::now_v7() }), "modelId"),
            (json!({ "name": "ok", "systemPrompt": "x".repeat(32_001) }), "systemPrompt"),
        ];
        for (input, field) in cases {
            let response = app.post(Some(&app.admin), CREATE_AGENT, json!({ "input": input })).await;
            assert_eq!(response.status, 200);
            assert_eq!(response.error_code(), "BAD_USER_INPUT", "{field}");
            assert_eq!(response.error_field(), Some(field));
        }
        assert_eq!(app.count("agents").await, 0);
    }
}

test_both! {
    async fn mutations_on_an_unknown_agent_are_not_found(app: TestApp) {
        for mutation in [
            "mutation { updateAgent(name: \"ghost\", input: { description: \"x\" }) { name } }",
            "mutation { archiveAgent(name: \"ghost\") { name } }",
            "mutation { setAgentTool(agentName: \"ghost\", input: { name: \"t\", toolType: \"http\" }) { name } }",
        ] {
            let response = app.post(Some(&app.admin), mutation, json!({})).await;
            assert_eq!(response.error_code(), "NOT_FOUND", "{mutation}");
            assert_eq!(response.error_message(), "agent not found");
        }
        assert_eq!(app.count("agent_tools").await, 0);
    }
}

test_both! {
    async fn agents_with_model_provider_and_tools_take_two_statements_for_any_page(app: TestApp) {
        let model_id = insert_model(&app, "openai", "gpt").await;
        let query = "query($n: Int!) { agents(first: $n) { nodes { name model { provider { name } } tools { name } } } }";
        for (i, target) in [1usize, 10, 50].into_iter().enumerate() {
            let existing = if i == 0 { 0 } else { [1usize, 10][i - 1] };
            for n in existing..target {
                create_agent(&app, json!({ "name": format!("agent-{n:03}"), "modelId": model_id })).await;
                let tool = "mutation($a: String!) { setAgentTool(agentName: $a, input: { name: \"t\", toolType: \"function\" }) { name } }";
                app.admin_ok(tool, json!({ "a": format!("agent-{n:03}") })).await;
            }
            let response = app.post(Some(&app.user), query, json!({ "n": target })).await;
            assert_eq!(response.body["data"]["agents"]["nodes"].as_array().map(Vec::len), Some(target));
            assert_eq!(response.statements(), 2, "page + tools, for {target} agents");
        }
    }
}

const AGENTS_AFTER: &str = "query($n: Int!, $after: String) {
    agents(first: $n, after: $after) { nodes { name ...Tools } pageInfo { hasPreviousPage } } }
fragment Tools on Agent { all: tools { name } active: tools(activeOnly: true) { name } }";

test_both! {
    async fn a_page_after_a_cursor_with_aliased_tools_takes_two_statements_for_any_size(app: TestApp) {
        let tool = "mutation($a: String!, $t: String!, $on: Boolean!) {
            setAgentTool(agentName: $a, input: { name: $t, toolType: \"function\", isActive: $on }) { name } }";
        create_agent(&app, json!({ "name": "a-first" })).await;
        let after = app.user_ok("{ agents(first: 1) { pageInfo { endCursor } } }", json!({})).await
            ["agents"]["pageInfo"]["endCursor"].clone();
        let mut created = 0;
        for n in [1usize, 10, 50] {
            for i in created..n {
                let name = format!("agent-{i:03}");
                create_agent(&app, json!({ "name": name })).await;
                app.admin_ok(tool, json!({ "a": name, "t": "search", "on": true })).await;
                app.admin_ok(tool, json!({ "a": name, "t": "browse", "on": false })).await;
            }
            created = n;
            let response = app.post(Some(&app.user), AGENTS_AFTER, json!({ "n": n, "after": after })).await;
            let statements = response.statements();
            eprintln!("agents(first: {n}, after) with aliased tools: {statements} statements");
            let data = response.data_ok();
            assert_eq!(data["agents"]["pageInfo"]["hasPreviousPage"], true);
            let nodes = data["agents"]["nodes"].as_array().cloned().expect("nodes");
            assert_eq!(nodes.len(), n);
            for (i, node) in nodes.iter().enumerate() {
                assert_eq!(node, &json!({
                    "name": format!("agent-{i:03}"),
                    "all": [{ "name": "browse" }, { "name": "search" }],
                    "active": [{ "name": "search" }],
                }));
            }
            assert_eq!(statements, 2, "page + tools, for {n} agents");
        }
    }
}

const AGENT_BY_NAME: &str =
    "query($n: String!) { agent(name: $n) { name systemPrompt model { modelName provider { name } } } }";

test_both! {
    async fn agent_by_name_is_served_from_the_agent_config_cache(app: TestApp) {
        let model_id = insert_model(&app, "openai", "gpt").await;
        create_agent(&app, json!({ "name": "cached", "systemPrompt": "v1", "modelId": model_id })).await;
        let cold = app.post(Some(&app.user), AGENT_BY_NAME, json!({ "n": "cached" })).await;
        assert_eq!(cold.statements(), 1, "the config load");
        let warm = app.post(Some(&app.user), AGENT_BY_NAME, json!({ "n": "cached" })).await;
        assert_eq!(warm.statements(), 0);
        assert_eq!(warm.data_ok()["agent"], json!({ "name": "cached", "systemPrompt": "v1",
            "model": { "modelName": "gpt", "provider": { "name": "openai" } } }));

        app.admin_ok("mutation { updateAgent(name: \"cached\", input: { systemPrompt: \"v2\", modelId: null }) { name } }", json!({})).await;
        let changed = app.user_ok(AGENT_BY_NAME, json!({ "n": "cached" })).await;
        assert_eq!(changed["agent"], json!({ "name": "cached", "systemPrompt": "v2", "model": null }));
        let unknown = app.user_ok(AGENT_BY_NAME, json!({ "n": "nobody" })).await;
        assert_eq!(unknown["agent"], Value::Null);
    }
}
