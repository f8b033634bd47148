//! The synthetic data set, written straight into a migrated database with
//! SeaORM bulk inserts (chunks of [`CHUNK`] rows, one transaction): a few
//! providers and models, agents with tools, circles of agents, the bench
//! user's projects with a little state each, and one big project (many
//! signals and features, foundation, strategic context and a stored DI
//! analysis). Readiness is left for the server to compute.
//!
//! The content is deterministic (fixed seed); ids are fresh UUIDv7s. The
//! projects and their state are in [`projects`].

use std::time::{Duration, Instant};

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use entity::{
    agent_tools, agents, circle_members, circles, models, providers, user_agent_instructions,
};
use migration::{Migrator, MigratorTrait};
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, Database, DatabaseTransaction, DbBackend, EntityTrait,
    IntoActiveModel, Set, TransactionTrait,
};
use serde_json::json;
use uuid::Uuid;

mod projects;

/// Rows per INSERT statement.
const CHUNK: usize = 500;

/// How big the data set is.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Sizes {
    pub agents: usize,
    pub circles: usize,
    pub members: usize,
    /// Projects of the bench user, the big one included.
    pub projects: usize,
    /// Signals of the big project.
    pub signals: usize,
    /// Features of the big project.
    pub features: usize,
}

/// What the workloads need to know about the loaded data.
#[derive(Clone, Debug)]
pub(crate) struct DataSet {
    /// Owner of every project, and the user of the warm workloads.
    pub user_id: Uuid,
    /// Names of the active agents (the ones workloads ask for).
    pub agents: Vec<String>,
    /// The agent of `agentRuntime warm`: has a model, tools and the bench
    /// user's instructions.
    pub warm_agent: String,
    pub big_project: Uuid,
    /// A project with a little state, like most: the first one (the big
    /// one only when `--projects 1`).
    pub ordinary_project: Uuid,
    /// Rows written, all tables together.
    pub rows: usize,
}

/// Migrates the database at `url` and loads the data set; returns it with
/// the time loading took (migrations excluded). On PostgreSQL loading ends
/// with `VACUUM ANALYZE`, what autovacuum would have done by the time a
/// real database had this much data: without it the planner has no
/// statistics and counts cannot use index-only scans.
pub(crate) async fn load(url: &str, sizes: &Sizes) -> anyhow::Result<(DataSet, Duration)> {
    let conn = Database::connect(url)
        .await
        .context("connecting to load data")?;
    Migrator::up(&conn, None).await.context("migrating")?;
    let started = Instant::now();
    let txn = conn.begin().await?;
    let mut loader = Loader {
        txn: &txn,
        rng: fastrand::Rng::with_seed(11),
        now: Utc::now(),
        rows: 0,
    };
    let data = loader.load_all(sizes).await?;
    txn.commit().await.context("committing the data set")?;
    if conn.get_database_backend() == DbBackend::Postgres {
        conn.execute_unprepared("VACUUM ANALYZE")
            .await
            .context("VACUUM ANALYZE after loading")?;
    }
    let elapsed = started.elapsed();
    let _ = conn.close().await;
    Ok((data, elapsed))
}

struct Loader<'a> {
    txn: &'a DatabaseTransaction,
    rng: fastrand::Rng,
    now: DateTime<Utc>,
    rows: usize,
}

/// An agent as loaded: what circles and instructions refer to.
struct LoadedAgent {
    id: Uuid,
    name: String,
    active: bool,
    has_model: bool,
}

impl Loader<'_> {
    async fn load_all(&mut self, sizes: &Sizes) -> anyhow::Result<DataSet> {
        let user_id = Uuid::now_v7();
        let models = self.providers_and_models().await?;
        let agents = self.agents(sizes.agents, &models).await?;
        self.circles(sizes.circles, sizes.members, &agents).await?;
        self.instructions(user_id, &agents).await?;
        let projects = self.projects(user_id, sizes).await?;
        let warm_agent = agents
            .iter()
            .enumerate()
            .find(|(i, a)| a.active && a.has_model && has_instructions(*i))
            .or_else(|| agents.iter().enumerate().find(|(_, a)| a.active))
            .map(|(_, a)| a.name.clone())
            .context("no active agent in the data set")?;
        Ok(DataSet {
            user_id,
            agents: agents
                .into_iter()
                .filter(|a| a.active)
                .map(|a| a.name)
                .collect(),
            warm_agent,
            big_project: projects.big,
            ordinary_project: projects.first,
            rows: self.rows,
        })
    }

    /// Inserts `rows` in chunks of [`CHUNK`].
    async fn insert<A>(&mut self, rows: Vec<A>) -> anyhow::Result<()>
    where
        A: ActiveModelTrait + Send,
        <A::Entity as EntityTrait>::Model: IntoActiveModel<A>,
    {
        self.rows += rows.len();
        let mut rows = rows.into_iter().peekable();
        while rows.peek().is_some() {
            let chunk: Vec<A> = rows.by_ref().take(CHUNK).collect();
            A::Entity::insert_many(chunk)
                .exec_without_returning(self.txn)
                .await?;
        }
        Ok(())
    }

    /// Four providers with three models each; returns the model ids.
    async fn providers_and_models(&mut self) -> anyhow::Result<Vec<Uuid>> {
        let mut provider_rows = Vec::new();
        let mut model_rows = Vec::new();
        let mut model_ids = Vec::new();
        for (provider, api_type) in [
            ("openai", "openai"),
            ("anthropic", "anthropic"),
            ("google", "gemini"),
            ("local", "openai"),
        ] {
            let provider_id = Uuid::now_v7();
            provider_rows.push(providers::ActiveModel {
                id: Set(provider_id.into()),
                name: Set(format!("bench-{provider}")),
                api_type: Set(api_type.to_owned()),
            });
            for size in ["small", "medium", "large"] {
                let model_id = Uuid::now_v7();
                model_ids.push(model_id);
                model_rows.push(models::ActiveModel {
                    id: Set(model_id.into()),
                    provider_id: Set(provider_id.into()),
                    model_name: Set(format!("{provider}-{size}")),
                    model_alias: Set((size == "large").then(|| format!("{provider}-best"))),
                });
            }
        }
        self.insert(provider_rows).await?;
        self.insert(model_rows).await?;
        Ok(model_ids)
    }

    /// Agents: every 50th paused, 9 in 10 with a model, 2-3 tools each (the
    /// third inactive every other time).
    async fn agents(&mut self, count: usize, models: &[Uuid]) -> anyhow::Result<Vec<LoadedAgent>> {
        let mut agent_rows = Vec::with_capacity(count);
        let mut tool_rows = Vec::with_capacity(count * 3);
        let mut loaded = Vec::with_capacity(count);
        for i in 0..count {
            let id = Uuid::now_v7();
            let name = format!("bench-agent-{i:05}");
            let active = i % 50 != 49;
            let model_id = (i % 10 != 9).then(|| models[self.rng.usize(..models.len())]);
            agent_rows.push(agents::ActiveModel {
                id: Set(id.into()),
                name: Set(name.clone()),
                description: Set(format!("Synthetic agent number {i}")),
                system_prompt: Set(format!(
                    "You are {name}. Answer in the user's language and cite your sources."
                )),
                base_prompt: Set("Be concise and accurate.".to_owned()),
                skill_names: Set(agents::SkillNames(vec![
                    "search".to_owned(),
                    "summarize".to_owned(),
                ])),
                status: Set(if active {
                    agents::AgentStatus::Active
                } else {
                    agents::AgentStatus::Paused
                }),
                model_id: Set(model_id.map(Into::into)),
                temperature: Set(Some(0.2 + 0.1 * (i % 8) as f64)),
                max_tokens: Set(Some(4096)),
                created_at: Set(self.now),
                updated_at: Set(self.now),
            });
            for (t, tool) in ["search", "fetch", "calculate"].iter().enumerate() {
                if t == 2 && i % 2 == 0 {
                    continue;
                }
                tool_rows.push(agent_tools::ActiveModel {
                    id: Set(Uuid::now_v7().into()),
                    agent_id: Set(id.into()),
                    name: Set((*tool).to_owned()),
                    description: Set(format!("The {tool} tool")),
                    tool_type: Set("function".to_owned()),
                    config: Set(json!({ "timeoutMs": 5000, "retries": t })),
                    is_active: Set(!(t == 2 && i % 4 == 1)),
                });
            }
            loaded.push(LoadedAgent {
                id,
                name,
                active,
                has_model: model_id.is_some(),
            });
        }
        self.insert(agent_rows).await?;
        self.insert(tool_rows).await?;
        Ok(loaded)
    }

    /// `count` circles of `members` distinct agents each (consecutive agents,
    /// wrapping around).
    async fn circles(
        &mut self,
        count: usize,
        members: usize,
        agents: &[LoadedAgent],
    ) -> anyhow::Result<()> {
        let mut circle_rows = Vec::with_capacity(count);
        let mut member_rows = Vec::with_capacity(count * members);
        for c in 0..count {
            let circle_id = Uuid::now_v7();
            circle_rows.push(circles::ActiveModel {
                id: Set(circle_id.into()),
                name: Set(format!("bench-circle-{c:04}")),
                description: Set(format!("Synthetic circle number {c}")),
                created_at: Set(self.now),
            });
            for m in 0..members {
                let agent = &agents[(c * members + m) % agents.len()];
                member_rows.push(circle_members::ActiveModel {
                    id: Set(Uuid::now_v7().into()),
                    circle_id: Set(circle_id.into()),
                    agent_id: Set(agent.id.into()),
                    role: Set(if m == 0 { "lead" } else { "member" }.to_owned()),
                    is_active: Set(m % 7 != 6),
                    joined_at: Set(self.now + chrono::Duration::milliseconds(offset(m))),
                });
            }
        }
        self.insert(circle_rows).await?;
        self.insert(member_rows).await
    }

    /// The bench user's own instructions for every fourth agent.
    async fn instructions(&mut self, user_id: Uuid, agents: &[LoadedAgent]) -> anyhow::Result<()> {
        let rows = agents
            .iter()
            .enumerate()
            .filter(|(i, _)| has_instructions(*i))
            .map(|(_, agent)| user_agent_instructions::ActiveModel {
                user_id: Set(user_id.into()),
                agent_id: Set(agent.id.into()),
                instructions: Set(format!(
                    "When you answer me, {}, use bullet points.",
                    agent.name
                )),
                updated_at: Set(self.now),
            })
            .collect();
        self.insert(rows).await
    }
}

/// The bench user has instructions for agents `0, 4, 8, ...`.
fn has_instructions(agent_index: usize) -> bool {
    agent_index % 4 == 0
}

/// `n` milliseconds, for spreading timestamps.
fn offset(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
