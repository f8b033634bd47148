//! Changes between replicas over PostgreSQL `LISTEN`/`NOTIFY`.
//!
//! Sending: a write transaction that recorded changes runs
//! `SELECT pg_notify('agentgraph_invalidation', payload)` just before
//! `COMMIT`; PostgreSQL delivers it to every listener when (and only if) the
//! transaction commits.
//!
//! Receiving: each replica keeps one dedicated connection outside the pool
//! (it must be a direct or session-mode connection: a transaction-mode
//! pooler does not keep `LISTEN` state) and applies what it hears through
//! its bus, with the same fence as local changes. A replica cannot
//! know what it missed while its listener was down, so whenever the
//! connection is lost (an error, or no answer to a heartbeat) it flushes
//! every cache, reconnects with backoff, and counts the event.

use std::{
    str::FromStr,
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc,
    },
    time::Duration,
};

use sea_orm::{
    sqlx::{
        postgres::{PgConnectOptions, PgListener, PgPoolOptions},
        Executor,
    },
    ConnectionTrait, DbBackend, DbErr, Statement,
};
use serde::{Deserialize, Serialize};
use tokio::task::JoinHandle;
use uuid::Uuid;

use super::{Change, ChangeBus};

/// The channel every replica listens on.
/// (Its name predates the word "change"; replicas of every release share it.)
pub const CHANNEL: &str = "agentgraph_invalidation";

/// PostgreSQL refuses payloads from 8000 bytes on; past this, send
/// `Everything` instead (correct, only less precise).
const MAX_PAYLOAD: usize = 7_900;

#[derive(Debug, Serialize, Deserialize)]
struct Payload {
    origin: Uuid,
    events: Vec<Change>,
}

/// Issues the `NOTIFY` for `events` inside the transaction `txn`.
pub async fn notify(
    txn: &impl ConnectionTrait,
    origin: Uuid,
    events: &[Change],
) -> Result<(), DbErr> {
    if events.is_empty() || txn.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    let mut payload = serde_json::to_string(&Payload {
        origin,
        events: events.to_vec(),
    })
    .map_err(|e| DbErr::Custom(format!("encoding changes: {e}")))?;
    if payload.len() > MAX_PAYLOAD {
        payload = serde_json::to_string(&Payload {
            origin,
            events: vec![Change::Everything],
        })
        .map_err(|e| DbErr::Custom(format!("encoding changes: {e}")))?;
    }
    txn.execute(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT pg_notify($1, $2)",
        [CHANNEL.into(), payload.into()],
    ))
    .await
    .map(drop)
}

/// How the listener is doing; read by `/readyz` and `/metrics`.
#[derive(Debug, Default)]
pub struct ListenerHealth {
    connected: AtomicBool,
    reconnects: AtomicU64,
    received: AtomicU64,
}

impl ListenerHealth {
    pub fn is_connected(&self) -> bool {
        self.connected.load(Ordering::SeqCst)
    }

    /// Times the connection was lost (and the caches flushed).
    pub fn reconnects(&self) -> u64 {
        self.reconnects.load(Ordering::SeqCst)
    }

    /// Notifications from other replicas applied.
    pub fn received(&self) -> u64 {
        self.received.load(Ordering::SeqCst)
    }
}

/// Settings of the listener.
#[derive(Clone, Debug)]
pub struct ListenerSettings {
    pub database_url: String,
    /// Silence after which the connection is tested with a query.
    pub heartbeat: Duration,
}

/// The background task that delivers other replicas' changes.
pub struct Listener;

impl Listener {
    /// Connects once (so a replica that cannot listen does not start
    /// serving), then spawns the receive loop.
    pub async fn start(
        settings: ListenerSettings,
        bus: Arc<ChangeBus>,
    ) -> Result<(JoinHandle<()>, Arc<ListenerHealth>), sea_orm::sqlx::Error> {
        let health = Arc::new(ListenerHealth::default());
        let listener = connect(&settings.database_url, bus.origin()).await?;
        health.connected.store(true, Ordering::SeqCst);
        let task = tokio::spawn(run(listener, settings, bus, Arc::clone(&health)));
        Ok((task, health))
    }
}

/// `application_name` of a replica's listener connection (operators and
/// tests find it in `pg_stat_activity` by this).
pub fn application_name(origin: Uuid) -> String {
    format!("agentgraph-listener-{}", origin.simple())
}

async fn connect(url: &str, origin: Uuid) -> Result<PgListener, sea_orm::sqlx::Error> {
    let options = PgConnectOptions::from_str(url)?.application_name(&application_name(origin));
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(5))
        .connect_lazy_with(options);
    let mut listener = PgListener::connect_with(&pool).await?;
    // A lost connection must surface (to flush), not be healed silently.
    listener.eager_reconnect(false);
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

async fn run(
    mut listener: PgListener,
    settings: ListenerSettings,
    bus: Arc<ChangeBus>,
    health: Arc<ListenerHealth>,
) {
    loop {
        receive_until_lost(&mut listener, &settings, &bus, &health).await;
        health.connected.store(false, Ordering::SeqCst);
        health.reconnects.fetch_add(1, Ordering::SeqCst);
        tracing::warn!(
            "invalidation listener lost its connection; flushing caches and reconnecting"
        );
        bus.deliver(&[Change::Everything]);
        listener = reconnect(&settings.database_url, bus.origin()).await;
        // Anything committed between the loss and now was missed.
        bus.deliver(&[Change::Everything]);
        health.connected.store(true, Ordering::SeqCst);
        tracing::info!("invalidation listener reconnected");
    }
}

/// Applies notifications until the connection fails or a heartbeat gets no
/// answer.
async fn receive_until_lost(
    listener: &mut PgListener,
    settings: &ListenerSettings,
    bus: &ChangeBus,
    health: &ListenerHealth,
) {
    loop {
        match tokio::time::timeout(settings.heartbeat, listener.try_recv()).await {
            Ok(Ok(Some(notification))) => apply(notification.payload(), bus, health),
            Ok(Ok(None) | Err(_)) => return,
            Err(_silence) => {
                let ping =
                    tokio::time::timeout(settings.heartbeat, listener.execute("SELECT 1")).await;
                if !matches!(ping, Ok(Ok(_))) {
                    return;
                }
            }
        }
    }
}

fn apply(payload: &str, bus: &ChangeBus, health: &ListenerHealth) {
    match serde_json::from_str::<Payload>(payload) {
        Ok(payload) if payload.origin == bus.origin() => {}
        Ok(payload) => {
            bus.deliver(&payload.events);
            // Counted once applied: whoever reads the count may rely on it.
            health.received.fetch_add(1, Ordering::SeqCst);
        }
        Err(error) => {
            // Unknown format (a newer replica?): be safe.
            tracing::warn!(%error, "unreadable change notification; flushing caches");
            bus.deliver(&[Change::Everything]);
        }
    }
}

async fn reconnect(url: &str, origin: Uuid) -> PgListener {
    let mut delay = Duration::from_millis(50);
    loop {
        match connect(url, origin).await {
            Ok(listener) => return listener,
            Err(error) => {
                tracing::warn!(%error, ?delay, "invalidation listener cannot reconnect yet");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    }
}
