//! GraphiQL in a real browser: headless Chromium, driven over WebDriver
//! (chromedriver), against the real server in dev mode. The editor must
//! render, the docs explorer must list `Query`'s fields from introspection,
//! running the example query must show data, and no request may leave the
//! server's origin.
//!
//! Without `chromedriver` and `chromium` (Debian: `apt-get install chromium
//! chromium-driver`; `.ci/run` installs them) the test says SKIP loudly and
//! passes. On failure it saves a screenshot under `target/` and prints its
//! path. It runs on SQLite only: what it checks is the page, and every
//! query the page sends is covered on both databases elsewhere.

use std::{
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

use crate::helpers::{Backend, TestApp};

const CHROMIUM: &str = "/usr/bin/chromium";

/// chromedriver, stopped (and reaped) when dropped.
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(crate) fn on_path(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(program))
            .find(|path| path.is_file())
    })
}

/// Starts chromedriver on a free port and waits until it answers.
async fn start_driver(program: &Path) -> (Driver, String) {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    let child = Command::new(program)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let driver = Driver(child);
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(10);
    let client = reqwest::Client::new();
    while client.get(format!("{url}/status")).send().await.is_err() {
        assert!(
            Instant::now() < deadline,
            "chromedriver did not start on {url}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (driver, url)
}

async fn open_browser(driver_url: &str, profile: &Path) -> Client {
    let args = [
        "--headless".to_owned(),
        "--no-sandbox".to_owned(),
        "--disable-gpu".to_owned(),
        "--disable-quic".to_owned(),
        "--no-first-run".to_owned(),
        "--disable-background-networking".to_owned(),
        "--disable-component-update".to_owned(),
        "--disable-sync".to_owned(),
        "--disable-dev-shm-usage".to_owned(),
        "--window-size=1400,900".to_owned(),
        format!("--user-data-dir={}", profile.display()),
    ];
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".to_owned(),
        json!({ "binary": CHROMIUM, "args": args }),
    );
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(capabilities)
        .connect(driver_url)
        .await
        .expect("a WebDriver session")
}

/// Evaluates `script` (a function body) until it returns a truthy value,
/// for at most `within`.
async fn until(client: &Client, script: &str, within: Duration) -> Result<Value, String> {
    let deadline = Instant::now() + within;
    loop {
        let value = client
            .execute(script, vec![])
            .await
            .map_err(|e| format!("script failed: {e}"))?;
        let truthy = match &value {
            Value::Null | Value::Bool(false) => false,
            Value::String(text) => !text.is_empty(),
            Value::Array(items) => !items.is_empty(),
            _ => true,
        };
        if truthy {
            return Ok(value);
        }
        if Instant::now() > deadline {
            return Err(format!("timed out after {within:?} waiting for: {script}"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The checks, in the order a new user meets them.
async fn use_graphiql(client: &Client, app: &TestApp) -> Result<(), String> {
    let wait = Duration::from_secs(15);
    client
        .goto(&app.url("/"))
        .await
        .map_err(|e| format!("cannot open the page: {e}"))?;

    // 1. The editor renders, with the first example and the token.
    let query = until(
        client,
        "const e = document.querySelector('.graphiql-query-editor .CodeMirror'); \
         return e && e.CodeMirror.getValue();",
        wait,
    )
    .await?;
    let query = query.as_str().unwrap_or_default();
    if !query.contains("query NestedCircles") {
        return Err(format!("the editor does not hold the example: {query}"));
    }
    let token = app.dev_token.as_deref().unwrap_or_default();
    let headers = until(
        client,
        "return [...document.querySelectorAll('.graphiql-editor-tool .CodeMirror')] \
           .map(e => e.CodeMirror.getValue()).find(v => v.includes('Bearer '));",
        wait,
    )
    .await?;
    if !headers.as_str().unwrap_or_default().contains(token) {
        return Err(format!("the headers do not hold the dev token: {headers}"));
    }

    // 2. The docs explorer lists Query's fields (introspection worked).
    client
        .find(Locator::Css(
            "button[aria-label='Show Documentation Explorer']",
        ))
        .await
        .map_err(|e| format!("no docs button: {e}"))?
        .click()
        .await
        .map_err(|e| format!("cannot open the docs: {e}"))?;
    until(
        client,
        "const a = [...document.querySelectorAll('.graphiql-doc-explorer a.graphiql-doc-explorer-type-name')] \
           .find(a => a.textContent === 'Query'); \
         if (a) { a.click(); } return !!a;",
        wait,
    )
    .await?;
    let fields = until(
        client,
        "return [...document.querySelectorAll('.graphiql-doc-explorer .graphiql-doc-explorer-field-name')] \
           .map(e => e.textContent);",
        wait,
    )
    .await?;
    for expected in ["agentRuntime", "circles", "projects", "viewer"] {
        if !fields
            .as_array()
            .is_some_and(|names| names.iter().any(|n| n == expected))
        {
            return Err(format!("the docs do not list Query.{expected}: {fields}"));
        }
    }

    // 3. Running the example shows data.
    client
        .find(Locator::Css(".graphiql-execute-button"))
        .await
        .map_err(|e| format!("no run button: {e}"))?
        .click()
        .await
        .map_err(|e| format!("cannot run: {e}"))?;
    let result = until(
        client,
        "const e = document.querySelector('.result-window .CodeMirror'); \
         const text = e && e.CodeMirror.getValue(); \
         return text && text.includes('\"circles\"') ? text : null;",
        wait,
    )
    .await?;
    let result: Value = serde_json::from_str(result.as_str().unwrap_or_default())
        .map_err(|e| format!("the result pane is not JSON: {e}"))?;
    let nodes = result["data"]["circles"]["nodes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if nodes.is_empty() || result.get("errors").is_some() {
        return Err(format!("the example returned no circles: {result}"));
    }

    // 4. Nothing was requested from another origin.
    let origin = app.url("");
    let requested = client
        .execute(
            "return performance.getEntriesByType('resource').map(e => e.name) \
               .concat([location.href]);",
            vec![],
        )
        .await
        .map_err(|e| format!("cannot list requests: {e}"))?;
    let foreign: Vec<&Value> = requested
        .as_array()
        .map(|urls| {
            urls.iter()
                .filter(|url| !url.as_str().unwrap_or_default().starts_with(&origin))
                .collect()
        })
        .unwrap_or_default();
    if !foreign.is_empty() {
        return Err(format!("requests left the origin {origin}: {foreign:?}"));
    }

    // 5. A subscription runs over the WebSocket, authenticated by the
    // headers pane, and shows the pushed value after a mutation.
    run_subscription(client, app, wait).await
}

async fn run_subscription(client: &Client, app: &TestApp, wait: Duration) -> Result<(), String> {
    let token = app.dev_token.as_deref().unwrap_or_default();
    let auth = format!("Bearer {token}");
    let projects = app
        .post(
            Some(&auth),
            "{ projects(first: 1) { nodes { id } } }",
            json!({}),
        )
        .await
        .data_ok();
    let project = projects["projects"]["nodes"][0]["id"]
        .as_str()
        .ok_or("the demo user has a project")?
        .to_owned();
    // Named: for an anonymous document GraphiQL keeps the operation name
    // of the example it replaces.
    let subscription = format!(
        "subscription LiveReadiness {{ readinessChanged(projectId: \"{project}\") {{ score computedAt }} }}"
    );
    client
        .execute(
            "document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror.setValue(arguments[0]);",
            vec![json!(subscription)],
        )
        .await
        .map_err(|e| format!("cannot type the subscription: {e}"))?;
    // GraphiQL picks up the operation name after a debounce; run only then.
    until(
        client,
        "return [...document.querySelectorAll('.graphiql-tab')] \
           .some(t => t.textContent.includes('LiveReadiness'));",
        wait,
    )
    .await?;
    client
        .find(Locator::Css(".graphiql-execute-button"))
        .await
        .map_err(|e| format!("no run button: {e}"))?
        .click()
        .await
        .map_err(|e| format!("cannot run the subscription: {e}"))?;
    let read = "const e = document.querySelector('.result-window .CodeMirror'); \
         const text = e && e.CodeMirror.getValue(); \
         return text && text.includes('readinessChanged') ? text : null;";
    let first = until(client, read, wait).await?;
    let persona = "mutation($p: UUID!) { createPersona(projectId: $p, input: { name: \"Live\", description: \"pushed\" }) { id } }";
    app.post(Some(&auth), persona, json!({ "p": project }))
        .await
        .data_ok();
    let changed = format!(
        "const e = document.querySelector('.result-window .CodeMirror'); \
         const text = e && e.CodeMirror.getValue(); \
         return text && text.includes('readinessChanged') && text !== {} ? text : null;",
        json!(first)
    );
    until(client, &changed, wait).await?;
    Ok(())
}

async fn screenshot(client: &Client, name: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target")
        .join(name);
    if let Ok(png) = client.screenshot().await {
        let _ = std::fs::write(&path, png);
    }
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphiql_works_in_headless_chromium() {
    let Some(chromedriver) = on_path("chromedriver") else {
        eprintln!(
            "\n!!!!! SKIP graphiql_works_in_headless_chromium: no `chromedriver` on PATH \
             (apt-get install chromium chromium-driver) !!!!!\n"
        );
        return;
    };
    if !Path::new(CHROMIUM).is_file() {
        eprintln!(
            "\n!!!!! SKIP graphiql_works_in_headless_chromium: no {CHROMIUM} \
             (apt-get install chromium) !!!!!\n"
        );
        return;
    }
    let app = TestApp::spawn_dev(Backend::Sqlite).await;
    let (_driver, driver_url) = start_driver(&chromedriver).await;
    let profile = tempfile::tempdir().expect("a profile directory");
    let client = open_browser(&driver_url, profile.path()).await;

    let outcome = use_graphiql(&client, &app).await;
    let shot = screenshot(
        &client,
        if outcome.is_ok() {
            "graphiql-chromium.png"
        } else {
            "graphiql-chromium-failure.png"
        },
    )
    .await;
    let _ = client.close().await;
    if let Err(failure) = outcome {
        panic!("{failure}\nscreenshot: {}", shot.display());
    }
    eprintln!("GraphiQL works in Chromium; screenshot: {}", shot.display());
}
