//! `agentRuntime`: everything needed to start an agent for the viewer,
//! served from the runtime cache.

use std::sync::Arc;

use async_graphql::{Context, Object};

use super::{
    agents::{Agent, AgentTool, Model, Provider},
    context::ContextExt,
    pagination, Result,
};
use crate::runtime;

/// An agent ready to start for the viewer.
pub(super) struct AgentRuntime(Arc<runtime::AgentRuntime>);

#[Object]
impl AgentRuntime {
    async fn agent(&self) -> Agent {
        Agent::from(Arc::clone(&self.0.config))
    }

    async fn model(&self) -> Option<Model> {
        self.0.config.agent.model.clone().map(Model)
    }

    async fn provider(&self) -> Option<Provider> {
        self.0.config.agent.model.clone().map(Provider)
    }

    /// The agent's active tools, by name.
    #[graphql(complexity = "pagination::unpaged_complexity(child_complexity)")]
    async fn tools(&self) -> Vec<AgentTool> {
        self.0
            .config
            .tools
            .iter()
            .filter(|tool| tool.is_active)
            .cloned()
            .map(AgentTool::from)
            .collect()
    }

    /// The viewer's own instructions for this agent, if any.
    async fn instructions(&self) -> Option<&str> {
        self.0.instructions.instructions.as_deref()
    }

    /// Base prompt, system prompt and the viewer's instructions, in that
    /// order, separated by a blank line; blank parts are left out.
    async fn effective_system_prompt(&self) -> &str {
        &self.0.effective_system_prompt
    }
}

#[derive(Default)]
pub(super) struct RuntimeQuery;

#[Object]
impl RuntimeQuery {
    /// The agent named `agentName`, assembled for the viewer; null for an
    /// unknown agent. Answered from memory when warm.
    async fn agent_runtime(
        &self,
        ctx: &Context<'_>,
        agent_name: String,
    ) -> Result<Option<AgentRuntime>> {
        let viewer = ctx.viewer()?;
        let runtime = ctx
            .services()?
            .caches
            .runtimes
            .get(viewer.id, &agent_name)
            .await?;
        Ok(runtime.map(AgentRuntime))
    }
}
