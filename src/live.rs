//! Live readiness: the latest readiness of every project somebody follows,
//! pushed after each committed change of its inputs.
//!
//! One `watch` channel per followed project holds the latest snapshot, so a
//! follower that reads slowly skips to the newest value and nothing queues
//! up behind it. The hub listens to the change bus (this replica's
//! commits, and other replicas' through the listener): delivery only marks
//! the project dirty and wakes the coalescing task, which waits one window,
//! then recomputes every dirty project in one batch through the readiness
//! cache (single flight: one computation per change, whatever the number of
//! followers) and publishes the results. A channel goes when its last
//! follower does.

use entity::ProjectId;
use std::{
    collections::{HashMap, HashSet},
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex, MutexGuard, PoisonError, Weak,
    },
    time::Duration,
};

use tokio::{
    sync::{watch, Notify},
    task::JoinHandle,
};

use crate::{
    cache::readiness::ReadinessCache,
    changes::{Change, Subscriber},
    db::readiness::ReadinessSnapshot,
    error::AppError,
};

/// The latest snapshot of one project; `None` until the first push.
type Latest = Option<Arc<ReadinessSnapshot>>;

/// How long the coalescing task waits before retrying a failed
/// recomputation (the database is down): often enough to recover soon,
/// seldom enough not to hammer it.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// The followed projects and their latest readiness. Shared by all
/// subscriptions of the process.
pub struct LiveReadiness {
    readiness: ReadinessCache,
    watched: Mutex<Watched>,
    /// Wakes the coalescing task; shared with it, so that the task can wait
    /// without keeping the hub alive.
    wake: Arc<Notify>,
    /// Followers now (a gauge) and values handed to them (a counter), for
    /// `/metrics`.
    active: AtomicU64,
    events: AtomicU64,
}

#[derive(Default)]
struct Watched {
    channels: HashMap<ProjectId, watch::Sender<Latest>>,
    /// Followed projects changed since the last push.
    dirty: HashSet<ProjectId>,
}

impl std::fmt::Debug for LiveReadiness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LiveReadiness")
    }
}

impl LiveReadiness {
    /// Creates the hub over the readiness cache and starts its coalescing
    /// task, which pushes at most once per `window`. Subscribe the hub to
    /// the change bus.
    pub fn start(readiness: ReadinessCache, window: Duration) -> (Arc<Self>, JoinHandle<()>) {
        let hub = Arc::new(Self {
            readiness,
            watched: Mutex::default(),
            wake: Arc::new(Notify::new()),
            active: AtomicU64::new(0),
            events: AtomicU64::new(0),
        });
        let task = tokio::spawn(coalesce(
            Arc::downgrade(&hub),
            Arc::clone(&hub.wake),
            window,
        ));
        (hub, task)
    }

    /// Follows the readiness of `project_id` (the caller has checked
    /// ownership): its current value, and a [`Follower`] that yields each
    /// later one.
    pub async fn follow(
        self: &Arc<Self>,
        project_id: ProjectId,
    ) -> Result<(Arc<ReadinessSnapshot>, Follower), AppError> {
        // Registered before the current value is read, so a change committed
        // in between is pushed to this follower too.
        let receiver = self
            .lock()
            .channels
            .entry(project_id)
            .or_insert_with(|| watch::channel(None).0)
            .subscribe();
        self.active.fetch_add(1, Ordering::Relaxed);
        let mut follower = Follower {
            hub: Arc::clone(self),
            project_id,
            receiver: Some(receiver),
            last: None,
        };
        let current = self
            .readiness
            .get_many(&[project_id])
            .await?
            .get(&project_id)?
            .ok_or_else(|| {
                AppError::internal(anyhow::anyhow!("no readiness for project {project_id}"))
            })?;
        follower.last = Some(Arc::clone(&current));
        self.events.fetch_add(1, Ordering::Relaxed);
        Ok((current, follower))
    }

    /// Subscriptions open now, and values sent to subscribers so far.
    pub fn stats(&self) -> (u64, u64) {
        (
            self.active.load(Ordering::Relaxed),
            self.events.load(Ordering::Relaxed),
        )
    }

    fn lock(&self) -> MutexGuard<'_, Watched> {
        self.watched.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Recomputes every dirty followed project in one batch and publishes
    /// the new values. On failure they stay dirty.
    async fn push(&self) -> Result<(), AppError> {
        let dirty: Vec<ProjectId> = {
            let mut watched = self.lock();
            let dirty = std::mem::take(&mut watched.dirty);
            dirty
                .into_iter()
                .filter(|id| watched.channels.contains_key(id))
                .collect()
        };
        if dirty.is_empty() {
            return Ok(());
        }
        let snapshots = match self.readiness.get_many(&dirty).await {
            Ok(snapshots) => snapshots,
            Err(error) => {
                self.lock().dirty.extend(dirty);
                return Err(error);
            }
        };
        let mut watched = self.lock();
        watched.dirty.extend(snapshots.failed.into_keys());
        for (project_id, snapshot) in snapshots.found {
            if let Some(channel) = watched.channels.get(&project_id) {
                channel.send_if_modified(|latest| {
                    let same = latest.as_ref().is_some_and(|l| Arc::ptr_eq(l, &snapshot));
                    if !same {
                        *latest = Some(snapshot);
                    }
                    !same
                });
            }
        }
        Ok(())
    }

    /// Forgets a project's channel once nobody follows it.
    fn unfollow(&self, project_id: ProjectId) {
        self.active.fetch_sub(1, Ordering::Relaxed);
        let mut watched = self.lock();
        if watched
            .channels
            .get(&project_id)
            .is_some_and(|channel| channel.receiver_count() == 0)
        {
            watched.channels.remove(&project_id);
            watched.dirty.remove(&project_id);
        }
    }
}

impl Drop for LiveReadiness {
    fn drop(&mut self) {
        // Lets the coalescing task notice that the hub is gone and end.
        self.wake.notify_one();
    }
}

impl Subscriber for LiveReadiness {
    /// Runs right after a commit: marks and wakes, never waits.
    fn apply(&self, change: &Change) {
        let mut watched = self.lock();
        match change {
            Change::ProjectState { project_id } => {
                if !watched.channels.contains_key(project_id) {
                    return;
                }
                watched.dirty.insert(*project_id);
            }
            // Changes may have been missed: every follower gets a fresh value.
            Change::Everything => {
                let all: Vec<ProjectId> = watched.channels.keys().copied().collect();
                watched.dirty.extend(all);
            }
            Change::Agent { .. }
            | Change::Membership { .. }
            | Change::Instructions { .. }
            | Change::Circles => return,
        }
        drop(watched);
        self.wake.notify_one();
    }
}

/// Waits for a change, lets the window collect the burst, pushes; repeats
/// until the hub is gone.
async fn coalesce(hub: Weak<LiveReadiness>, wake: Arc<Notify>, window: Duration) {
    loop {
        wake.notified().await;
        tokio::time::sleep(window).await;
        let Some(hub) = hub.upgrade() else {
            return;
        };
        if let Err(error) = hub.push().await {
            tracing::warn!(%error, "recomputing followed readiness failed; retrying");
            drop(hub);
            tokio::time::sleep(RETRY_AFTER).await;
            wake.notify_one();
        }
    }
}

/// One subscription's view of a project's readiness.
pub struct Follower {
    hub: Arc<LiveReadiness>,
    project_id: ProjectId,
    /// Always `Some` until dropped (taken first in `drop`, so the channel
    /// sees one receiver fewer before the hub checks).
    receiver: Option<watch::Receiver<Latest>>,
    /// What this follower saw last: a value is never sent twice.
    last: Option<Arc<ReadinessSnapshot>>,
}

impl Follower {
    /// The next new value; `None` once the hub stopped publishing.
    /// Cancellation-safe: `watch::Receiver::changed` is.
    pub async fn next(&mut self) -> Option<Arc<ReadinessSnapshot>> {
        let receiver = self.receiver.as_mut()?;
        loop {
            receiver.changed().await.ok()?;
            let Some(latest) = receiver.borrow_and_update().clone() else {
                continue;
            };
            if self.last.as_ref().is_some_and(|l| Arc::ptr_eq(l, &latest)) {
                continue;
            }
            self.last = Some(Arc::clone(&latest));
            self.hub.events.fetch_add(1, Ordering::Relaxed);
            return Some(latest);
        }
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        drop(self.receiver.take());
        self.hub.unfollow(self.project_id);
    }
}
