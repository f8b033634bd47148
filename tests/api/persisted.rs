//! Automatic persisted queries (SPEC 2, Apollo's protocol): a hash alone is
//! `PERSISTED_QUERY_NOT_FOUND` until the document is sent once with it;
//! then the hash alone runs it, over POST and GET. The hash is verified.

use serde_json::{json, Value};

use crate::{
    helpers::{Gql, TestApp},
    test_both,
};

const QUERY: &str = "query Me { viewer { id isAdmin } }";

fn sha256_hex(text: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn persisted(hash: &str) -> Value {
    json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } })
}

/// POSTs `body` as the admin.
async fn post(app: &TestApp, body: Value) -> Gql {
    app.send(
        app.client
            .post(app.url("/graphql"))
            .header("authorization", &app.admin)
            .json(&body),
    )
    .await
}

/// GETs with the given parameters as the admin.
async fn get(app: &TestApp, params: &[(&str, String)]) -> Gql {
    app.send(
        app.client
            .get(app.url("/graphql"))
            .header("authorization", &app.admin)
            .query(params),
    )
    .await
}

fn assert_not_found(response: &Gql) {
    assert_eq!(response.status, 200, "{}", response.body);
    assert!(response.content_type.starts_with("application/json"));
    assert_eq!(
        response.error_code(),
        "PERSISTED_QUERY_NOT_FOUND",
        "{}",
        response.body
    );
    assert_eq!(response.error_message(), "PersistedQueryNotFound");
    assert!(response.body.get("data").is_none(), "{}", response.body);
}

test_both! {
    async fn a_hash_runs_over_post_once_its_document_was_sent(app: TestApp) {
        let hash = sha256_hex(QUERY);
        assert_not_found(&post(&app, json!({ "extensions": persisted(&hash) })).await);

        let first = post(&app, json!({ "query": QUERY, "extensions": persisted(&hash) })).await;
        let expected = first.data_ok();
        assert_eq!(expected["viewer"]["isAdmin"], json!(true));

        let by_hash = post(&app, json!({ "extensions": persisted(&hash), "operationName": "Me" })).await;
        assert_eq!(by_hash.data_ok(), expected);
        // Over GET too, with nothing but the hash in the URL.
        let extensions = persisted(&hash).to_string();
        let by_get = get(&app, &[("extensions", extensions)]).await;
        assert_eq!(by_get.data_ok(), expected);
    }
}

test_both! {
    async fn a_hash_runs_over_get_once_a_get_sent_its_document(app: TestApp) {
        let query = "{ viewer { isAdmin } }";
        let extensions = persisted(&sha256_hex(query)).to_string();
        assert_not_found(&get(&app, &[("extensions", extensions.clone())]).await);
        let with_query = get(&app, &[("query", query.to_owned()), ("extensions", extensions.clone())]).await;
        assert_eq!(with_query.data_ok(), json!({ "viewer": { "isAdmin": true } }));
        let by_hash = get(&app, &[("extensions", extensions)]).await;
        assert_eq!(by_hash.data_ok(), json!({ "viewer": { "isAdmin": true } }));
    }
}

test_both! {
    async fn a_document_that_does_not_match_its_hash_is_refused_and_not_kept(app: TestApp) {
        let hash = sha256_hex(QUERY);
        let other = "{ viewer { id } }";
        let refused = post(&app, json!({ "query": other, "extensions": persisted(&hash) })).await;
        assert_eq!(refused.status, 400, "{}", refused.body);
        assert_eq!(refused.error_code(), "BAD_USER_INPUT");
        assert_eq!(refused.error_message(), "provided sha does not match query");
        assert_not_found(&post(&app, json!({ "extensions": persisted(&hash) })).await);
    }
}

test_both! {
    async fn malformed_persisted_query_extensions_are_refused(app: TestApp) {
        let hash = sha256_hex(QUERY);
        for extensions in [
            json!({ "persistedQuery": { "version": 2, "sha256Hash": hash } }),
            json!({ "persistedQuery": { "version": 1, "sha256Hash": "not-a-hash" } }),
            json!({ "persistedQuery": { "version": 1 } }),
        ] {
            let refused = post(&app, json!({ "query": QUERY, "extensions": extensions })).await;
            assert_eq!(refused.status, 400, "{extensions}: {}", refused.body);
            assert_eq!(refused.error_code(), "BAD_USER_INPUT");
        }
        let version = post(&app, json!({ "extensions": { "persistedQuery": { "version": 2, "sha256Hash": hash } } })).await;
        assert!(version.error_message().contains("version"), "{}", version.body);
    }
}

test_both! {
    async fn under_graphql_response_json_a_missing_hash_is_a_400(app: TestApp) {
        let response = app
            .send(
                app.client
                    .post(app.url("/graphql"))
                    .header("accept", "application/graphql-response+json")
                    .json(&json!({ "extensions": persisted(&sha256_hex(QUERY)) })),
            )
            .await;
        assert_eq!(response.status, 400);
        assert_eq!(response.error_code(), "PERSISTED_QUERY_NOT_FOUND");
    }
}

test_both! {
    async fn a_persisted_mutation_is_refused_over_get(app: TestApp) {
        let mutation = "mutation { createCircle(input: {name: \"Core\"}) { id } }";
        let hash = sha256_hex(mutation);
        let created = post(&app, json!({ "query": mutation, "extensions": persisted(&hash) })).await;
        created.data_ok();
        let refused = get(&app, &[("extensions", persisted(&hash).to_string())]).await;
        assert_eq!(refused.status, 405, "{}", refused.body);
        assert_eq!(app.count("circles").await, 1);
    }
}

test_both! {
    #[flags("--persisted-queries-bytes", "0")]
    async fn a_store_of_size_zero_keeps_nothing(app: TestApp) {
        let hash = sha256_hex(QUERY);
        post(&app, json!({ "query": QUERY, "extensions": persisted(&hash) })).await.data_ok();
        assert_not_found(&post(&app, json!({ "extensions": persisted(&hash) })).await);
    }
}
