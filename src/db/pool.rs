//! The connection pool. It is built here rather than by SeaORM so that a
//! connection is checked on its way back: one that a failure left inside a
//! transaction (a `COMMIT` or `ROLLBACK` that failed, SQLite having rolled
//! back by itself on a full disk) is closed, never handed to the next
//! request, which would otherwise write into a transaction that nobody
//! commits and read rows nobody committed.

use std::time::Duration;

use futures::future::BoxFuture;
use sea_orm::{
    sqlx::{
        self,
        pool::PoolConnectionMetadata,
        postgres::{PgConnectOptions, PgPool},
        sqlite::{SqliteConnectOptions, SqlitePool},
        ConnectOptions as _, Connection, Database as SqlxDatabase, TransactionManager,
    },
    ConnectOptions, DatabaseConnection, DbErr, RuntimeErr, SqlxPostgresConnector,
    SqlxSqliteConnector,
};

use crate::config::DbConfig;

/// The pool limits of `config` as SeaORM options (the benchmark's own pool
/// uses them too).
pub fn connect_options(url: &str, config: &DbConfig) -> ConnectOptions {
    let mut options = ConnectOptions::new(url);
    options
        .max_connections(config.db_max_connections)
        .min_connections(0)
        .acquire_timeout(config.db_acquire_timeout)
        .connect_timeout(config.db_acquire_timeout)
        .sqlx_logging(false);
    let statement_timeout = config.db_statement_timeout;
    options.map_sqlx_postgres_opts(move |pg| postgres_options(pg, statement_timeout));
    options
}

/// PostgreSQL sessions with the configured statement timeout (0: none).
fn postgres_options(pg: PgConnectOptions, statement_timeout: Duration) -> PgConnectOptions {
    match statement_timeout.as_millis() {
        0 => pg,
        millis => pg.options([("statement_timeout", format!("{millis}ms"))]),
    }
}

/// SQLite as the server runs it: WAL, foreign keys, and a busy writer
/// waited for instead of failing at once (5 s; the server's pool takes
/// `--db-busy-timeout`).
pub fn sqlite_options(sqlite: SqliteConnectOptions) -> SqliteConnectOptions {
    use sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
    sqlite
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(5))
}

/// Opens the pool `url` names, with every connection checked on release.
pub(super) async fn connect(url: &str, config: &DbConfig) -> Result<DatabaseConnection, DbErr> {
    let pool_options = connect_options(url, config);
    if url.starts_with("postgres") {
        let pg = postgres_options(url.parse().map_err(conn_err)?, config.db_statement_timeout)
            .disable_statement_logging();
        let pool: PgPool = pool_options
            .sqlx_pool_options()
            .after_release(released_clean::<sqlx::Postgres>)
            .connect_with(pg)
            .await
            .map_err(conn_err)?;
        Ok(SqlxPostgresConnector::from_sqlx_postgres_pool(pool))
    } else {
        let sqlite = sqlite_options(url.parse().map_err(conn_err)?)
            .busy_timeout(config.db_busy_timeout)
            .disable_statement_logging();
        let pool: SqlitePool = pool_options
            .sqlx_pool_options()
            .after_release(released_clean::<sqlx::Sqlite>)
            .connect_with(sqlite)
            .await
            .map_err(conn_err)?;
        Ok(SqlxSqliteConnector::from_sqlx_sqlite_pool(pool))
    }
}

fn conn_err(error: sqlx::Error) -> DbErr {
    DbErr::Conn(RuntimeErr::SqlxError(error))
}

/// Whether a released connection may be reused: only outside any
/// transaction. A dropped transaction queues its `ROLLBACK`; a ping runs
/// after it, so a depth still above zero then means the rollback failed.
fn released_clean<DB: SqlxDatabase>(
    conn: &mut DB::Connection,
    _: PoolConnectionMetadata,
) -> BoxFuture<'_, Result<bool, sqlx::Error>> {
    Box::pin(async move {
        if DB::TransactionManager::get_transaction_depth(conn) == 0 {
            return Ok(true);
        }
        conn.ping().await?;
        let depth = DB::TransactionManager::get_transaction_depth(conn);
        if depth != 0 {
            tracing::warn!(
                depth,
                "closing a connection left inside a transaction by a failed write"
            );
        }
        Ok(depth == 0)
    })
}
