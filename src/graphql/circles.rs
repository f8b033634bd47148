//! Circles of agents in the API.

use async_graphql::{
    connection::{Connection, OpaqueCursor},
    ComplexObject, Context, InputObject, Object, SimpleObject,
};
use chrono::{DateTime, Utc};
use entity::circles;
use entity::{CircleId, CircleMemberId};
use std::sync::Arc;

use super::{
    agents::Agent,
    context::ContextExt,
    input::{self, MAX_DESCRIPTION_BYTES},
    pagination,
    plain::MemberList,
    Result,
};
use crate::{
    db::{self, circles::MemberPatch, circles::MemberRow},
    error::AppError,
};

/// A named group of agents that work together.
#[derive(Clone, Debug, SimpleObject)]
#[graphql(complex)]
pub struct Circle {
    pub id: CircleId,
    pub name: String,
    pub description: String,
    pub created_at: DateTime<Utc>,
}

impl From<circles::Model> for Circle {
    fn from(circle: circles::Model) -> Self {
        Self {
            id: circle.id,
            name: circle.name,
            description: circle.description,
            created_at: circle.created_at,
        }
    }
}

#[ComplexObject]
impl Circle {
    /// Members in the order they joined, with their agents.
    #[graphql(complexity = "pagination::unpaged_complexity(child_complexity)")]
    async fn members(&self, ctx: &Context<'_>) -> Result<MemberList> {
        let members = ctx.loaders()?.members_by_circle.load(self.id).await?;
        Ok(MemberList(members.unwrap_or_else(|| Arc::from([]))))
    }
}

/// An agent's membership in a circle.
#[derive(Clone, Debug, SimpleObject)]
pub struct CircleMember {
    pub id: CircleMemberId,
    pub circle_id: CircleId,
    pub role: String,
    pub is_active: bool,
    pub joined_at: DateTime<Utc>,
    pub agent: Agent,
}

impl From<MemberRow> for CircleMember {
    fn from(row: MemberRow) -> Self {
        Self {
            id: row.member.id,
            circle_id: row.member.circle_id,
            role: row.member.role,
            is_active: row.member.is_active,
            joined_at: row.member.joined_at,
            agent: row.agent.into(),
        }
    }
}

#[derive(Default)]
pub struct CircleQuery;

#[Object]
impl CircleQuery {
    /// The circle with this id, or null.
    async fn circle(&self, ctx: &Context<'_>, id: CircleId) -> Result<Option<Circle>> {
        ctx.viewer()?;
        let db = &ctx.services()?.db;
        let circle = db::circles::find_circle(db.conn(), id)
            .await
            .map_err(AppError::from)?;
        Ok(circle.map(Circle::from))
    }

    /// Circles ordered by name.
    #[graphql(complexity = "pagination::connection_complexity(first, child_complexity)")]
    async fn circles(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<OpaqueCursor<String>, Circle>> {
        ctx.viewer()?;
        let size = pagination::page_size(first)?;
        let after = pagination::decode_after::<String>(after.as_deref())?;
        let db = &ctx.services()?.db;
        let rows = db::circles::list_circles(db.conn(), after.as_deref(), size + 1)
            .await
            .map_err(AppError::from)?;
        Ok(pagination::connection(
            rows,
            size,
            after.is_some(),
            |c| c.name.clone(),
            Circle::from,
        ))
    }
}

/// The role of a member added without one.
const DEFAULT_ROLE: &str = "member";

#[derive(InputObject)]
pub struct CreateCircleInput {
    name: String,
    #[graphql(default)]
    description: String,
}

/// Changes to a membership: omitted fields stay as they are.
#[derive(InputObject)]
pub struct UpdateCircleMemberInput {
    role: Option<String>,
    is_active: Option<bool>,
}

/// Writes to circles; each needs the admin role.
#[derive(Default)]
pub struct CircleMutation;

#[Object]
impl CircleMutation {
    async fn create_circle(&self, ctx: &Context<'_>, input: CreateCircleInput) -> Result<Circle> {
        ctx.admin()?;
        input::display_name("name", &input.name)?;
        input::max_bytes("description", &input.description, MAX_DESCRIPTION_BYTES)?;
        let circle =
            db::circles::create_circle(&ctx.services()?.db, input.name, input.description).await?;
        Ok(circle.into())
    }

    /// Adds the agent to the circle with a role.
    async fn add_circle_member(
        &self,
        ctx: &Context<'_>,
        circle_id: CircleId,
        agent_name: String,
        #[graphql(desc = "`member` when omitted or null")] role: Option<String>,
    ) -> Result<CircleMember> {
        ctx.admin()?;
        let role = role.unwrap_or_else(|| DEFAULT_ROLE.to_owned());
        input::display_name("role", &role)?;
        let row =
            db::circles::add_member(&ctx.services()?.db, circle_id, &agent_name, role).await?;
        Ok(row.into())
    }

    async fn update_circle_member(
        &self,
        ctx: &Context<'_>,
        circle_id: CircleId,
        agent_name: String,
        input: UpdateCircleMemberInput,
    ) -> Result<CircleMember> {
        ctx.admin()?;
        if let Some(role) = &input.role {
            input::display_name("role", role)?;
        }
        let patch = MemberPatch {
            role: input.role,
            is_active: input.is_active,
        };
        let row =
            db::circles::update_member(&ctx.services()?.db, circle_id, &agent_name, patch).await?;
        Ok(row.into())
    }

    /// Removes the agent from the circle and returns the membership as it was.
    async fn remove_circle_member(
        &self,
        ctx: &Context<'_>,
        circle_id: CircleId,
        agent_name: String,
    ) -> Result<CircleMember> {
        ctx.admin()?;
        let row = db::circles::remove_member(&ctx.services()?.db, circle_id, &agent_name).await?;
        Ok(row.into())
    }
}
