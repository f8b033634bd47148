//! Marks the PostgreSQL variant of each integration test as ignored, with a
//! reason cargo prints, when no test server is configured.

fn main() {
    println!("cargo::rerun-if-env-changed=AGENTGRAPH_TEST_POSTGRES_URL");
    println!("cargo::rustc-check-cfg=cfg(agentgraph_postgres_tests)");
    if std::env::var_os("AGENTGRAPH_TEST_POSTGRES_URL").is_some_and(|url| !url.is_empty()) {
        println!("cargo::rustc-cfg=agentgraph_postgres_tests");
    }
}
