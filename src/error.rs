//! The one error type resolvers and data access return, and the table of
//! public error codes a client can rely on.
//!
//! Internal detail (database messages, SQL, Rust types) never reaches a
//! client: [`http`](crate::http) rewrites every GraphQL error into its public
//! shape via [`AppError::public_message`] and [`ErrorCode`], logging the
//! detail of internal errors under the request id.

use std::sync::Arc;

use sea_orm::{DbErr, RuntimeErr};

/// Every code that may appear in `errors[].extensions.code`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    /// The request or one of its arguments is invalid; `extensions.field`
    /// names the argument when there is one.
    BadUserInput,
    /// No (valid) bearer token was presented.
    Unauthenticated,
    /// The viewer is known but not allowed to do this (e.g. a non-admin
    /// writing agents).
    Forbidden,
    /// The object does not exist, or belongs to someone else.
    NotFound,
    /// A dependency (the database) is unreachable; retrying later may work.
    ServiceUnavailable,
    /// A bug or an unexpected failure; the log has the detail under the
    /// request id the error carries.
    InternalServerError,
    /// Only a persisted-query hash was sent, and the server does not hold
    /// its document: send it again with the document (message
    /// `PersistedQueryNotFound`, as Apollo's protocol expects).
    PersistedQueryNotFound,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BadUserInput => "BAD_USER_INPUT",
            Self::Unauthenticated => "UNAUTHENTICATED",
            Self::Forbidden => "FORBIDDEN",
            Self::NotFound => "NOT_FOUND",
            Self::ServiceUnavailable => "SERVICE_UNAVAILABLE",
            Self::InternalServerError => "INTERNAL_SERVER_ERROR",
            Self::PersistedQueryNotFound => "PERSISTED_QUERY_NOT_FOUND",
        }
    }
}

/// An error a caller can act on, or an internal one that is only logged.
///
/// Cloneable so that one failed batch load can answer every waiter.
#[derive(Clone, Debug, thiserror::Error)]
pub enum AppError {
    #[error("{message}")]
    BadUserInput {
        message: String,
        /// The argument or input field at fault, as the client spelled it.
        field: Option<&'static str>,
    },
    #[error("authentication required: send an `Authorization: Bearer <token>` header")]
    Unauthenticated,
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("the database is unavailable; retry shortly")]
    Unavailable(Arc<DbErr>),
    #[error("internal error: {0:#}")]
    Internal(Arc<anyhow::Error>),
}

impl AppError {
    pub fn bad_input(field: &'static str, message: impl Into<String>) -> Self {
        Self::BadUserInput {
            message: message.into(),
            field: Some(field),
        }
    }

    pub fn internal(error: impl Into<anyhow::Error>) -> Self {
        Self::Internal(Arc::new(error.into()))
    }

    pub fn code(&self) -> ErrorCode {
        match self {
            Self::BadUserInput { .. } => ErrorCode::BadUserInput,
            Self::Unauthenticated => ErrorCode::Unauthenticated,
            Self::Forbidden(_) => ErrorCode::Forbidden,
            Self::NotFound(_) => ErrorCode::NotFound,
            Self::Unavailable(_) => ErrorCode::ServiceUnavailable,
            Self::Internal(_) => ErrorCode::InternalServerError,
        }
    }

    /// What the client may read. Internal errors say nothing but the request
    /// id, which links them to the log line with the detail.
    pub fn public_message(&self, request_id: &str) -> String {
        match self {
            Self::Internal(_) => format!("internal server error (request id {request_id})"),
            other => other.to_string(),
        }
    }
}

impl From<DbErr> for AppError {
    fn from(error: DbErr) -> Self {
        Arc::new(error).into()
    }
}

impl From<Arc<DbErr>> for AppError {
    fn from(error: Arc<DbErr>) -> Self {
        if is_unavailable(&error) {
            Self::Unavailable(error)
        } else {
            Self::internal(anyhow::anyhow!(error))
        }
    }
}

/// True when the database could not be reached at all, as opposed to a
/// statement that failed: the first is worth a retry, the second is a bug.
fn is_unavailable(error: &DbErr) -> bool {
    use sea_orm::sqlx::Error as SqlxError;
    match error {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Query(RuntimeErr::SqlxError(e)) | DbErr::Exec(RuntimeErr::SqlxError(e)) => match e {
            SqlxError::Io(_)
            | SqlxError::PoolTimedOut
            | SqlxError::PoolClosed
            | SqlxError::Tls(_) => true,
            // SQLSTATE class 08 (connection exception) and 57P (the server
            // is shutting down, or terminated the connection).
            SqlxError::Database(db) => db
                .code()
                .is_some_and(|code| code.starts_with("08") || code.starts_with("57P")),
            _ => false,
        },
        _ => false,
    }
}
