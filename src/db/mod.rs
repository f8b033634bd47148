//! Data access: the connection pool, migrations, the transaction helper and
//! every SQL statement, grouped by domain in the submodules. Nothing here
//! knows about GraphQL or HTTP.

mod admission;
pub mod agents;
pub mod circles;
pub mod discovery;
mod error;
pub mod instructions;
pub mod nodes;
mod pool;
pub mod projects;
pub mod readiness;
#[cfg(feature = "test-support")]
pub mod scratch;

pub use admission::{Admitted, Overloaded};
pub use error::{DataError, Entity, Taken};
pub use pool::{connect_options, sqlite_options};

use std::sync::{
    atomic::{AtomicBool, Ordering},
    Arc,
};

use futures::{future::BoxFuture, FutureExt};
use migration::{Migrator, MigratorTrait};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, EntityTrait,
    ExecResult, IdenStatic, Iterable, QueryResult, QuerySelect, Statement, TransactionTrait,
};
use tokio::sync::{Mutex, OwnedMutexGuard};

use crate::{
    changes::{postgres, Change, ChangeSender},
    config::DbConfig,
    error::DbFailure,
    observability,
};

/// The database handle every layer above uses.
#[derive(Clone)]
pub struct Db {
    conn: DatabaseConnection,
    /// SQLite allows one writer at a time and answers a second writer that
    /// upgrades a read lock with SQLITE_BUSY at once (no busy wait). Writers
    /// of this process queue here instead; SQLite means one process.
    sqlite_write_gate: Option<Arc<Mutex<()>>>,
    /// Where committed transactions send what they changed.
    changes: ChangeSender,
    /// Test seam: runs between a commit and the delivery of its changes.
    after_commit: Option<AfterCommitHook>,
    /// Test seam: runs just before `COMMIT` is sent.
    before_commit: Option<BeforeCommitHook>,
    /// Set when a write failed for want of storage (disk full, I/O error),
    /// cleared by the next write that commits.
    writes_failing: Arc<AtomicBool>,
    /// Counts the requests using the pool, to shed new ones it cannot
    /// serve in time.
    admission: Arc<admission::Admission>,
}

/// Called after a write transaction committed and before its changes are
/// delivered; tests use it to abandon a request at exactly that point.
pub type AfterCommitHook = Arc<dyn Fn() -> BoxFuture<'static, ()> + Send + Sync>;

/// Called with the transaction just before `COMMIT` is sent; tests use it to
/// break the connection so that the commit's outcome is unknown.
pub type BeforeCommitHook =
    Arc<dyn for<'t> Fn(&'t DatabaseTransaction) -> BoxFuture<'t, ()> + Send + Sync>;

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("backend", &self.backend())
            .finish_non_exhaustive()
    }
}

impl Db {
    /// Opens the pool with the configured limits and charges every statement
    /// to the current request's cost. Committed writes send what they
    /// changed to `changes`.
    #[tracing::instrument(skip_all)]
    pub async fn connect(
        url: &str,
        config: &DbConfig,
        changes: ChangeSender,
    ) -> Result<Self, DbErr> {
        let mut conn = pool::connect(url, config).await?;
        let admission = Arc::new(admission::Admission::new(
            !config.no_load_shedding,
            config.db_max_connections,
            config.db_acquire_timeout,
        ));
        let holds = Arc::clone(&admission);
        conn.set_metric_callback(move |info| {
            holds.statement_done(info.elapsed);
            observability::cost::record_statement(info.elapsed, info.failed);
        });
        let sqlite_write_gate =
            (conn.get_database_backend() == DbBackend::Sqlite).then(|| Arc::new(Mutex::new(())));
        Ok(Self {
            conn,
            sqlite_write_gate,
            changes,
            after_commit: None,
            before_commit: None,
            writes_failing: Arc::default(),
            admission,
        })
    }

    /// A place for one more request using the pool, or the refusal when
    /// the pool's wait queue is longer than the acquire timeout can serve
    /// (see the `admission` module). Hold the place until the request ends.
    pub fn admit(&self) -> Result<Admitted, Overloaded> {
        self.admission.admit(self.pool_connections().0)
    }

    /// The expected wait for a connection when it is longer than the
    /// acquire timeout (new requests are being shed), for `/readyz`.
    pub fn saturated(&self) -> Option<std::time::Duration> {
        self.admission.saturated(self.pool_connections().0)
    }

    /// Installs the test seam that runs between commit and delivery.
    pub(crate) fn set_after_commit_hook(&mut self, hook: AfterCommitHook) {
        self.after_commit = Some(hook);
    }

    /// Installs the test seam that runs just before `COMMIT`.
    pub(crate) fn set_before_commit_hook(&mut self, hook: BeforeCommitHook) {
        self.before_commit = Some(hook);
    }

    pub fn conn(&self) -> &DatabaseConnection {
        &self.conn
    }

    pub fn backend(&self) -> DbBackend {
        self.conn.get_database_backend()
    }

    #[tracing::instrument(skip_all)]
    pub async fn migrate(&self) -> Result<(), DbErr> {
        Migrator::up(&self.conn, None).await
    }

    /// Connections of the pool: (in use, idle).
    pub fn pool_connections(&self) -> (u32, u32) {
        let (size, idle) = match &self.conn {
            DatabaseConnection::SqlxPostgresPoolConnection(_) => {
                let pool = self.conn.get_postgres_connection_pool();
                (
                    pool.size(),
                    u32::try_from(pool.num_idle()).unwrap_or(u32::MAX),
                )
            }
            DatabaseConnection::SqlxSqlitePoolConnection(_) => {
                let pool = self.conn.get_sqlite_connection_pool();
                (
                    pool.size(),
                    u32::try_from(pool.num_idle()).unwrap_or(u32::MAX),
                )
            }
            _ => (0, 0),
        };
        (size.saturating_sub(idle), idle)
    }

    /// True when the database answers a trivial statement.
    pub async fn ping(&self) -> bool {
        self.conn.ping().await.is_ok()
    }

    /// True when the database takes writes: after a write failed for want
    /// of storage, only once a write commits again (this one rewrites the
    /// probe row, so the answer recovers by itself); otherwise when it
    /// answers a trivial statement.
    pub async fn accepts_writes(&self) -> bool {
        if !self.writes_failing.load(Ordering::Acquire) {
            return self.ping().await;
        }
        let probe = "UPDATE write_probe SET writes = writes + 1 WHERE id = 1";
        self.write(|txn| txn.execute_unprepared(probe).boxed())
            .await
            .is_ok()
    }

    pub async fn close(self) {
        if let Err(error) = self.conn.close().await {
            tracing::warn!(%error, "closing the database pool failed");
        }
    }

    /// Runs `body` in a write transaction: the one way anything is written.
    /// `body` records what it changes with [`WriteTxn::record`]. When it
    /// succeeds the transaction commits and the changes are delivered,
    /// here and on every other replica, as one unit that cancellation cannot
    /// split (see [`WriteTxn::commit`]). When it fails, or the caller goes
    /// away before the commit, the transaction rolls back and nothing is
    /// written or delivered.
    ///
    /// `body` owns what it uses (the future may only borrow the
    /// transaction): `db.write(|txn| async move { ... }.boxed())`.
    pub async fn write<T, E, F>(&self, body: F) -> Result<T, E>
    where
        F: for<'t> FnOnce(&'t WriteTxn) -> BoxFuture<'t, Result<T, E>>,
        E: From<DbErr>,
    {
        let txn = self.begin_write().await?;
        let value = body(&txn).await?;
        txn.commit().await?;
        Ok(value)
    }

    /// Starts a write transaction; dropping it (an early return) rolls it
    /// back.
    async fn begin_write(&self) -> Result<WriteTxn, DbErr> {
        let writer = match &self.sqlite_write_gate {
            Some(gate) => Some(Arc::clone(gate).lock_owned().await),
            None => None,
        };
        let writer_gated = writer.is_some();
        let txn = WriteTxn {
            txn: self.conn.begin().await?,
            changes: std::sync::Mutex::new(Vec::new()),
            sender: self.changes.clone(),
            after_commit: self.after_commit.clone(),
            before_commit: self.before_commit.clone(),
            writes_failing: Arc::clone(&self.writes_failing),
            _writer: writer,
        };
        if writer_gated {
            // A deferred SQLite transaction that reads first and writes
            // later must upgrade its read lock, which SQLite refuses at once
            // (SQLITE_BUSY, no busy wait) while another process writes.
            // Writing first takes the write lock at the start, waiting up to
            // the busy timeout: `BEGIN IMMEDIATE`, which SeaORM cannot send.
            txn.execute_unprepared("UPDATE write_probe SET writes = writes WHERE 0")
                .await?;
        }
        Ok(txn)
    }
}

/// An open write transaction, and what it will deliver as changed on
/// commit.
pub struct WriteTxn {
    txn: DatabaseTransaction,
    changes: std::sync::Mutex<Vec<Change>>,
    sender: ChangeSender,
    after_commit: Option<AfterCommitHook>,
    before_commit: Option<BeforeCommitHook>,
    writes_failing: Arc<AtomicBool>,
    /// Held until commit or rollback (SQLite only).
    _writer: Option<OwnedMutexGuard<()>>,
}

impl WriteTxn {
    /// Records that committing this transaction changes what `change`
    /// describes. Delivered only after a successful commit.
    pub fn record(&self, change: Change) {
        let mut changes = self
            .changes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !changes.contains(&change) {
            changes.push(change);
        }
    }

    /// Commits, then delivers the recorded changes to this process's bus.
    /// On PostgreSQL they are also sent to every other replica, by a
    /// `NOTIFY` inside the transaction (so only a commit delivers it).
    ///
    /// Commit and delivery run in a task of their own: a caller dropped
    /// while they run (client gone, deadline passed) cannot split them, so
    /// a committed change is never left cached as it was before. A `COMMIT`
    /// that fails may still have committed (the connection broke after
    /// sending it), so its changes are delivered here anyway: an
    /// entry dropped for nothing costs one reload, a stale one is wrong.
    async fn commit(self) -> Result<(), DbErr> {
        let changes = self
            .changes
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (txn, sender, before_commit, after_commit, writes_failing, writer) = (
            self.txn,
            self.sender,
            self.before_commit,
            self.after_commit,
            self.writes_failing,
            self._writer,
        );
        let committing = observability::cost::charged_to_current_request(async move {
            postgres::notify(&txn, sender.origin(), &changes).await?;
            if let Some(hook) = before_commit {
                hook(&txn).await;
            }
            let committed = txn.commit().await;
            drop(writer);
            match &committed {
                Ok(()) => writes_failing.store(false, Ordering::Release),
                Err(error) => {
                    note_failure(&writes_failing, error);
                    sender.send(changes).await;
                    return committed;
                }
            }
            if let Some(hook) = after_commit {
                hook().await;
            }
            sender.send(changes).await;
            Ok(())
        });
        tokio::spawn(committing)
            .await
            .map_err(|failed| DbErr::Custom(format!("the commit task failed: {failed}")))?
    }

    /// Passes on what a statement returned, noting a storage failure.
    fn observe<T>(&self, result: Result<T, DbErr>) -> Result<T, DbErr> {
        if let Err(error) = &result {
            note_failure(&self.writes_failing, error);
        }
        result
    }
}

/// Marks writes as failing when `error` says the storage refused them.
fn note_failure(writes_failing: &AtomicBool, error: &DbErr) {
    if DbFailure::of(error) == DbFailure::Storage {
        tracing::warn!(%error, "a write failed for want of storage");
        writes_failing.store(true, Ordering::Release);
    }
}

/// Statements run inside the transaction, so data access functions take a
/// `WriteTxn` wherever they take a connection.
#[async_trait::async_trait]
impl ConnectionTrait for WriteTxn {
    fn get_database_backend(&self) -> DbBackend {
        self.txn.get_database_backend()
    }

    async fn execute(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        self.observe(self.txn.execute(stmt).await)
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.observe(self.txn.execute_unprepared(sql).await)
    }

    async fn query_one(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        self.observe(self.txn.query_one(stmt).await)
    }

    async fn query_all(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        self.observe(self.txn.query_all(stmt).await)
    }
}

/// Adds every column of `E` to `select`, aliased `{prefix}{column}`, so one
/// JOIN can return several entities per row; read them back with
/// `FromQueryResult::from_query_result(row, prefix)`.
pub(crate) fn select_prefixed<E, S>(mut select: S, prefix: &str) -> S
where
    E: EntityTrait,
    S: QuerySelect,
{
    for column in E::Column::iter() {
        select = select.column_as(column, format!("{prefix}{}", column.as_str()));
    }
    select
}

/// `rows` grouped by their parent (`parent_of`), each group in the order
/// the rows came: the statement's ORDER BY.
pub(crate) fn group_by_parent<K, V>(
    rows: impl IntoIterator<Item = V>,
    parent_of: impl Fn(&V) -> K,
) -> std::collections::HashMap<K, Vec<V>>
where
    K: Eq + std::hash::Hash,
{
    let mut grouped = std::collections::HashMap::<K, Vec<V>>::new();
    for row in rows {
        grouped.entry(parent_of(&row)).or_default().push(row);
    }
    grouped
}

/// Whether the optional side of a LEFT JOIN is present in `row`.
pub(crate) fn joined_row_present(row: &QueryResult, prefix: &str) -> Result<bool, DbErr> {
    Ok(row.try_get::<Option<uuid::Uuid>>(prefix, "id")?.is_some())
}
