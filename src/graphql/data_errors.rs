//! How data errors reach a client: which argument was at fault and what
//! the message says. `db` reports what happened to the data; only this
//! layer knows the API's argument names.

use crate::{
    db::{DataError, Taken},
    error::AppError,
};

impl From<DataError> for AppError {
    fn from(error: DataError) -> Self {
        match error {
            DataError::NotFound(entity) => AppError::NotFound(entity.noun()),
            DataError::Taken(Taken::AgentName(name)) => {
                AppError::bad_input("name", format!("an agent named `{name}` already exists"))
            }
            DataError::Taken(Taken::CircleName(name)) => {
                AppError::bad_input("name", format!("a circle named `{name}` already exists"))
            }
            DataError::Taken(Taken::CircleMembership { agent_name }) => AppError::bad_input(
                "agentName",
                format!("`{agent_name}` is already a member of this circle"),
            ),
            DataError::UnknownModel(id) => {
                AppError::bad_input("modelId", format!("no model has id {id}"))
            }
            DataError::NotAnOrderOfSteps { steps } => AppError::bad_input(
                "stepIds",
                format!("`stepIds` must list each of the project's {steps} value path steps exactly once"),
            ),
            DataError::Database(error) => error.into(),
            DataError::Invariant(what) => AppError::internal(anyhow::anyhow!(what)),
        }
    }
}
