//! GraphQL over HTTP (SPEC 2 and 10): methods, content types, `Accept`
//! negotiation, request errors versus field errors, body size, and bad
//! input that must never become a 5xx. Every error carries
//! `extensions.code`.

use serde_json::{json, Value};

use crate::{
    helpers::{Gql, TestApp},
    test_both,
};

const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";
const JSON: &str = "application/json";

const CREATE_CIRCLE: &str = "mutation { createCircle(input: {name: \"Core\"}) { id } }";

/// POSTs `body` as JSON, as admin, accepting `accept`.
async fn post_json(app: &TestApp, accept: &str, body: &Value) -> Gql {
    app.send(
        app.client
            .post(app.url("/graphql"))
            .header("authorization", &app.admin)
            .header("accept", accept)
            .json(body),
    )
    .await
}

/// POSTs raw bytes with a content type, as admin.
async fn post_raw(app: &TestApp, content_type: &str, body: &str) -> Gql {
    app.send(
        app.client
            .post(app.url("/graphql"))
            .header("authorization", &app.admin)
            .header("content-type", content_type)
            .body(body.to_owned()),
    )
    .await
}

/// GETs `/graphql` with URL-encoded parameters, as admin.
async fn get(app: &TestApp, accept: &str, params: &[(&str, &str)]) -> Gql {
    app.send(
        app.client
            .get(app.url("/graphql"))
            .header("authorization", &app.admin)
            .header("accept", accept)
            .query(params),
    )
    .await
}

/// A request error: BAD_USER_INPUT, no `data` entry, a code on every error.
fn assert_request_error(response: &Gql, context: &str) {
    assert_eq!(
        response.error_code(),
        "BAD_USER_INPUT",
        "{context}: {}",
        response.body
    );
    assert!(
        response.body.get("data").is_none(),
        "{context}: `data` present in {}",
        response.body
    );
    response.assert_every_error_has_a_code();
}

test_both! {
    async fn a_mutation_over_get_is_405_allowing_post_and_writes_nothing(app: TestApp) {
        let response = get(&app, JSON, &[("query", CREATE_CIRCLE)]).await;
        assert_eq!(response.status, 405, "{}", response.body);
        assert_eq!(response.header("allow"), Some("POST"));
        response.assert_every_error_has_a_code();

        // Also when the mutation is picked by `operationName` among queries.
        let document = format!("query Read {{ viewer {{ id }} }} {CREATE_CIRCLE}")
            .replacen("mutation {", "mutation Write {", 1);
        let response = get(&app, JSON, &[("query", &document), ("operationName", "Write")]).await;
        assert_eq!(response.status, 405, "{}", response.body);
        assert_eq!(response.header("allow"), Some("POST"));
        response.assert_every_error_has_a_code();

        assert_eq!(app.count("circles").await, 0);
    }
}

test_both! {
    async fn a_query_over_get_runs_and_returns_data(app: TestApp) {
        let response = get(&app, JSON, &[("query", "{ viewer { isAdmin } }")]).await;
        assert_eq!(response.status, 200, "{}", response.body);
        assert_eq!(response.content_type, JSON);
        assert_eq!(response.data_ok(), json!({ "viewer": { "isAdmin": true } }));

        let response = get(
            &app,
            GRAPHQL_RESPONSE_JSON,
            &[
                ("query", "query Find($n: String!) { agent(name: $n) { name } }"),
                ("variables", r#"{"n": "nobody"}"#),
                ("operationName", "Find"),
            ],
        )
        .await;
        assert_eq!(response.content_type, GRAPHQL_RESPONSE_JSON);
        assert_eq!(response.data_ok(), json!({ "agent": null }));
    }
}

test_both! {
    async fn a_post_that_is_not_application_json_is_415_and_writes_nothing(app: TestApp) {
        let body = json!({ "query": CREATE_CIRCLE }).to_string();
        for content_type in ["text/plain", "application/x-www-form-urlencoded", "application/graphql"] {
            let response = post_raw(&app, content_type, &body).await;
            assert_eq!(response.status, 415, "{content_type}: {}", response.body);
            response.assert_every_error_has_a_code();
        }
        let response = app
            .send(
                app.client
                    .post(app.url("/graphql"))
                    .header("authorization", &app.admin)
                    .body(body.clone()),
            )
            .await;
        assert_eq!(response.status, 415, "no content type: {}", response.body);
        response.assert_every_error_has_a_code();

        // Parameters on the media type are fine.
        let response = post_raw(&app, "application/json; charset=utf-8", &body).await;
        assert_eq!(response.status, 200, "{}", response.body);
        assert_eq!(app.count("circles").await, 1);
    }
}

test_both! {
    async fn a_batch_of_requests_is_400_and_runs_none_of_them(app: TestApp) {
        let batch = json!([{ "query": CREATE_CIRCLE }, { "query": "{ viewer { id } }" }]);
        for accept in [GRAPHQL_RESPONSE_JSON, JSON] {
            let response = post_json(&app, accept, &batch).await;
            assert_eq!(response.status, 400, "{accept}: {}", response.body);
            assert_request_error(&response, accept);
        }
        assert_eq!(app.count("circles").await, 0);
    }
}

test_both! {
    async fn a_body_that_is_not_a_graphql_request_is_400_without_rust_type_names(app: TestApp) {
        let bodies = [
            r#"{"query": "{ viewer { id } }""#,
            "not json at all",
            "",
            r#"{"query": 1}"#,
            r#"{"variables": {}}"#,
            r#"{"query": "{ viewer { id } }", "variables": [1]}"#,
            r#"{"query": "{ viewer { id } }", "operationName": 7}"#,
            r#""{ viewer { id } }""#,
            "null",
        ];
        for body in bodies {
            let response = post_raw(&app, JSON, body).await;
            assert_eq!(response.status, 400, "{body:?}: {}", response.body);
            assert_request_error(&response, body);
            let message = response.error_message();
            for internal in ["struct", "Request", "serde", "::"] {
                assert!(!message.contains(internal), "{body:?}: {message:?} mentions {internal:?}");
            }
        }
    }
}

test_both! {
    async fn request_errors_are_400_without_data_when_graphql_response_json_is_accepted(app: TestApp) {
        let requests = [
            ("syntax error", json!({ "query": "{ viewer { id }" })),
            ("unknown field", json!({ "query": "{ viewer { nope } }" })),
            ("unknown argument", json!({ "query": "{ viewer(as: 1) { id } }" })),
            (
                "variable of the wrong type",
                json!({ "query": "query($n: String!) { agent(name: $n) { name } }", "variables": { "n": 5 } }),
            ),
        ];
        for (kind, request) in requests {
            let response = post_json(&app, GRAPHQL_RESPONSE_JSON, &request).await;
            assert_eq!(response.status, 400, "{kind}: {}", response.body);
            assert_eq!(response.content_type, GRAPHQL_RESPONSE_JSON, "{kind}");
            assert_request_error(&response, kind);
        }
    }
}

test_both! {
    async fn request_errors_are_200_when_only_application_json_is_accepted(app: TestApp) {
        for (kind, document) in [("syntax error", "{ viewer { id }"), ("unknown field", "{ viewer { nope } }")] {
            let response = post_json(&app, JSON, &json!({ "query": document })).await;
            assert_eq!(response.status, 200, "{kind}: {}", response.body);
            assert_eq!(response.content_type, JSON, "{kind}");
            assert_eq!(response.error_code(), "BAD_USER_INPUT", "{kind}");
            response.assert_every_error_has_a_code();
        }
    }
}

test_both! {
    async fn field_suggestions_are_off(app: TestApp) {
        let response = post_json(&app, JSON, &json!({ "query": "{ viewr { id } }" })).await;
        assert_eq!(response.error_code(), "BAD_USER_INPUT");
        assert!(!response.error_message().contains("Did you mean"), "{}", response.error_message());
    }
}

test_both! {
    async fn an_execution_error_is_200_under_both_media_types(app: TestApp) {
        for accept in [GRAPHQL_RESPONSE_JSON, JSON] {
            let response = app
                .send(
                    app.client
                        .post(app.url("/graphql"))
                        .header("accept", accept)
                        .json(&json!({ "query": "{ agent(name: \"x\") { name } }" })),
                )
                .await;
            assert_eq!(response.status, 200, "{accept}: {}", response.body);
            assert_eq!(response.content_type, accept);
            assert_eq!(response.error_code(), "UNAUTHENTICATED", "{accept}");
            // Execution started, so the `data` entry is there (null: an
            // errored field is left out of its object by async-graphql, and
            // the object had no other field).
            assert!(response.body.get("data").is_some(), "{accept}: {}", response.body);
            response.assert_every_error_has_a_code();
        }
    }
}

test_both! {
    async fn the_response_media_type_follows_accept(app: TestApp) {
        let query = json!({ "query": "{ viewer { isAdmin } }" });
        let cases = [
            ("application/graphql-response+json, application/json;q=0.9", GRAPHQL_RESPONSE_JSON),
            ("application/json", JSON),
            ("*/*", JSON),
        ];
        for (accept, expected) in cases {
            let response = post_json(&app, accept, &query).await;
            assert_eq!(response.content_type, expected, "Accept: {accept}");
            assert_eq!(response.data_ok(), json!({ "viewer": { "isAdmin": true } }));
        }
        // No `Accept` at all: the legacy type.
        let response = app.post(Some(&app.admin), "{ viewer { isAdmin } }", json!({})).await;
        assert_eq!(response.content_type, JSON);
    }
}

test_both! {
    async fn an_accept_header_with_neither_media_type_is_406(app: TestApp) {
        let response = post_json(&app, "text/csv", &json!({ "query": CREATE_CIRCLE })).await;
        assert_eq!(response.status, 406, "{}", response.body);
        response.assert_every_error_has_a_code();

        let response = get(&app, "text/csv", &[("query", "{ viewer { id } }")]).await;
        assert_eq!(response.status, 406, "{}", response.body);
        response.assert_every_error_has_a_code();

        assert_eq!(app.count("circles").await, 0);
    }
}

test_both! {
    #[flags("--body-limit-bytes", "1024")]
    async fn a_body_over_the_limit_is_413_and_writes_nothing(app: TestApp) {
        // Just under the limit: served.
        let small = format!("{CREATE_CIRCLE}{}", " ".repeat(900));
        let response = post_json(&app, JSON, &json!({ "query": small })).await;
        assert_eq!(response.status, 200, "{}", response.body);
        assert_eq!(app.count("circles").await, 1);

        let large = format!("{}{}", CREATE_CIRCLE.replace("Core", "Big"), " ".repeat(2000));
        let response = post_json(&app, JSON, &json!({ "query": large })).await;
        assert_eq!(response.status, 413, "{}", response.body);
        assert_eq!(app.count("circles").await, 1);
        response.assert_every_error_has_a_code();
    }
}

test_both! {
    async fn variables_of_the_wrong_type_are_bad_user_input_not_a_server_error(app: TestApp) {
        let document = "query($n: String!) { agent(name: $n) { name } }";
        for variables in [json!({ "n": 5 }), json!({ "n": null }), json!({ "n": ["a"] }), json!({})] {
            let response = app.post(Some(&app.admin), document, variables.clone()).await;
            assert!(response.status < 500, "{variables}: {}", response.status);
            assert_eq!(response.error_code(), "BAD_USER_INPUT", "{variables}: {}", response.body);
            response.assert_every_error_has_a_code();
        }
    }
}

test_both! {
    async fn an_invalid_uuid_is_bad_user_input_not_a_server_error(app: TestApp) {
        let inline = app
            .post(Some(&app.admin), "{ circle(id: \"not-a-uuid\") { name } }", json!({}))
            .await;
        let variable = app
            .post(
                Some(&app.admin),
                "query($id: UUID!) { circle(id: $id) { name } }",
                json!({ "id": "not-a-uuid" }),
            )
            .await;
        let mutation = app
            .post(
                Some(&app.admin),
                "mutation { addCircleMember(circleId: \"42\", agentName: \"x\") { id } }",
                json!({}),
            )
            .await;
        for (kind, response) in [("inline", inline), ("variable", variable), ("mutation", mutation)] {
            assert!(response.status < 500, "{kind}: {}", response.status);
            assert_eq!(response.error_code(), "BAD_USER_INPUT", "{kind}: {}", response.body);
            response.assert_every_error_has_a_code();
        }
        assert_eq!(app.count("circle_members").await, 0);
    }
}

test_both! {
    async fn a_variable_that_is_missing_or_does_not_coerce_is_a_request_error(app: TestApp) {
        let circle = "query($id: UUID!) { circle(id: $id) { name } }";
        let meeting = "mutation($p: UUID!, $m: AddMeetingInput!) { addMeeting(projectId: $p, input: $m) { id } }";
        let project = uuid::Uuid::now_v7().to_string();
        let cases = [
            (circle, json!({}), "`$id` is required"),
            (circle, json!({ "id": null }), "must not be null"),
            (circle, json!({ "id": "not-a-uuid" }), "not a valid `UUID`"),
            (meeting, json!({ "p": project, "m": { "title": "x", "heldAt": "yesterday" } }), "`$m.heldAt` is not a valid `DateTime`"),
            (meeting, json!({ "p": project, "m": { "heldAt": "2026-01-01T00:00:00Z" } }), "`$m.title` is required"),
            (meeting, json!({ "p": project, "m": { "title": "x", "heldAt": "2026-01-01T00:00:00Z", "room": 1 } }), "no field `room`"),
        ];
        for (document, variables, expected) in cases {
            for (accept, status) in [(GRAPHQL_RESPONSE_JSON, 400), (JSON, 200)] {
                let body = json!({ "query": document, "variables": variables });
                let response = post_json(&app, accept, &body).await;
                assert_eq!(response.status, status, "{variables}: {}", response.body);
                assert!(response.body.get("data").is_none(), "{variables}: {}", response.body);
                assert_eq!(response.error_code(), "BAD_USER_INPUT", "{variables}: {}", response.body);
                assert!(response.error_message().contains(expected), "{variables}: {}", response.body);
            }
        }
        // A variable that coerces runs.
        let ok = app
            .post(Some(&app.admin), circle, json!({ "id": uuid::Uuid::now_v7().to_string() }))
            .await;
        assert_eq!(ok.body["data"]["circle"], Value::Null, "{}", ok.body);
        assert_eq!(ok.body["errors"], Value::Null, "{}", ok.body);
    }
}
