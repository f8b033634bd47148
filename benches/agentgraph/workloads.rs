//! The workloads of SPEC 11: what one operation of each sends, what it does
//! (untimed) beforehand to make a "cold" operation really cold, and what it
//! checks in the answer. [`crate::runner`] runs them in a closed loop.

use std::{
    future::Future,
    time::{Duration, Instant},
};

use agentgraph::{
    auth::{TokenKeys, Viewer},
    changes::Change,
    config::DbConfig,
    db,
    http::AppState,
};
use anyhow::Context as _;
use entity::projects;
use sea_orm::{
    sea_query::Expr, sqlx::sqlite::SqliteConnectOptions, ColumnTrait, Database, DatabaseConnection,
    EntityTrait, QueryFilter,
};
use serde_json::json;
use uuid::Uuid;

use crate::{
    client::{Answer, Client, Cost},
    cpu::{self, BENCH_SQLITE_THREADS},
    data::DataSet,
    introspect,
    server::{Servers, JWT_SECRET},
};

/// How `agentRuntime cold` makes each request cold; printed with the results.
pub(crate) const COLD_RUNTIME_METHOD: &str =
    "a fresh user per request (instructions cold) and a random \
     agent whose config is invalidated in-process (Change::Agent) just before the request";

/// How `circles nested (cold)` makes each request cold; printed with the
/// results.
pub(crate) const COLD_CIRCLES_METHOD: &str = "every cache emptied in-process \
     (Change::Everything) just before the request; with several connections, a request \
     may find entries another one refilled in between";

const TRIVIAL: &str = "{ __typename }";
const READINESS_PAGE: &str = "{ projects(first: 20) { nodes { readiness { score } } } }";
const RUNTIME: &str = "query ($agent: String!) { agentRuntime(agentName: $agent) { \
     effectiveSystemPrompt instructions agent { name } model { modelName } provider { name } \
     tools { name toolType config } } }";
/// What a frontend's circle page asks for.
pub(crate) const CIRCLES: &str = "{ circles(first: 20) { nodes { members { role agent { name \
     model { modelName provider { name } } } } } } }";
const AGENT: &str =
    "query ($name: String!) { agent(name: $name) { name model { modelName provider { name } } } }";
const PROJECT_READINESS: &str = "query ($id: UUID!) { project(id: $id) { readiness { score } } }";
const PROJECT_READINESS_FULL: &str =
    "query ($id: UUID!) { project(id: $id) { readiness { score status blockers } } }";
const SET_INSTRUCTIONS: &str = "mutation ($agent: String!, $text: String!) { \
     setMyAgentInstructions(agentName: $agent, instructions: $text) { instructions } }";

/// One benchmark workload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Workload {
    FloorAxum,
    FloorGraphql,
    ReadinessCached,
    RuntimeWarm,
    RuntimeCold,
    AgentWarm,
    CirclesCold,
    CirclesWarm,
    ReadinessRecompute,
    ProjectReadinessWarm,
    DiContext,
    MutationThenRead,
    Mixed,
    CirclesKept,
    CirclesKeptBytes,
    MixedKept,
    /// The circles page sent as text, beside [`Workload::TrustedId`]: what
    /// naming a trusted document saves the server.
    TrustedText,
    /// The same document by its trusted id (`documentId`).
    TrustedId,
}

impl Workload {
    pub(crate) const ALL: [Workload; 18] = [
        Workload::FloorAxum,
        Workload::FloorGraphql,
        Workload::ReadinessCached,
        Workload::RuntimeWarm,
        Workload::RuntimeCold,
        Workload::AgentWarm,
        Workload::CirclesCold,
        Workload::CirclesWarm,
        Workload::ReadinessRecompute,
        Workload::ProjectReadinessWarm,
        Workload::DiContext,
        Workload::MutationThenRead,
        Workload::Mixed,
        Workload::CirclesKept,
        Workload::CirclesKeptBytes,
        Workload::MixedKept,
        Workload::TrustedText,
        Workload::TrustedId,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Workload::FloorAxum => "floor: plain axum",
            Workload::FloorGraphql => "floor: trivial graphql",
            Workload::ReadinessCached => "readiness cached",
            Workload::RuntimeWarm => "agentRuntime warm",
            Workload::RuntimeCold => "agentRuntime cold",
            Workload::AgentWarm => "agent(name) warm",
            Workload::CirclesCold => "circles nested (cold)",
            Workload::CirclesWarm => "circles nested (warm)",
            Workload::ReadinessRecompute => "readiness recompute (big project)",
            Workload::ProjectReadinessWarm => "project readiness warm",
            Workload::DiContext => "diContext (big project)",
            Workload::MutationThenRead => "mutation then read",
            Workload::Mixed => "mixed",
            Workload::CirclesKept => "circles nested (response cache)",
            Workload::CirclesKeptBytes => "circles nested (response cache, unparsed)",
            Workload::MixedKept => "mixed (response cache)",
            Workload::TrustedText => "trusted: circles as text (warm)",
            Workload::TrustedId => "trusted: circles by id (warm)",
        }
    }

    pub(crate) fn is_floor(self) -> bool {
        matches!(self, Workload::FloorAxum | Workload::FloorGraphql)
    }

    /// The most SQL statements one operation may run by SPEC 8, where it
    /// says; `project(id) { readiness }` is read like `projects`: one
    /// statement for the project, then at most two. The warm rows expect
    /// their answers from the caches, but for the one statement listing a
    /// circles page.
    pub(crate) fn statement_budget(self) -> Option<u64> {
        match self {
            Workload::FloorAxum
            | Workload::FloorGraphql
            | Workload::RuntimeWarm
            | Workload::AgentWarm
            | Workload::ProjectReadinessWarm
            | Workload::CirclesKept
            | Workload::CirclesKeptBytes => Some(0),
            Workload::ReadinessCached
            | Workload::CirclesWarm
            | Workload::TrustedText
            | Workload::TrustedId => Some(1),
            Workload::CirclesCold => Some(2),
            Workload::RuntimeCold | Workload::ReadinessRecompute => Some(3),
            Workload::DiContext
            | Workload::MutationThenRead
            | Workload::Mixed
            | Workload::MixedKept => None,
        }
    }
}

/// One timed operation.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Sample {
    pub latency: Duration,
    pub cost: Cost,
}

/// What every worker shares: where the servers are, the data set, the
/// server's state (for in-process invalidation), a connection of its own
/// and the probe of the server's and PostgreSQL's CPU time.
pub(crate) struct Bench {
    graphql_url: String,
    floor_url: String,
    state: AppState,
    /// The bench's own pool: direct UPDATEs and timings, never charged to a
    /// request and never taking the server's connections.
    db: DatabaseConnection,
    cpu: cpu::Probe,
    data: DataSet,
    keys: TokenKeys,
    /// `Bearer ...` of the user who owns every project.
    user_bearer: String,
    /// The diContext query built from the schema; `None` when the API has
    /// no `Project.diContext`.
    di_context: Option<String>,
}

impl Bench {
    pub(crate) async fn new(
        servers: &Servers,
        data: DataSet,
        database_url: &str,
    ) -> anyhow::Result<Self> {
        let db = own_connection(database_url, &servers.state.config().db)
            .await
            .context("the bench's own connection")?;
        let keys = TokenKeys::new(JWT_SECRET.as_bytes())?;
        let user_bearer = bearer(&keys, data.user_id);
        let client = Client::new(&servers.graphql_url)?;
        let di_context = introspect::di_context_query(&client, &user_bearer).await?;
        Ok(Self {
            graphql_url: servers.graphql_url.clone(),
            floor_url: servers.floor_url.clone(),
            state: servers.state.clone(),
            db,
            cpu: cpu::Probe::new(servers.state.config().is_postgres()),
            data,
            keys,
            user_bearer,
            di_context,
        })
    }

    /// `Bearer ...` of the user who owns every project.
    pub(crate) fn user_bearer(&self) -> &str {
        &self.user_bearer
    }

    /// Reads the CPU time the server and PostgreSQL spent so far.
    pub(crate) fn cpu(&self) -> &cpu::Probe {
        &self.cpu
    }

    /// The diContext query measured, if the API has one.
    pub(crate) fn di_context_query(&self) -> Option<&str> {
        self.di_context.as_deref()
    }

    /// A worker: its own connection, random stream and user.
    pub(crate) fn worker(&self, index: usize) -> anyhow::Result<Worker> {
        Ok(Worker {
            client: Client::new(&self.graphql_url)?,
            plain: Client::plain(&self.graphql_url)?,
            rng: fastrand::Rng::with_seed((index as u64).wrapping_add(1000)),
            own_bearer: bearer(&self.keys, Uuid::now_v7()),
            writes: 0,
        })
    }

    /// Untimed set-up before a workload's runs: the mixed load starts with
    /// the bench user's runtime of every agent warm.
    pub(crate) async fn prepare(&self, workload: Workload) -> anyhow::Result<()> {
        if matches!(workload, Workload::CirclesKept | Workload::CirclesKeptBytes) {
            // Kept by one plain request; a request asking its cost then
            // shows it is served from memory.
            let plain = Client::plain(&self.graphql_url)?;
            plain.graphql(&self.user_bearer, CIRCLES, json!({})).await?;
            let client = Client::new(&self.graphql_url)?;
            let kept = client
                .graphql(&self.user_bearer, CIRCLES, json!({}))
                .await?;
            anyhow::ensure!(
                kept.cost.statements == 0,
                "the nested circles answer is not kept"
            );
            return Ok(());
        }
        if !matches!(workload, Workload::Mixed | Workload::MixedKept) {
            return Ok(());
        }
        let client = Client::new(&self.graphql_url)?;
        for agent in &self.data.agents {
            client
                .graphql(&self.user_bearer, RUNTIME, json!({ "agent": agent }))
                .await?;
        }
        Ok(())
    }

    /// Median time of `db::readiness::compute` for the big project alone,
    /// called directly `runs` times after one warm-up call: the pure
    /// statement time of a recomputation.
    pub(crate) async fn time_direct_readiness_compute(
        &self,
        runs: usize,
    ) -> anyhow::Result<Duration> {
        let ids = [self.data.big_project.into()];
        db::readiness::compute(&self.db, &ids).await?;
        let mut times = Vec::with_capacity(runs);
        for _ in 0..runs {
            let started = Instant::now();
            db::readiness::compute(&self.db, &ids).await?;
            times.push(started.elapsed());
        }
        times.sort();
        times
            .get(times.len() / 2)
            .copied()
            .context("no runs of readiness::compute")
    }

    /// Runs one operation of `workload` as `worker`; only the request(s)
    /// are timed, not the set-up that makes them cold.
    pub(crate) async fn run_once(
        &self,
        workload: Workload,
        worker: &mut Worker,
    ) -> anyhow::Result<Sample> {
        match workload {
            Workload::FloorAxum => {
                let started = Instant::now();
                worker.client.get(&self.floor_url).await?;
                Ok(Sample {
                    latency: started.elapsed(),
                    cost: Cost::default(),
                })
            }
            Workload::FloorGraphql => {
                timed(worker.client.graphql(&self.user_bearer, TRIVIAL, json!({}))).await
            }
            Workload::ReadinessCached => self.readiness_page(worker).await,
            Workload::RuntimeWarm => {
                let agent = self.data.warm_agent.clone();
                self.runtime(worker, &self.user_bearer, &agent).await
            }
            Workload::RuntimeCold => self.runtime_cold(worker).await,
            Workload::AgentWarm => self.agent(worker).await,
            Workload::CirclesCold => {
                self.invalidate(Change::Everything);
                self.circles(worker).await
            }
            Workload::CirclesWarm => self.circles(worker).await,
            Workload::ReadinessRecompute => self.readiness_recompute(worker).await,
            Workload::ProjectReadinessWarm => self.project_readiness(worker).await,
            Workload::DiContext => self.di_context(worker).await,
            Workload::MutationThenRead => self.mutation_then_read(worker).await,
            Workload::Mixed => self.mixed(worker).await,
            Workload::CirclesKept => self.circles_from(&worker.plain).await,
            Workload::CirclesKeptBytes => {
                timed_bytes(
                    worker
                        .plain
                        .graphql_bytes(&self.user_bearer, CIRCLES, json!({})),
                )
                .await
            }
            Workload::MixedKept => self.mixed_kept(worker).await,
            Workload::TrustedText => self.circles(worker).await,
            Workload::TrustedId => self.circles_by_id(worker).await,
        }
    }

    async fn readiness_page(&self, worker: &Worker) -> anyhow::Result<Sample> {
        let (sample, answer) = timed_answer(worker.client.graphql(
            &self.user_bearer,
            READINESS_PAGE,
            json!({}),
        ))
        .await?;
        anyhow::ensure!(
            answer.data["projects"]["nodes"]
                .as_array()
                .is_some_and(|n| !n.is_empty()),
            "projects(first: 20) came back empty"
        );
        Ok(sample)
    }

    async fn runtime(&self, worker: &Worker, bearer: &str, agent: &str) -> anyhow::Result<Sample> {
        let (sample, answer) = timed_answer(worker.client.graphql(
            bearer,
            RUNTIME,
            json!({ "agent": agent }),
        ))
        .await?;
        anyhow::ensure!(
            !answer.data["agentRuntime"].is_null(),
            "agentRuntime({agent}) is null"
        );
        Ok(sample)
    }

    async fn runtime_cold(&self, worker: &mut Worker) -> anyhow::Result<Sample> {
        let agent = self.random_agent(worker).to_owned();
        let fresh_user = bearer(&self.keys, Uuid::now_v7());
        self.invalidate(Change::Agent {
            name: agent.clone(),
        });
        self.runtime(worker, &fresh_user, &agent).await
    }

    async fn agent(&self, worker: &Worker) -> anyhow::Result<Sample> {
        let name = &self.data.warm_agent;
        let (sample, answer) = timed_answer(worker.client.graphql(
            &self.user_bearer,
            AGENT,
            json!({ "name": name }),
        ))
        .await?;
        anyhow::ensure!(!answer.data["agent"].is_null(), "agent({name}) is null");
        Ok(sample)
    }

    async fn circles(&self, worker: &Worker) -> anyhow::Result<Sample> {
        self.circles_from(&worker.client).await
    }

    async fn circles_from(&self, client: &Client) -> anyhow::Result<Sample> {
        let (sample, answer) =
            timed_answer(client.graphql(&self.user_bearer, CIRCLES, json!({}))).await?;
        anyhow::ensure!(
            answer.data["circles"]["nodes"]
                .as_array()
                .is_some_and(|n| !n.is_empty()),
            "circles(first: 20) came back empty"
        );
        Ok(sample)
    }

    /// The circles page by its id in the server's trusted documents.
    async fn circles_by_id(&self, worker: &Worker) -> anyhow::Result<Sample> {
        let id = trusted_id(CIRCLES);
        let (sample, answer) = timed_answer(worker.client.graphql_by_id(
            &self.user_bearer,
            &id,
            json!({}),
        ))
        .await?;
        anyhow::ensure!(
            answer.data["circles"]["nodes"]
                .as_array()
                .is_some_and(|n| !n.is_empty()),
            "circles(first: 20) by id came back empty"
        );
        Ok(sample)
    }

    /// Moves the big project's state on (so the persisted snapshot is
    /// stale), invalidates its readiness in memory, then asks for it.
    async fn readiness_recompute(&self, worker: &Worker) -> anyhow::Result<Sample> {
        let id = self.data.big_project;
        projects::Entity::update_many()
            .col_expr(
                projects::Column::StateVersion,
                Expr::col(projects::Column::StateVersion).add(1),
            )
            .filter(projects::Column::Id.eq(id))
            .exec(&self.db)
            .await
            .context("bumping the big project's state_version")?;
        self.invalidate(Change::ProjectState {
            project_id: id.into(),
        });
        timed(
            worker
                .client
                .graphql(&self.user_bearer, PROJECT_READINESS, json!({ "id": id })),
        )
        .await
    }

    /// The readiness of an ordinary project, with nothing invalidated.
    async fn project_readiness(&self, worker: &Worker) -> anyhow::Result<Sample> {
        let id = self.data.ordinary_project;
        let (sample, answer) = timed_answer(worker.client.graphql(
            &self.user_bearer,
            PROJECT_READINESS_FULL,
            json!({ "id": id }),
        ))
        .await?;
        anyhow::ensure!(
            !answer.data["project"]["readiness"].is_null(),
            "project({id}).readiness is null"
        );
        Ok(sample)
    }

    async fn di_context(&self, worker: &Worker) -> anyhow::Result<Sample> {
        let query = self
            .di_context
            .as_deref()
            .context("the API has no Project.diContext")?;
        timed(worker.client.graphql(
            &self.user_bearer,
            query,
            json!({ "id": self.data.big_project }),
        ))
        .await
    }

    /// Sets the worker's own instructions for a random agent, then reads
    /// that agent's runtime: one operation, which fails unless the read
    /// sees the write. Each worker is its own user, so no other worker's
    /// write can interleave.
    async fn mutation_then_read(&self, worker: &mut Worker) -> anyhow::Result<Sample> {
        let agent = self.random_agent(worker).to_owned();
        worker.writes += 1;
        let text = format!("bench write {} at {:?}", worker.writes, Instant::now());
        let bearer = worker.own_bearer.clone();
        let started = Instant::now();
        let set = worker
            .client
            .graphql(
                &bearer,
                SET_INSTRUCTIONS,
                json!({ "agent": agent, "text": text }),
            )
            .await?;
        let read = worker
            .client
            .graphql(&bearer, RUNTIME, json!({ "agent": agent }))
            .await?;
        let latency = started.elapsed();
        let seen = &read.data["agentRuntime"]["instructions"];
        anyhow::ensure!(
            seen.as_str() == Some(text.as_str()),
            "stale read: agentRuntime({agent}).instructions is {seen} right after setting {text:?}"
        );
        Ok(Sample {
            latency,
            cost: set.cost.add(read.cost),
        })
    }

    /// 60% agentRuntime of a random agent for the bench user (warm after
    /// [`Self::prepare`]), 25% cached readiness page, 10% nested circles,
    /// 5% mutation then read.
    async fn mixed(&self, worker: &mut Worker) -> anyhow::Result<Sample> {
        match worker.rng.u32(..100) {
            0..60 => {
                let agent = self.random_agent(worker).to_owned();
                self.runtime(worker, &self.user_bearer, &agent).await
            }
            60..85 => self.readiness_page(worker).await,
            85..95 => self.circles(worker).await,
            _ => self.mutation_then_read(worker).await,
        }
    }

    /// [`Self::mixed`] as real clients send it (no cost asked): the reads'
    /// answers may be kept by the response cache.
    async fn mixed_kept(&self, worker: &mut Worker) -> anyhow::Result<Sample> {
        match worker.rng.u32(..100) {
            0..60 => {
                let agent = self.random_agent(worker).to_owned();
                timed(
                    worker
                        .plain
                        .graphql(&self.user_bearer, RUNTIME, json!({ "agent": agent })),
                )
                .await
            }
            60..85 => {
                timed(
                    worker
                        .plain
                        .graphql(&self.user_bearer, READINESS_PAGE, json!({})),
                )
                .await
            }
            85..95 => self.circles_from(&worker.plain).await,
            _ => self.mutation_then_read(worker).await,
        }
    }

    /// The response cache's hits and misses so far.
    pub(crate) fn response_cache_counts(&self) -> (u64, u64) {
        self.state
            .services()
            .caches
            .stats()
            .into_iter()
            .find(|(name, _, _)| *name == "responses")
            .map_or((0, 0), |(_, stats, _)| (stats.hits, stats.misses))
    }

    /// A document never sent before (document `n` of the process): the
    /// parsed-document and persisted-query stores see only new text.
    pub(crate) async fn distinct_document(
        &self,
        worker: &Worker,
        n: u64,
    ) -> anyhow::Result<Sample> {
        let query = format!(
            "query ($name: String!) {{ a{n}: agent(name: $name) {{ name model {{ modelName }} }} }}"
        );
        timed(worker.client.graphql(
            &self.user_bearer,
            &query,
            json!({ "name": self.data.warm_agent }),
        ))
        .await
    }

    fn random_agent(&self, worker: &mut Worker) -> &str {
        &self.data.agents[worker.rng.usize(..self.data.agents.len())]
    }

    /// What a committed mutation would deliver, delivered in-process.
    fn invalidate(&self, change: Change) {
        self.state.changes().deliver(&[change]);
    }
}

/// One closed-loop worker: one connection, one random stream, one user of
/// its own for writes.
pub(crate) struct Worker {
    client: Client,
    /// The same worker's requests without the cost extension (the
    /// response cache rows), on a connection of their own.
    plain: Client,
    rng: fastrand::Rng,
    own_bearer: String,
    /// Writes so far, to make every written value unique.
    writes: u64,
}

/// The bench's own pool, set up like the server's. Its SQLite connections'
/// threads are named [`BENCH_SQLITE_THREADS`], so [`cpu`] does not count
/// them as the server's.
async fn own_connection(url: &str, config: &DbConfig) -> anyhow::Result<DatabaseConnection> {
    let mut options = db::connect_options(url, config);
    options.map_sqlx_sqlite_opts(|sqlite: SqliteConnectOptions| {
        db::sqlite_options(sqlite).thread_name(|id| format!("{BENCH_SQLITE_THREADS}-{id}"))
    });
    Ok(Database::connect(options).await?)
}

pub(crate) fn bearer(keys: &TokenKeys, user_id: Uuid) -> String {
    let viewer = Viewer {
        id: user_id.into(),
        is_admin: false,
    };
    format!(
        "Bearer {}",
        keys.issue(viewer, Duration::from_secs(24 * 3600))
    )
}

async fn timed(request: impl Future<Output = anyhow::Result<Answer>>) -> anyhow::Result<Sample> {
    Ok(timed_answer(request).await?.0)
}

async fn timed_answer(
    request: impl Future<Output = anyhow::Result<Answer>>,
) -> anyhow::Result<(Sample, Answer)> {
    let started = Instant::now();
    let answer = request.await?;
    let sample = Sample {
        latency: started.elapsed(),
        cost: answer.cost,
    };
    Ok((sample, answer))
}

/// Times a request whose body is read as bytes (its cost reads as zero).
async fn timed_bytes(
    request: impl Future<Output = anyhow::Result<usize>>,
) -> anyhow::Result<Sample> {
    let started = Instant::now();
    request.await?;
    Ok(Sample {
        latency: started.elapsed(),
        cost: Cost::default(),
    })
}

/// A document's id in the trusted documents' manifest: its sha256, hex.
pub(crate) fn trusted_id(text: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(text.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// The manifest the bench server loads: the circles page, as a codegen
/// `persisted-documents.json` would hold it.
pub(crate) fn trusted_manifest() -> String {
    json!({ trusted_id(CIRCLES): CIRCLES }).to_string()
}
