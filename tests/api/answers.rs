//! Bounded answers (SPEC 10): every list counts its size in the query's
//! complexity, an answer larger than `--max-response-bytes` is refused, and
//! text inputs are limited in bytes and free of meaningless control
//! characters.

use serde_json::{json, Value};

use crate::{
    fixtures::{insert_project, insert_signals, Shape},
    helpers::Gql,
    test_both,
};

/// `project(id: $id) { a0: diContext(signalsLimit: <limit>) { ... } ... }`
/// with `aliases` aliases, as in the report of an answer of 2.9 GB.
fn aliased_di_contexts(aliases: usize, limit: usize) -> String {
    let fields: Vec<String> = (0..aliases)
        .map(|i| {
            format!("a{i}: diContext(signalsLimit: {limit}) {{ unanalyzedSignals {{ content }} }}")
        })
        .collect();
    format!(
        "query($id: UUID!) {{ project(id: $id) {{ {} }} }}",
        fields.join(" ")
    )
}

/// Refused before execution for its complexity: no data, no SQL.
fn assert_too_complex(response: &Gql) {
    assert_eq!(response.status, 200, "{}", response.body);
    assert_eq!(response.error_code(), "BAD_USER_INPUT", "{}", response.body);
    assert_eq!(response.body["data"], Value::Null, "{}", response.body);
    assert_eq!(response.statements(), 0, "SQL ran: {}", response.body);
    assert!(
        response.error_message().contains("complex"),
        "{}",
        response.body
    );
}

test_both! {
    async fn the_reported_thirty_aliases_of_di_context_are_refused_before_any_sql(app: TestApp) {
        let (owner, auth) = app.new_user(false);
        let project = insert_project(&app, owner, Shape { signals: 3, client_signals: 3, ..Shape::default() }).await;
        let reported = app.post(Some(&auth), &aliased_di_contexts(30, 500), json!({ "id": project })).await;
        assert_too_complex(&reported);

        // Variants around the default limit (10,000): `project` costs 1,
        // each alias its `signalsLimit` times `unanalyzedSignals { content }` (2).
        for aliases in [1, 5, 9, 10, 30] {
            for limit in [1, 100, 166, 167, 500] {
                let complexity = 1 + aliases * limit * 2;
                let response = app.post(Some(&auth), &aliased_di_contexts(aliases, limit), json!({ "id": project })).await;
                if complexity > 10_000 {
                    assert_too_complex(&response);
                } else {
                    let data = response.data_ok();
                    let signals = data["project"]["a0"]["unanalyzedSignals"].as_array().map(Vec::len);
                    assert_eq!(signals, Some(limit.min(3)), "{aliases} x {limit}");
                }
            }
        }
    }
}

test_both! {
    #[flags("--max-complexity", "100")]
    async fn lists_without_a_size_argument_and_id_lists_count_their_items(app: TestApp) {
        let (_, auth) = app.new_user(false);
        // 3 circles, each with members counted as 20: 3 * (1 + 20 * 3).
        let members = "{ circles(first: 3) { nodes { members { role agent { name } } } } }";
        assert_too_complex(&app.post(Some(&auth), members, json!({})).await);
        let one = "{ circles(first: 1) { nodes { members { role } } } }";
        assert_eq!(app.user_ok(one, json!({})).await, json!({ "circles": { "nodes": [] } }));

        let personas = "query($id: UUID!) { project(id: $id) { personas { id projectId name description createdAt } valuePath { label } } }";
        assert_too_complex(&app.post(Some(&auth), personas, json!({ "id": uuid::Uuid::now_v7() })).await);

        // The answer of markSignalsAnalyzed holds one signal per id sent.
        let mark = "mutation($p: UUID!, $ids: [UUID!]!) { markSignalsAnalyzed(projectId: $p, signalIds: $ids) { id content } }";
        let ids: Vec<uuid::Uuid> = (0..60).map(|_| uuid::Uuid::now_v7()).collect();
        assert_too_complex(&app.post(Some(&auth), mark, json!({ "p": uuid::Uuid::now_v7(), "ids": ids })).await);
        let few = app.post(Some(&auth), mark, json!({ "p": uuid::Uuid::now_v7(), "ids": &ids[..10] })).await;
        assert_eq!(few.error_code(), "NOT_FOUND", "{}", few.body);
    }
}

const SIGNAL_TEXTS: &str = "query($id: UUID!, $n: Int!) { project(id: $id) {
    diContext(signalsLimit: $n) { unanalyzedSignals { content } } } }";

/// The answer was refused for its size: `data` null, one error on the
/// field being answered, and a body within the limit.
fn assert_too_large(response: &Gql, limit: usize) {
    assert_eq!(response.status, 200, "{}", response.body);
    assert_eq!(response.body["data"], Value::Null, "{}", response.body);
    assert_eq!(response.error_code(), "BAD_USER_INPUT", "{}", response.body);
    let message = response.error_message();
    assert!(
        message.contains(&format!("larger than the limit of {limit} bytes")),
        "{message}"
    );
    assert_eq!(
        response.body["errors"].as_array().map(Vec::len),
        Some(1),
        "{}",
        response.body
    );
    assert_eq!(
        response.body["errors"][0]["path"],
        json!(["project"]),
        "{}",
        response.body
    );
    assert!(response.body.to_string().len() < limit);
}

test_both! {
    #[flags("--max-response-bytes", "20000")]
    async fn an_answer_larger_than_the_limit_is_refused_with_one_clear_error(app: TestApp) {
        let (owner, auth) = app.new_user(false);
        let project = insert_project(&app, owner, Shape::default()).await;
        insert_signals(&app, project, (0..40).map(|n| format!("{n:04}{}", "x".repeat(996))).collect()).await;

        let fits = app.post(Some(&auth), SIGNAL_TEXTS, json!({ "id": project, "n": 15 })).await;
        let signals = fits.data_ok()["project"]["diContext"]["unanalyzedSignals"].as_array().map(Vec::len);
        assert_eq!(signals, Some(15));

        let too_large = app.post(Some(&auth), SIGNAL_TEXTS, json!({ "id": project, "n": 40 })).await;
        assert_too_large(&too_large, 20_000);
        too_large.assert_every_error_has_a_code();
    }
}

test_both! {
    #[flags("--max-response-bytes", "20000")]
    async fn a_stored_control_character_counts_the_six_bytes_it_is_sent_as(app: TestApp) {
        let (owner, auth) = app.new_user(false);
        let project = insert_project(&app, owner, Shape::default()).await;
        // 1,000 bytes stored, 6,000 sent (`\u0001` each).
        insert_signals(&app, project, (0..5).map(|_| "\u{1}".repeat(1000)).collect()).await;

        let two = app.post(Some(&auth), SIGNAL_TEXTS, json!({ "id": project, "n": 2 })).await;
        let data = two.data_ok();
        assert_eq!(data["project"]["diContext"]["unanalyzedSignals"][0]["content"], json!("\u{1}".repeat(1000)));

        // 5,000 bytes stored, above 30,000 as JSON.
        let five = app.post(Some(&auth), SIGNAL_TEXTS, json!({ "id": project, "n": 5 })).await;
        assert_too_large(&five, 20_000);
    }
}

/// Refused as bad input naming `field`, before any SQL.
fn assert_refused_text(response: &Gql, field: &str) {
    assert_eq!(response.status, 200, "{}", response.body);
    assert_eq!(response.error_code(), "BAD_USER_INPUT", "{}", response.body);
    assert_eq!(response.error_field(), Some(field), "{}", response.body);
    assert_eq!(response.body["data"], Value::Null, "{}", response.body);
    assert_eq!(response.statements(), 0, "SQL ran: {}", response.body);
}

test_both! {
    async fn control_characters_are_refused_in_every_text_and_json_input(app: TestApp) {
        let (owner, auth) = app.new_user(false);
        let project = insert_project(&app, owner, Shape::default()).await;
        let add_signal = "mutation($p: UUID!, $input: AddSignalInput!) { addSignal(projectId: $p, input: $input) { id } }";
        let store = "mutation($p: UUID!, $analysis: JSON!) { storeDiAnalysis(projectId: $p, analysis: $analysis) { projectId } }";
        let cases: Vec<(String, Value, &str)> = vec![
            (add_signal.to_owned(), json!({ "p": project, "input": { "source": "mail", "authority": "CLIENT", "content": "a\u{1}b" } }), "input.content"),
            (add_signal.to_owned(), json!({ "p": project, "input": { "source": "nul\u{0}", "authority": "CLIENT", "content": "ok" } }), "input.source"),
            (store.to_owned(), json!({ "p": project, "analysis": { "themes": ["fine", { "note": "esc\u{1b}[31m" }] } }), "analysis.themes[1].note"),
            (store.to_owned(), json!({ "p": project, "analysis": { "k\u{7}": 1 } }), "analysis"),
            ("mutation($p: UUID!) { setStrategicContext(projectId: $p, content: \"bell\\u0007\") { content } }".to_owned(), json!({ "p": project }), "content"),
            ("mutation { createProject(input: { name: \"x\\u001f\" }) { id } }".to_owned(), json!({}), "input.name"),
            ("{ agent(name: \"nul\\u0000\") { id } }".to_owned(), json!({}), "name"),
            ("query($unused: String) { viewer { id } }".to_owned(), json!({ "unused": "\u{2}" }), "unused"),
        ];
        for (query, variables, field) in cases {
            let response = app.post(Some(&auth), &query, variables).await;
            assert_refused_text(&response, field);
        }
        assert_eq!(app.count("signals").await, 0);
        assert_eq!(app.count("di_analyses").await, 0);
        assert_eq!(app.count("strategic_contexts").await, 0);
        assert_eq!(app.count("projects").await, 1);

        // Tab, newline and carriage return are text.
        let text = "line one\r\n\tline two";
        let data = app.post(Some(&auth), add_signal, json!({ "p": project, "input": { "source": "mail", "authority": "CLIENT", "content": text } })).await.data_ok();
        assert!(data["addSignal"]["id"].is_string());
        let read = app.post(Some(&auth), SIGNAL_TEXTS, json!({ "id": project, "n": 1 })).await.data_ok();
        assert_eq!(read["project"]["diContext"]["unanalyzedSignals"][0]["content"], json!(text));
    }
}

test_both! {
    async fn text_limits_count_utf8_bytes_not_characters(app: TestApp) {
        let (owner, auth) = app.new_user(false);
        let project = insert_project(&app, owner, Shape::default()).await;
        let add_signal = "mutation($p: UUID!, $content: String!) { addSignal(projectId: $p, input: { source: \"mail\", authority: CLIENT, content: $content }) { id } }";
        // 16,001 characters of two bytes: 32,002 bytes, over 32,000.
        let over = app.post(Some(&auth), add_signal, json!({ "p": project, "content": "é".repeat(16_001) })).await;
        assert_eq!(over.error_code(), "BAD_USER_INPUT", "{}", over.body);
        assert_eq!(over.error_field(), Some("content"));
        assert!(over.error_message().contains("32000 bytes"), "{}", over.error_message());
        app.post(Some(&auth), add_signal, json!({ "p": project, "content": "é".repeat(16_000) })).await.data_ok();

        let create = "mutation($n: String!) { createProject(input: { name: $n }) { id } }";
        let long_name = app.post(Some(&auth), create, json!({ "n": "é".repeat(51) })).await;
        assert_eq!(long_name.error_field(), Some("name"), "{}", long_name.body);
        app.post(Some(&auth), create, json!({ "n": "é".repeat(50) })).await.data_ok();
        assert_eq!(app.count("signals").await, 1);
        assert_eq!(app.count("projects").await, 2);
    }
}
