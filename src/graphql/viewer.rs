//! `viewer`: who the token says is asking, and their own instructions.

use async_graphql::{ComplexObject, Context, Object, SimpleObject};
use chrono::{DateTime, Utc};
use entity::UserId;

use super::{
    context::ContextExt,
    input::{self, MAX_PROMPT_BYTES},
    pagination,
    projects::{self, ProjectConnection},
    Result,
};
use crate::{db, db::instructions::NamedInstructions};

/// The authenticated user.
#[derive(Clone, Debug, SimpleObject)]
#[graphql(complex)]
pub(super) struct Viewer {
    /// The token's subject.
    pub id: UserId,
    /// Whether the token carries the `admin` role (may write agents, tools
    /// and circles).
    pub is_admin: bool,
}

#[ComplexObject]
impl Viewer {
    /// The viewer's own additions to agents' prompts, by agent name.
    #[graphql(complexity = "pagination::unpaged_complexity(child_complexity)")]
    async fn instructions(&self, ctx: &Context<'_>) -> Result<Vec<MyAgentInstructions>> {
        let loaders = ctx.loaders()?;
        let list = loaders.instructions_by_user.load(self.id).await?;
        Ok(list
            .unwrap_or_default()
            .into_iter()
            .map(MyAgentInstructions::from)
            .collect())
    }

    /// The viewer's projects, oldest first (as `Query.projects`).
    #[graphql(complexity = "pagination::connection_complexity(first, child_complexity)")]
    async fn projects(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<ProjectConnection> {
        projects::projects_page(ctx, self.id, first, after).await
    }
}

/// The viewer's instructions for one agent; `instructions` is null when
/// there are none.
#[derive(Clone, Debug, SimpleObject)]
pub(super) struct MyAgentInstructions {
    pub agent_name: String,
    pub instructions: Option<String>,
    pub updated_at: Option<DateTime<Utc>>,
}

impl From<NamedInstructions> for MyAgentInstructions {
    fn from(found: NamedInstructions) -> Self {
        Self {
            agent_name: found.agent_name,
            instructions: Some(found.instructions),
            updated_at: Some(found.updated_at),
        }
    }
}

#[derive(Default)]
pub(super) struct ViewerQuery;

#[Object]
impl ViewerQuery {
    async fn viewer(&self, ctx: &Context<'_>) -> Result<Viewer> {
        let viewer = ctx.viewer()?;
        Ok(Viewer {
            id: viewer.id,
            is_admin: viewer.is_admin,
        })
    }
}

/// The viewer's own instructions; any authenticated user, for themselves only.
#[derive(Default)]
pub(super) struct InstructionsMutation;

#[Object]
impl InstructionsMutation {
    /// Sets (creates or replaces) the viewer's instructions for the agent.
    async fn set_my_agent_instructions(
        &self,
        ctx: &Context<'_>,
        agent_name: String,
        instructions: String,
    ) -> Result<MyAgentInstructions> {
        let viewer = ctx.viewer()?;
        input::max_bytes("instructions", &instructions, MAX_PROMPT_BYTES)?;
        let saved =
            db::instructions::set(&ctx.services()?.db, viewer.id, &agent_name, instructions)
                .await?;
        Ok(saved.into())
    }

    /// Removes the viewer's instructions for the agent (fine if there were
    /// none).
    async fn clear_my_agent_instructions(
        &self,
        ctx: &Context<'_>,
        agent_name: String,
    ) -> Result<MyAgentInstructions> {
        let viewer = ctx.viewer()?;
        db::instructions::clear(&ctx.services()?.db, viewer.id, &agent_name).await?;
        Ok(MyAgentInstructions {
            agent_name,
            instructions: None,
            updated_at: None,
        })
    }
}
