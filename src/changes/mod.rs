//! What a committed write changed in the data, and the bus that tells
//! everything that keeps derived state (the caches, the live readiness
//! hub) on this replica and on every other one.
//!
//! A write transaction records each [`Change`] as it goes
//! ([`WriteTxn::record`](crate::db::WriteTxn::record)); they are delivered
//! only after the transaction commits, so nothing is forgotten for a change
//! that then rolls back, and nothing is refilled from data older than the
//! commit (see [`cache`](crate::cache) for the fence that guarantees the
//! second half).
//!
//! A change names what changed in the data, never who listens: each
//! [`Subscriber`] decides what a change means for it.
//!
//! Who owns what: the application creates the bus and subscribes its
//! caches and its live readiness hub; the database handle only gets a
//! [`ChangeSender`], the sending end of a channel whose receiving end
//! ([`ChangeReceiver::deliver_to`]) runs in a task the application owns. So
//! the caches may hold the database handle without any ownership loop.
//!
//! On PostgreSQL the same changes also travel to every other replica: the
//! transaction issues `NOTIFY` before committing (PostgreSQL delivers it on
//! commit only), and each replica's [`postgres::Listener`] delivers what it
//! hears to its bus. SQLite means one process, so the bus stays in-process
//! there.

pub mod postgres;

use entity::{CircleId, ProjectId, UserId};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tokio::{
    sync::{mpsc, oneshot},
    task::JoinHandle,
};
use uuid::Uuid;

/// One thing that changed in the data. Serializable: other replicas
/// receive these (see the README on which releases run side by side).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Change {
    /// The agent changed: its own columns, its model or provider reference,
    /// or its tools.
    Agent { name: String },
    /// Members of the circle joined, changed their role or activity, or
    /// left.
    #[serde(alias = "circle_members")]
    Membership { circle_id: CircleId },
    /// A user's own instructions for an agent changed.
    Instructions { user_id: UserId, agent: String },
    /// Something the project's state is made of (features, personas, the
    /// value path, evidence, documents) changed.
    #[serde(alias = "readiness")]
    ProjectState { project_id: ProjectId },
    /// A circle was created (the set of circles, or a circle's own columns,
    /// changed). New in the release with the response cache: a release
    /// before it flushes its caches on reading it.
    Circles,
    /// Anything may have changed: changes were missed (a lost listener, an
    /// event from a newer release this one cannot read).
    Everything,
}

/// Something that keeps state derived from the data and must drop what a
/// change made wrong. Runs right after a commit, on the committing task:
/// it must not wait.
pub trait Subscriber: Send + Sync {
    fn apply(&self, change: &Change);
}

/// This process's subscribers, in the order they are told.
pub struct ChangeBus {
    subscribers: Vec<Arc<dyn Subscriber>>,
    /// This process's id on the wire, so it can skip its own notifications
    /// (it delivered them already, right after commit).
    origin: Uuid,
}

impl std::fmt::Debug for ChangeBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChangeBus")
            .field("subscribers", &self.subscribers.len())
            .finish_non_exhaustive()
    }
}

impl ChangeBus {
    /// A bus for the process whose changes `sender` sends.
    pub fn new(sender: &ChangeSender, subscribers: Vec<Arc<dyn Subscriber>>) -> Self {
        Self {
            subscribers,
            origin: sender.origin,
        }
    }

    pub fn origin(&self) -> Uuid {
        self.origin
    }

    /// Applies `changes` to every subscriber, in order.
    pub fn deliver(&self, changes: &[Change]) {
        for change in changes {
            tracing::debug!(?change, "delivering");
            for subscriber in &self.subscribers {
                subscriber.apply(change);
            }
        }
    }
}

/// One batch of committed changes, and who waits until it is delivered.
struct Delivery {
    changes: Vec<Change>,
    delivered: oneshot::Sender<()>,
}

/// The sending end the database handle holds: committed changes go to the
/// bus of the application that made it, and [`Self::send`] returns once
/// they are applied.
#[derive(Clone, Debug)]
pub struct ChangeSender {
    deliveries: mpsc::UnboundedSender<Delivery>,
    origin: Uuid,
}

/// The receiving end; see [`Self::deliver_to`].
#[derive(Debug)]
pub struct ChangeReceiver {
    deliveries: mpsc::UnboundedReceiver<Delivery>,
}

/// A new channel for one process's committed changes.
pub fn channel() -> (ChangeSender, ChangeReceiver) {
    let (sender, receiver) = mpsc::unbounded_channel();
    (
        ChangeSender {
            deliveries: sender,
            origin: Uuid::new_v4(),
        },
        ChangeReceiver {
            deliveries: receiver,
        },
    )
}

impl ChangeSender {
    /// The process's id on the wire (see [`ChangeBus::origin`]).
    pub fn origin(&self) -> Uuid {
        self.origin
    }

    /// Delivers `changes` to the bus and waits until every subscriber has
    /// applied them, so a write's caller reads its own write. Returns at
    /// once when nothing receives (no application, or one shut down).
    pub async fn send(&self, changes: Vec<Change>) {
        if changes.is_empty() {
            return;
        }
        let (delivered, applied) = oneshot::channel();
        let delivery = Delivery { changes, delivered };
        if self.deliveries.send(delivery).is_ok() {
            // An error means the receiver went away: nobody is left to tell.
            let _ = applied.await;
        }
    }
}

impl ChangeReceiver {
    /// Delivers every batch sent to `bus`, in the order sent, until every
    /// sender is gone or the returned task is aborted (the application
    /// aborts it when it stops).
    pub fn deliver_to(mut self, bus: Arc<ChangeBus>) -> JoinHandle<()> {
        tokio::spawn(async move {
            while let Some(delivery) = self.deliveries.recv().await {
                bus.deliver(&delivery.changes);
                let _ = delivery.delivered.send(());
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{
        atomic::{AtomicUsize, Ordering},
        Mutex,
    };

    use super::*;

    #[derive(Default)]
    struct Recording(Mutex<Vec<Change>>);

    impl Subscriber for Recording {
        fn apply(&self, change: &Change) {
            self.0.lock().expect("not poisoned").push(change.clone());
        }
    }

    #[tokio::test]
    async fn a_send_returns_once_every_subscriber_applied_the_changes_in_order() {
        let (sender, receiver) = channel();
        let recording = Arc::new(Recording::default());
        let bus = Arc::new(ChangeBus::new(&sender, vec![recording.clone()]));
        let task = receiver.deliver_to(bus);
        let changes = vec![
            Change::Agent { name: "a".into() },
            Change::Everything,
            Change::Agent { name: "b".into() },
        ];
        sender.send(changes.clone()).await;
        assert_eq!(*recording.0.lock().expect("not poisoned"), changes);
        task.abort();
    }

    #[tokio::test]
    async fn stopping_the_delivery_frees_the_subscribers_and_senders_do_not_wait() {
        #[derive(Default)]
        struct Counting(AtomicUsize);
        impl Subscriber for Counting {
            fn apply(&self, _: &Change) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        let (sender, receiver) = channel();
        let counting = Arc::new(Counting::default());
        let task = receiver.deliver_to(Arc::new(ChangeBus::new(&sender, vec![counting.clone()])));
        task.abort();
        let _ = task.await;
        assert_eq!(Arc::strong_count(&counting), 1, "the bus let go of it");
        sender.send(vec![Change::Everything]).await;
        assert_eq!(counting.0.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn changes_from_the_previous_release_are_read_precisely() {
        let membership: Change = serde_json::from_str(
            r#"{"kind":"circle_members","circle_id":"9a0e2bd4-8a53-4b8e-9d2b-2f3e51f4f6a1"}"#,
        )
        .expect("an older release's change");
        assert!(matches!(membership, Change::Membership { .. }));
        let state: Change = serde_json::from_str(
            r#"{"kind":"readiness","project_id":"9a0e2bd4-8a53-4b8e-9d2b-2f3e51f4f6a1"}"#,
        )
        .expect("an older release's change");
        assert!(matches!(state, Change::ProjectState { .. }));
    }

    #[test]
    fn the_circles_change_is_a_kind_of_its_own_on_the_wire() {
        let wire = serde_json::to_string(&Change::Circles).expect("serializes");
        assert_eq!(wire, r#"{"kind":"circles"}"#);
        let read: Change = serde_json::from_str(&wire).expect("reads back");
        assert_eq!(read, Change::Circles);
    }
}
