//! Introspection for tools (SPEC 10): the standard introspection query, as
//! GraphiQL, codegen, Postman and Apollo's tooling send it, passes the
//! limits wherever introspection is allowed; the same depth in a data query
//! is still refused; where introspection is not allowed it stays refused.

use serde_json::{json, Value};

use crate::{
    helpers::{Gql, TestApp},
    test_both,
};

/// What GraphiQL 4 sends with the current graphql 16 (`ofType` 9 deep).
const GRAPHIQL_4: &str = include_str!("fixtures/introspection-graphql-16.15.0.graphql");
/// graphql 15's query (`ofType` 7 deep).
const GRAPHQL_15: &str = include_str!("fixtures/introspection-graphql-15.10.1.graphql");

/// POSTs an introspection query the way GraphiQL does (with its operation
/// name), as `auth`.
async fn introspect(app: &TestApp, auth: Option<&str>, query: &str) -> Gql {
    let mut request = app
        .client
        .post(app.url("/graphql"))
        .json(&json!({ "query": query, "operationName": "IntrospectionQuery" }));
    if let Some(auth) = auth {
        request = request.header("authorization", auth);
    }
    app.send(request).await
}

/// The names of `__schema.types`, after checking there were no errors.
fn type_names(response: &Gql) -> Vec<String> {
    assert_eq!(response.status, 200, "{}", response.body);
    assert_eq!(response.body["errors"], Value::Null, "{}", response.body);
    response.body["data"]["__schema"]["types"]
        .as_array()
        .unwrap_or_else(|| panic!("no types in {}", response.body))
        .iter()
        .filter_map(|t| t["name"].as_str().map(str::to_owned))
        .collect()
}

test_both! {
    async fn in_dev_mode_the_query_graphiql_4_sends_works_without_a_token(app: TestApp) {
        let app = TestApp::spawn_dev(app.backend).await;
        for query in [GRAPHIQL_4, GRAPHQL_15] {
            let response = introspect(&app, None, query).await;
            let names = type_names(&response);
            for expected in ["Query", "Mutation", "Agent", "Circle", "Project", "__Type"] {
                assert!(names.iter().any(|n| n == expected), "{expected} missing from {names:?}");
            }
            let size = response.body.to_string().len();
            eprintln!("introspection response: {size} bytes of JSON, {} types", names.len());
        }
    }
}

test_both! {
    async fn in_production_introspection_needs_a_token(app: TestApp) {
        // Refused loudly, so that tools reading the schema say why.
        let refused = introspect(&app, None, GRAPHIQL_4).await;
        assert_eq!(refused.status, 401, "{}", refused.body);
        assert_eq!(refused.error_code(), "UNAUTHENTICATED", "{}", refused.body);
        assert!(refused.error_message().contains("bearer token"), "{}", refused.body);
        assert!(refused.body.get("data").is_none(), "{}", refused.body);
        let anonymous = app.post(None, "{ __type(name: \"Query\") { name } }", json!({})).await;
        assert_eq!(anonymous.error_code(), "UNAUTHENTICATED", "{}", anonymous.body);
        // `__typename` is not introspection: clients add it everywhere.
        let typename = app.post(None, "{ __typename }", json!({})).await;
        assert_eq!(typename.body["data"]["__typename"], "Query", "{}", typename.body);

        for query in [GRAPHIQL_4, GRAPHQL_15] {
            let names = type_names(&introspect(&app, Some(&app.user), query).await);
            assert!(names.iter().any(|n| n == "Query"), "{names:?}");
        }
    }
}

test_both! {
    #[flags("--introspection", "off")]
    async fn with_introspection_off_even_a_token_gets_no_schema(app: TestApp) {
        let refused = introspect(&app, Some(&app.admin), GRAPHIQL_4).await;
        assert_eq!(refused.body["data"]["__schema"], Value::Null, "{}", refused.body);
    }
}

/// `{ viewer { viewer { ... { id } } } }`, `depth` fields deep.
fn nested_data_query(depth: usize) -> String {
    let mut selection = "id".to_owned();
    for _ in 1..depth {
        selection = format!("viewer {{ {selection} }}");
    }
    format!("{{ {selection} }}")
}

test_both! {
    async fn a_data_query_as_deep_as_the_introspection_query_is_still_refused(app: TestApp) {
        let response = app.post(Some(&app.admin), &nested_data_query(15), json!({})).await;
        assert_eq!(response.error_code(), "BAD_USER_INPUT", "{}", response.body);
        assert!(response.error_message().contains("nested too deep"), "{}", response.body);
        assert_eq!(response.body["data"], Value::Null);
        assert_eq!(response.statements(), 0);

        // Data hidden inside introspection is not introspection: validation
        // refuses it before anything runs.
        let hidden = "{ __schema { ...Deep } } fragment Deep on Query { circles { nodes { name } } }";
        let response = app.post(Some(&app.admin), hidden, json!({})).await;
        response.assert_every_error_has_a_code();
        assert_eq!(response.body["data"], Value::Null, "{}", response.body);
        assert_eq!(response.statements(), 0);
    }
}

test_both! {
    async fn introspection_larger_than_its_own_limits_is_refused(app: TestApp) {
        let mut selection = "name".to_owned();
        for _ in 0..25 {
            selection = format!("ofType {{ {selection} }}");
        }
        let query = format!("{{ __type(name: \"Query\") {{ {selection} }} }}");
        let response = app.post(Some(&app.admin), &query, json!({})).await;
        assert_eq!(response.error_code(), "BAD_USER_INPUT", "{}", response.body);
        assert!(
            response.error_message().contains("introspection query is nested too deep"),
            "{}",
            response.body
        );
    }
}

test_both! {
    async fn the_schema_has_no_description_but_its_own(app: TestApp) {
        let answer = app.admin_ok("{ __schema { description } }", json!({})).await;
        assert_eq!(answer["__schema"]["description"], Value::Null, "{answer}");
    }
}

test_both! {
    async fn schema_graphql_holds_every_specified_by_url_introspection_tells(app: TestApp) {
        let sdl = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schema.graphql"),
        )
        .expect("schema.graphql");
        let answer = app
            .admin_ok("{ __schema { types { kind name specifiedByURL } } }", json!({}))
            .await;
        let scalars: Vec<(String, String)> = answer["__schema"]["types"]
            .as_array()
            .expect("types")
            .iter()
            .filter_map(|t| Some((t["name"].as_str()?.to_owned(), t["specifiedByURL"].as_str()?.to_owned())))
            .collect();
        let names: Vec<&str> = scalars.iter().map(|(name, _)| name.as_str()).collect();
        assert!(names.contains(&"UUID") && names.contains(&"DateTime"), "{names:?}");
        for (name, url) in &scalars {
            let line = format!("scalar {name} @specifiedBy(url: \"{url}\")");
            assert!(sdl.contains(&line), "schema.graphql lacks `{line}`");
        }
    }
}
