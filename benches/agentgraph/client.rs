//! One worker's HTTP client (keep-alive, so a worker is one connection)
//! and what a GraphQL answer tells the benchmark: the data, or the first
//! error, and the request's cost from `extensions.cost` (asked for with
//! the `x-agentgraph-cost: 1` header).

use std::time::Duration;

use anyhow::Context as _;
use serde_json::{json, Value};

/// What one request cost the server, from `extensions.cost`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Cost {
    pub statements: u64,
    /// Time the server spent in those statements, in microseconds.
    pub sql_micros: u64,
    /// Hits and misses summed over every cache the request looked in.
    pub cache_hits: u64,
    pub cache_misses: u64,
}

impl Cost {
    fn from_extensions(body: &Value) -> Self {
        let cost = &body["extensions"]["cost"];
        let (mut cache_hits, mut cache_misses) = (0, 0);
        if let Some(caches) = cost["caches"].as_object() {
            for outcome in caches.values() {
                cache_hits += outcome["hits"].as_u64().unwrap_or(0);
                cache_misses += outcome["misses"].as_u64().unwrap_or(0);
            }
        }
        Self {
            statements: cost["sqlStatements"].as_u64().unwrap_or(0),
            sql_micros: (cost["sqlMillis"].as_f64().unwrap_or(0.0) * 1e3).round() as u64,
            cache_hits,
            cache_misses,
        }
    }

    pub(crate) fn add(self, other: Self) -> Self {
        Self {
            statements: self.statements + other.statements,
            sql_micros: self.sql_micros + other.sql_micros,
            cache_hits: self.cache_hits + other.cache_hits,
            cache_misses: self.cache_misses + other.cache_misses,
        }
    }
}

/// A GraphQL answer without errors.
#[derive(Debug)]
pub(crate) struct Answer {
    pub data: Value,
    pub cost: Cost,
}

/// One connection's worth of client.
#[derive(Clone, Debug)]
pub(crate) struct Client {
    http: reqwest::Client,
    graphql_url: String,
}

impl Client {
    /// A client with its own connection pool: one worker, one connection.
    pub(crate) fn new(graphql_url: &str) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(1)
            .pool_idle_timeout(Duration::from_secs(90))
            .timeout(Duration::from_secs(30))
            .build()
            .context("building an HTTP client")?;
        Ok(Self {
            http,
            graphql_url: graphql_url.to_owned(),
        })
    }

    /// POSTs `query` as `bearer` (a full `Bearer ...` value). Fails on a
    /// non-200 status or a GraphQL error, naming its code and message.
    pub(crate) async fn graphql(
        &self,
        bearer: &str,
        query: &str,
        variables: Value,
    ) -> anyhow::Result<Answer> {
        self.send(bearer, json!({ "query": query, "variables": variables }))
            .await
    }

    /// Runs the trusted document `id` (`documentId`) as `bearer`.
    pub(crate) async fn graphql_by_id(
        &self,
        bearer: &str,
        id: &str,
        variables: Value,
    ) -> anyhow::Result<Answer> {
        self.send(bearer, json!({ "documentId": id, "variables": variables }))
            .await
    }

    async fn send(&self, bearer: &str, body: Value) -> anyhow::Result<Answer> {
        let response = self
            .http
            .post(&self.graphql_url)
            .header("authorization", bearer)
            .header("x-agentgraph-cost", "1")
            .json(&body)
            .send()
            .await
            .context("sending a GraphQL request")?;
        let status = response.status();
        let body: Value = response.json().await.context("reading a GraphQL answer")?;
        if let Some(error) = body["errors"].get(0) {
            anyhow::bail!(
                "{}: {}",
                error["extensions"]["code"].as_str().unwrap_or("NO_CODE"),
                error["message"].as_str().unwrap_or("no message")
            );
        }
        anyhow::ensure!(status.is_success(), "HTTP {status}: {body}");
        Ok(Answer {
            cost: Cost::from_extensions(&body),
            data: body["data"].clone(),
        })
    }

    /// GETs a plain URL (the floor handler) and reads the whole body.
    pub(crate) async fn get(&self, url: &str) -> anyhow::Result<()> {
        let response = self.http.get(url).send().await.context("GET")?;
        anyhow::ensure!(response.status().is_success(), "HTTP {}", response.status());
        response.bytes().await.context("reading the body")?;
        Ok(())
    }
}
