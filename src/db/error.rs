//! [`DataError`]: what data access reports, in the data's own terms. It
//! names rows and keys, never API arguments or client wording; the GraphQL
//! layer decides which field is at fault and what the client reads.

use std::sync::Arc;

use entity::ModelId;
use sea_orm::{DbErr, SqlErr};

/// A kind of row, as a caller may fail to find it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Entity {
    Agent,
    Tool,
    Circle,
    CircleMember,
    Project,
    Feature,
    Persona,
    ValuePathStep,
    Signal,
}

impl Entity {
    /// The row's name in words.
    pub fn noun(self) -> &'static str {
        match self {
            Self::Agent => "agent",
            Self::Tool => "tool",
            Self::Circle => "circle",
            Self::CircleMember => "circle member",
            Self::Project => "project",
            Self::Feature => "feature",
            Self::Persona => "persona",
            Self::ValuePathStep => "value path step",
            Self::Signal => "signal",
        }
    }
}

impl std::fmt::Display for Entity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.noun())
    }
}

/// A unique key that is already taken.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Taken {
    AgentName(String),
    CircleName(String),
    /// The agent is already a member of the circle.
    CircleMembership {
        agent_name: String,
    },
}

/// Why a data access function failed. Cloneable, so one failed batch can
/// answer every waiter.
#[derive(Clone, Debug, thiserror::Error)]
pub enum DataError {
    /// No such row, or one that belongs to someone else (the same thing to
    /// the caller, so existence does not leak).
    #[error("{0} not found")]
    NotFound(Entity),
    #[error("a unique key is taken: {0:?}")]
    Taken(Taken),
    /// A reference to a model that does not exist.
    #[error("no model has id {0}")]
    UnknownModel(ModelId),
    /// A new order of value-path steps that does not list each of the
    /// project's steps exactly once.
    #[error("a new order must list each of the {steps} steps exactly once")]
    NotAnOrderOfSteps { steps: usize },
    #[error(transparent)]
    Database(Arc<DbErr>),
    /// Something that cannot happen did (a row vanished inside its own
    /// transaction).
    #[error("{0}")]
    Invariant(&'static str),
}

impl From<DbErr> for DataError {
    fn from(error: DbErr) -> Self {
        Self::Database(Arc::new(error))
    }
}

impl DataError {
    /// `taken` when `error` is a unique-constraint violation, else the
    /// database error as it is.
    pub fn on_unique_violation(error: DbErr, taken: Taken) -> Self {
        match error.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(_)) => Self::Taken(taken),
            _ => error.into(),
        }
    }

    /// The same error, with a missing row reported as `entity` (for a child
    /// whose parent's check failed: a foreign child reads like a missing one).
    pub fn missing_as(self, entity: Entity) -> Self {
        match self {
            Self::NotFound(_) => Self::NotFound(entity),
            other => other,
        }
    }
}
