//! Agents, models, providers and tools in the API.

use async_graphql::{
    connection::{Connection, OpaqueCursor},
    ComplexObject, Context, Enum, InputObject, Json, MaybeUndefined, Object, Result, SimpleObject,
};
use chrono::{DateTime, Utc};
use entity::{agent_tools, agents, models, providers};
use entity::{AgentId, ModelId, ProviderId, ToolId};

use super::{
    context::ContextExt,
    input::{self, MAX_DESCRIPTION_CHARS, MAX_PROMPT_CHARS, MAX_SKILLS},
    pagination,
};
use crate::{
    db::{
        self,
        agents::{AgentConfig, AgentPatch, AgentRow, ModelRow, NewAgent, ToolSpec},
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

/// An AI agent: its prompts, model and tools.
#[derive(Clone, Debug, SimpleObject)]
#[graphql(complex)]
pub struct Agent {
    pub id: AgentId,
    /// Unique, immutable key of the agent.
    pub name: String,
    pub description: String,
    pub system_prompt: String,
    pub base_prompt: String,
    pub skill_names: Vec<String>,
    pub status: AgentStatus,
    pub temperature: Option<f64>,
    pub max_tokens: Option<i32>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The model the agent runs on, with its provider.
    pub model: Option<Model>,
    /// Tools already at hand (from the agent config cache), so `tools`
    /// costs no statement; `None` means load them.
    #[graphql(skip)]
    pub known_tools: Option<Vec<agent_tools::Model>>,
}

impl From<AgentRow> for Agent {
    fn from(row: AgentRow) -> Self {
        let agent = row.agent;
        Self {
            id: agent.id,
            name: agent.name,
            description: agent.description,
            system_prompt: agent.system_prompt,
            base_prompt: agent.base_prompt,
            skill_names: agent.skill_names.0,
            status: agent.status.into(),
            temperature: agent.temperature,
            max_tokens: agent.max_tokens,
            created_at: agent.created_at,
            updated_at: agent.updated_at,
            model: row.model.map(Model::from),
            known_tools: None,
        }
    }
}

impl From<&AgentConfig> for Agent {
    fn from(config: &AgentConfig) -> Self {
        Self {
            known_tools: Some(config.tools.clone()),
            ..Agent::from(config.agent.clone())
        }
    }
}

#[ComplexObject]
impl Agent {
    /// The agent's tools by name; `activeOnly` leaves out inactive ones.
    async fn tools(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = false)] active_only: bool,
    ) -> Result<Vec<AgentTool>> {
        let tools = match &self.known_tools {
            Some(tools) => tools.clone(),
            None => ctx
                .loaders()?
                .tools_by_agent
                .load(self.id)
                .await?
                .unwrap_or_default(),
        };
        Ok(tools
            .into_iter()
            .filter(|tool| tool.is_active || !active_only)
            .map(AgentTool::from)
            .collect())
    }
}

/// A model served by a provider.
#[derive(Clone, Debug, SimpleObject)]
pub struct Model {
    pub id: ModelId,
    pub model_name: String,
    pub model_alias: Option<String>,
    pub provider: Provider,
}

impl From<ModelRow> for Model {
    fn from(row: ModelRow) -> Self {
        let models::Model {
            id,
            model_name,
            model_alias,
            ..
        } = row.model;
        Self {
            id,
            model_name,
            model_alias,
            provider: row.provider.into(),
        }
    }
}

/// An LLM vendor or endpoint.
#[derive(Clone, Debug, SimpleObject)]
pub struct Provider {
    pub id: ProviderId,
    pub name: String,
    pub api_type: String,
}

impl From<providers::Model> for Provider {
    fn from(provider: providers::Model) -> Self {
        Self {
            id: provider.id,
            name: provider.name,
            api_type: provider.api_type,
        }
    }
}

/// A tool an agent may call.
#[derive(Clone, Debug, SimpleObject)]
pub struct AgentTool {
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
pub struct AgentQuery;

#[Object]
impl AgentQuery {
    /// The agent with this name, or null.
    async fn agent(&self, ctx: &Context<'_>, name: String) -> Result<Option<Agent>> {
        ctx.viewer()?;
        let db = &ctx.services()?.db;
        let row = db::agents::find_agent_by_name(db.conn(), &name)
            .await
            .map_err(AppError::from)?;
        Ok(row.map(Agent::from))
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
        ctx.viewer()?;
        let size = pagination::page_size(first)?;
        let after = pagination::decode_after::<String>(after.as_deref())?;
        let db = &ctx.services()?.db;
        let rows = db::agents::list_agents(
            db.conn(),
            status.map(Into::into),
            after.as_deref(),
            size + 1,
        )
        .await
        .map_err(AppError::from)?;
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
pub struct CreateAgentInput {
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
pub struct UpdateAgentInput {
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
        input::max_chars("description", v, MAX_DESCRIPTION_CHARS)?;
    }
    if let Some(v) = system_prompt {
        input::max_chars("systemPrompt", v, MAX_PROMPT_CHARS)?;
    }
    if let Some(v) = base_prompt {
        input::max_chars("basePrompt", v, MAX_PROMPT_CHARS)?;
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
pub struct AgentToolInput {
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
        input::max_chars("description", &self.description, MAX_DESCRIPTION_CHARS)?;
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
pub struct AgentMutation;

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
