//! The front door of a document (SPEC 10): before it is parsed it is
//! scanned for bracket nesting, tokens, arguments and directives, and the
//! bearer token is checked; what the limits admit is small enough for
//! validation; a response carries a bounded number of errors; directive
//! conditions must be Booleans; and the operation's label is a name the
//! document declares.

use serde_json::{json, Value};

use crate::{helpers::Gql, observability::operation_labels, test_both};

/// Refused before parsing or execution: a request error (no `data`) with
/// BAD_USER_INPUT and one of `words` in its message.
fn assert_refused(response: &Gql, words: &[&str]) {
    assert_eq!(response.status, 200, "{}", response.body);
    assert_eq!(response.error_code(), "BAD_USER_INPUT", "{}", response.body);
    assert!(
        response.body.get("data").is_none_or(Value::is_null),
        "{}",
        response.body
    );
    let message = response.error_message().to_ascii_lowercase();
    assert!(
        words.iter().any(|word| message.contains(word)),
        "{message:?} mentions none of {words:?}"
    );
    response.assert_every_error_has_a_code();
}

/// `open` `levels` times, `inner`, then `close` as often.
fn nested(open: &str, inner: &str, close: &str, levels: usize) -> String {
    format!("{}{inner}{}", open.repeat(levels), close.repeat(levels))
}

test_both! {
    async fn deeply_nested_values_anywhere_are_refused_without_recursing(app: TestApp) {
        let list = nested("[", "\"x\"", "]", 2000);
        let object = nested("{a: ", "1", "}", 1200);
        for document in [
            format!("{{ agent(name: {list}) {{ id }} }}"),
            format!("{{ agent(name: {object}) {{ id }} }}"),
            format!("{{ viewer @skip(if: {list}) {{ id }} }}"),
            format!("{{ viewer @include(if: {object}) {{ id }} }}"),
            format!("query($v: String = {list}) {{ agent(name: $v) {{ id }} }}"),
            format!("query($v: String = {object}) {{ agent(name: $v) {{ id }} }}"),
            nested("{ viewer ", "{ id }", " }", 3000),
        ] {
            let response = app.post(Some(&app.admin), &document, json!({})).await;
            assert_refused(&response, &["nests brackets"]);
            assert_eq!(response.statements(), 0);
        }
        // The server is still there.
        let data = app.admin_ok("{ viewer { isAdmin } }", json!({})).await;
        assert_eq!(data["viewer"]["isAdmin"], true);
    }
}

/// The document of the validation CPU report: fragment `F` selects one
/// field twice with `arguments` arguments, and `spreads` fragments each
/// spread `F`.
fn overlapping_fields_document(arguments: usize, spreads: usize) -> String {
    let arguments: Vec<String> = (0..arguments).map(|i| format!("a{i}: {i}")).collect();
    let field = format!("agent(name: \"x\", {}) {{ id }}", arguments.join(", "));
    let mut text = String::from("{ ...G0 }\n");
    for i in 0..spreads {
        text.push_str(&format!("fragment G{i} on Query {{ ...F }}\n"));
    }
    text.push_str(&format!("fragment F on Query {{ {field} {field} }}\n"));
    text
}

test_both! {
    async fn documents_that_make_validation_work_quadratically_are_refused(app: TestApp) {
        let report = overlapping_fields_document(4000, 1000);
        assert!(report.len() > 60_000, "{} bytes", report.len());
        let response = app.post(Some(&app.admin), &report, json!({})).await;
        assert_refused(&response, &["arguments"]);

        // The family: as many arguments as allowed, and spreads until every
        // fragment counted where it is spread passes the field limit.
        for spreads in [300, 1000, 5000] {
            let document = overlapping_fields_document(31, spreads);
            let response = app.post(Some(&app.admin), &document, json!({})).await;
            assert_refused(&response, &["fields", "tokens"]);
        }
    }
}

test_both! {
    async fn a_flood_of_errors_is_capped_and_the_body_stays_small(app: TestApp) {
        let duplicates = format!("{{ viewer({}) {{ id }} }}", "a: 1, ".repeat(100_000));
        let response = app.post(Some(&app.admin), &duplicates, json!({})).await;
        assert_refused(&response, &["arguments", "tokens"]);
        assert_eq!(response.body["errors"].as_array().map(Vec::len), Some(1));

        // 400 unknown fields: 400 validation errors, of which the response
        // carries the first 100 and one that counts the rest.
        let fields: Vec<String> = (0..400).map(|i| format!("unknown{i}")).collect();
        let response = app.post(Some(&app.admin), &format!("{{ {} }}", fields.join(" ")), json!({})).await;
        let errors = response.body["errors"].as_array().expect("errors");
        assert_eq!(errors.len(), 101, "{}", response.body);
        assert!(errors[0]["message"].as_str().is_some_and(|m| m.contains("unknown0")));
        let last = errors[100]["message"].as_str().expect("message");
        assert!(last.contains("300 more errors"), "{last}");
        response.assert_every_error_has_a_code();
    }
}

fn sha256_hex(text: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

test_both! {
    async fn a_bad_token_is_refused_before_the_document_is_read(app: TestApp) {
        let query = "query Kept { viewer { id } }";
        let hash = sha256_hex(query);
        let persisted = json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } });
        let bad = app.send(
            app.client
                .post(app.url("/graphql"))
                .header("authorization", "Bearer not-a-token")
                .json(&json!({ "query": query, "extensions": persisted })),
        ).await;
        assert_eq!(bad.status, 401, "{}", bad.body);
        // Nothing of the refused request was kept: the hash alone is unknown.
        let by_hash = app.send(
            app.client
                .post(app.url("/graphql"))
                .header("authorization", &app.admin)
                .json(&json!({ "extensions": persisted })),
        ).await;
        assert_eq!(by_hash.error_code(), "PERSISTED_QUERY_NOT_FOUND", "{}", by_hash.body);

        // A document too deep to parse gets the same 401, not a crash.
        let deep = format!("{{ agent(name: {}) {{ id }} }}", nested("[", "1", "]", 5000));
        let bad = app.post(Some("Bearer not-a-token"), &deep, json!({})).await;
        assert_eq!(bad.status, 401, "{}", bad.body);
    }
}

test_both! {
    #[flags("--introspection", "always")]
    async fn anonymous_documents_get_a_smaller_token_budget_that_fits_introspection(app: TestApp) {
        for introspection in [
            include_str!("fixtures/introspection-graphql-16.15.0.graphql"),
            include_str!("fixtures/introspection-graphql-15.10.1.graphql"),
        ] {
            let data = app.post(None, introspection, json!({})).await.data_ok();
            assert!(data["__schema"]["types"].is_array());
        }
        // 300 fields of 7 tokens each.
        let filler = format!("query Large {{ {} }}", "__typename @skip(if: false) ".repeat(300));
        let refused = app.post(None, &filler, json!({})).await;
        assert_refused(&refused, &["tokens"]);
        // The same document with a valid token is within the larger budget.
        app.post(Some(&app.user), &filler, json!({})).await.data_ok();
        // And once stored for the token holder, still refused anonymously.
        let refused = app.post(None, &filler, json!({})).await;
        assert_refused(&refused, &["tokens"]);
    }
}

test_both! {
    async fn a_directive_condition_must_be_a_boolean(app: TestApp) {
        for (document, variables) in [
            ("{ viewer @skip(if: \"yes\") { id } }", json!({})),
            ("{ viewer @include(if: {a: 1}) { id } }", json!({})),
            ("{ viewer @include(if: 1) { id } }", json!({})),
            ("{ viewer { ... on Viewer @skip(if: \"no\") { id } } }", json!({})),
            ("query($s: String) { viewer @skip(if: $s) { id } }", json!({ "s": "yes" })),
            ("query($b: Boolean) { viewer @include(if: $b) { id } }", json!({})),
        ] {
            let response = app.post(Some(&app.admin), document, variables).await;
            assert_refused(&response, &["boolean", "if"]);
            assert_eq!(response.statements(), 0);
        }
        for (document, variables) in [
            ("{ viewer @skip(if: false) { isAdmin } }", json!({})),
            ("query($b: Boolean!) { viewer @include(if: $b) { isAdmin } }", json!({ "b": true })),
            ("query($b: Boolean = true) { viewer @include(if: $b) { isAdmin } }", json!({})),
        ] {
            let response = app.post(Some(&app.admin), document, variables).await;
            assert_eq!(response.body["data"]["viewer"]["isAdmin"], true, "{document}: {}", response.body);
        }
    }
}

test_both! {
    async fn the_operation_label_is_a_name_the_document_declares(app: TestApp) {
        let scrape = || async {
            app.client.get(app.url("/metrics")).send().await.expect("scrape").text().await.expect("text")
        };
        for document in [
            "query($b:String!){ agent(name:$b){ name } }",
            "fragment F on Query { __typename } query AfterFragment { ...F }",
            "query # Commented\n{ __typename }",
            "query{ __typename }",
        ] {
            app.post(Some(&app.user), document, json!({ "b": "x" })).await;
        }
        let labels = operation_labels(&scrape().await);
        assert!(labels.contains("AfterFragment"), "{labels:?}");
        assert!(labels.contains("anonymous"), "{labels:?}");
        for wrong in ["__typename", "Commented", "F"] {
            assert!(!labels.contains(wrong), "{wrong} in {labels:?}");
        }
    }
}
