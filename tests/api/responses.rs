//! The response cache: answers kept with what they read, dropped by the
//! changes that name any of it (here and on other replicas), never served
//! across viewers or roles, never stored when a change overtook them.
//!
//! Requests that ask for the cost extension are never stored (see
//! `http::kept`), so the reads that fill the cache here go without it
//! ([`plain`]); a request with it shows whether a kept answer served it.

use std::{sync::Arc, time::Duration};

use agentgraph::observability::StatsSnapshot;
use serde_json::{json, Value};

use crate::{
    agents::create_agent,
    helpers::{Gql, TestApp},
    runtime::LoadGate,
    test_both,
};

const NESTED: &str =
    "{ circles(first: 20) { nodes { name members { role agent { name status } } } } }";

/// The request without the cost extension: its answer may be kept.
pub(crate) async fn plain(app: &TestApp, auth: &str, query: &str, variables: Value) -> Gql {
    let request = app
        .client
        .post(app.url("/graphql"))
        .header("authorization", auth)
        .json(&json!({ "query": query, "variables": variables }));
    app.send(request).await
}

/// `data` of a plain request, failing on errors.
async fn plain_ok(app: &TestApp, auth: &str, query: &str, variables: Value) -> Value {
    plain(app, auth, query, variables).await.data_ok()
}

/// Whether the request, asked with the cost extension, is served a kept
/// answer (and then, with no statement).
async fn served_kept(app: &TestApp, auth: &str, query: &str, variables: Value) -> bool {
    let asked = app.post(Some(auth), query, variables).await;
    let hit = asked.body["extensions"]["cost"]["responseCache"] == "hit";
    if hit {
        assert_eq!(asked.statements(), 0, "{}", asked.body);
    }
    hit
}

pub(crate) fn stats(app: &TestApp) -> StatsSnapshot {
    app.state
        .services()
        .caches
        .stats()
        .into_iter()
        .find(|(name, _, _)| *name == "responses")
        .map(|(_, stats, _)| stats)
        .expect("the response cache reports")
}

async fn circle(app: &TestApp, name: &str) -> Value {
    app.admin_ok(
        "mutation($n: String!) { createCircle(input: { name: $n }) { id } }",
        json!({ "n": name }),
    )
    .await["createCircle"]["id"]
        .clone()
}

async fn add_member(app: &TestApp, circle: &Value, agent: &str) {
    app.admin_ok(
        "mutation($c: UUID!, $a: String!) { addCircleMember(circleId: $c, agentName: $a) { role } }",
        json!({ "c": circle, "a": agent }),
    )
    .await;
}

test_both! {
    async fn warm_nested_circles_are_sent_from_memory_with_no_statement(app: TestApp) {
        create_agent(&app, json!({ "name": "scout", "systemPrompt": "s" })).await;
        let id = circle(&app, "alpha").await;
        add_member(&app, &id, "scout").await;
        let cold = plain_ok(&app, &app.user, NESTED, json!({})).await;
        assert_eq!(cold["circles"]["nodes"][0]["members"][0]["agent"]["name"], "scout");
        let warm = app.post(Some(&app.user), NESTED, json!({})).await;
        assert_eq!(warm.body["extensions"]["cost"]["responseCache"], "hit", "{}", warm.body);
        assert_eq!(warm.statements(), 0);
        assert_eq!(warm.body["data"], cold);
        let before = stats(&app);
        assert_eq!(plain_ok(&app, &app.user, NESTED, json!({})).await, cold);
        assert_eq!(stats(&app).hits, before.hits + 1);
    }
}

test_both! {
    async fn each_kind_of_change_drops_the_answers_that_read_it(app: TestApp) {
        create_agent(&app, json!({ "name": "scout", "systemPrompt": "v0" })).await;
        // Circles: a new circle joins the kept page.
        let alpha = circle(&app, "alpha").await;
        plain_ok(&app, &app.user, NESTED, json!({})).await;
        assert!(served_kept(&app, &app.user, NESTED, json!({})).await);
        circle(&app, "beta").await;
        let page = plain_ok(&app, &app.user, NESTED, json!({})).await;
        assert_eq!(page["circles"]["nodes"][1]["name"], "beta", "{page}");
        // Membership: joining, then a new role.
        assert!(served_kept(&app, &app.user, NESTED, json!({})).await);
        add_member(&app, &alpha, "scout").await;
        let page = plain_ok(&app, &app.user, NESTED, json!({})).await;
        assert_eq!(page["circles"]["nodes"][0]["members"][0]["role"], "member");
        app.admin_ok(
            "mutation($c: UUID!) { updateCircleMember(circleId: $c, agentName: \"scout\", input: { role: \"lead\" }) { role } }",
            json!({ "c": alpha }),
        )
        .await;
        let page = plain_ok(&app, &app.user, NESTED, json!({})).await;
        assert_eq!(page["circles"]["nodes"][0]["members"][0]["role"], "lead");
        // An agent: its own answer and the lists that show it.
        let agent = "query($n: String!) { agent(name: $n) { systemPrompt status } }";
        plain_ok(&app, &app.user, agent, json!({ "n": "scout" })).await;
        assert!(served_kept(&app, &app.user, agent, json!({ "n": "scout" })).await);
        assert!(served_kept(&app, &app.user, NESTED, json!({})).await);
        app.admin_ok(
            "mutation { updateAgent(name: \"scout\", input: { systemPrompt: \"v1\" }) { name } }",
            json!({}),
        )
        .await;
        let read = plain_ok(&app, &app.user, agent, json!({ "n": "scout" })).await;
        assert_eq!(read["agent"]["systemPrompt"], "v1");
        app.admin_ok("mutation { archiveAgent(name: \"scout\") { status } }", json!({})).await;
        let page = plain_ok(&app, &app.user, NESTED, json!({})).await;
        assert_eq!(page["circles"]["nodes"][0]["members"][0]["agent"]["status"], "ARCHIVED");
        let read = plain_ok(&app, &app.user, agent, json!({ "n": "scout" })).await;
        assert_eq!(read["agent"]["status"], "ARCHIVED");
        // A user's instructions: the runtime built with them.
        let runtime = "query { agentRuntime(agentName: \"scout\") { instructions } }";
        plain_ok(&app, &app.user, runtime, json!({})).await;
        assert!(served_kept(&app, &app.user, runtime, json!({})).await);
        app.user_ok(
            "mutation { setMyAgentInstructions(agentName: \"scout\", instructions: \"Mine.\") { agentName } }",
            json!({}),
        )
        .await;
        let read = plain_ok(&app, &app.user, runtime, json!({})).await;
        assert_eq!(read["agentRuntime"]["instructions"], "Mine.");
        assert!(stats(&app).invalidations >= 6, "{:?}", stats(&app));
    }
}

test_both! {
    async fn viewer_specific_answers_never_cross_viewers_and_shared_ones_stay_within_a_role(app: TestApp) {
        create_agent(&app, json!({ "name": "scout", "systemPrompt": "s" })).await;
        let (_, other) = app.new_user(false);
        let (_, other_admin) = app.new_user(true);
        // Shared data: kept once for every viewer of the role.
        circle(&app, "alpha").await;
        plain_ok(&app, &app.user, NESTED, json!({})).await;
        assert!(served_kept(&app, &other, NESTED, json!({})).await);
        assert!(!served_kept(&app, &app.admin, NESTED, json!({})).await, "not across roles");
        plain_ok(&app, &app.admin, NESTED, json!({})).await;
        assert!(served_kept(&app, &other_admin, NESTED, json!({})).await);
        // The viewer's own: instructions and the viewer itself.
        app.user_ok(
            "mutation { setMyAgentInstructions(agentName: \"scout\", instructions: \"Mine.\") { agentName } }",
            json!({}),
        )
        .await;
        let runtime = "query { agentRuntime(agentName: \"scout\") { instructions } }";
        let mine = plain_ok(&app, &app.user, runtime, json!({})).await;
        assert_eq!(mine["agentRuntime"]["instructions"], "Mine.");
        assert!(served_kept(&app, &app.user, runtime, json!({})).await);
        assert!(!served_kept(&app, &other, runtime, json!({})).await);
        let theirs = plain_ok(&app, &other, runtime, json!({})).await;
        assert_ne!(theirs["agentRuntime"]["instructions"], "Mine.");
        let me = "{ viewer { id } }";
        let first = plain_ok(&app, &app.user, me, json!({})).await;
        let second = plain_ok(&app, &other, me, json!({})).await;
        assert_ne!(first, second);
    }
}

test_both! {
    async fn answers_that_read_something_no_change_names_or_failed_are_not_kept(app: TestApp) {
        // Projects are read by statements that declare no key.
        let (_, auth) = app.new_user(false);
        let projects = "{ projects(first: 5) { nodes { name } } }";
        plain_ok(&app, &auth, projects, json!({})).await;
        let again = app.post(Some(&auth), projects, json!({})).await;
        assert_ne!(again.body["extensions"]["cost"]["responseCache"], "hit");
        assert!(again.statements() > 0);
        // A partial answer (an error at a field).
        let partial = "{ circles(first: 2) { nodes { name } } wrong: circles(first: -1) { nodes { name } } }";
        let failed = plain(&app, &auth, partial, json!({})).await;
        assert!(failed.body["errors"][0]["path"].is_array(), "{}", failed.body);
        let kept_before = stats(&app);
        plain(&app, &auth, partial, json!({})).await;
        assert_eq!(stats(&app).hits, kept_before.hits, "{}", failed.body);
        // An answer asked with the cost extension.
        let nested = "{ circles(first: 3) { nodes { name } } }";
        app.post(Some(&auth), nested, json!({})).await;
        assert!(!served_kept(&app, &auth, nested, json!({})).await);
        // Anonymous requests are not answered at all, from memory or not.
        let anonymous = app.post(None, nested, json!({})).await;
        assert_eq!(anonymous.error_code(), "UNAUTHENTICATED");
    }
}

test_both! {
    async fn an_answer_a_change_overtook_while_it_ran_is_not_stored(app: TestApp, gate: LoadGate) {
        let app = Arc::new(app);
        create_agent(&app, json!({ "name": "scout", "systemPrompt": "s" })).await;
        create_agent(&app, json!({ "name": "ranger", "systemPrompt": "r" })).await;
        let id = circle(&app, "alpha").await;
        add_member(&app, &id, "scout").await;
        let (reached, release) = gate.arm("circle_members");
        let held = {
            let app = Arc::clone(&app);
            tokio::spawn(async move { plain_ok(&app, &app.user, NESTED, json!({})).await })
        };
        tokio::time::timeout(Duration::from_secs(10), reached)
            .await
            .expect("the member load reached the gate")
            .expect("the gate reports");
        add_member(&app, &id, "ranger").await;
        release.send(()).expect("release");
        let old = held.await.expect("the held request");
        let members = |page: &Value| page["circles"]["nodes"][0]["members"].as_array().map_or(0, Vec::len);
        assert_eq!(members(&old), 1, "it read before the commit");
        let later = plain_ok(&app, &app.user, NESTED, json!({})).await;
        assert_eq!(members(&later), 2, "the overtaken answer was not kept: {later}");
        assert!(stats(&app).stale_discards >= 1);
    }
}

test_both! {
    async fn a_get_of_a_kept_answer_revalidates_to_a_304_by_its_identity(app: TestApp) {
        circle(&app, "alpha").await;
        let url = format!(
            "{}?query={}",
            app.url("/graphql"),
            urlencode("{ circles(first: 5) { nodes { name } } }")
        );
        let get = |tag: Option<String>| {
            let mut request = app
                .client
                .get(&url)
                .header("authorization", &app.user)
                .header("accept-encoding", "identity");
            if let Some(tag) = tag {
                request = request.header("if-none-match", tag);
            }
            request.send()
        };
        get(None).await.expect("cold");
        let warm = get(None).await.expect("warm");
        let tag = warm.headers()["etag"].to_str().expect("ascii").to_owned();
        assert!(tag.starts_with("\"k"), "the entry's identity: {tag}");
        let before = stats(&app);
        let revalidated = get(Some(tag.clone())).await.expect("revalidated");
        assert_eq!(revalidated.status(), 304);
        assert_eq!(revalidated.headers()["etag"], tag.as_str());
        assert_eq!(stats(&app).hits, before.hits + 1, "answered by the cache");
        circle(&app, "beta").await;
        let changed = get(Some(tag.clone())).await.expect("changed");
        assert_eq!(changed.status(), 200);
        assert_ne!(changed.headers()["etag"], tag.as_str());
    }
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

test_both! {
    #[flags("--response-cache-bytes", "0")]
    async fn with_the_cache_off_nothing_is_kept(app: TestApp) {
        circle(&app, "alpha").await;
        plain_ok(&app, &app.user, NESTED, json!({})).await;
        assert!(!served_kept(&app, &app.user, NESTED, json!({})).await);
        assert_eq!(stats(&app), StatsSnapshot::default());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(agentgraph_postgres_tests),
    ignore = "PostgreSQL not configured: set AGENTGRAPH_TEST_POSTGRES_URL"
)]
async fn a_change_on_one_replica_drops_the_kept_answers_of_another() {
    let (a, b) = TestApp::spawn_two_replicas().await;
    create_agent(&a, json!({ "name": "scout", "systemPrompt": "s" })).await;
    let id = circle(&a, "alpha").await;
    // b keeps the page once it has heard of the circle.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        plain_ok(&b, &b.user, NESTED, json!({})).await;
        if served_kept(&b, &b.user, NESTED, json!({})).await {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "b keeps the page");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    add_member(&a, &id, "scout").await;
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let page = plain_ok(&b, &b.user, NESTED, json!({})).await;
        if page["circles"]["nodes"][0]["members"][0]["agent"]["name"] == "scout" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "b drops its kept page: {page}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(stats(&b).invalidations >= 1);
}

test_both! {
    async fn a_kept_answer_keeps_its_compressed_forms_and_sends_them_with_their_own_tags(app: TestApp) {
        use std::io::Read;

        for n in 0..40 {
            circle(&app, &format!("circle number {n:02} with a name long enough to compress")).await;
        }
        let query = "{ circles(first: 40) { nodes { name } } }";
        let send = |encoding: &'static str| {
            app.client
                .post(app.url("/graphql"))
                .header("authorization", &app.user)
                .header("accept-encoding", encoding)
                .json(&json!({ "query": query }))
                .send()
        };
        let raw = send("identity").await.expect("cold").bytes().await.expect("body");
        assert!(raw.len() > 1024, "large enough to compress: {}", raw.len());
        let before = stats(&app);
        let gzip = send("gzip").await.expect("gzip");
        assert_eq!(gzip.headers()["content-encoding"], "gzip");
        let gzip = gzip.bytes().await.expect("body");
        let mut unzipped = Vec::new();
        flate2::read::GzDecoder::new(&gzip[..]).read_to_end(&mut unzipped).expect("gzip");
        assert_eq!(unzipped, raw);
        let br = send("br").await.expect("br");
        assert_eq!(br.headers()["content-encoding"], "br");
        let br = br.bytes().await.expect("body");
        let mut unbrotlied = Vec::new();
        brotli::Decompressor::new(&br[..], 4096).read_to_end(&mut unbrotlied).expect("brotli");
        assert_eq!(unbrotlied, raw);
        let again = send("gzip").await.expect("gzip again").bytes().await.expect("body");
        assert_eq!(again, gzip, "the kept form");
        assert_eq!(stats(&app).hits, before.hits + 3, "every one a hit");
        // A GET of each form has a tag of its own.
        let url = format!("{}?query={}", app.url("/graphql"), urlencode(query));
        let tag = |encoding: &'static str| {
            let request = app
                .client
                .get(&url)
                .header("authorization", &app.user)
                .header("accept-encoding", encoding);
            async move {
                let sent = request.send().await.expect("sent");
                sent.headers()["etag"].to_str().expect("ascii").to_owned()
            }
        };
        tag("identity").await;
        let (plain, zipped) = (tag("identity").await, tag("gzip").await);
        assert_ne!(plain, zipped);
        assert!(zipped.ends_with("-gzip\""), "{zipped}");
    }
}

/// Queries the generated test asks, with the variables they need.
const GENERATED_QUERIES: [&str; 6] = [
    NESTED,
    "query($c: UUID!) { circle(id: $c) { name members { role isActive agent { name status } } } }",
    "query($n: String!) { agent(name: $n) { name systemPrompt status } }",
    "{ agents(first: 10) { nodes { name status systemPrompt } } }",
    "query($n: String!) { agentRuntime(agentName: $n) { instructions effectiveSystemPrompt } }",
    "{ viewer { id } }",
];

/// What a request answered, for comparison: `data`, and the codes of its
/// errors.
fn outcome(answer: &Gql) -> Value {
    let codes: Vec<&Value> = answer.body["errors"]
        .as_array()
        .map(|errors| errors.iter().map(|e| &e["extensions"]["code"]).collect())
        .unwrap_or_default();
    json!({ "data": answer.body["data"], "errors": codes })
}

/// Waits until each of `replicas` applied a notification more than it had
/// when `before` was read.
async fn delivered(replicas: &[&TestApp], before: &[u64]) {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    for (replica, before) in replicas.iter().zip(before) {
        let listener = replica.state.listener().expect("a PostgreSQL listener");
        while listener.received() <= *before {
            assert!(
                std::time::Instant::now() < deadline,
                "the change was delivered"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
}

/// Random writes interleaved with random reads by two viewers on two
/// replicas that keep answers: every answer equals the one a replica
/// without the response cache gives at that moment (once every replica
/// applied the last write). `AGENTGRAPH_TEST_SEED` replays a run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(agentgraph_postgres_tests),
    ignore = "PostgreSQL not configured: set AGENTGRAPH_TEST_POSTGRES_URL"
)]
async fn random_writes_and_reads_on_two_replicas_match_a_replica_without_the_cache() {
    let (a, b) = TestApp::spawn_two_replicas().await;
    let reference = a.spawn_replica_with(&["--response-cache-bytes", "0"]).await;
    let seed = std::env::var("AGENTGRAPH_TEST_SEED")
        .ok()
        .and_then(|seed| seed.parse().ok())
        .unwrap_or_else(|| fastrand::u64(..));
    println!("AGENTGRAPH_TEST_SEED={seed}");
    let mut rng = fastrand::Rng::with_seed(seed);
    let viewers = [a.new_user(false).1, a.new_user(false).1];
    let replicas = [&a, &b, &reference];
    let agents = ["ada", "bob", "cyd"];
    let mut circles: Vec<Value> = Vec::new();
    let mut step_writes = 0;
    let mut compared = 0;
    for step in 0..240 {
        let on = rng.usize(..2);
        if step < 5 || rng.u8(..100) < 30 {
            let before: Vec<u64> = replicas
                .iter()
                .map(|r| r.state.listener().map_or(0, |l| l.received()))
                .collect();
            let n = step;
            let agent = agents[rng.usize(..agents.len())];
            let circle = (!circles.is_empty()).then(|| circles[rng.usize(..circles.len())].clone());
            let (auth, query, variables) = match (step, rng.u8(..6), circle) {
                (0..3, _, _) => (
                    &a.admin,
                    "mutation($n: String!) { createAgent(input: { name: $n, systemPrompt: \"p\" }) { name } }",
                    json!({ "n": agents[step] }),
                ),
                (_, 0, _) | (_, _, None) => (
                    &a.admin,
                    "mutation($n: String!) { createCircle(input: { name: $n }) { id } }",
                    json!({ "n": format!("circle {n:03}") }),
                ),
                (_, 1, Some(c)) => (
                    &a.admin,
                    "mutation($c: UUID!, $a: String!) { addCircleMember(circleId: $c, agentName: $a) { role } }",
                    json!({ "c": c, "a": agent }),
                ),
                (_, 2, Some(c)) => (
                    &a.admin,
                    "mutation($c: UUID!, $a: String!, $r: String!) { updateCircleMember(circleId: $c, agentName: $a, input: { role: $r }) { role } }",
                    json!({ "c": c, "a": agent, "r": format!("role {n}") }),
                ),
                (_, 3, Some(c)) => (
                    &a.admin,
                    "mutation($c: UUID!, $a: String!) { removeCircleMember(circleId: $c, agentName: $a) { role } }",
                    json!({ "c": c, "a": agent }),
                ),
                (_, 4, _) => (
                    &a.admin,
                    "mutation($a: String!, $p: String!) { updateAgent(name: $a, input: { systemPrompt: $p }) { name } }",
                    json!({ "a": agent, "p": format!("prompt {n}") }),
                ),
                _ => (
                    &viewers[rng.usize(..2)],
                    "mutation($a: String!, $i: String!) { setMyAgentInstructions(agentName: $a, instructions: $i) { agentName } }",
                    json!({ "a": agent, "i": format!("instructions {n}") }),
                ),
            };
            let written = replicas[on].post(Some(auth), query, variables).await;
            if written.body["errors"].is_null() {
                step_writes += 1;
                if let Some(id) = written.body["data"]["createCircle"]["id"].as_str() {
                    circles.push(json!(id));
                }
                let others: Vec<usize> = (0..3).filter(|&i| i != on).collect();
                let waiting: Vec<&TestApp> = others.iter().map(|&i| replicas[i]).collect();
                let before: Vec<u64> = others.iter().map(|&i| before[i]).collect();
                delivered(&waiting, &before).await;
            }
            continue;
        }
        let which = rng.usize(..GENERATED_QUERIES.len());
        let query = GENERATED_QUERIES[which];
        let variables = json!({
            "n": agents[rng.usize(..agents.len())],
            "c": circles.get(rng.usize(..circles.len().max(1))).cloned().unwrap_or(Value::Null),
        });
        let variables = match which {
            1 if circles.is_empty() => continue,
            1 => json!({ "c": variables["c"] }),
            2 | 4 => json!({ "n": variables["n"] }),
            _ => json!({}),
        };
        let viewer = &viewers[rng.usize(..2)];
        let kept = plain(replicas[on], viewer, query, variables.clone()).await;
        let again = plain(replicas[on], viewer, query, variables.clone()).await;
        let expected = plain(&reference, viewer, query, variables.clone()).await;
        for answer in [&kept, &again] {
            assert_eq!(
                outcome(answer),
                outcome(&expected),
                "seed {seed}, step {step}: {query} {variables} on replica {on}"
            );
        }
        compared += 2;
    }
    let hits = stats(&a).hits + stats(&b).hits;
    println!("{step_writes} writes, {compared} answers compared, {hits} of them kept answers");
    assert!(hits > 0, "the replicas served kept answers");
}
