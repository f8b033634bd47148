//! Trusted documents (issue 21): a manifest in each shape clients' build
//! tools write runs by id over POST and GET; trusted-only mode refuses
//! text and unknown ids before parsing; a bad manifest stops the server at
//! start naming the entry; the manifest reloads (on SIGHUP, in a real
//! process); the metrics count requests by id and refusals.

use std::{
    io::{BufRead, BufReader},
    path::Path,
    process::{Child, Command, Stdio},
    time::Duration,
};

use agentgraph::auth::{TokenKeys, Viewer};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::{
    helpers::{bearer, Gql, TestApp, SECRET},
    test_both,
};

macro_rules! fixture {
    ($name:literal) => {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/api/fixtures/trusted/",
            $name
        )
    };
}

const CODEGEN: &str = fixture!("codegen-persisted-documents.json");
const RELAY: &str = fixture!("relay-persisted-queries.json");
const APOLLO: &str = fixture!("apollo-persisted-query-manifest.json");

/// The documents of the fixtures, exactly as written there.
const ME: &str = "query Me {\n  viewer {\n    id\n    isAdmin\n  }\n}";
const AGENT: &str = "query AgentByName($name: String!) {\n  agent(name: $name) {\n    name\n  }\n}";
const CIRCLES: &str =
    "query Circles($first: Int) {\n  circles(first: $first) {\n    nodes {\n      id\n      name\n    }\n  }\n}";

fn sha256_hex(text: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn md5_hex(text: &str) -> String {
    use md5::Digest;
    md5::Md5::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn apollo(hash: &str) -> Value {
    json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } })
}

async fn post(app: &TestApp, auth: Option<&str>, body: Value) -> Gql {
    let mut request = app.client.post(app.url("/graphql")).json(&body);
    if let Some(auth) = auth {
        request = request.header("authorization", auth);
    }
    app.send(request).await
}

async fn get(app: &TestApp, auth: Option<&str>, params: &[(&str, String)]) -> Gql {
    let mut request = app.client.get(app.url("/graphql")).query(params);
    if let Some(auth) = auth {
        request = request.header("authorization", auth);
    }
    app.send(request).await
}

/// A request error with `code`: no `data`, nothing ran.
fn assert_refused(response: &Gql, code: &str) {
    assert_eq!(response.error_code(), code, "{}", response.body);
    assert!(response.body.get("data").is_none(), "{}", response.body);
}

fn me_by_admin(data: Value) {
    assert_eq!(data["viewer"]["isAdmin"], json!(true), "{data}");
}

test_both! {
    #[flags("--trusted-documents", CODEGEN)]
    async fn a_codegen_manifest_runs_by_document_id_over_post_and_get(app: TestApp) {
        let admin = Some(app.admin.as_str());
        let id = sha256_hex(ME);
        me_by_admin(post(&app, admin, json!({ "documentId": id })).await.data_ok());
        // The GraphQL-over-HTTP prefixed form names the same document.
        let prefixed = format!("sha256:{id}");
        me_by_admin(post(&app, admin, json!({ "documentId": prefixed })).await.data_ok());
        me_by_admin(get(&app, admin, &[("documentId", id.clone())]).await.data_ok());
        // Codegen's clients may send the hash the Apollo way instead.
        me_by_admin(post(&app, admin, json!({ "extensions": apollo(&id) })).await.data_ok());
        let agent = post(
            &app,
            admin,
            json!({ "documentId": sha256_hex(AGENT), "variables": { "name": "nobody" } }),
        )
        .await;
        assert_eq!(agent.data_ok(), json!({ "agent": null }));
        // The variables are still checked against the document's.
        let missing = post(&app, admin, json!({ "documentId": sha256_hex(AGENT) })).await;
        assert!(missing.body["errors"][0]["message"].as_str().is_some_and(|m| m.contains("name")), "{}", missing.body);
        // Text still runs: the mode is not trusted-only.
        me_by_admin(post(&app, admin, json!({ "query": ME })).await.data_ok());
    }
}

test_both! {
    #[flags("--trusted-documents", RELAY)]
    async fn a_relay_manifest_runs_by_doc_id_over_post_and_get(app: TestApp) {
        let admin = Some(app.admin.as_str());
        me_by_admin(post(&app, admin, json!({ "doc_id": md5_hex(ME) })).await.data_ok());
        me_by_admin(get(&app, admin, &[("doc_id", md5_hex(ME))]).await.data_ok());
        let circles = get(
            &app,
            admin,
            &[("doc_id", md5_hex(CIRCLES)), ("variables", json!({ "first": 5 }).to_string())],
        )
        .await;
        assert_eq!(circles.data_ok(), json!({ "circles": { "nodes": [] } }));
    }
}

test_both! {
    #[flags("--trusted-documents", APOLLO)]
    async fn an_apollo_manifest_runs_by_hash_over_post_and_get(app: TestApp) {
        let admin = Some(app.admin.as_str());
        let id = sha256_hex(ME);
        me_by_admin(post(&app, admin, json!({ "extensions": apollo(&id) })).await.data_ok());
        let by_get = get(&app, admin, &[("extensions", apollo(&id).to_string())]).await;
        me_by_admin(by_get.data_ok());
        me_by_admin(post(&app, admin, json!({ "documentId": id })).await.data_ok());
    }
}

test_both! {
    #[flags("--trusted-documents", CODEGEN, "--trusted-documents-only")]
    async fn trusted_only_mode_refuses_text_and_unknown_ids_before_parsing(app: TestApp) {
        let admin = Some(app.admin.as_str());
        let user = Some(app.user.as_str());
        // Text is refused, whoever sends it, and before it is parsed: a
        // document that does not parse gets the same answer.
        for body in [json!({ "query": ME }), json!({ "query": "{ viewer {" })] {
            for auth in [admin, user, None] {
                assert_refused(&post(&app, auth, body.clone()).await, "TRUSTED_DOCUMENT_REQUIRED");
            }
        }
        let text = get(&app, admin, &[("query", "{ viewer { id } }".to_owned())]).await;
        assert_refused(&text, "TRUSTED_DOCUMENT_REQUIRED");
        // Under the GraphQL-over-HTTP media type, a request error is a 400.
        let strict = app
            .send(
                app.client
                    .post(app.url("/graphql"))
                    .header("accept", "application/graphql-response+json")
                    .json(&json!({ "query": ME })),
            )
            .await;
        assert_eq!(strict.status, 400, "{}", strict.body);
        assert_refused(&strict, "TRUSTED_DOCUMENT_REQUIRED");

        // An id the manifest lacks.
        let unknown = post(&app, admin, json!({ "documentId": sha256_hex("{ viewer { id } }") })).await;
        assert_refused(&unknown, "TRUSTED_DOCUMENT_NOT_FOUND");
        assert_refused(&get(&app, admin, &[("doc_id", "nope".to_owned())]).await, "TRUSTED_DOCUMENT_NOT_FOUND");

        // Automatic persisted queries cannot register a document.
        let other = "query Other { viewer { id } }";
        let hash = sha256_hex(other);
        let register = post(&app, admin, json!({ "query": other, "extensions": apollo(&hash) })).await;
        assert_refused(&register, "TRUSTED_DOCUMENT_REQUIRED");
        let by_hash = post(&app, admin, json!({ "extensions": apollo(&hash) })).await;
        assert_refused(&by_hash, "TRUSTED_DOCUMENT_REQUIRED");

        // Trusted documents run, over POST and GET.
        me_by_admin(post(&app, admin, json!({ "documentId": sha256_hex(ME) })).await.data_ok());
        me_by_admin(get(&app, admin, &[("documentId", sha256_hex(ME))]).await.data_ok());
        // Both an id and text: ambiguous, refused.
        let both = post(&app, admin, json!({ "documentId": sha256_hex(ME), "query": ME })).await;
        assert_refused(&both, "BAD_USER_INPUT");
    }
}

test_both! {
    #[flags("--trusted-documents", CODEGEN, "--trusted-documents-only")]
    async fn trusted_only_mode_leaves_introspection_to_the_introspection_policy(app: TestApp) {
        // Not dev mode: `--introspection` defaults to `authenticated`.
        let schema = json!({ "query": "query IntrospectionQuery { __schema { queryType { name } } }" });
        let answer = post(&app, Some(&app.user), schema.clone()).await;
        assert_eq!(answer.data_ok()["__schema"]["queryType"]["name"], json!("Query"));
        assert_refused(&post(&app, None, schema).await, "TRUSTED_DOCUMENT_REQUIRED");
        // Introspection is no way around the rule.
        let mixed = json!({ "query": "{ __schema { queryType { name } } viewer { id } }" });
        assert_refused(&post(&app, Some(&app.admin), mixed).await, "TRUSTED_DOCUMENT_REQUIRED");
        let spread = json!({ "query": "{ ...F } fragment F on Query { viewer { id } }" });
        assert_refused(&post(&app, Some(&app.admin), spread).await, "TRUSTED_DOCUMENT_REQUIRED");
    }
}

test_both! {
    #[flags("--trusted-documents", CODEGEN, "--trusted-documents-only", "--introspection", "off")]
    async fn with_introspection_off_trusted_only_mode_refuses_all_text(app: TestApp) {
        let schema = json!({ "query": "{ __schema { queryType { name } } }" });
        assert_refused(&post(&app, Some(&app.admin), schema).await, "TRUSTED_DOCUMENT_REQUIRED");
    }
}

test_both! {
    #[flags("--trusted-documents", CODEGEN, "--trusted-documents-only", "--trusted-documents-admin-text")]
    async fn admin_tokens_may_send_text_when_the_flag_allows_it(app: TestApp) {
        me_by_admin(post(&app, Some(&app.admin), json!({ "query": ME })).await.data_ok());
        let by_user = post(&app, Some(&app.user), json!({ "query": ME })).await;
        assert_refused(&by_user, "TRUSTED_DOCUMENT_REQUIRED");
        assert_refused(&post(&app, None, json!({ "query": ME })).await, "TRUSTED_DOCUMENT_REQUIRED");
    }
}

test_both! {
    async fn without_a_manifest_document_ids_are_unknown_and_persisted_queries_work(app: TestApp) {
        let admin = Some(app.admin.as_str());
        let unknown = post(&app, admin, json!({ "documentId": sha256_hex(ME) })).await;
        assert_refused(&unknown, "TRUSTED_DOCUMENT_NOT_FOUND");
        let hash = sha256_hex(ME);
        let registered = post(&app, admin, json!({ "query": ME, "extensions": apollo(&hash) })).await;
        me_by_admin(registered.data_ok());
        me_by_admin(post(&app, admin, json!({ "extensions": apollo(&hash) })).await.data_ok());
    }
}

/// The value of the series `series` (name and labels, as rendered).
fn sample(metrics: &str, series: &str) -> f64 {
    metrics
        .lines()
        .find(|line| line.starts_with(series) && line[series.len()..].starts_with(' '))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
        .unwrap_or(0.0)
}

async fn scrape(app: &TestApp) -> String {
    let response = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("scrape");
    response.text().await.expect("metrics text")
}

test_both! {
    #[flags("--trusted-documents", RELAY, "--trusted-documents-only")]
    async fn metrics_count_requests_by_id_and_refusals_by_reason(app: TestApp) {
        let served = format!(
            "agentgraph_trusted_document_requests_total{{id=\"{}\"}}",
            md5_hex(CIRCLES)
        );
        let required = "agentgraph_trusted_document_refusals_total{reason=\"required\"}";
        let unknown = "agentgraph_trusted_document_refusals_total{reason=\"unknown_id\"}";
        let before = scrape(&app).await;
        for _ in 0..3 {
            post(&app, Some(&app.admin), json!({ "doc_id": md5_hex(CIRCLES) })).await.data_ok();
        }
        post(&app, Some(&app.admin), json!({ "query": ME })).await;
        post(&app, Some(&app.admin), json!({ "doc_id": "0123" })).await;
        let after = scrape(&app).await;
        // Other tests share the process's recorder: at least this test's.
        assert!(sample(&after, &served) - sample(&before, &served) >= 3.0, "{after}");
        assert!(sample(&after, required) - sample(&before, required) >= 1.0, "{after}");
        assert!(sample(&after, unknown) - sample(&before, unknown) >= 1.0, "{after}");
    }
}

fn manifest(entries: &[&str]) -> String {
    let object: serde_json::Map<String, Value> = entries
        .iter()
        .map(|text| (sha256_hex(text), Value::String((*text).to_owned())))
        .collect();
    Value::Object(object).to_string()
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).expect("the manifest is written");
}

test_both! {
    async fn a_reload_serves_the_new_manifest_and_a_bad_one_keeps_the_old(app: TestApp) {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("manifest.json");
        write(&path, &manifest(&[ME]));
        let flags = ["--trusted-documents", path.to_str().expect("a UTF-8 path"), "--trusted-documents-only"];
        let served = TestApp::spawn_with(app.backend, &flags).await;
        let admin = Some(served.admin.as_str());
        let other = "query Other { viewer { isAdmin } }";
        let unknown = post(&served, admin, json!({ "documentId": sha256_hex(other) })).await;
        assert_refused(&unknown, "TRUSTED_DOCUMENT_NOT_FOUND");

        write(&path, &manifest(&[ME, other]));
        assert_eq!(served.state.reload_trusted_documents().await.expect("reloads"), 2);
        let known = post(&served, admin, json!({ "documentId": sha256_hex(other) })).await;
        assert_eq!(known.data_ok()["viewer"]["isAdmin"], json!(true));

        // A manifest with an entry the schema refuses: the error names the
        // entry, and the manifest in use stays.
        let bad = r#"{ "bad-entry-41": "{ viewer { nope } }" }"#;
        write(&path, bad);
        let error = format!("{:#}", served.state.reload_trusted_documents().await.expect_err("refused"));
        assert!(error.contains("bad-entry-41"), "{error}");
        let still = post(&served, admin, json!({ "documentId": sha256_hex(other) })).await;
        assert_eq!(still.data_ok()["viewer"]["isAdmin"], json!(true));
    }
}

/// The server binary on a SQLite file in `dir`, with `flags`.
fn server_command(dir: &Path, flags: &[&str]) -> Command {
    let database = format!("sqlite://{}?mode=rwc", dir.join("db.sqlite").display());
    let mut command = Command::new(env!("CARGO_BIN_EXE_agentgraph"));
    command
        .args(["serve", "--database-url", &database, "--jwt-secret", SECRET])
        .args(["--no-demo-data", "--listen", "127.0.0.1:0"])
        .args(flags)
        .env("RUST_LOG", "info");
    command
}

/// Each manifest the server must refuse to start with, and the entry its
/// error names.
const BAD_MANIFESTS: &[(&str, &str)] = &[
    (
        r#"{ "ok-1": "{ viewer { id } }", "parse-2": "{ viewer {" }"#,
        "parse-2",
    ),
    (r#"{ "schema-3": "{ viewer { nope } }" }"#, "schema-3"),
    (
        r#"{ "args-4": "query A { viewer { id } } query B { agent { name } }" }"#,
        "args-4",
    ),
    // Deeper than `--max-depth 3`.
    (
        r#"{ "depth-5": "{ circles { nodes { members { agent { name } } } } }" }"#,
        "depth-5",
    ),
    (r#"{ "type-6": 7 }"#, "type-6"),
];

#[test]
fn a_bad_manifest_stops_the_server_at_start_naming_the_entry() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("manifest.json");
    let path_text = path.to_str().expect("a UTF-8 path");
    for (text, entry) in BAD_MANIFESTS {
        write(&path, text);
        let stderr = refused_start(
            server_command(
                dir.path(),
                &["--trusted-documents", path_text, "--max-depth", "3"],
            ),
            entry,
        );
        assert!(stderr.contains(entry), "{entry}: {stderr}");
    }
    let missing = dir.path().join("missing.json");
    let command = server_command(
        dir.path(),
        &["--trusted-documents", missing.to_str().expect("UTF-8")],
    );
    assert!(refused_start(command, "missing").contains("missing.json"));
}

/// What the server said on stderr as it refused to start; a server that
/// starts anyway is stopped and fails the test.
fn refused_start(mut command: Command, what: &str) -> String {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the server runs");
    for _ in 0..600 {
        if let Some(status) = child.try_wait().expect("the process is there") {
            assert!(!status.success(), "{what}: exited successfully");
            let mut stderr = String::new();
            std::io::Read::read_to_string(&mut child.stderr.take().expect("stderr"), &mut stderr)
                .expect("stderr is read");
            return stderr;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("{what}: the server started");
}

/// Kills the server process when the test ends, however it ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn sighup_reloads_the_manifest_of_a_running_server() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("manifest.json");
    write(&path, &manifest(&[ME]));
    let mut child = server_command(
        dir.path(),
        &[
            "--trusted-documents",
            path.to_str().expect("UTF-8"),
            "--trusted-documents-only",
        ],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::null())
    .spawn()
    .expect("the server starts");
    let stdout = child.stdout.take().expect("stdout");
    let server = Server(child);
    let address = tokio::task::spawn_blocking(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .find_map(|line| {
                line.split("http://")
                    .nth(1)
                    .and_then(|rest| rest.strip_suffix("/graphql"))
                    .map(str::to_owned)
            })
    })
    .await
    .expect("stdout is read")
    .expect("the server prints its address");
    let keys = TokenKeys::new(SECRET.as_bytes()).expect("the secret is long enough");
    let admin = bearer(
        &keys,
        Viewer {
            id: Uuid::now_v7().into(),
            is_admin: true,
        },
    );
    let client = reqwest::Client::new();
    let other = "query Other { viewer { isAdmin } }";
    let ask = || async {
        let response = client
            .post(format!("http://{address}/graphql"))
            .header("authorization", &admin)
            .json(&json!({ "documentId": sha256_hex(other) }))
            .send()
            .await
            .expect("sent");
        Gql::from(response).await
    };
    assert_refused(&ask().await, "TRUSTED_DOCUMENT_NOT_FOUND");

    write(&path, &manifest(&[ME, other]));
    let pid = server.0.id().to_string();
    let status = Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let mut answer = ask().await;
    for _ in 0..100 {
        if answer.body.get("data").is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        answer = ask().await;
    }
    assert_eq!(answer.data_ok()["viewer"]["isAdmin"], json!(true));
    // The process lives on: SIGHUP reloaded, it did not stop it.
    let mut server = server;
    assert!(server.0.try_wait().expect("the process is there").is_none());
}

test_both! {
    #[flags("--trusted-documents", RELAY)]
    async fn kept_answers_of_trusted_documents_are_kept_by_each_documents_text(app: TestApp) {
        // Requests by id carry no text: were answers kept by the text
        // sent, two documents named by id with the same variables would
        // share one answer.
        let user = Some(app.user.as_str());
        let me = json!({ "doc_id": md5_hex(ME) });
        let circles = json!({ "doc_id": md5_hex(CIRCLES) });
        for _ in 0..2 {
            let answer = post(&app, user, me.clone()).await.data_ok();
            assert!(answer["viewer"]["id"].is_string(), "{answer}");
            let answer = post(&app, user, circles.clone()).await.data_ok();
            assert_eq!(answer, json!({ "circles": { "nodes": [] } }));
        }
        let kept = crate::responses::stats(&app);
        assert!(kept.hits >= 2, "the second round was kept: {kept:?}");
        // The same text sent as text is the same document: its kept
        // answer serves it.
        let as_text = post(&app, user, json!({ "query": CIRCLES })).await.data_ok();
        assert_eq!(as_text, json!({ "circles": { "nodes": [] } }));
        assert!(crate::responses::stats(&app).hits > kept.hits);
    }
}

test_both! {
    #[flags("--trusted-documents", RELAY, "--trusted-documents-only")]
    async fn trusted_only_mode_refuses_text_even_when_its_answer_is_kept(app: TestApp) {
        let user = Some(app.user.as_str());
        let circles = json!({ "doc_id": md5_hex(CIRCLES) });
        for _ in 0..2 {
            post(&app, user, circles.clone()).await.data_ok();
        }
        assert!(crate::responses::stats(&app).hits >= 1);
        let refused = post(&app, user, json!({ "query": CIRCLES })).await;
        assert_refused(&refused, "TRUSTED_DOCUMENT_REQUIRED");
    }
}
