//! What one request's execution read, for the response cache: the keys of
//! the data it read (each one a [`Change`] names when that data changes),
//! whether it read anything about its viewer, and whether it read anything
//! no key covers.
//!
//! The default is "not keepable": every SQL statement charged to a request
//! marks its read set *unkeyed* unless it runs inside a keyed read
//! ([`keyed`], or a cache load, whose keys the cache noted on lookup). So a
//! new read that declares no key makes the answers that use it uncached,
//! never stale. Reads that are not SQL are noted where they happen: the
//! viewer ([`note_viewer`], from `ctx.viewer()`), the clock
//! ([`note_unkeyed`]).
//!
//! The set travels with the request like its cost: a task-local, carried
//! into the tasks a request starts (cache loads, commits) by
//! [`propagated`]. Keys are kept as fingerprints (a hash of the key), so
//! noting one allocates nothing but its slot; two keys that share a
//! fingerprint only make a change drop more than it had to.

use std::{
    future::Future,
    hash::{DefaultHasher, Hash, Hasher},
    sync::{Arc, Mutex, PoisonError},
};

use entity::{CircleId, ProjectId, UserId};

use crate::changes::Change;

/// One thing an answer may have read, named the way [`Change`]s name what
/// they change.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum ReadKey<'a> {
    /// One agent's own data (configuration, tools, status).
    Agent(&'a str),
    /// Data that shows many agents at once (member lists with agent
    /// summaries, the agents list): any agent's change.
    AgentLists,
    /// The set of circles and their own columns (pages, by id).
    Circles,
    /// One circle's members.
    Membership(CircleId),
    /// One user's instructions for one agent (viewer-specific).
    Instructions(UserId, &'a str),
    /// One project's state (viewer-specific: projects are their owner's).
    ProjectState(ProjectId),
}

impl ReadKey<'_> {
    /// The key's fingerprint: what read sets keep and changes are matched by.
    pub fn fingerprint(&self) -> u64 {
        // `DefaultHasher::new` has fixed keys: the same key has the same
        // fingerprint everywhere in the process.
        let mut hasher = DefaultHasher::new();
        self.hash(&mut hasher);
        hasher.finish()
    }

    /// Whether an answer that read this may only go to the same viewer.
    fn is_viewer_specific(&self) -> bool {
        matches!(self, Self::Instructions(..) | Self::ProjectState(_))
    }
}

/// The keys `change` makes stale, or `None` for all of them.
pub fn changed_by(change: &Change) -> Option<Vec<u64>> {
    let keys = match change {
        Change::Agent { name } => vec![ReadKey::Agent(name), ReadKey::AgentLists],
        Change::Membership { circle_id } => vec![ReadKey::Membership(*circle_id)],
        Change::Instructions { user_id, agent } => vec![ReadKey::Instructions(*user_id, agent)],
        Change::ProjectState { project_id } => vec![ReadKey::ProjectState(*project_id)],
        Change::Circles => vec![ReadKey::Circles],
        Change::Everything => return None,
    };
    Some(keys.iter().map(ReadKey::fingerprint).collect())
}

/// What one execution read. Shared by every future of the request.
#[derive(Debug, Default)]
pub struct ReadSet {
    state: Mutex<ReadState>,
}

/// The read set once execution is over.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReadState {
    /// Fingerprints of the keys read, each once.
    pub keys: Vec<u64>,
    /// Why the answer cannot be kept (the first reason found), if so.
    pub unkeyed: Option<&'static str>,
    /// It read something only its viewer may see.
    pub per_viewer: bool,
}

impl ReadSet {
    fn with<T>(&self, f: impl FnOnce(&mut ReadState) -> T) -> T {
        f(&mut self.state.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// What was read, keys sorted and each once.
    pub fn finish(&self) -> ReadState {
        self.with(|state| {
            let mut state = std::mem::take(state);
            state.keys.sort_unstable();
            state.keys.dedup();
            state
        })
    }
}

tokio::task_local! {
    static CURRENT: Arc<ReadSet>;
    /// Set while a read whose keys are noted runs: its statements are
    /// covered.
    static KEYED: ();
}

/// Runs `future` (a request's execution) noting what it reads in `set`.
pub async fn scope<F: Future>(set: Arc<ReadSet>, future: F) -> F::Output {
    CURRENT.scope(set, future).await
}

fn with_current(f: impl FnOnce(&ReadSet)) {
    let _ = CURRENT.try_with(|set| f(set));
}

/// Notes that the running request read `key`.
pub fn note(key: ReadKey<'_>) {
    with_current(|set| {
        let fingerprint = key.fingerprint();
        set.with(|state| {
            state.keys.push(fingerprint);
            state.per_viewer |= key.is_viewer_specific();
        });
    });
}

/// Notes that the running request read who its viewer is.
pub fn note_viewer() {
    with_current(|set| set.with(|state| state.per_viewer = true));
}

/// Notes that the running request read something no change names: its
/// answer is not kept.
pub fn note_unkeyed(reason: &'static str) {
    with_current(|set| {
        set.with(|state| {
            state.unkeyed.get_or_insert(reason);
        });
    });
}

/// Called for every SQL statement charged to the running request: outside a
/// keyed read, it makes the answer not keepable.
pub fn note_statement() {
    if KEYED.try_with(|()| ()).is_err() {
        note_unkeyed("a statement outside a keyed read");
    }
}

/// `future`, a read of the data of `keys`: its statements are covered.
pub async fn keyed<F: Future>(keys: &[ReadKey<'_>], future: F) -> F::Output {
    for key in keys {
        note(*key);
    }
    KEYED.scope((), future).await
}

/// `future`, a cache load whose keys the cache noted when it was asked:
/// its statements are covered.
pub async fn covered<F: Future>(future: F) -> F::Output {
    KEYED.scope((), future).await
}

/// `future` noting its reads in the read set of the request running now
/// (if any), wherever it is polled: for work a request starts in a task of
/// its own. Coverage ([`keyed`]) is not carried: the task declares its own.
pub fn propagated<F: Future>(future: F) -> impl Future<Output = F::Output> {
    let set = CURRENT.try_with(Arc::clone).ok();
    async move {
        match set {
            Some(set) => CURRENT.scope(set, future).await,
            None => future.await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn read(future: impl Future<Output = ()>) -> ReadState {
        let set = Arc::new(ReadSet::default());
        scope(Arc::clone(&set), future).await;
        set.finish()
    }

    #[tokio::test]
    async fn a_statement_outside_a_keyed_read_makes_the_answer_unkeyed() {
        let state = read(async {
            keyed(&[ReadKey::Circles], async { note_statement() }).await;
        })
        .await;
        assert_eq!(state.unkeyed, None);
        assert_eq!(state.keys, vec![ReadKey::Circles.fingerprint()]);
        let state = read(async {
            keyed(&[ReadKey::Circles], async {}).await;
            note_statement();
        })
        .await;
        assert!(state.unkeyed.is_some());
    }

    #[tokio::test]
    async fn a_task_started_by_the_request_notes_into_its_set_but_is_not_covered() {
        let state = read(async {
            let task = tokio::spawn(propagated(async { note_statement() }));
            task.await.expect("the task ran");
        })
        .await;
        assert!(state.unkeyed.is_some());
        let state = read(async {
            let task = tokio::spawn(propagated(covered(async { note_statement() })));
            task.await.expect("the task ran");
        })
        .await;
        assert_eq!(state.unkeyed, None);
    }

    #[tokio::test]
    async fn viewer_specific_keys_and_the_viewer_make_the_answer_per_viewer() {
        let user = UserId::new();
        let state = read(async { note(ReadKey::Instructions(user, "a")) }).await;
        assert!(state.per_viewer);
        let state = read(async { note(ReadKey::Agent("a")) }).await;
        assert!(!state.per_viewer);
        let state = read(async { note_viewer() }).await;
        assert!(state.per_viewer);
    }

    #[test]
    fn each_change_names_the_keys_of_what_it_changed() {
        let circle = CircleId::new();
        let named = changed_by(&Change::Membership { circle_id: circle }).unwrap_or_default();
        assert_eq!(named, vec![ReadKey::Membership(circle).fingerprint()]);
        let agent = changed_by(&Change::Agent { name: "a".into() }).unwrap_or_default();
        assert!(agent.contains(&ReadKey::AgentLists.fingerprint()));
        assert!(agent.contains(&ReadKey::Agent("a").fingerprint()));
        assert!(!agent.contains(&ReadKey::Agent("b").fingerprint()));
        assert_eq!(
            changed_by(&Change::Circles),
            Some(vec![ReadKey::Circles.fingerprint()])
        );
        assert_eq!(changed_by(&Change::Everything), None);
    }
}
