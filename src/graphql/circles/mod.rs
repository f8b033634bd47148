//! Circles of agents in the API, and their member lists (the largest
//! answer the API gives, written without per-field futures when it can be).

use async_graphql::{
    connection::{Connection, OpaqueCursor},
    parser::types::Field,
    registry::Registry,
    ComplexObject, Context, ContextSelectionSet, InputObject, Object, OutputType, Positioned,
    ServerResult, SimpleObject, Value,
};
use chrono::{DateTime, Utc};
use entity::circles;
use entity::{CircleId, CircleMemberId};
use std::{borrow::Cow, sync::Arc};

use super::{
    agents::Agent,
    context::ContextExt,
    input::{self, MAX_DESCRIPTION_BYTES},
    pagination,
    plain::{self, plain_leaves, plain_object},
    Result,
};
use crate::{
    cache::read_set::{self, ReadKey},
    db::{self, circles::MemberPatch, circles::MemberRow},
    error::AppError,
};

/// A named group of agents that work together.
#[derive(Clone, Debug, SimpleObject)]
#[graphql(complex)]
pub(super) struct Circle {
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

/// A circle's members, as `[CircleMember!]!`: written directly when the
/// selection is plain fields only (see `plain`), else member by member
/// through the general path.
pub(super) struct MemberList(pub Arc<[MemberRow]>);

impl OutputType for MemberList {
    fn type_name() -> Cow<'static, str> {
        <Vec<CircleMember> as OutputType>::type_name()
    }

    fn qualified_type_name() -> String {
        <Vec<CircleMember> as OutputType>::qualified_type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        <Vec<CircleMember> as OutputType>::create_type_info(registry)
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        if let Some(written) = plain::write_list::<CircleMember, _>(ctx, self.0.iter()) {
            return Ok(written);
        }
        let members: Vec<CircleMember> = self.0.iter().cloned().map(CircleMember::from).collect();
        members.resolve(ctx, field).await
    }
}

/// A membership as read with its agent's summary.
#[derive(Clone, Debug)]
pub(super) struct CircleMember(MemberRow);

impl From<MemberRow> for CircleMember {
    fn from(row: MemberRow) -> Self {
        Self(row)
    }
}

impl super::node::NodeId for CircleMember {
    fn node_uuid(&self) -> uuid::Uuid {
        self.0.member.id.into()
    }
}

plain_leaves!(CircleId, CircleMemberId);

plain_object! {
    /// An agent's membership in a circle.
    #[Object]
    impl CircleMember (view: &MemberRow = |member| &member.0) {
        plain id: CircleMemberId = |m| m.member.id;
        plain circle_id: CircleId = |m| m.member.circle_id;
        plain role: &str = |m| &m.member.role;
        plain is_active: bool = |m| m.member.is_active;
        plain joined_at: DateTime<Utc> = |m| m.member.joined_at;
        plain agent: Agent = |m| Agent::from(Arc::clone(&m.agent));

        /// The circle the membership is in (one batched read for a whole
        /// list, so this field takes the general path).
        async fn circle(&self, ctx: &Context<'_>) -> Result<Circle> {
            let circle_id = self.0.member.circle_id;
            let circle = ctx.loaders()?.circles_by_id.load(circle_id).await?;
            circle
                .map(Circle::from)
                .ok_or(AppError::NotFound("circle"))
        }
    }
}

#[derive(Default)]
pub(super) struct CircleQuery;

#[Object]
impl CircleQuery {
    /// The circle with this id, or null.
    async fn circle(&self, ctx: &Context<'_>, id: CircleId) -> Result<Option<Circle>> {
        ctx.signed_in()?;
        let db = &ctx.services()?.db;
        let find = db::circles::find_circle(db.conn(), id);
        let circle = read_set::keyed(&[ReadKey::Circles], find).await?;
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
        ctx.signed_in()?;
        let size = pagination::page_size(first)?;
        let after = pagination::decode_after::<String>(after.as_deref())?;
        let db = &ctx.services()?.db;
        // Every change to the set of circles names `Circles`: the page is
        // kept with the answer.
        let page = db::circles::list_circles(db.conn(), after.as_deref(), size + 1);
        let rows = read_set::keyed(&[ReadKey::Circles], page).await?;
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
pub(super) struct CreateCircleInput {
    name: String,
    #[graphql(default)]
    description: String,
}

/// Changes to a membership: omitted fields stay as they are.
#[derive(InputObject)]
pub(super) struct UpdateCircleMemberInput {
    role: Option<String>,
    is_active: Option<bool>,
}

/// Writes to circles; each needs the admin role.
#[derive(Default)]
pub(super) struct CircleMutation;

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

#[cfg(test)]
mod tests;
