//! The client-level check (`scripts/clients/check.mjs`) against this
//! router: Apollo Client and urql with graphcache keep a watched project
//! right through mutation payloads and a pushed readiness, without a
//! refetch, and `node(id:)` shows one user nothing of another's. It needs
//! `node` and the script's packages (`npm ci --prefix scripts/clients`,
//! which `.ci/run` does); without them the test says SKIP loudly.

use std::{path::Path, process::Command};

use crate::{browser::on_path, test_both};

test_both! {
    async fn apollo_and_urql_keep_a_watched_project_right_without_refetching(app: TestApp) {
        let Some(node) = on_path("node") else {
            eprintln!("\n!!!!! SKIP the client-level check: no `node` on PATH !!!!!\n");
            return;
        };
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/clients");
        if !dir.join("node_modules/@apollo/client").is_dir() {
            eprintln!(
                "\n!!!!! SKIP the client-level check: its packages are not installed \
                 (npm ci --prefix scripts/clients) !!!!!\n"
            );
            return;
        }
        let (_, first) = app.new_user(false);
        let (_, second) = app.new_user(false);
        let token = |auth: &str| auth.trim_start_matches("Bearer ").to_owned();
        let url = app.url("/graphql");
        let (first, second) = (token(&first), token(&second));
        let output = tokio::task::spawn_blocking(move || {
            Command::new(node)
                .arg("check.mjs")
                .args([url, first, second])
                .current_dir(dir)
                .output()
        })
        .await
        .expect("the check ran")
        .expect("node starts");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{stdout}\n{stderr}");
        assert!(stdout.contains("apollo: ok") && stdout.contains("urql: ok"), "{stdout}");
    }
}
