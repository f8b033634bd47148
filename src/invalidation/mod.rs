//! The invalidation bus: what a committed mutation changed, delivered to
//! every cache that answers questions about it.
//!
//! A write transaction records its [`Invalidation`]s as it goes
//! ([`WriteTxn::invalidate`](crate::db::WriteTxn::invalidate)); they are
//! delivered only after the transaction commits, so no cache is cleared
//! for a change that then rolls back, and none is refilled from data older
//! than the commit (see [`cache`](crate::cache) for the fence that
//! guarantees the second half).
//!
//! On PostgreSQL the same events also travel to every other replica: the
//! transaction issues `NOTIFY` before committing (PostgreSQL delivers it on
//! commit only), and each replica's [`postgres::Listener`] applies what it
//! hears. SQLite means one process, so the bus stays in-process there.

pub mod postgres;

use std::sync::{Arc, PoisonError, RwLock};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// One thing that changed. Serializable: other replicas receive these.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Invalidation {
    /// The agent, its model or provider reference, or its tools changed.
    Agent { name: String },
    /// A model or provider changed: any agent may be affected.
    AllAgents,
    /// A user's own instructions for an agent changed.
    Instructions { user_id: Uuid, agent: String },
    /// Something that a project's readiness is computed from changed.
    Readiness { project_id: Uuid },
    /// Unknown changes may have been missed (e.g. a lost listener): forget
    /// everything.
    Everything,
}

/// Something that holds cached answers and must forget some of them.
pub trait Subscriber: Send + Sync {
    fn apply(&self, event: &Invalidation);
}

/// Delivers invalidations to the subscribed caches of this process.
#[derive(Clone)]
pub struct InvalidationBus {
    subscribers: Arc<RwLock<Vec<Arc<dyn Subscriber>>>>,
    /// This process's id on the wire, so it can skip its own notifications
    /// (it applied them already, right after commit).
    origin: Uuid,
}

impl Default for InvalidationBus {
    fn default() -> Self {
        Self {
            subscribers: Arc::default(),
            origin: Uuid::new_v4(),
        }
    }
}

impl std::fmt::Debug for InvalidationBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InvalidationBus")
    }
}

impl InvalidationBus {
    pub fn subscribe(&self, subscriber: Arc<dyn Subscriber>) {
        self.subscribers
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .push(subscriber);
    }

    pub fn origin(&self) -> Uuid {
        self.origin
    }

    /// Applies `events` to every subscriber, in order.
    pub fn deliver(&self, events: &[Invalidation]) {
        if events.is_empty() {
            return;
        }
        let subscribers = self
            .subscribers
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        for event in events {
            tracing::debug!(?event, "invalidating");
            for subscriber in subscribers.iter() {
                subscriber.apply(event);
            }
        }
    }
}
