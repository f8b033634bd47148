//! Agents, their models, providers and tools: every statement that reads or
//! writes them.
//!
//! An agent is always read together with its model and the model's provider
//! in one LEFT JOIN ([`AgentRow`]), so showing `agent { model { provider } }`
//! never costs more statements than showing the agent. Lists that show many
//! agents (circle members) read an [`AgentSummary`] instead: the same JOIN
//! without the long texts, decoded by position.

use entity::{AgentId, ModelId, ProviderId, ToolId};
use futures::FutureExt;
use std::{collections::HashMap, sync::Arc};

use chrono::Utc;
use entity::{
    agent_tools, agents,
    agents::{AgentStatus, SkillNames},
    models, providers,
};
use sea_orm::{
    sea_query::OnConflict, ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait,
    FromQueryResult, JoinType, QueryFilter, QueryOrder, QueryResult, QuerySelect, RelationTrait,
    Select, Set,
};

use super::{joined_row_present, select_prefixed, Db, WriteTxn};
use super::{DataError, Entity, Taken};
use crate::changes::Change;

/// An agent with its model and that model's provider, as one JOIN returns them.
#[derive(Clone, Debug, PartialEq)]
pub struct AgentRow {
    pub agent: agents::Model,
    pub model: Option<Arc<ModelRow>>,
}

/// A model with the provider that serves it.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelRow {
    pub model: models::Model,
    pub provider: providers::Model,
}

const AGENT: &str = "a_";
const MODEL: &str = "m_";
const PROVIDER: &str = "p_";

impl FromQueryResult for AgentRow {
    fn from_query_result(row: &QueryResult, _prefix: &str) -> Result<Self, DbErr> {
        let agent = agents::Model::from_query_result(row, AGENT)?;
        let model = if joined_row_present(row, MODEL)? {
            Some(Arc::new(ModelRow {
                model: models::Model::from_query_result(row, MODEL)?,
                provider: providers::Model::from_query_result(row, PROVIDER)?,
            }))
        } else {
            None
        };
        Ok(Self { agent, model })
    }
}

/// `agents LEFT JOIN models LEFT JOIN providers`, every column prefixed;
/// the agent config JOIN extends it with the tools.
fn agent_row_select<S: QuerySelect>(select: S) -> S {
    let select = select
        .join(JoinType::LeftJoin, agents::Relation::Models.def())
        .join(JoinType::LeftJoin, models::Relation::Providers.def());
    let select = select_prefixed::<agents::Entity, _>(select, AGENT);
    let select = select_prefixed::<models::Entity, _>(select, MODEL);
    select_prefixed::<providers::Entity, _>(select, PROVIDER)
}

/// An agent without its long texts (description, prompts, skills) and
/// tools, with its model and provider: what a list of many agents shows,
/// and what the API reads an agent's in-memory fields from whatever it
/// was read as. A column added here is added to both readers below (the
/// compiler asks for them) and to [`agent_summary_select`].
#[derive(Clone, Debug, PartialEq)]
pub struct AgentSummary {
    pub id: AgentId,
    pub name: String,
    pub status: AgentStatus,
    pub temperature: Option<f64>,
    pub max_tokens: Option<i32>,
    pub created_at: chrono::DateTime<Utc>,
    pub updated_at: chrono::DateTime<Utc>,
    pub model: Option<Arc<ModelRow>>,
}

/// LEFT JOINs the model and provider onto `select` (which must have
/// joined `agents`) and appends the [`AgentSummary`] columns to what it
/// selects; [`AgentSummary::read`] reads them back from where they start.
pub(crate) fn agent_summary_select<S: QuerySelect>(select: S) -> S {
    select
        .join(JoinType::LeftJoin, agents::Relation::Models.def())
        .join(JoinType::LeftJoin, models::Relation::Providers.def())
        .column(agents::Column::Id)
        .column(agents::Column::Name)
        .column(agents::Column::Status)
        .column(agents::Column::Temperature)
        .column(agents::Column::MaxTokens)
        .column(agents::Column::CreatedAt)
        .column(agents::Column::UpdatedAt)
        .column(models::Column::Id)
        .column(models::Column::ModelName)
        .column(models::Column::ModelAlias)
        .column(providers::Column::Id)
        .column(providers::Column::Name)
        .column(providers::Column::ApiType)
}

impl AgentSummary {
    /// The summary in `row`'s columns from `at` on, in
    /// [`agent_summary_select`]'s order. By position: no column names are
    /// built or looked up per row.
    pub(crate) fn read(row: &QueryResult, at: usize) -> Result<Self, DbErr> {
        let model_id: Option<ModelId> = row.try_get_by_index(at + 7)?;
        let model = match model_id {
            Some(id) => {
                let provider_id: ProviderId = row.try_get_by_index(at + 10)?;
                Some(Arc::new(ModelRow {
                    model: models::Model {
                        id,
                        provider_id,
                        model_name: row.try_get_by_index(at + 8)?,
                        model_alias: row.try_get_by_index(at + 9)?,
                    },
                    provider: providers::Model {
                        id: provider_id,
                        name: row.try_get_by_index(at + 11)?,
                        api_type: row.try_get_by_index(at + 12)?,
                    },
                }))
            }
            None => None,
        };
        Ok(Self {
            id: row.try_get_by_index(at)?,
            name: row.try_get_by_index(at + 1)?,
            status: row.try_get_by_index(at + 2)?,
            temperature: row.try_get_by_index(at + 3)?,
            max_tokens: row.try_get_by_index(at + 4)?,
            created_at: row.try_get_by_index(at + 5)?,
            updated_at: row.try_get_by_index(at + 6)?,
            model,
        })
    }
}

impl From<&AgentRow> for AgentSummary {
    fn from(row: &AgentRow) -> Self {
        let agent = &row.agent;
        Self {
            id: agent.id,
            name: agent.name.clone(),
            status: agent.status,
            temperature: agent.temperature,
            max_tokens: agent.max_tokens,
            created_at: agent.created_at,
            updated_at: agent.updated_at,
            model: row.model.clone(),
        }
    }
}

fn agent_rows() -> Select<agents::Entity> {
    agent_row_select(agents::Entity::find().select_only())
}

#[tracing::instrument(skip(conn))]
pub async fn find_agent_by_name(
    conn: &impl ConnectionTrait,
    name: &str,
) -> Result<Option<AgentRow>, DbErr> {
    agent_rows()
        .filter(agents::Column::Name.eq(name))
        .into_model::<AgentRow>()
        .one(conn)
        .await
}

/// One page of agents ordered by name (keyset: names after `after`).
#[tracing::instrument(skip(conn))]
pub async fn list_agents(
    conn: &impl ConnectionTrait,
    status: Option<AgentStatus>,
    after: Option<&str>,
    limit: u64,
) -> Result<Vec<AgentRow>, DbErr> {
    let mut query = agent_rows();
    if let Some(status) = status {
        query = query.filter(agents::Column::Status.eq(status));
    }
    if let Some(after) = after {
        query = query.filter(agents::Column::Name.gt(after));
    }
    query
        .order_by_asc(agents::Column::Name)
        .limit(limit)
        .into_model::<AgentRow>()
        .all(conn)
        .await
}

/// Every tool of every agent in `agent_ids`, in one statement, grouped by agent.
#[tracing::instrument(skip_all, fields(agents = agent_ids.len()))]
pub async fn tools_by_agent(
    conn: &impl ConnectionTrait,
    agent_ids: &[AgentId],
) -> Result<HashMap<AgentId, Vec<agent_tools::Model>>, DbErr> {
    let tools = agent_tools::Entity::find()
        .filter(agent_tools::Column::AgentId.is_in(agent_ids.iter().copied()))
        .order_by_asc(agent_tools::Column::AgentId)
        .order_by_asc(agent_tools::Column::Name)
        .all(conn)
        .await?;
    Ok(super::group_by_parent(tools, |tool| tool.agent_id))
}

/// Everything the runtime needs of an agent: the agent with its model and
/// provider, and all its tools (active or not) by name.
#[derive(Clone, Debug, PartialEq)]
pub struct AgentConfig {
    pub agent: AgentRow,
    pub tools: Vec<agent_tools::Model>,
}

const TOOL: &str = "t_";

/// One row of the config JOIN: an agent and one of its tools (if any).
struct ConfigRow {
    agent: AgentRow,
    tool: Option<agent_tools::Model>,
}

impl FromQueryResult for ConfigRow {
    fn from_query_result(row: &QueryResult, prefix: &str) -> Result<Self, DbErr> {
        let tool = if joined_row_present(row, TOOL)? {
            Some(agent_tools::Model::from_query_result(row, TOOL)?)
        } else {
            None
        };
        Ok(Self {
            agent: AgentRow::from_query_result(row, prefix)?,
            tool,
        })
    }
}

/// The configuration of the agents named in `names`, or of every agent
/// when `names` is `None`: one statement either way (agents, models,
/// providers and tools joined), ordered by agent name.
#[tracing::instrument(skip_all, fields(agents = names.map(<[String]>::len)))]
pub async fn load_configs(
    conn: &impl ConnectionTrait,
    names: Option<&[String]>,
) -> Result<Vec<AgentConfig>, DbErr> {
    let select = agent_rows().join(JoinType::LeftJoin, agents::Relation::AgentTools.def());
    let mut select = select_prefixed::<agent_tools::Entity, _>(select, TOOL);
    if let Some(names) = names {
        select = select.filter(agents::Column::Name.is_in(names.iter().map(String::as_str)));
    }
    let rows = select
        .order_by_asc(agents::Column::Name)
        .order_by_asc(agent_tools::Column::Name)
        .into_model::<ConfigRow>()
        .all(conn)
        .await?;
    let mut configs: Vec<AgentConfig> = Vec::new();
    for row in rows {
        match configs.last_mut() {
            Some(config) if config.agent.agent.id == row.agent.agent.id => {
                config.tools.extend(row.tool);
            }
            _ => configs.push(AgentConfig {
                agent: row.agent,
                tools: row.tool.into_iter().collect(),
            }),
        }
    }
    Ok(configs)
}

/// A new agent, validated by the caller.
#[derive(Clone, Debug, Default)]
pub struct NewAgent {
    pub name: String,
    pub description: String,
    pub system_prompt: String,
    pub base_prompt: String,
    pub skill_names: Vec<String>,
    pub status: Option<AgentStatus>,
    pub model_id: Option<ModelId>,
    pub temperature: Option<f64>,
    pub max_tokens: Option<i32>,
}

/// Changes to an agent; `None` leaves a field as it is, `Some(None)` clears
/// a nullable one.
#[derive(Clone, Debug, Default)]
pub struct AgentPatch {
    pub description: Option<String>,
    pub system_prompt: Option<String>,
    pub base_prompt: Option<String>,
    pub skill_names: Option<Vec<String>>,
    pub status: Option<AgentStatus>,
    pub model_id: Option<Option<ModelId>>,
    pub temperature: Option<Option<f64>>,
    pub max_tokens: Option<Option<i32>>,
}

#[tracing::instrument(skip_all, fields(name = %new.name))]
pub async fn create_agent(db: &Db, new: NewAgent) -> Result<AgentRow, DataError> {
    db.write(|txn| {
        async move {
            if let Some(model_id) = new.model_id {
                ensure_model_exists(txn, model_id).await?;
            }
            let now = Utc::now();
            let name = new.name.clone();
            agents::ActiveModel {
                id: Set(AgentId::new()),
                name: Set(new.name),
                description: Set(new.description),
                system_prompt: Set(new.system_prompt),
                base_prompt: Set(new.base_prompt),
                skill_names: Set(SkillNames(new.skill_names)),
                status: Set(new.status.unwrap_or(AgentStatus::Active)),
                model_id: Set(new.model_id),
                temperature: Set(new.temperature),
                max_tokens: Set(new.max_tokens),
                created_at: Set(now),
                updated_at: Set(now),
            }
            .insert(txn)
            .await
            .map_err(|e| DataError::on_unique_violation(e, Taken::AgentName(name.clone())))?;
            txn.record(Change::Agent { name: name.clone() });
            let row = reread_agent(txn, &name).await?;
            Ok(row)
        }
        .boxed()
    })
    .await
}

#[tracing::instrument(skip(db, patch))]
pub async fn update_agent(db: &Db, name: &str, patch: AgentPatch) -> Result<AgentRow, DataError> {
    let name = name.to_owned();
    db.write(|txn| {
        async move {
            let name = name.as_str();
            let existing = agent_by_name(txn, name).await?;
            if let Some(Some(model_id)) = patch.model_id {
                ensure_model_exists(txn, model_id).await?;
            }
            let mut agent: agents::ActiveModel = existing.into();
            if let Some(v) = patch.description {
                agent.description = Set(v);
            }
            if let Some(v) = patch.system_prompt {
                agent.system_prompt = Set(v);
            }
            if let Some(v) = patch.base_prompt {
                agent.base_prompt = Set(v);
            }
            if let Some(v) = patch.skill_names {
                agent.skill_names = Set(SkillNames(v));
            }
            if let Some(v) = patch.status {
                agent.status = Set(v);
            }
            if let Some(v) = patch.model_id {
                agent.model_id = Set(v);
            }
            if let Some(v) = patch.temperature {
                agent.temperature = Set(v);
            }
            if let Some(v) = patch.max_tokens {
                agent.max_tokens = Set(v);
            }
            agent.updated_at = Set(Utc::now());
            agent.update(txn).await?;
            txn.record(Change::Agent {
                name: name.to_owned(),
            });
            let row = reread_agent(txn, name).await?;
            Ok(row)
        }
        .boxed()
    })
    .await
}

/// Inserts the tool, or replaces the agent's tool of the same name.
#[derive(Clone, Debug)]
pub struct ToolSpec {
    pub name: String,
    pub description: String,
    pub tool_type: String,
    pub config: serde_json::Value,
    pub is_active: bool,
}

#[tracing::instrument(skip(db, spec), fields(tool = %spec.name))]
pub async fn set_tool(
    db: &Db,
    agent_name: &str,
    spec: ToolSpec,
) -> Result<agent_tools::Model, DataError> {
    let agent_name = agent_name.to_owned();
    db.write(|txn| {
        async move {
            let agent_name = agent_name.as_str();
            let agent = agent_by_name(txn, agent_name).await?;
            let tool_name = spec.name.clone();
            agent_tools::Entity::insert(agent_tools::ActiveModel {
                id: Set(ToolId::new()),
                agent_id: Set(agent.id),
                name: Set(spec.name),
                description: Set(spec.description),
                tool_type: Set(spec.tool_type),
                config: Set(spec.config),
                is_active: Set(spec.is_active),
            })
            .on_conflict(
                OnConflict::columns([agent_tools::Column::AgentId, agent_tools::Column::Name])
                    .update_columns([
                        agent_tools::Column::Description,
                        agent_tools::Column::ToolType,
                        agent_tools::Column::Config,
                        agent_tools::Column::IsActive,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(txn)
            .await?;
            let agent_id = agent.id;
            touch_agent(txn, agent).await?;
            let tool = find_tool(txn, agent_id, &tool_name)
                .await?
                .ok_or_else(|| DataError::Invariant("a tool vanished in its own transaction"))?;
            Ok(tool)
        }
        .boxed()
    })
    .await
}

/// Deletes the tool and returns it as it was.
#[tracing::instrument(skip(db))]
pub async fn remove_tool(
    db: &Db,
    agent_name: &str,
    tool_name: &str,
) -> Result<agent_tools::Model, DataError> {
    let agent_name = agent_name.to_owned();
    let tool_name = tool_name.to_owned();
    db.write(|txn| {
        async move {
            let agent_name = agent_name.as_str();
            let tool_name = tool_name.as_str();
            let agent = agent_by_name(txn, agent_name).await?;
            let tool = find_tool(txn, agent.id, tool_name)
                .await?
                .ok_or(DataError::NotFound(Entity::Tool))?;
            agent_tools::Entity::delete_by_id(tool.id).exec(txn).await?;
            touch_agent(txn, agent).await?;
            Ok(tool)
        }
        .boxed()
    })
    .await
}

/// The agent named `name`, or `NOT_FOUND`.
pub(crate) async fn agent_by_name(
    conn: &impl ConnectionTrait,
    name: &str,
) -> Result<agents::Model, DataError> {
    agents::Entity::find()
        .filter(agents::Column::Name.eq(name))
        .one(conn)
        .await?
        .ok_or(DataError::NotFound(Entity::Agent))
}

async fn reread_agent(conn: &impl ConnectionTrait, name: &str) -> Result<AgentRow, DataError> {
    find_agent_by_name(conn, name)
        .await?
        .ok_or_else(|| DataError::Invariant("an agent vanished in its own transaction"))
}

async fn find_tool(
    conn: &impl ConnectionTrait,
    agent_id: AgentId,
    tool_name: &str,
) -> Result<Option<agent_tools::Model>, DbErr> {
    agent_tools::Entity::find()
        .filter(agent_tools::Column::AgentId.eq(agent_id))
        .filter(agent_tools::Column::Name.eq(tool_name))
        .one(conn)
        .await
}

/// A tool change is a change of the agent's configuration: bump
/// `updated_at` and record the agent as changed.
async fn touch_agent(txn: &WriteTxn, agent: agents::Model) -> Result<(), DbErr> {
    txn.record(Change::Agent {
        name: agent.name.clone(),
    });
    let mut agent: agents::ActiveModel = agent.into();
    agent.updated_at = Set(Utc::now());
    agent.update(txn).await.map(drop)
}

async fn ensure_model_exists(
    conn: &impl ConnectionTrait,
    model_id: ModelId,
) -> Result<(), DataError> {
    match models::Entity::find_by_id(model_id).one(conn).await? {
        Some(_) => Ok(()),
        None => Err(DataError::UnknownModel(model_id)),
    }
}
