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

use entity::{CircleId, ProjectId, UserId};
use std::sync::{Arc, PoisonError, RwLock, Weak};

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
    /// Members of the circle joined, changed or left.
    CircleMembers { circle_id: CircleId },
    /// A user's own instructions for an agent changed.
    Instructions { user_id: UserId, agent: String },
    /// Something that a project's readiness is computed from changed.
    Readiness { project_id: ProjectId },
    /// Unknown changes may have been missed (e.g. a lost listener): forget
    /// everything.
    Everything,
}

/// Something that holds cached answers and must forget some of them.
pub trait Subscriber: Send + Sync {
    fn apply(&self, event: &Invalidation);
}

/// Delivers invalidations to the subscribed caches of this process.
///
/// It holds its subscribers weakly: the caches hold the database handle,
/// which holds this bus, so a strong reference would keep every cache (and
/// the bus) alive forever after its application is gone.
#[derive(Clone)]
pub struct InvalidationBus {
    subscribers: Arc<RwLock<Vec<Weak<dyn Subscriber>>>>,
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
    /// Delivers to `subscriber` for as long as something else keeps it.
    pub fn subscribe(&self, subscriber: Weak<dyn Subscriber>) {
        let mut subscribers = self
            .subscribers
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        subscribers.retain(|s| s.strong_count() > 0);
        subscribers.push(subscriber);
    }

    pub fn origin(&self) -> Uuid {
        self.origin
    }

    /// Applies `events` to every subscriber, in order.
    pub fn deliver(&self, events: &[Invalidation]) {
        if events.is_empty() {
            return;
        }
        let subscribers: Vec<Arc<dyn Subscriber>> = self
            .subscribers
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter_map(Weak::upgrade)
            .collect();
        for event in events {
            tracing::debug!(?event, "invalidating");
            for subscriber in &subscribers {
                subscriber.apply(event);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[derive(Default)]
    struct Counting(AtomicUsize);

    impl Subscriber for Counting {
        fn apply(&self, _: &Invalidation) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn the_bus_does_not_keep_its_subscribers_alive() {
        let bus = InvalidationBus::default();
        let kept = Arc::new(Counting::default());
        let dropped = Arc::new(Counting::default());
        let kept_dyn: Arc<dyn Subscriber> = kept.clone();
        let dropped_dyn: Arc<dyn Subscriber> = dropped.clone();
        bus.subscribe(Arc::downgrade(&kept_dyn));
        bus.subscribe(Arc::downgrade(&dropped_dyn));
        let watch = Arc::downgrade(&dropped);
        drop((dropped, dropped_dyn));
        assert_eq!(watch.strong_count(), 0, "the bus held no strong reference");
        bus.deliver(&[Invalidation::Everything]);
        assert_eq!(kept.0.load(Ordering::SeqCst), 1);
    }
}
