//! Circle member lists without per-field futures: the largest answer the
//! API gives (nested circles show 20 circles of 20 members) is made of
//! fields whose values are already in memory.
//!
//! async-graphql resolves every field of every object as a boxed future in
//! a `FuturesUnordered`; for a value already at hand that machinery costs
//! more than the value. When a member list's selection holds only such
//! fields (no fragments, directives, arguments, `__typename`, nor fields
//! that load: the agent's long texts and tools), [`MemberList`] writes the
//! answer directly. Any other selection takes the general path, which
//! gives the same answer.

use std::{borrow::Cow, sync::Arc};

use async_graphql::{
    indexmap::IndexMap,
    parser::types::{Field, Selection, SelectionSet},
    registry::Registry,
    ContextSelectionSet, InputType, Name, OutputType, Positioned, ServerResult, Value,
};

use super::{
    agents::AgentStatus,
    answer_size::{self, AnswerMeter},
    circles::CircleMember,
};
use crate::db::{
    agents::{AgentSummary, ModelRow},
    circles::MemberRow,
};

/// A circle's members, as `[CircleMember!]!`.
pub struct MemberList(pub Arc<[MemberRow]>);

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
        if let Some(plan) = member_plan(&ctx.item.node) {
            let written = Value::List(self.0.iter().map(|row| plan.write(row)).collect());
            answer_size::charge_written(ctx.data_opt::<Arc<AnswerMeter>>(), &written);
            return Ok(written);
        }
        let members: Vec<CircleMember> = self.0.iter().cloned().map(CircleMember::from).collect();
        members.resolve(ctx, field).await
    }
}

/// The fields of a selection, by response key, each with its plan.
struct Plan<F>(Vec<(Name, F)>);

enum MemberField {
    Id,
    CircleId,
    Role,
    IsActive,
    JoinedAt,
    Agent(Plan<AgentField>),
}

enum AgentField {
    Id,
    Name,
    Status,
    Temperature,
    MaxTokens,
    CreatedAt,
    UpdatedAt,
    Model(Plan<ModelField>),
}

enum ModelField {
    Id,
    ModelName,
    ModelAlias,
    Provider(Plan<ProviderField>),
}

enum ProviderField {
    Id,
    Name,
    ApiType,
}

/// The plain fields of `set`: `(response key, field name, sub-selection)`,
/// or `None` if anything in it is not a plain field selected once.
fn plain_fields(set: &SelectionSet) -> Option<Vec<(&Name, &str, &SelectionSet)>> {
    let mut fields = Vec::with_capacity(set.items.len());
    for item in &set.items {
        let Selection::Field(field) = &item.node else {
            return None;
        };
        let field = &field.node;
        if !field.arguments.is_empty() || !field.directives.is_empty() {
            return None;
        }
        let key = &field.response_key().node;
        if fields.iter().any(|(seen, _, _)| *seen == key) {
            return None;
        }
        fields.push((key, field.name.node.as_str(), &field.selection_set.node));
    }
    Some(fields)
}

/// A plan for every field of `set`, each read by `field_plan`; `None` if
/// any field has none.
fn plan<F>(
    set: &SelectionSet,
    field_plan: impl Fn(&str, &SelectionSet) -> Option<F>,
) -> Option<Plan<F>> {
    let fields = plain_fields(set)?;
    let planned = fields
        .into_iter()
        .map(|(key, name, sub)| Some((key.clone(), field_plan(name, sub)?)))
        .collect::<Option<Vec<_>>>()?;
    Some(Plan(planned))
}

fn member_plan(set: &SelectionSet) -> Option<Plan<MemberField>> {
    plan(set, |name, sub| {
        Some(match name {
            "id" => MemberField::Id,
            "circleId" => MemberField::CircleId,
            "role" => MemberField::Role,
            "isActive" => MemberField::IsActive,
            "joinedAt" => MemberField::JoinedAt,
            "agent" => MemberField::Agent(agent_plan(sub)?),
            _ => return None,
        })
    })
}

fn agent_plan(set: &SelectionSet) -> Option<Plan<AgentField>> {
    plan(set, |name, sub| {
        Some(match name {
            "id" => AgentField::Id,
            "name" => AgentField::Name,
            "status" => AgentField::Status,
            "temperature" => AgentField::Temperature,
            "maxTokens" => AgentField::MaxTokens,
            "createdAt" => AgentField::CreatedAt,
            "updatedAt" => AgentField::UpdatedAt,
            "model" => AgentField::Model(model_plan(sub)?),
            // The long texts and tools load: the general path.
            _ => return None,
        })
    })
}

fn model_plan(set: &SelectionSet) -> Option<Plan<ModelField>> {
    plan(set, |name, sub| {
        Some(match name {
            "id" => ModelField::Id,
            "modelName" => ModelField::ModelName,
            "modelAlias" => ModelField::ModelAlias,
            "provider" => ModelField::Provider(provider_plan(sub)?),
            _ => return None,
        })
    })
}

fn provider_plan(set: &SelectionSet) -> Option<Plan<ProviderField>> {
    plan(set, |name, _| {
        Some(match name {
            "id" => ProviderField::Id,
            "name" => ProviderField::Name,
            "apiType" => ProviderField::ApiType,
            _ => return None,
        })
    })
}

impl<F> Plan<F> {
    /// An object with each planned field's value, in selection order.
    fn object(&self, value_of: impl Fn(&F) -> Value) -> Value {
        let mut object = IndexMap::with_capacity(self.0.len());
        for (key, field) in &self.0 {
            object.insert(key.clone(), value_of(field));
        }
        Value::Object(object)
    }
}

impl Plan<MemberField> {
    fn write(&self, row: &MemberRow) -> Value {
        let member = &row.member;
        self.object(|field| match field {
            MemberField::Id => member.id.to_value(),
            MemberField::CircleId => member.circle_id.to_value(),
            MemberField::Role => Value::String(member.role.clone()),
            MemberField::IsActive => Value::Boolean(member.is_active),
            MemberField::JoinedAt => member.joined_at.to_value(),
            MemberField::Agent(plan) => plan.write(&row.agent),
        })
    }
}

impl Plan<AgentField> {
    fn write(&self, agent: &AgentSummary) -> Value {
        self.object(|field| match field {
            AgentField::Id => agent.id.to_value(),
            AgentField::Name => Value::String(agent.name.clone()),
            AgentField::Status => AgentStatus::from(agent.status).to_value(),
            AgentField::Temperature => agent.temperature.to_value(),
            AgentField::MaxTokens => agent.max_tokens.to_value(),
            AgentField::CreatedAt => agent.created_at.to_value(),
            AgentField::UpdatedAt => agent.updated_at.to_value(),
            AgentField::Model(plan) => match &agent.model {
                Some(model) => plan.write(model),
                None => Value::Null,
            },
        })
    }
}

impl Plan<ModelField> {
    fn write(&self, row: &ModelRow) -> Value {
        self.object(|field| match field {
            ModelField::Id => row.model.id.to_value(),
            ModelField::ModelName => Value::String(row.model.model_name.clone()),
            ModelField::ModelAlias => row.model.model_alias.to_value(),
            ModelField::Provider(plan) => plan.object(|field| match field {
                ProviderField::Id => row.provider.id.to_value(),
                ProviderField::Name => Value::String(row.provider.name.clone()),
                ProviderField::ApiType => Value::String(row.provider.api_type.clone()),
            }),
        })
    }
}
