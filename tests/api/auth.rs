//! Identity and access (SPEC 6): no token, a bad token, a non-admin token,
//! and the endpoints that stay open.

use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::{
    helpers::{TestApp, SECRET},
    test_both,
    ws::WsClient,
};

const CREATE_CIRCLE: &str = "mutation { createCircle(input: {name: \"Core\"}) { id } }";

/// Seconds since the epoch, shifted by `offset`.
fn epoch_plus(offset: i64) -> i64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_secs();
    i64::try_from(now).expect("the time fits an i64") + offset
}

/// `claims` signed with HS256 and `secret`, as a bearer header value.
fn signed(secret: &str, claims: &Value) -> String {
    let token = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("HS256 signs");
    format!("Bearer {token}")
}

/// Admin claims for a fresh subject, expiring `expires_in` seconds from now.
fn admin_claims(expires_in: i64) -> Value {
    json!({ "sub": Uuid::now_v7().to_string(), "exp": epoch_plus(expires_in), "role": "admin" })
}

/// Unpadded base64url, as JWTs use it.
fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            let index = usize::try_from((n >> (18 - 6 * i)) & 0x3f).expect("six bits");
            out.push(char::from(ALPHABET[index]));
        }
    }
    out
}

/// An unsigned token (`alg: none`) with `claims`, as a bearer header value.
fn unsigned(claims: &Value) -> String {
    let header = base64url(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = base64url(claims.to_string().as_bytes());
    format!("Bearer {header}.{payload}.")
}

#[test]
fn base64url_matches_the_rfc_4648_test_vectors() {
    assert_eq!(base64url(b""), "");
    assert_eq!(base64url(b"f"), "Zg");
    assert_eq!(base64url(b"fo"), "Zm8");
    assert_eq!(base64url(b"foo"), "Zm9v");
    assert_eq!(base64url(b"foob"), "Zm9vYg");
    assert_eq!(base64url(b"fooba"), "Zm9vYmE");
    assert_eq!(base64url(b"foobar"), "Zm9vYmFy");
    assert_eq!(base64url(&[0xfb, 0xff]), "-_8");
}

test_both! {
    async fn without_a_token_every_root_field_is_unauthenticated_and_nothing_is_written(app: TestApp) {
        let circle_id = Uuid::now_v7();
        let operations = [
            "{ viewer { id } }".to_owned(),
            "{ agent(name: \"planner\") { name } }".to_owned(),
            "{ agents { nodes { name } } }".to_owned(),
            format!("{{ circle(id: \"{circle_id}\") {{ name }} }}"),
            "{ circles { nodes { name } } }".to_owned(),
            CREATE_CIRCLE.to_owned(),
            "mutation { createAgent(input: {name: \"planner\"}) { id } }".to_owned(),
        ];
        for operation in &operations {
            let response = app.post(None, operation, json!({})).await;
            assert_eq!(response.status, 200, "{operation}: {}", response.body);
            assert_eq!(response.error_code(), "UNAUTHENTICATED", "{operation}: {}", response.body);
            assert_eq!(response.statements(), 0, "{operation} ran SQL: {}", response.body);
            response.assert_every_error_has_a_code();
        }
        assert_eq!(app.count("circles").await, 0);
        assert_eq!(app.count("agents").await, 0);
    }
}

test_both! {
    async fn a_bad_token_is_401_with_a_fixed_message_and_nothing_is_written(app: TestApp) {
        // The same construction with the right secret is accepted, so each
        // rejection below is down to the one defect it names.
        let good = signed(SECRET, &admin_claims(3600));
        app.post(Some(&good), "{ viewer { id } }", json!({})).await.data_ok();

        let not_a_uuid = json!({ "sub": "alice", "exp": epoch_plus(3600), "role": "admin" });
        let bad_tokens = [
            ("signed with another secret", signed("another-secret-entirely", &admin_claims(3600))),
            ("expired beyond the leeway", signed(SECRET, &admin_claims(-120))),
            ("alg: none", unsigned(&admin_claims(3600))),
            ("subject is not a UUID", signed(SECRET, &not_a_uuid)),
            ("Basic scheme", "Basic YWRtaW46aHVudGVyMg==".to_owned()),
            ("bearer without a token", "Bearer".to_owned()),
            ("garbage", "Bearer not.a.jwt".to_owned()),
        ];
        for (defect, header) in &bad_tokens {
            let response = app.post(Some(header), CREATE_CIRCLE, json!({})).await;
            assert_eq!(response.status, 401, "{defect}: {}", response.body);
            let challenge = response.header("www-authenticate").unwrap_or_default();
            assert!(challenge.starts_with("Bearer"), "{defect}: WWW-Authenticate is {challenge:?}");
            assert_eq!(response.error_code(), "UNAUTHENTICATED", "{defect}");
            assert_eq!(response.error_message(), "invalid or expired token", "{defect}");
            response.assert_every_error_has_a_code();
        }
        assert_eq!(app.count("circles").await, 0);
    }
}

test_both! {
    async fn a_token_not_yet_valid_is_401_beyond_the_clock_leeway(app: TestApp) {
        let claims = |nbf: i64| {
            json!({ "sub": Uuid::now_v7().to_string(), "exp": epoch_plus(3600), "nbf": epoch_plus(nbf) })
        };
        let early = app.post(Some(&signed(SECRET, &claims(600))), "{ viewer { id } }", json!({})).await;
        assert_eq!(early.status, 401, "{}", early.body);
        assert_eq!(early.error_message(), "invalid or expired token");
        for within_leeway in [-60, 10] {
            let token = signed(SECRET, &claims(within_leeway));
            app.post(Some(&token), "{ viewer { id } }", json!({})).await.data_ok();
        }
    }
}

test_both! {
    /// An `exp` too large for the clock (10^19, u64::MAX) or beyond the
    /// accepted horizon is refused like any bad token: 401 over HTTP, a
    /// 4403 close over WebSocket.
    async fn a_signed_token_expiring_beyond_any_horizon_is_refused_over_http_and_websocket(app: TestApp) {
        let years = |n: i64| epoch_plus(n * 365 * 24 * 3600);
        let exps = [
            json!(10_000_000_000_000_000_000_u64),
            json!(u64::MAX),
            json!(years(101)),
            json!(1e19),
            json!(-1),
        ];
        for exp in exps {
            let claims = json!({ "sub": Uuid::now_v7().to_string(), "exp": exp, "role": "admin" });
            let header = signed(SECRET, &claims);
            let response = app.post(Some(&header), "{ viewer { id } }", json!({})).await;
            assert_eq!(response.status, 401, "exp {exp}: {}", response.body);
            assert_eq!(response.error_message(), "invalid or expired token", "exp {exp}");

            let mut socket = WsClient::connect(&app, json!({ "authorization": header })).await;
            assert_eq!(socket.closed().await.0, 4403, "exp {exp}");
        }
        let decades = signed(SECRET, &json!({ "sub": Uuid::now_v7().to_string(), "exp": years(99) }));
        app.post(Some(&decades), "{ viewer { id } }", json!({})).await.data_ok();
    }
}

/// Runs `agentgraph serve` with `secret` as `AGENTGRAPH_JWT_SECRET`; returns
/// its exit status and standard error, or `None` if it was still running
/// (serving) after 10 s.
fn serve_with_secret(secret: &str) -> Option<(std::process::ExitStatus, String)> {
    use std::{io::Read, process::Stdio};
    let dir = tempfile::tempdir().expect("temp dir");
    let database = format!("sqlite://{}?mode=rwc", dir.path().join("a.db").display());
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_agentgraph"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            &database,
        ])
        .env("AGENTGRAPH_JWT_SECRET", secret)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::time::Instant::now() < deadline {
        if let Some(status) = child.try_wait().expect("wait") {
            let mut stderr = String::new();
            if let Some(mut pipe) = child.stderr.take() {
                pipe.read_to_string(&mut stderr).expect("stderr");
            }
            return Some((status, stderr));
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

/// The secret is checked before any database is touched, so one backend
/// shows it.
#[test]
fn the_server_refuses_to_start_with_an_empty_or_short_secret() {
    let (status, stderr) = serve_with_secret("").expect("an empty secret stops the server");
    assert!(!status.success());
    assert!(stderr.contains("set but empty"), "{stderr}");

    let short = "x".repeat(31);
    let (status, stderr) = serve_with_secret(&short).expect("a short secret stops the server");
    assert!(!status.success());
    assert!(
        stderr.contains("31 bytes") && stderr.contains("at least 32"),
        "{stderr}"
    );
    assert!(
        !stderr.contains(&short),
        "the secret is not echoed: {stderr}"
    );
}

/// Creates the agent `scout` and a circle as admin; returns the circle id.
async fn arrange_agent_and_circle(app: &TestApp) -> String {
    app.admin_ok(
        "mutation { createAgent(input: {name: \"scout\"}) { id } }",
        json!({}),
    )
    .await;
    let data = app
        .admin_ok(
            "mutation { createCircle(input: {name: \"Alpha\"}) { id } }",
            json!({}),
        )
        .await;
    data["createCircle"]["id"]
        .as_str()
        .expect("a circle id")
        .to_owned()
}

/// The four admin writes, each on data the arrangement above provides.
fn admin_writes(circle_id: &str) -> [(&'static str, String); 4] {
    [
        ("createAgent", "mutation { createAgent(input: {name: \"intruder\"}) { id } }".to_owned()),
        (
            "setAgentTool",
            "mutation { setAgentTool(agentName: \"scout\", input: {name: \"search\", toolType: \"http\"}) { id } }"
                .to_owned(),
        ),
        ("createCircle", "mutation { createCircle(input: {name: \"Beta\"}) { id } }".to_owned()),
        (
            "addCircleMember",
            format!("mutation {{ addCircleMember(circleId: \"{circle_id}\", agentName: \"scout\") {{ id }} }}"),
        ),
    ]
}

test_both! {
    async fn a_user_without_the_admin_role_cannot_write_agents_tools_or_circles(app: TestApp) {
        let circle_id = arrange_agent_and_circle(&app).await;
        for (name, mutation) in admin_writes(&circle_id) {
            let response = app.post(Some(&app.user), &mutation, json!({})).await;
            assert_eq!(response.status, 200, "{name}: {}", response.body);
            assert_eq!(response.error_code(), "FORBIDDEN", "{name}: {}", response.body);
            assert_eq!(response.statements(), 0, "{name} ran SQL");
            response.assert_every_error_has_a_code();
        }
        assert_eq!(app.count("agents").await, 1);
        assert_eq!(app.count("agent_tools").await, 0);
        assert_eq!(app.count("circles").await, 1);
        assert_eq!(app.count("circle_members").await, 0);
    }
}

test_both! {
    async fn an_admin_can_write_agents_tools_and_circles(app: TestApp) {
        let circle_id = arrange_agent_and_circle(&app).await;
        for (name, mutation) in admin_writes(&circle_id) {
            let data = app.admin_ok(&mutation, json!({})).await;
            assert!(data[name]["id"].is_string(), "{name}: {data}");
        }
        assert_eq!(app.count("agents").await, 2);
        assert_eq!(app.count("agent_tools").await, 1);
        assert_eq!(app.count("circles").await, 2);
        assert_eq!(app.count("circle_members").await, 1);
    }
}

test_both! {
    async fn viewer_is_the_subject_of_the_token(app: TestApp) {
        let (user_id, user) = app.new_user(false);
        let data = app.post(Some(&user), "{ viewer { id isAdmin } }", json!({})).await.data_ok();
        assert_eq!(data["viewer"], json!({ "id": user_id.to_string(), "isAdmin": false }));

        let (admin_id, admin) = app.new_user(true);
        let data = app.post(Some(&admin), "{ viewer { id isAdmin } }", json!({})).await.data_ok();
        assert_eq!(data["viewer"], json!({ "id": admin_id.to_string(), "isAdmin": true }));
    }
}

test_both! {
    async fn health_readiness_and_graphiql_answer_without_a_token(app: TestApp) {
        let health = app.send(app.client.get(app.url("/healthz"))).await;
        assert_eq!(health.status, 200);
        assert_eq!(health.body, json!("ok"));

        let ready = app.send(app.client.get(app.url("/readyz"))).await;
        assert_eq!(ready.status, 200);
        assert_eq!(ready.body, json!("ready"));

        for path in ["/", "/graphql"] {
            let page = app
                .send(app.client.get(app.url(path)).header("accept", "text/html"))
                .await;
            assert_eq!(page.status, 200, "GET {path}");
            assert!(page.content_type.starts_with("text/html"), "GET {path}: {}", page.content_type);
            let html = page.body.as_str().expect("an HTML page").to_ascii_lowercase();
            assert!(html.contains("graphiql"), "GET {path} is not GraphiQL: {html}");
        }
    }
}
