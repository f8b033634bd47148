//! Writes to a project's features, personas and value path. Owner only:
//! another user's project (or a child of one) is `NOT_FOUND` and nothing is
//! written. Each is one transaction that also invalidates the project's
//! readiness.

use async_graphql::{Context, InputObject, Object};
use entity::{FeatureId, PersonaId, ProjectId, StepId};

use super::state::{Feature, Persona, ValuePathStep};
use crate::{
    db::projects::{
        features::{self, FeaturePatch, NewFeature},
        personas::{self, NewPersona, PersonaPatch},
        value_path::{self, NewStep},
    },
    error::AppError,
    graphql::{
        context::ContextExt,
        input::{self, MAX_DESCRIPTION_BYTES, MAX_LIST_ITEMS},
        pagination, Result,
    },
};

#[derive(InputObject)]
pub(super) struct CreateFeatureInput {
    name: String,
    #[graphql(default)]
    description: String,
}

/// Changes to a feature: omitted fields stay as they are.
#[derive(InputObject)]
pub(super) struct UpdateFeatureInput {
    name: Option<String>,
    description: Option<String>,
}

#[derive(InputObject)]
pub(super) struct CreatePersonaInput {
    name: String,
    #[graphql(default)]
    description: String,
}

/// Changes to a persona: omitted fields stay as they are.
#[derive(InputObject)]
pub(super) struct UpdatePersonaInput {
    name: Option<String>,
    description: Option<String>,
}

#[derive(InputObject)]
pub(super) struct AddValuePathStepInput {
    label: String,
    #[graphql(default)]
    description: String,
    /// Where to insert the step (>= 0; the steps from there on move down
    /// one). Omitted, or past the end: appended.
    position: Option<i32>,
}

/// A name and a description, as features and personas have.
fn check_named(name: Option<&str>, description: Option<&str>) -> Result<(), AppError> {
    if let Some(name) = name {
        input::display_name("name", name)?;
    }
    if let Some(description) = description {
        input::max_bytes("description", description, MAX_DESCRIPTION_BYTES)?;
    }
    Ok(())
}

#[derive(Default)]
pub(crate) struct StructureMutation;

#[Object]
impl StructureMutation {
    async fn create_feature(
        &self,
        ctx: &Context<'_>,
        project_id: ProjectId,
        input: CreateFeatureInput,
    ) -> Result<Feature> {
        let viewer = ctx.viewer()?;
        check_named(Some(&input.name), Some(&input.description))?;
        let new = NewFeature {
            name: input.name,
            description: input.description,
        };
        let db = &ctx.services()?.db;
        Ok(features::create_feature(db, viewer.id, project_id, new)
            .await?
            .into())
    }

    async fn update_feature(
        &self,
        ctx: &Context<'_>,
        id: FeatureId,
        input: UpdateFeatureInput,
    ) -> Result<Feature> {
        let viewer = ctx.viewer()?;
        check_named(input.name.as_deref(), input.description.as_deref())?;
        let patch = FeaturePatch {
            name: input.name,
            description: input.description,
            confirmed: None,
        };
        let db = &ctx.services()?.db;
        Ok(features::update_feature(db, viewer.id, id, patch)
            .await?
            .into())
    }

    /// Marks the feature confirmed by the client (or, with `false`, not;
    /// null: confirmed).
    async fn confirm_feature(
        &self,
        ctx: &Context<'_>,
        id: FeatureId,
        #[graphql(default_with = "Some(true)")] confirmed: Option<bool>,
    ) -> Result<Feature> {
        let viewer = ctx.viewer()?;
        let patch = FeaturePatch {
            confirmed: Some(confirmed.unwrap_or(true)),
            ..FeaturePatch::default()
        };
        let db = &ctx.services()?.db;
        Ok(features::update_feature(db, viewer.id, id, patch)
            .await?
            .into())
    }

    /// Deletes the feature and returns it as it was.
    async fn delete_feature(&self, ctx: &Context<'_>, id: FeatureId) -> Result<Feature> {
        let viewer = ctx.viewer()?;
        let db = &ctx.services()?.db;
        Ok(features::delete_feature(db, viewer.id, id).await?.into())
    }

    async fn create_persona(
        &self,
        ctx: &Context<'_>,
        project_id: ProjectId,
        input: CreatePersonaInput,
    ) -> Result<Persona> {
        let viewer = ctx.viewer()?;
        check_named(Some(&input.name), Some(&input.description))?;
        let new = NewPersona {
            name: input.name,
            description: input.description,
        };
        let db = &ctx.services()?.db;
        Ok(personas::create_persona(db, viewer.id, project_id, new)
            .await?
            .into())
    }

    async fn update_persona(
        &self,
        ctx: &Context<'_>,
        id: PersonaId,
        input: UpdatePersonaInput,
    ) -> Result<Persona> {
        let viewer = ctx.viewer()?;
        check_named(input.name.as_deref(), input.description.as_deref())?;
        let patch = PersonaPatch {
            name: input.name,
            description: input.description,
        };
        let db = &ctx.services()?.db;
        Ok(personas::update_persona(db, viewer.id, id, patch)
            .await?
            .into())
    }

    /// Deletes the persona and returns it as it was.
    async fn delete_persona(&self, ctx: &Context<'_>, id: PersonaId) -> Result<Persona> {
        let viewer = ctx.viewer()?;
        let db = &ctx.services()?.db;
        Ok(personas::delete_persona(db, viewer.id, id).await?.into())
    }

    async fn add_value_path_step(
        &self,
        ctx: &Context<'_>,
        project_id: ProjectId,
        input: AddValuePathStepInput,
    ) -> Result<ValuePathStep> {
        let viewer = ctx.viewer()?;
        input::display_name("label", &input.label)?;
        input::max_bytes("description", &input.description, MAX_DESCRIPTION_BYTES)?;
        if let Some(position) = input.position {
            input::at_least("position", position, 0)?;
        }
        let new = NewStep {
            label: input.label,
            description: input.description,
            position: input.position,
        };
        let db = &ctx.services()?.db;
        Ok(value_path::add_step(db, viewer.id, project_id, new)
            .await?
            .into())
    }

    /// Puts the value path in the order of `stepIds`, which must list every
    /// step of the project exactly once; returns the path in its new order.
    #[graphql(complexity = "pagination::list_complexity(step_ids.len(), child_complexity)")]
    async fn reorder_value_path(
        &self,
        ctx: &Context<'_>,
        project_id: ProjectId,
        step_ids: Vec<StepId>,
    ) -> Result<Vec<ValuePathStep>> {
        let viewer = ctx.viewer()?;
        input::max_items("stepIds", &step_ids, MAX_LIST_ITEMS)?;
        let db = &ctx.services()?.db;
        let steps = value_path::reorder(db, viewer.id, project_id, &step_ids).await?;
        Ok(steps.into_iter().map(ValuePathStep::from).collect())
    }

    /// Deletes the step (the later steps move up one) and returns it as it
    /// was.
    async fn delete_value_path_step(&self, ctx: &Context<'_>, id: StepId) -> Result<ValuePathStep> {
        let viewer = ctx.viewer()?;
        let db = &ctx.services()?.db;
        Ok(value_path::delete_step(db, viewer.id, id).await?.into())
    }
}
