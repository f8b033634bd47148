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
    /// Whether requests ask for the cost extension (a request that does is
    /// never stored by the response cache).
    asks_cost: bool,
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
            asks_cost: true,
        })
    }

    /// A client whose requests do not ask for the cost extension, as real
    /// clients send them (their answers may be kept by the response cache;
    /// their cost reads as zero).
    pub(crate) fn plain(graphql_url: &str) -> anyhow::Result<Self> {
        Ok(Self {
            asks_cost: false,
            ..Self::new(graphql_url)?
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
        let mut request = self.http.post(&self.graphql_url);
        if self.asks_cost {
            request = request.header("x-agentgraph-cost", "1");
        }
        let response = request
            .header("authorization", bearer)
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

    /// POSTs `query` as `bearer` and reads the body as bytes, without
    /// parsing it: what the server's side of a request costs when the
    /// client does not decode 51 KB of JSON on the same cores. Fails on a
    /// non-200 status or a body that is not an answer with data.
    pub(crate) async fn graphql_bytes(
        &self,
        bearer: &str,
        query: &str,
        variables: Value,
    ) -> anyhow::Result<usize> {
        let response = self
            .http
            .post(&self.graphql_url)
            .header("authorization", bearer)
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .context("sending a GraphQL request")?;
        let status = response.status();
        let body = response.bytes().await.context("reading a GraphQL answer")?;
        anyhow::ensure!(
            status.is_success()
                && body.starts_with(b"{\"data\":{")
                && !body.starts_with(b"{\"data\":null"),
            "HTTP {status}: {}",
            String::from_utf8_lossy(&body[..body.len().min(300)])
        );
        Ok(body.len())
    }

    /// GETs a plain URL (the floor handler) and reads the whole body.
    pub(crate) async fn get(&self, url: &str) -> anyhow::Result<()> {
        let response = self.http.get(url).send().await.context("GET")?;
        anyhow::ensure!(response.status().is_success(), "HTTP {}", response.status());
        response.bytes().await.context("reading the body")?;
        Ok(())
    }
}
