//! Query limits (SPEC 10): depth, complexity, aliases, directives per field,
//! page size and string length. Each is refused with a clear message before
//! any resolver runs, so not one SQL statement is spent on it.

use serde_json::{json, Value};

use crate::{helpers::Gql, test_both};

/// Refused before execution: BAD_USER_INPUT, no data, no SQL, and a
/// message with one of `words` in it.
fn assert_refused(response: &Gql, words: &[&str]) {
    assert_eq!(response.status, 200, "{}", response.body);
    assert_eq!(response.error_code(), "BAD_USER_INPUT", "{}", response.body);
    assert_eq!(response.body["data"], Value::Null, "{}", response.body);
    assert_eq!(response.statements(), 0, "SQL ran: {}", response.body);
    let message = response.error_message().to_ascii_lowercase();
    assert!(
        words.iter().any(|word| message.contains(word)),
        "{message:?} mentions none of {words:?}"
    );
    response.assert_every_error_has_a_code();
}

test_both! {
    #[flags("--max-depth", "5")]
    async fn a_query_nested_deeper_than_the_limit_is_refused_before_any_sql(app: TestApp) {
        let too_deep = "{ circles { nodes { members { agent { model { provider { name } } } } } } }";
        let response = app.post(Some(&app.admin), too_deep, json!({})).await;
        assert_refused(&response, &["deep", "nested"]);

        let at_the_limit = "{ circles { nodes { members { agent { name } } } } }";
        let data = app.admin_ok(at_the_limit, json!({})).await;
        assert_eq!(data, json!({ "circles": { "nodes": [] } }));
    }
}

test_both! {
    #[flags("--max-complexity", "50")]
    async fn a_query_more_complex_than_the_limit_is_refused_before_any_sql(app: TestApp) {
        let too_complex = "{ agents(first: 100) { nodes { name description } } }";
        let response = app.post(Some(&app.admin), too_complex, json!({})).await;
        assert_refused(&response, &["complex"]);

        let small = "{ agents(first: 10) { nodes { name description } } }";
        let data = app.admin_ok(small, json!({})).await;
        assert_eq!(data, json!({ "agents": { "nodes": [] } }));
    }
}

/// `{ a0: viewer { id } a1: viewer { id } ... }` with `n` aliases.
fn aliased_viewers(n: usize) -> String {
    let fields: Vec<String> = (0..n).map(|i| format!("a{i}: viewer {{ id }}")).collect();
    format!("{{ {} }}", fields.join(" "))
}

test_both! {
    async fn more_aliases_than_the_limit_are_refused_before_any_sql(app: TestApp) {
        let response = app.post(Some(&app.admin), &aliased_viewers(31), json!({})).await;
        assert_refused(&response, &["aliases"]);

        let data = app.admin_ok(&aliased_viewers(30), json!({})).await;
        assert_eq!(data.as_object().map(serde_json::Map::len), Some(30));
    }
}

test_both! {
    async fn more_directives_on_one_field_than_the_limit_are_refused_before_any_sql(app: TestApp) {
        let directives = "@include(if: true) ".repeat(5);
        let query = format!("{{ agents {directives}{{ nodes {{ name }} }} }}");
        let response = app.post(Some(&app.admin), &query, json!({})).await;
        assert_refused(&response, &["directives"]);
    }
}

test_both! {
    async fn a_page_larger_than_100_is_refused_before_any_sql(app: TestApp) {
        for query in [
            "{ agents(first: 101) { nodes { name } } }",
            "{ circles(first: 101) { nodes { name } } }",
            "{ agents(first: -1) { nodes { name } } }",
        ] {
            let response = app.post(Some(&app.admin), query, json!({})).await;
            assert_eq!(response.statements(), 0, "{query}: SQL ran");
            assert_eq!(response.error_code(), "BAD_USER_INPUT", "{query}: {}", response.body);
            assert_eq!(response.error_field(), Some("first"), "{query}: {}", response.body);
            response.assert_every_error_has_a_code();
        }
        let data = app.admin_ok("{ agents(first: 100) { nodes { name } } }", json!({})).await;
        assert_eq!(data, json!({ "agents": { "nodes": [] } }));
    }
}

test_both! {
    async fn a_name_longer_than_100_bytes_is_bad_user_input_and_writes_nothing(app: TestApp) {
        let create = "mutation($name: String!) { createCircle(input: {name: $name}) { name } }";
        let response = app.post(Some(&app.admin), create, json!({ "name": "n".repeat(101) })).await;
        assert_eq!(response.error_code(), "BAD_USER_INPUT", "{}", response.body);
        assert_eq!(response.error_field(), Some("name"), "{}", response.body);
        assert!(response.error_message().contains("100"), "{}", response.error_message());
        response.assert_every_error_has_a_code();
        assert_eq!(app.count("circles").await, 0);

        // Bytes, not characters: 51 two-byte characters are 102 bytes.
        let too_long = app.post(Some(&app.admin), create, json!({ "name": "é".repeat(51) })).await;
        assert_eq!(too_long.error_field(), Some("name"), "{}", too_long.body);
        let name = "é".repeat(50);
        let data = app.admin_ok(create, json!({ "name": name })).await;
        assert_eq!(data["createCircle"]["name"], json!(name));
        assert_eq!(app.count("circles").await, 1);
    }
}

/// About 1 KB: fragment `F{level}` spreads `F{level + 1}` 8 times, 10 levels
/// deep, so executing it would visit 8^10 fields.
fn exponential_fragments() -> String {
    let mut text = "query Bomb { ...F0 }\n".to_owned();
    for level in 0..10 {
        let spreads = format!("...F{} ", level + 1).repeat(8);
        text.push_str(&format!("fragment F{level} on Query {{ {spreads}}}\n"));
    }
    text.push_str("fragment F10 on Query { __typename }\n");
    text
}

test_both! {
    async fn a_document_of_exponentially_spread_fragments_is_refused_at_once_and_the_server_stays_up(app: TestApp) {
        let bomb = exponential_fragments();
        assert!(bomb.len() < 1500, "{} bytes", bomb.len());
        // Several at once: each would pin a core for minutes if expanded.
        let started = std::time::Instant::now();
        let refusals = futures::future::join_all((0..4).map(|_| app.post(Some(&app.admin), &bomb, json!({})))).await;
        for response in &refusals {
            assert_refused(response, &["fields"]);
            assert!(response.error_message().contains("1073741824"), "{}", response.body);
        }
        // Generous bound for a debug build on a shared machine; expanding
        // the document takes minutes.
        assert!(started.elapsed() < std::time::Duration::from_secs(5), "took {:?}", started.elapsed());

        // Unauthenticated documents are measured the same way.
        let anonymous = app.post(None, &bomb, json!({})).await;
        assert_refused(&anonymous, &["fields"]);

        let health = app.client.get(app.url("/healthz")).send().await.expect("healthz");
        assert_eq!(health.status(), 200);
    }
}

/// `query { ...A ...A ... }` spreading, `spreads` times, a fragment that
/// holds 10 aliased fields.
fn aliases_in_a_fragment(spreads: usize) -> String {
    let aliased: Vec<String> = (0..10).map(|i| format!("v{i}: viewer {{ id }}")).collect();
    format!(
        "{{ {} }} fragment A on Query {{ {} }}",
        "...A ".repeat(spreads),
        aliased.join(" ")
    )
}

test_both! {
    async fn aliases_written_in_a_fragment_count_once_per_spread(app: TestApp) {
        // 4 spreads of 10 aliases: 40 aliases (over 30), though only 10 are written.
        let response = app.post(Some(&app.admin), &aliases_in_a_fragment(4), json!({})).await;
        assert_refused(&response, &["aliases"]);
        assert!(response.error_message().contains("40"), "{}", response.body);

        let data = app.admin_ok(&aliases_in_a_fragment(3), json!({})).await;
        assert_eq!(data.as_object().map(serde_json::Map::len), Some(10));
    }
}

test_both! {
    #[flags("--max-depth", "5")]
    async fn depth_is_counted_through_fragments(app: TestApp) {
        let hidden_depth = "{ circles { ...C } }
            fragment C on CircleConnection { nodes { members { agent { ...A } } } }
            fragment A on Agent { model { provider { name } } }";
        let response = app.post(Some(&app.admin), hidden_depth, json!({})).await;
        assert_refused(&response, &["deep"]);
    }
}

test_both! {
    async fn fragment_cycles_and_unknown_fragments_are_refused_before_any_sql(app: TestApp) {
        let cycle = "{ ...A } fragment A on Query { viewer { id } ...B } fragment B on Query { ...A }";
        assert_refused(&app.post(Some(&app.admin), cycle, json!({})).await, &["spreads itself"]);
        let unknown = "{ viewer { id } ...Missing }";
        assert_refused(&app.post(Some(&app.admin), unknown, json!({})).await, &["unknown fragment"]);
    }
}
