//! Personas: read for many projects at once, written by their project's
//! owner.

use entity::{PersonaId, ProjectId, UserId};
use std::collections::HashMap;

use entity::personas;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, Set};

use super::{
    children::{delete_child, insert_child, update_child, ProjectChild},
    now,
};
use crate::db::{group_by_parent, DataError, Db, Entity};

/// The personas of every project in `project_ids`, oldest first (by id):
/// one statement, grouped by project.
#[tracing::instrument(skip_all, fields(projects = project_ids.len()))]
pub async fn personas_by_project(
    conn: &impl ConnectionTrait,
    project_ids: &[ProjectId],
) -> Result<HashMap<ProjectId, Vec<personas::Model>>, DbErr> {
    let rows = personas::Entity::find()
        .filter(personas::Column::ProjectId.is_in(project_ids.iter().copied()))
        .order_by_asc(personas::Column::ProjectId)
        .order_by_asc(personas::Column::Id)
        .all(conn)
        .await?;
    Ok(group_by_parent(rows, |row| row.project_id))
}

/// A new persona, validated by the caller.
#[derive(Clone, Debug)]
pub struct NewPersona {
    pub name: String,
    pub description: String,
}

/// Changes to a persona; `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct PersonaPatch {
    pub name: Option<String>,
    pub description: Option<String>,
}

impl ProjectChild for personas::Entity {
    type Id = PersonaId;
    const ENTITY: Entity = Entity::Persona;

    fn project_of(model: &personas::Model) -> ProjectId {
        model.project_id
    }
}

#[tracing::instrument(skip(db, new))]
pub async fn create_persona(
    db: &Db,
    owner_id: UserId,
    project_id: ProjectId,
    new: NewPersona,
) -> Result<personas::Model, DataError> {
    let persona = personas::ActiveModel {
        id: Set(PersonaId::new()),
        project_id: Set(project_id),
        name: Set(new.name),
        description: Set(new.description),
        created_at: Set(now()),
    };
    insert_child(db, owner_id, project_id, persona).await
}

#[tracing::instrument(skip(db, patch))]
pub async fn update_persona(
    db: &Db,
    owner_id: UserId,
    id: PersonaId,
    patch: PersonaPatch,
) -> Result<personas::Model, DataError> {
    update_child(
        db,
        owner_id,
        id,
        move |persona: &mut personas::ActiveModel| {
            if let Some(name) = patch.name {
                persona.name = Set(name);
            }
            if let Some(description) = patch.description {
                persona.description = Set(description);
            }
        },
    )
    .await
}

/// Deletes the persona and returns it as it was.
#[tracing::instrument(skip(db))]
pub async fn delete_persona(
    db: &Db,
    owner_id: UserId,
    id: PersonaId,
) -> Result<personas::Model, DataError> {
    delete_child::<personas::Entity>(db, owner_id, id).await
}
