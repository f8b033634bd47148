//! The one error type resolvers return (and the loaders and caches they
//! call), and the table of public error codes a client can rely on.
//!
//! The data layer speaks in the data's terms: `db` returns
//! [`DataError`](crate::db::DataError) or SeaORM's [`DbErr`]. Both become
//! an `AppError` before a resolver returns (`graphql::data_errors` names
//! the argument at fault; `From<DbErr>` here classifies database failures
//! with [`DbFailure`]), so an error has one road to a client:
//! [`http`](crate::http) rewrites every GraphQL error into its public shape
//! via [`AppError::public_message`] and [`ErrorCode`], logging the detail
//! of internal errors under the request id. An error that arrives there
//! without an `AppError` (nobody classified it) is published as an
//! internal one: its text is logged, never sent.

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
    /// The viewer's budget is spent (HTTP 429): retry after the
    /// `Retry-After` seconds (also in `extensions.retryAfterSeconds`).
    RateLimited,
    /// The server cannot take more work now (HTTP 503): retry after the
    /// `Retry-After` seconds, here or on another replica.
    Overloaded,
    /// The server runs trusted documents only (`--trusted-documents-only`)
    /// and the request named none: send the document's id instead of its
    /// text.
    TrustedDocumentRequired,
    /// The request named a trusted document by an id the server's manifest
    /// does not hold (an older or newer client build than the server's).
    TrustedDocumentNotFound,
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
            Self::RateLimited => "RATE_LIMITED",
            Self::Overloaded => "OVERLOADED",
            Self::TrustedDocumentRequired => "TRUSTED_DOCUMENT_REQUIRED",
            Self::TrustedDocumentNotFound => "TRUSTED_DOCUMENT_NOT_FOUND",
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
    #[error("the database is unavailable or busy; retry shortly")]
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
        match DbFailure::of(&error) {
            DbFailure::Rejected(value) => Self::BadUserInput {
                message: format!("the database cannot store {}", value.description()),
                field: None,
            },
            DbFailure::Busy | DbFailure::Unreachable | DbFailure::Storage => {
                Self::Unavailable(error)
            }
            DbFailure::Other => Self::internal(anyhow::anyhow!(error)),
        }
    }
}

/// What a database failure means to the client and to the operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DbFailure {
    /// The database refused a value the request carried: the client's input.
    Rejected(RejectedValue),
    /// A lock or the statement timeout ran out, or two transactions
    /// collided: the same request may well succeed when retried.
    Busy,
    /// The database could not be reached, or the connection broke.
    Unreachable,
    /// The database cannot write (disk full, I/O error, read-only file):
    /// writes fail until an operator or time fixes the storage.
    Storage,
    /// A statement that failed for any other reason: a bug.
    Other,
}

/// The kind of value the database refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RejectedValue {
    /// A character the database cannot store in text (NUL).
    Character,
    DateTime,
    Number,
    /// Any other malformed value (SQLSTATE class 22).
    Malformed,
}

impl RejectedValue {
    fn description(self) -> &'static str {
        match self {
            Self::Character => "a text containing a NUL character (\\u0000)",
            Self::DateTime => "a date that far from the present",
            Self::Number => "a number that large",
            Self::Malformed => "a value of this request as it is",
        }
    }
}

impl DbFailure {
    pub fn of(error: &DbErr) -> Self {
        use sea_orm::sqlx::{postgres::PgDatabaseError, sqlite::SqliteError, Error as SqlxError};
        let sqlx_error = match error {
            DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => return Self::Unreachable,
            DbErr::Query(RuntimeErr::SqlxError(e)) | DbErr::Exec(RuntimeErr::SqlxError(e)) => e,
            _ => return Self::Other,
        };
        match sqlx_error {
            SqlxError::Io(_)
            | SqlxError::PoolTimedOut
            | SqlxError::PoolClosed
            | SqlxError::Tls(_)
            | SqlxError::WorkerCrashed => Self::Unreachable,
            SqlxError::Database(db) => {
                if let Some(pg) = db.try_downcast_ref::<PgDatabaseError>() {
                    Self::of_sqlstate(pg.code())
                } else if db.try_downcast_ref::<SqliteError>().is_some() {
                    db.code()
                        .and_then(|code| code.parse().ok())
                        .map_or(Self::Other, Self::of_sqlite_code)
                } else {
                    Self::Other
                }
            }
            _ => Self::Other,
        }
    }

    /// A PostgreSQL error by its SQLSTATE.
    pub fn of_sqlstate(code: &str) -> Self {
        match code {
            "22021" | "22P05" => Self::Rejected(RejectedValue::Character),
            "22007" | "22008" => Self::Rejected(RejectedValue::DateTime),
            "22003" => Self::Rejected(RejectedValue::Number),
            // Statement timeout or cancel, lock timeout, serialization
            // failure, deadlock.
            "57014" | "55P03" | "40001" | "40P01" => Self::Busy,
            _ => match code.get(..2) {
                Some("22") => Self::Rejected(RejectedValue::Malformed),
                // Connection exception; the server shutting down or
                // terminating the connection.
                Some("08") => Self::Unreachable,
                Some("57") if code.starts_with("57P") => Self::Unreachable,
                // Insufficient resources (disk full, out of memory),
                // system error (I/O), data corruption.
                Some("53" | "58") | Some("XX") => Self::Storage,
                _ => Self::Other,
            },
        }
    }

    /// A SQLite error by its (extended) result code.
    pub fn of_sqlite_code(code: i32) -> Self {
        const BUSY: i32 = 5;
        const LOCKED: i32 = 6;
        const READONLY: i32 = 8;
        const IOERR: i32 = 10;
        const CORRUPT: i32 = 11;
        const FULL: i32 = 13;
        const CANTOPEN: i32 = 14;
        const TOOBIG: i32 = 18;
        const NOTADB: i32 = 26;
        match code & 0xff {
            BUSY | LOCKED => Self::Busy,
            READONLY | IOERR | CORRUPT | FULL | CANTOPEN | NOTADB => Self::Storage,
            TOOBIG => Self::Rejected(RejectedValue::Malformed),
            _ => Self::Other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{DbFailure, RejectedValue};

    #[test]
    fn postgres_data_exceptions_are_the_clients_input() {
        for (code, value) in [
            ("22021", RejectedValue::Character),
            ("22P05", RejectedValue::Character),
            ("22008", RejectedValue::DateTime),
            ("22003", RejectedValue::Number),
            ("22P02", RejectedValue::Malformed),
        ] {
            assert_eq!(
                DbFailure::of_sqlstate(code),
                DbFailure::Rejected(value),
                "{code}"
            );
        }
    }

    #[test]
    fn timeouts_locks_and_collisions_are_busy() {
        for code in ["57014", "55P03", "40001", "40P01"] {
            assert_eq!(DbFailure::of_sqlstate(code), DbFailure::Busy, "{code}");
        }
        // SQLITE_BUSY, SQLITE_LOCKED, SQLITE_BUSY_SNAPSHOT (517).
        for code in [5, 6, 517] {
            assert_eq!(DbFailure::of_sqlite_code(code), DbFailure::Busy, "{code}");
        }
    }

    #[test]
    fn storage_failures_are_told_from_bugs() {
        for code in ["53100", "58030", "XX001"] {
            assert_eq!(DbFailure::of_sqlstate(code), DbFailure::Storage, "{code}");
        }
        // SQLITE_FULL, SQLITE_IOERR_WRITE (778), SQLITE_READONLY.
        for code in [13, 778, 8] {
            assert_eq!(
                DbFailure::of_sqlite_code(code),
                DbFailure::Storage,
                "{code}"
            );
        }
        assert_eq!(DbFailure::of_sqlstate("08006"), DbFailure::Unreachable);
        assert_eq!(DbFailure::of_sqlstate("57P01"), DbFailure::Unreachable);
        assert_eq!(DbFailure::of_sqlstate("42601"), DbFailure::Other);
        // SQLITE_CONSTRAINT_UNIQUE (2067): a bug unless a caller maps it.
        assert_eq!(DbFailure::of_sqlite_code(2067), DbFailure::Other);
    }
}
