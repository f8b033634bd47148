//! The synthetic data set, written straight into a migrated database with
//! SeaORM bulk inserts (chunks of [`CHUNK`] rows, one transaction): a few
//! providers and models, agents with tools, circles of agents, the bench
//! user's projects with a little state each, and one big project (many
//! signals and features, foundation, strategic context and a stored DI
//! analysis). Readiness is left for the server to compute.
//!
//! The content is deterministic (fixed seed); ids are fresh UUIDv7s.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use entity::{
    agent_tools, agents, circle_members, circles, di_analyses, features, foundations, meetings,
    models, personas, projects, providers,
    signals::{self, SignalAuthority},
    strategic_contexts, user_agent_instructions, vp_steps,
};
use migration::{Migrator, MigratorTrait};
use sea_orm::{
    ActiveModelTrait, Database, DatabaseTransaction, EntityTrait, IntoActiveModel, Set,
    TransactionTrait,
};
use serde_json::json;
use uuid::Uuid;

/// Rows per INSERT statement.
const CHUNK: usize = 500;

/// How big the data set is.
#[derive(Clone, Copy, Debug)]
pub struct Sizes {
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
pub struct DataSet {
    /// Owner of every project, and the user of the warm workloads.
    pub user_id: Uuid,
    /// Names of the active agents (the ones workloads ask for).
    pub agents: Vec<String>,
    /// The agent of `agentRuntime warm`: has a model, tools and the bench
    /// user's instructions.
    pub warm_agent: String,
    pub big_project: Uuid,
    /// Rows written, all tables together.
    pub rows: usize,
}

/// Migrates the database at `url` and loads the data set; returns it with
/// the time loading took (migrations excluded).
pub async fn load(url: &str, sizes: &Sizes) -> anyhow::Result<(DataSet, Duration)> {
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
        let big_project = self.projects(user_id, sizes).await?;
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
            big_project,
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
                id: Set(provider_id),
                name: Set(format!("bench-{provider}")),
                api_type: Set(api_type.to_owned()),
            });
            for size in ["small", "medium", "large"] {
                let model_id = Uuid::now_v7();
                model_ids.push(model_id);
                model_rows.push(models::ActiveModel {
                    id: Set(model_id),
                    provider_id: Set(provider_id),
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
                id: Set(id),
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
                model_id: Set(model_id),
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
                    id: Set(Uuid::now_v7()),
                    agent_id: Set(id),
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
                id: Set(circle_id),
                name: Set(format!("bench-circle-{c:04}")),
                description: Set(format!("Synthetic circle number {c}")),
                created_at: Set(self.now),
            });
            for m in 0..members {
                let agent = &agents[(c * members + m) % agents.len()];
                member_rows.push(circle_members::ActiveModel {
                    id: Set(Uuid::now_v7()),
                    circle_id: Set(circle_id),
                    agent_id: Set(agent.id),
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
                user_id: Set(user_id),
                agent_id: Set(agent.id),
                instructions: Set(format!(
                    "When you answer me, {}, use bullet points.",
                    agent.name
                )),
                updated_at: Set(self.now),
            })
            .collect();
        self.insert(rows).await
    }

    /// `sizes.projects` projects; the last one is the big one (its id is
    /// returned), so the first pages list the ordinary ones.
    async fn projects(&mut self, owner: Uuid, sizes: &Sizes) -> anyhow::Result<Uuid> {
        let mut state = ProjectState::default();
        let mut project_rows = Vec::with_capacity(sizes.projects);
        let mut big = Uuid::nil();
        for p in 0..sizes.projects {
            let id = Uuid::now_v7();
            project_rows.push(projects::ActiveModel {
                id: Set(id),
                owner_id: Set(owner),
                name: Set(format!("bench-project-{p:04}")),
                state_version: Set(1),
                created_at: Set(self.now),
                updated_at: Set(self.now),
            });
            if p + 1 == sizes.projects {
                big = id;
                self.big_project_state(&mut state, id, sizes);
            } else {
                self.small_project_state(&mut state, id, p);
            }
        }
        self.insert(project_rows).await?;
        state.insert(self).await?;
        Ok(big)
    }

    /// A little of everything: 3 features (2 confirmed), 2 personas, 3
    /// value-path steps, a meeting, 5 signals (2 analyzed); a foundation on
    /// every other project, a strategic context on every third.
    fn small_project_state(&mut self, state: &mut ProjectState, id: Uuid, p: usize) {
        state.features(self, id, 3, |f| f < 2);
        state.personas(self, id, 2);
        state.steps(self, id, 3);
        state.meetings(self, id, 1);
        state.signals(self, id, 5);
        if p % 2 == 0 {
            state.foundation(self, id, p % 4 == 0);
        }
        if p % 3 == 0 {
            state.strategic_context(self, id);
        }
    }

    /// Many signals (authorities mixed, about half unanalyzed) and features
    /// (every third confirmed), a full foundation, a strategic context and
    /// a DI analysis stored ten minutes ago.
    fn big_project_state(&mut self, state: &mut ProjectState, id: Uuid, sizes: &Sizes) {
        state.features(self, id, sizes.features, |f| f % 3 == 0);
        state.personas(self, id, 5);
        state.steps(self, id, 6);
        state.meetings(self, id, 12);
        state.signals(self, id, sizes.signals);
        state.foundation(self, id, true);
        state.strategic_context(self, id);
        state.di_analyses.push(di_analyses::ActiveModel {
            project_id: Set(id),
            analysis: Set(json!({
                "summary": "Synthetic discovery analysis of the big project",
                "themes": ["onboarding", "pricing", "integrations"],
                "signalsAnalyzed": sizes.signals / 2,
            })),
            analyzed_at: Set(self.now - chrono::Duration::minutes(10)),
        });
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

/// Every project child row, gathered so each table is one bulk insert.
#[derive(Default)]
struct ProjectState {
    features: Vec<features::ActiveModel>,
    personas: Vec<personas::ActiveModel>,
    steps: Vec<vp_steps::ActiveModel>,
    meetings: Vec<meetings::ActiveModel>,
    signals: Vec<signals::ActiveModel>,
    foundations: Vec<foundations::ActiveModel>,
    strategic_contexts: Vec<strategic_contexts::ActiveModel>,
    di_analyses: Vec<di_analyses::ActiveModel>,
}

impl ProjectState {
    fn features(
        &mut self,
        loader: &Loader<'_>,
        project: Uuid,
        count: usize,
        confirmed: impl Fn(usize) -> bool,
    ) {
        self.features
            .extend((0..count).map(|f| features::ActiveModel {
                id: Set(Uuid::now_v7()),
                project_id: Set(project),
                name: Set(format!("Feature {f}")),
                description: Set(format!("What feature {f} lets the user do")),
                confirmed: Set(confirmed(f)),
                created_at: Set(loader.now + chrono::Duration::milliseconds(offset(f))),
            }));
    }

    fn personas(&mut self, loader: &Loader<'_>, project: Uuid, count: usize) {
        self.personas
            .extend((0..count).map(|p| personas::ActiveModel {
                id: Set(Uuid::now_v7()),
                project_id: Set(project),
                name: Set(format!("Persona {p}")),
                description: Set("Who they are and what they need".to_owned()),
                created_at: Set(loader.now + chrono::Duration::milliseconds(offset(p))),
            }));
    }

    fn steps(&mut self, _loader: &Loader<'_>, project: Uuid, count: usize) {
        self.steps.extend((0..count).map(|s| vp_steps::ActiveModel {
            id: Set(Uuid::now_v7()),
            project_id: Set(project),
            position: Set(i32::try_from(s + 1).unwrap_or(i32::MAX)),
            label: Set(format!("Step {}", s + 1)),
            description: Set("What happens at this step".to_owned()),
        }));
    }

    fn meetings(&mut self, loader: &Loader<'_>, project: Uuid, count: usize) {
        self.meetings
            .extend((0..count).map(|m| meetings::ActiveModel {
                id: Set(Uuid::now_v7()),
                project_id: Set(project),
                title: Set(format!("Discovery call {m}")),
                held_at: Set(loader.now - chrono::Duration::days(offset(m))),
                notes: Set("Notes of the call".to_owned()),
            }));
    }

    /// Authorities cycle client, consultant, research, other; odd signals
    /// are analyzed, even ones not (about half unanalyzed).
    fn signals(&mut self, loader: &mut Loader<'_>, project: Uuid, count: usize) {
        const AUTHORITIES: [SignalAuthority; 4] = [
            SignalAuthority::Client,
            SignalAuthority::Consultant,
            SignalAuthority::Research,
            SignalAuthority::Other,
        ];
        const SOURCES: [&str; 4] = ["interview", "survey", "support ticket", "analytics"];
        for s in 0..count {
            let created_at = loader.now - chrono::Duration::seconds(offset(count - s));
            let words = 8 + loader.rng.usize(..24);
            self.signals.push(signals::ActiveModel {
                id: Set(Uuid::now_v7()),
                project_id: Set(project),
                source: Set(SOURCES[s % SOURCES.len()].to_owned()),
                authority: Set(AUTHORITIES[s % AUTHORITIES.len()]),
                content: Set(format!(
                    "Signal {s}: {}",
                    "the customer said something ".repeat(words / 4 + 1)
                )),
                created_at: Set(created_at),
                analyzed_at: Set((s % 2 == 1).then_some(loader.now)),
            });
        }
    }

    fn foundation(&mut self, loader: &Loader<'_>, project: Uuid, full: bool) {
        let text = |what: &str| Some(format!("The project's {what}"));
        self.foundations.push(foundations::ActiveModel {
            project_id: Set(project),
            problem_statement: Set(text("problem statement")),
            target_users: Set(text("target users")),
            value_proposition: Set(if full {
                text("value proposition")
            } else {
                None
            }),
            business_case: Set(if full { text("business case") } else { None }),
            constraints: Set(if full { text("constraints") } else { None }),
            updated_at: Set(loader.now),
        });
    }

    fn strategic_context(&mut self, loader: &Loader<'_>, project: Uuid) {
        self.strategic_contexts
            .push(strategic_contexts::ActiveModel {
                project_id: Set(project),
                content: Set("Where the business wants to be in two years".to_owned()),
                updated_at: Set(loader.now),
            });
    }

    async fn insert(self, loader: &mut Loader<'_>) -> anyhow::Result<()> {
        loader.insert(self.features).await?;
        loader.insert(self.personas).await?;
        loader.insert(self.steps).await?;
        loader.insert(self.meetings).await?;
        loader.insert(self.signals).await?;
        loader.insert(self.foundations).await?;
        loader.insert(self.strategic_contexts).await?;
        loader.insert(self.di_analyses).await
    }
}
