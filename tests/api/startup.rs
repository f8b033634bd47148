//! What the server refuses to start with (SPEC 10), the dev token kept to
//! the developer's machine, and the request id on a caught panic.

use std::sync::Arc;

use agentgraph::{
    app::{Application, Hooks},
    config::Config,
};

use crate::{helpers::TestApp, test_both};

/// A database nobody listens on: a refusal that names a flag came before
/// any attempt to connect or migrate.
const UNREACHABLE: &str = "postgres://nobody@127.0.0.1:1/never";

/// Each value that would panic or leave a useless server, and its flag.
const REFUSED: &[(&str, &str)] = &[
    ("--cors-origins", "*"),
    ("--cors-origins", "https://ok.example,not an origin"),
    ("--cors-allow-headers", "x-ok,not a header"),
    ("--websocket-keepalive", "0s"),
    ("--agent-cache-refresh", "0s"),
    ("--listener-heartbeat", "0s"),
    ("--header-read-timeout", "0s"),
    ("--websocket-init-timeout", "0s"),
    ("--request-timeout", "0s"),
    ("--max-connections", "0"),
    ("--max-websocket-connections", "0"),
    ("--max-subscriptions-per-connection", "0"),
    ("--body-limit-bytes", "0"),
    ("--max-depth", "0"),
    ("--runtime-cache-capacity", "0"),
    ("--agent-cache-ttl", "0s"),
];

async fn build_error(flags: &[&str]) -> String {
    let mut args = vec!["agentgraph", "--database-url", UNREACHABLE];
    args.extend_from_slice(flags);
    let config = Config::from_flags(args).expect("flags parse");
    match Application::build(config).await {
        Ok(_) => panic!("{flags:?} was accepted"),
        Err(error) => format!("{error:#}"),
    }
}

#[tokio::test]
async fn every_refused_value_stops_the_build_naming_its_flag() {
    for (flag, value) in REFUSED {
        let error = build_error(&["--jwt-secret", crate::helpers::SECRET, flag, value]).await;
        assert!(error.contains(flag), "{flag} {value}: {error}");
    }
}

#[tokio::test]
async fn the_command_refuses_them_before_migrating() {
    for (flag, value) in [("--websocket-keepalive", "0s"), ("--cors-origins", "*")] {
        let output = tokio::task::spawn_blocking(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_agentgraph"))
                .args(["migrate", "--database-url", UNREACHABLE, flag, value])
                .output()
                .expect("agentgraph migrate runs")
        })
        .await
        .expect("the command's thread");
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(flag), "{flag}: {stderr}");
    }
}

#[tokio::test]
async fn dev_mode_is_refused_off_loopback_unless_forced() {
    for listen in ["0.0.0.0:8000", "[::]:8000", "192.0.2.1:8000"] {
        let error = build_error(&["--listen", listen]).await;
        assert!(error.contains("--listen"), "{listen}: {error}");
        assert!(error.contains("--allow-remote-dev-mode"), "{error}");
    }
    // Forced, it goes on (to the database, which is not there).
    let error = build_error(&["--listen", "0.0.0.0:8000", "--allow-remote-dev-mode"]).await;
    assert!(!error.contains("--listen"), "{error}");
}

/// The demo token appears in the page only for a request that names a
/// loopback host; a rebound DNS name gets the page without it.
async fn page_for_host(app: &TestApp, host: &str) -> String {
    let response = app
        .client
        .get(app.url("/"))
        .header("host", host)
        .header("accept", "text/html")
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200);
    response.text().await.expect("body")
}

test_both! {
    async fn the_dev_token_is_served_to_loopback_hosts_only(app: TestApp) {
        let dev = TestApp::spawn_dev(app.backend).await;
        let token = dev.dev_token.clone().expect("a dev token");
        let port = dev.address.port();
        for host in [format!("localhost:{port}"), format!("127.0.0.1:{port}"), format!("[::1]:{port}")] {
            assert!(page_for_host(&dev, &host).await.contains(&token), "{host}");
        }
        for host in [format!("rebound.example:{port}"), "localhost.example".to_owned(), format!("10.1.2.3:{port}")] {
            let page = page_for_host(&dev, &host).await;
            assert!(!page.contains(&token), "{host}");
            assert!(!page.contains("Authorization"), "{host}");
            assert!(page.contains("agentgraph-settings"), "GraphiQL still served to {host}");
        }
    }
}

/// Panics in a request's handling when it carries `x-test-panic`.
#[derive(Default)]
struct PanicOnHeader;

impl PanicOnHeader {
    fn hooks(&self) -> Hooks {
        Hooks {
            in_handler: Some(Arc::new(|headers| {
                assert!(
                    headers.get("x-test-panic").is_none(),
                    "the test asked for a panic"
                );
            })),
            ..Hooks::default()
        }
    }
}

test_both! {
    async fn a_caught_panic_answers_with_its_request_id(app: TestApp, _gate: PanicOnHeader) {
        let answer = app
            .send(app.client.post(app.url("/graphql")).header("x-test-panic", "1").json(&serde_json::json!({ "query": "{ viewer { id } }" })))
            .await;
        assert_eq!(answer.status, 500, "{:?}", answer.body);
        assert_eq!(answer.error_code(), "INTERNAL_SERVER_ERROR");
        let request_id = answer.header("x-request-id").expect("a request id header").to_owned();
        assert!(!request_id.is_empty());
        assert_eq!(answer.body["errors"][0]["extensions"]["requestId"], request_id.as_str(), "{}", answer.body);
        assert!(answer.error_message().contains(&request_id), "{}", answer.body);

        // A request id the client chose is the one reported.
        let answer = app
            .send(app.client.get(app.url("/healthz")).header("x-test-panic", "1").header("x-request-id", "chosen-id-7"))
            .await;
        assert_eq!(answer.body["errors"][0]["extensions"]["requestId"], "chosen-id-7", "{}", answer.body);
        // Requests without the header are served as usual.
        app.user_ok("{ viewer { id } }", serde_json::json!({})).await;
    }
}
