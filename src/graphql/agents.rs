//! Agents, models, providers and tools in the API.

use std::sync::Arc;

use async_graphql::{
    connection::{Connection, OpaqueCursor},
    Context, Enum, InputObject, Json, MaybeUndefined, Object, SimpleObject,
};
use chrono::{DateTime, Utc};
use entity::{agent_tools, agents};
use entity::{AgentId, ModelId, ProviderId, ToolId};

use super::{
    context::ContextExt,
    input::{self, MAX_DESCRIPTION_BYTES, MAX_PROMPT_BYTES, MAX_SKILLS},
    pagination,
    plain::{plain_leaves, plain_object},
    Result,
};
use crate::{
    cache::read_set::{self, ReadKey},
    db::{
        self,
        agents::{AgentConfig, AgentPatch, AgentRow, AgentSummary, ModelRow, NewAgent, ToolSpec},
    },
    error::AppError,
};

/// An agent's lifecycle state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[graphql(remote = "agents::AgentStatus")]
pub enum AgentStatus {
    Active,
    Paused,
    Archived,
}

/// An agent as the API shows it: its summary (what every source has, and
/// what its plain fields read) and, when it was built with them, its long
/// texts and tools. Built from an agent config from the cache (everything,
/// tools included), a full row (lists and mutations), or a summary (circle
/// member lists, which leave out the long texts). What the source lacks is
/// fetched when asked for, in one statement per batch: the texts from the
/// agent config cache, the tools through the tools loader.
#[derive(Clone, Debug)]
pub(super) struct Agent {
    summary: Arc<AgentSummary>,
    /// `None` for a summary.
    full: Option<Full>,
}

#[derive(Clone, Debug)]
enum Full {
    Config(Arc<AgentConfig>),
    Row(Arc<agents::Model>),
}

impl From<AgentRow> for Agent {
    fn from(row: AgentRow) -> Self {
        Self {
            summary: Arc::new(AgentSummary::from(&row)),
            full: Some(Full::Row(Arc::new(row.agent))),
        }
    }
}

impl From<Arc<AgentConfig>> for Agent {
    fn from(config: Arc<AgentConfig>) -> Self {
        Self {
            summary: Arc::new(AgentSummary::from(&config.agent)),
            full: Some(Full::Config(config)),
        }
    }
}

impl From<Arc<AgentSummary>> for Agent {
    fn from(summary: Arc<AgentSummary>) -> Self {
        Self {
            summary,
            full: None,
        }
    }
}

/// The agent's full row, borrowed from the source or loaded.
enum FullRow<'a> {
    Here(&'a agents::Model),
    Loaded(Arc<AgentConfig>),
}

impl std::ops::Deref for FullRow<'_> {
    type Target = agents::Model;

    fn deref(&self) -> &agents::Model {
        match self {
            FullRow::Here(agent) => agent,
            FullRow::Loaded(config) => &config.agent.agent,
        }
    }
}

impl super::node::NodeId for Agent {
    fn node_uuid(&self) -> uuid::Uuid {
        self.summary.id.into()
    }
}

impl Agent {
    async fn full_row(&self, ctx: &Context<'_>) -> Result<FullRow<'_>> {
        match &self.full {
            Some(Full::Config(config)) => Ok(FullRow::Here(&config.agent.agent)),
            Some(Full::Row(agent)) => Ok(FullRow::Here(agent)),
            None => Ok(FullRow::Loaded(config_of(ctx, &self.summary.name).await?)),
        }
    }
}

/// The configuration of the agent named `name`, through the request's
/// loader and the agent config cache (summaries carry neither the long
/// texts nor the tools).
async fn config_of(ctx: &Context<'_>, name: &str) -> Result<Arc<AgentConfig>> {
    let config = ctx.loaders()?.agent_configs.load(name.to_owned()).await?;
    config.ok_or(AppError::NotFound("agent"))
}

plain_leaves!(AgentStatus, AgentId, ModelId, ProviderId);

plain_object! {
    /// An AI agent: its prompts, model and tools.
    #[Object]
    impl Agent (view: &AgentSummary = |agent| &agent.summary) {
        plain id: AgentId = |a| a.id;

        /// Unique, immutable key of the agent.
        plain name: &str = |a| &a.name;

        async fn description(&self, ctx: &Context<'_>) -> Result<String> {
            Ok(self.full_row(ctx).await?.description.clone())
        }

        async fn system_prompt(&self, ctx: &Context<'_>) -> Result<String> {
            Ok(self.full_row(ctx).await?.system_prompt.clone())
        }

        async fn base_prompt(&self, ctx: &Context<'_>) -> Result<String> {
            Ok(self.full_row(ctx).await?.base_prompt.clone())
        }

        async fn skill_names(&self, ctx: &Context<'_>) -> Result<Vec<String>> {
            Ok(self.full_row(ctx).await?.skill_names.0.clone())
        }

        plain status: AgentStatus = |a| a.status.into();
        plain temperature: Option<f64> = |a| a.temperature;
        plain max_tokens: Option<i32> = |a| a.max_tokens;
        plain created_at: DateTime<Utc> = |a| a.created_at;
        plain updated_at: DateTime<Utc> = |a| a.updated_at;

        /// The model the agent runs on, with its provider.
        plain model: Option<Model> = |a| a.model.clone().map(Model);

        /// The agent's tools by name; `activeOnly` leaves out inactive ones.
        #[graphql(complexity = "pagination::unpaged_complexity(child_complexity)")]
        async fn tools(
            &self,
            ctx: &Context<'_>,
            #[graphql(default = false)] active_only: bool,
        ) -> Result<Vec<AgentTool>> {
            let shown = |tool: &&agent_tools::Model| tool.is_active || !active_only;
            let tools: Vec<agent_tools::Model> = match &self.full {
                Some(Full::Config(config)) => {
                    config.tools.iter().filter(shown).cloned().collect()
                }
                Some(Full::Row(_)) => {
                    let tools = ctx.loaders()?.tools_by_agent.load(self.summary.id).await?;
                    tools
                        .unwrap_or_default()
                        .iter()
                        .filter(shown)
                        .cloned()
                        .collect()
                }
                None => {
                    let config = config_of(ctx, &self.summary.name).await?;
                    config.tools.iter().filter(shown).cloned().collect()
                }
            };
            Ok(tools.into_iter().map(AgentTool::from).collect())
        }
    }
}

/// A model with its provider, shared with the agent it was read with.
#[derive(Clone, Debug)]
pub(super) struct Model(pub Arc<ModelRow>);

plain_object! {
    /// A model served by a provider.
    #[Object]
    impl Model (view: &Arc<ModelRow> = |model| &model.0) {
        plain id: ModelId = |m| m.model.id;
        plain model_name: &str = |m| &m.model.model_name;
        plain model_alias: Option<&str> = |m| m.model.model_alias.as_deref();
        plain provider: Provider = |m| Provider(Arc::clone(m));
    }
}

/// The provider of the model it was read with.
#[derive(Clone, Debug)]
pub(super) struct Provider(pub Arc<ModelRow>);

plain_object! {
    /// An LLM vendor or endpoint.
    #[Object]
    impl Provider (view: &ModelRow = |provider| &provider.0) {
        plain id: ProviderId = |p| p.provider.id;
        plain name: &str = |p| &p.provider.name;
        plain api_type: &str = |p| &p.provider.api_type;
    }
}

/// A tool an agent may call.
#[derive(Clone, Debug, SimpleObject)]
pub(super) struct AgentTool {
    pub id: ToolId,
    pub name: String,
    pub description: String,
    pub tool_type: String,
    pub config: Json<serde_json::Value>,
    pub is_active: bool,
}

impl From<agent_tools::Model> for AgentTool {
    fn from(tool: agent_tools::Model) -> Self {
        Self {
            id: tool.id,
            name: tool.name,
            description: tool.description,
            tool_type: tool.tool_type,
            config: Json(tool.config),
            is_active: tool.is_active,
        }
    }
}

#[derive(Default)]
pub(super) struct AgentQuery;

#[Object]
impl AgentQuery {
    /// The agent with this name, or null.
    // Served from the agent config cache: no statement when warm.
    async fn agent(&self, ctx: &Context<'_>, name: String) -> Result<Option<Agent>> {
        ctx.signed_in()?;
        let config = ctx.loaders()?.agent_configs.load(name).await?;
        Ok(config.map(Agent::from))
    }

    /// Agents ordered by name, optionally of one status.
    #[graphql(complexity = "pagination::connection_complexity(first, child_complexity)")]
    async fn agents(
        &self,
        ctx: &Context<'_>,
        status: Option<AgentStatus>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<OpaqueCursor<String>, Agent>> {
        ctx.signed_in()?;
        let size = pagination::page_size(first)?;
        let after = pagination::decode_after::<String>(after.as_deref())?;
        let db = &ctx.services()?.db;
        let page = db::agents::list_agents(
            db.conn(),
            status.map(Into::into),
            after.as_deref(),
            size + 1,
        );
        // Every agent's change names `AgentLists`.
        let rows = read_set::keyed(&[ReadKey::AgentLists], page).await?;
        Ok(pagination::connection(
            rows,
            size,
            after.is_some(),
            |row| row.agent.name.clone(),
            Agent::from,
        ))
    }
}

/// A new agent. Prompts default to empty, status to `ACTIVE`.
#[derive(InputObject)]
pub(super) struct CreateAgentInput {
    name: String,
    #[graphql(default)]
    description: String,
    #[graphql(default)]
    system_prompt: String,
    #[graphql(default)]
    base_prompt: String,
    #[graphql(default)]
    skill_names: Vec<String>,
    status: Option<AgentStatus>,
    model_id: Option<ModelId>,
    temperature: Option<f64>,
    max_tokens: Option<i32>,
}

impl CreateAgentInput {
    fn validate(self) -> Result<NewAgent, AppError> {
        input::key_name("name", &self.name)?;
        check_texts(
            Some(&self.description),
            Some(&self.system_prompt),
            Some(&self.base_prompt),
        )?;
        check_skills(&self.skill_names)?;
        check_sampling(self.temperature, self.max_tokens)?;
        Ok(NewAgent {
            name: self.name,
            description: self.description,
            system_prompt: self.system_prompt,
            base_prompt: self.base_prompt,
            skill_names: self.skill_names,
            status: self.status.map(Into::into),
            model_id: self.model_id,
            temperature: self.temperature,
            max_tokens: self.max_tokens,
        })
    }
}

/// Changes to an agent: omitted fields stay as they are; `null` clears
/// `modelId`, `temperature` and `maxTokens`. The name cannot change.
#[derive(InputObject)]
pub(super) struct UpdateAgentInput {
    description: Option<String>,
    system_prompt: Option<String>,
    base_prompt: Option<String>,
    skill_names: Option<Vec<String>>,
    status: Option<AgentStatus>,
    model_id: MaybeUndefined<ModelId>,
    temperature: MaybeUndefined<f64>,
    max_tokens: MaybeUndefined<i32>,
}

impl UpdateAgentInput {
    fn validate(self) -> Result<AgentPatch, AppError> {
        check_texts(
            self.description.as_deref(),
            self.system_prompt.as_deref(),
            self.base_prompt.as_deref(),
        )?;
        if let Some(skills) = &self.skill_names {
            check_skills(skills)?;
        }
        check_sampling(
            self.temperature.value().copied(),
            self.max_tokens.value().copied(),
        )?;
        Ok(AgentPatch {
            description: self.description,
            system_prompt: self.system_prompt,
            base_prompt: self.base_prompt,
            skill_names: self.skill_names,
            status: self.status.map(Into::into),
            model_id: patch_value(&self.model_id),
            temperature: patch_value(&self.temperature),
            max_tokens: patch_value(&self.max_tokens),
        })
    }
}

/// `undefined` leaves a field alone, `null` clears it, a value sets it.
fn patch_value<T: Copy>(value: &MaybeUndefined<T>) -> Option<Option<T>> {
    match value {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(v) => Some(Some(*v)),
    }
}

fn check_texts(
    description: Option<&str>,
    system_prompt: Option<&str>,
    base_prompt: Option<&str>,
) -> Result<(), AppError> {
    if let Some(v) = description {
        input::max_bytes("description", v, MAX_DESCRIPTION_BYTES)?;
    }
    if let Some(v) = system_prompt {
        input::max_bytes("systemPrompt", v, MAX_PROMPT_BYTES)?;
    }
    if let Some(v) = base_prompt {
        input::max_bytes("basePrompt", v, MAX_PROMPT_BYTES)?;
    }
    Ok(())
}

fn check_skills(skills: &[String]) -> Result<(), AppError> {
    if skills.len() > MAX_SKILLS {
        return Err(AppError::bad_input(
            "skillNames",
            format!("at most {MAX_SKILLS} skill names are allowed"),
        ));
    }
    skills
        .iter()
        .try_for_each(|skill| input::display_name("skillNames", skill))
}

fn check_sampling(temperature: Option<f64>, max_tokens: Option<i32>) -> Result<(), AppError> {
    if let Some(t) = temperature {
        input::in_range("temperature", t, 0.0, 2.0)?;
    }
    if let Some(m) = max_tokens {
        input::in_range("maxTokens", m, 1, 1_000_000)?;
    }
    Ok(())
}

/// A tool to create, or to replace the agent's tool of the same name.
#[derive(InputObject)]
pub(super) struct AgentToolInput {
    name: String,
    #[graphql(default)]
    description: String,
    tool_type: String,
    #[graphql(default_with = "Json(serde_json::json!({}))")]
    config: Json<serde_json::Value>,
    #[graphql(default = true)]
    is_active: bool,
}

/// Largest tool config, in bytes of JSON.
const MAX_TOOL_CONFIG_BYTES: usize = 16 * 1024;

impl AgentToolInput {
    fn validate(self) -> Result<ToolSpec, AppError> {
        input::key_name("name", &self.name)?;
        input::max_bytes("description", &self.description, MAX_DESCRIPTION_BYTES)?;
        input::display_name("toolType", &self.tool_type)?;
        input::json_object("config", &self.config.0, MAX_TOOL_CONFIG_BYTES)?;
        Ok(ToolSpec {
            name: self.name,
            description: self.description,
            tool_type: self.tool_type,
            config: self.config.0,
            is_active: self.is_active,
        })
    }
}

/// Writes to agents and tools; each needs the admin role.
#[derive(Default)]
pub(super) struct AgentMutation;

#[Object]
impl AgentMutation {
    async fn create_agent(&self, ctx: &Context<'_>, input: CreateAgentInput) -> Result<Agent> {
        ctx.admin()?;
        let new = input.validate()?;
        let row = db::agents::create_agent(&ctx.services()?.db, new).await?;
        Ok(row.into())
    }

    async fn update_agent(
        &self,
        ctx: &Context<'_>,
        name: String,
        input: UpdateAgentInput,
    ) -> Result<Agent> {
        ctx.admin()?;
        let patch = input.validate()?;
        let row = db::agents::update_agent(&ctx.services()?.db, &name, patch).await?;
        Ok(row.into())
    }

    /// Sets the agent's status to `ARCHIVED`; its data stays.
    async fn archive_agent(&self, ctx: &Context<'_>, name: String) -> Result<Agent> {
        ctx.admin()?;
        let patch = AgentPatch {
            status: Some(agents::AgentStatus::Archived),
            ..AgentPatch::default()
        };
        let row = db::agents::update_agent(&ctx.services()?.db, &name, patch).await?;
        Ok(row.into())
    }

    /// Creates the tool, or replaces the agent's tool of the same name.
    async fn set_agent_tool(
        &self,
        ctx: &Context<'_>,
        agent_name: String,
        input: AgentToolInput,
    ) -> Result<AgentTool> {
        ctx.admin()?;
        let spec = input.validate()?;
        let tool = db::agents::set_tool(&ctx.services()?.db, &agent_name, spec).await?;
        Ok(tool.into())
    }

    /// Deletes the tool and returns it as it was.
    async fn remove_agent_tool(
        &self,
        ctx: &Context<'_>,
        agent_name: String,
        tool_name: String,
    ) -> Result<AgentTool> {
        ctx.admin()?;
        let tool = db::agents::remove_tool(&ctx.services()?.db, &agent_name, &tool_name).await?;
        Ok(tool.into())
    }
}
