//! Personas: read for many projects at once, written by their project's
//! owner.

use std::collections::HashMap;

use entity::personas;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    Set,
};
use uuid::Uuid;

use super::{check_child_owner, now, owned_project, state_changed};
use crate::{db::Db, error::AppError};

/// The personas of every project in `project_ids`, oldest first (by id):
/// one statement, grouped by project.
#[tracing::instrument(skip_all, fields(projects = project_ids.len()))]
pub async fn personas_by_project(
    conn: &impl ConnectionTrait,
    project_ids: &[Uuid],
) -> Result<HashMap<Uuid, Vec<personas::Model>>, DbErr> {
    let rows = personas::Entity::find()
        .filter(personas::Column::ProjectId.is_in(project_ids.iter().copied()))
        .order_by_asc(personas::Column::ProjectId)
        .order_by_asc(personas::Column::Id)
        .all(conn)
        .await?;
    let mut grouped: HashMap<Uuid, Vec<personas::Model>> = HashMap::new();
    for row in rows {
        grouped.entry(row.project_id).or_default().push(row);
    }
    Ok(grouped)
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

#[tracing::instrument(skip(db, new))]
pub async fn create_persona(
    db: &Db,
    owner_id: Uuid,
    project_id: Uuid,
    new: NewPersona,
) -> Result<personas::Model, AppError> {
    let txn = db.begin_write().await?;
    owned_project(&txn, owner_id, project_id).await?;
    let persona = personas::ActiveModel {
        id: Set(Uuid::now_v7()),
        project_id: Set(project_id),
        name: Set(new.name),
        description: Set(new.description),
        created_at: Set(now()),
    }
    .insert(&txn)
    .await?;
    state_changed(&txn, project_id).await?;
    txn.commit().await?;
    Ok(persona)
}

#[tracing::instrument(skip(db, patch))]
pub async fn update_persona(
    db: &Db,
    owner_id: Uuid,
    id: Uuid,
    patch: PersonaPatch,
) -> Result<personas::Model, AppError> {
    let txn = db.begin_write().await?;
    let persona = owned_persona(&txn, owner_id, id).await?;
    let project_id = persona.project_id;
    let mut persona: personas::ActiveModel = persona.into();
    if let Some(name) = patch.name {
        persona.name = Set(name);
    }
    if let Some(description) = patch.description {
        persona.description = Set(description);
    }
    let persona = persona.update(&txn).await?;
    state_changed(&txn, project_id).await?;
    txn.commit().await?;
    Ok(persona)
}

/// Deletes the persona and returns it as it was.
#[tracing::instrument(skip(db))]
pub async fn delete_persona(
    db: &Db,
    owner_id: Uuid,
    id: Uuid,
) -> Result<personas::Model, AppError> {
    let txn = db.begin_write().await?;
    let persona = owned_persona(&txn, owner_id, id).await?;
    personas::Entity::delete_by_id(id).exec(&txn).await?;
    state_changed(&txn, persona.project_id).await?;
    txn.commit().await?;
    Ok(persona)
}

/// The persona if its project is `owner_id`'s, else `NOT_FOUND`.
async fn owned_persona(
    conn: &impl ConnectionTrait,
    owner_id: Uuid,
    id: Uuid,
) -> Result<personas::Model, AppError> {
    let persona = personas::Entity::find_by_id(id)
        .one(conn)
        .await?
        .ok_or(AppError::NotFound("persona"))?;
    check_child_owner(conn, owner_id, persona.project_id, "persona").await?;
    Ok(persona)
}
