//! The response cache: encoded answers to queries, each kept with the keys
//! of everything its execution read ([`read_set`](super::read_set)), so a
//! repeated query costs what sending its bytes costs.
//!
//! What makes it safe, none of it a TTL:
//! - **Only answers whose every read had a key are kept.** The read set
//!   says so (any statement outside a keyed read, the clock, ... make it
//!   unkeyed); errors, partial answers and anonymous answers are not kept.
//! - **Scope.** An answer that read anything about its viewer (the viewer
//!   itself, its instructions, its projects) is kept for that viewer only;
//!   one that read only shared data is kept for the viewer's role (admin or
//!   not), which is all that decides access to shared data.
//! - **Invalidation by sequence.** Every change delivered to this process
//!   (from this replica or another, through the bus) takes the next number
//!   of a sequence and writes it into the stripe of each key it names (or
//!   into the "everything" slot). An entry carries the sequence number seen
//!   when its execution *began*; it is served only while no stripe of its
//!   keys, nor "everything", holds a later number. So a change that touches
//!   a key makes every entry that read it unservable at once (the entry is
//!   then dropped and counted as an invalidation), and an answer computed
//!   while such a change committed is never served and not stored (the
//!   fence: counted as a stale discard). Changes are delivered after their
//!   commit, so an execution that began after a change's number read the
//!   committed data.
//! - **Exact match.** Entries are found by a hash of the request (document
//!   text, operation name, variables) and scope, and compared byte for byte
//!   with the request before they are served.
//!
//! Bounded by bytes (`--response-cache-bytes`; 0 turns it off); single
//! flight per request and role: concurrent misses wait for the first one's
//! execution, then look again.

use std::{
    collections::HashMap,
    hash::{DefaultHasher, Hash, Hasher},
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex, OnceLock, PoisonError,
    },
    time::Duration,
};

use axum::body::Bytes;
use clap::Args;
use entity::UserId;
use futures::future::{FutureExt, Shared};
use moka::{notification::RemovalCause, sync::Cache};
use tokio::sync::oneshot;

use super::{
    fenced::CacheReport,
    read_set::{changed_by, ReadState},
    table::CacheInfo,
    CacheSettings, SharedCache,
};
use crate::{auth::Viewer, changes::Change, config::duration, observability::CacheStats};

pub const INFO: CacheInfo = CacheInfo {
    name: "responses",
    keeps: "encoded query answers with what they read (capacity in bytes)",
    key: "hash of (document, operation name, variables) and scope: the viewer if the answer \
          read anything viewer-specific, else the role",
    capacity_flag: "--response-cache-bytes",
    capacity: 64 * 1024 * 1024,
    ttl_flag: "--response-cache-ttl",
    ttl: "600s",
    filled_by: "a signed-in viewer's query answered without errors, every read of which had a \
                key (one execution at a time per request and role)",
    evicted_by: "a change naming any key the execution read, on every replica (through the \
                 bus); an answer a change overtook while it ran is not stored",
};

/// The response cache's flags.
#[derive(Clone, Debug, Args)]
pub struct ResponseSettings {
    /// Bytes of encoded answers kept; 0 turns the response cache off.
    #[arg(
        long,
        env = "AGENTGRAPH_RESPONSE_CACHE_BYTES",
        default_value_t = INFO.capacity,
        global = true
    )]
    pub response_cache_bytes: u64,

    /// How long an answer stays at most (memory only: invalidation never
    /// waits for it).
    #[arg(long, env = "AGENTGRAPH_RESPONSE_CACHE_TTL", default_value = INFO.ttl, value_parser = duration, global = true)]
    pub response_cache_ttl: Duration,
}

impl ResponseSettings {
    pub fn sizing(&self) -> CacheSettings {
        CacheSettings {
            capacity: self.response_cache_bytes,
            ttl: self.response_cache_ttl,
        }
    }
}

/// Who an answer may be served to.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum Scope {
    Viewer(UserId),
    Role { admin: bool },
}

/// One request as the cache sees it: its bytes (what an entry is compared
/// with) and their hash.
#[derive(Debug)]
pub struct RequestKey {
    hash: u64,
    bytes: Box<[u8]>,
}

impl RequestKey {
    /// The key of a request for `document` with `operation` and the
    /// variables `variables` (as JSON).
    pub fn new(document: &str, operation: Option<&str>, variables: &[u8]) -> Self {
        let operation = operation.unwrap_or_default();
        let mut bytes = Vec::with_capacity(document.len() + operation.len() + variables.len() + 24);
        // Lengths first: no two different requests have the same bytes.
        for part in [document.as_bytes(), operation.as_bytes(), variables] {
            bytes.extend_from_slice(&(part.len() as u64).to_le_bytes());
        }
        bytes.extend_from_slice(document.as_bytes());
        bytes.extend_from_slice(operation.as_bytes());
        bytes.extend_from_slice(variables);
        let mut hasher = DefaultHasher::new();
        bytes.hash(&mut hasher);
        Self {
            hash: hasher.finish(),
            bytes: bytes.into_boxed_slice(),
        }
    }
}

/// A kept answer.
#[derive(Debug)]
pub struct Answer {
    /// The request it answers, compared on every hit.
    request: Box<[u8]>,
    /// The encoded response (`{"data":...}`).
    pub body: Bytes,
    /// The operation's name, for the request metrics.
    pub operation: Option<String>,
    /// Its identity, for the `ETag`: unique in the process.
    pub tag: u64,
    /// Stripes of the keys its execution read.
    stripes: Box<[u16]>,
    /// The change sequence number when its execution began.
    began: u64,
    /// The compressed forms, once computed.
    pub gzip: OnceLock<Bytes>,
    pub br: OnceLock<Bytes>,
}

impl Answer {
    fn weight(&self) -> u32 {
        let compressed = [&self.gzip, &self.br]
            .iter()
            .filter_map(|form| form.get().map(Bytes::len))
            .sum::<usize>();
        let bytes =
            self.body.len() + self.request.len() + compressed + self.stripes.len() * 2 + 256;
        u32::try_from(bytes).unwrap_or(u32::MAX)
    }
}

/// The moment an execution began, in change sequence numbers.
#[derive(Clone, Copy, Debug)]
pub struct Began(u64);

const STRIPES: usize = 4096;

type Key = (u64, Scope);
type Waiting = Shared<oneshot::Receiver<()>>;

/// The response cache. Cheap to clone.
#[derive(Clone)]
pub struct ResponseCache {
    inner: Option<Arc<Inner>>,
}

struct Inner {
    entries: Cache<Key, Arc<Answer>>,
    /// The number of the last change delivered.
    sequence: AtomicU64,
    /// For each stripe of keys, the number of the last change that named one.
    stripes: Box<[AtomicU64]>,
    /// The number of the last change that named everything.
    everything: AtomicU64,
    /// Executions in progress, by request and role; waiters are woken when
    /// the execution ends (or is dropped).
    flights: Mutex<HashMap<(u64, bool), (u64, Waiting)>>,
    next_tag: AtomicU64,
    stats: Arc<CacheStats>,
}

/// What a lookup found.
pub enum Lookup {
    Hit(Arc<Answer>),
    /// Execute; store the answer with [`ResponseCache::store`]. Holds the
    /// flight (others wait for it) until dropped.
    Miss(Option<Flight>),
}

/// The one execution of a request and role that others wait for; they
/// look again when it is dropped (the answer stored, or not).
pub struct Flight {
    inner: Arc<Inner>,
    key: (u64, bool),
    id: u64,
    _done: oneshot::Sender<()>,
}

impl Drop for Flight {
    fn drop(&mut self) {
        let mut flights = lock(&self.inner.flights);
        if flights.get(&self.key).is_some_and(|(id, _)| *id == self.id) {
            flights.remove(&self.key);
        }
    }
}

impl ResponseCache {
    pub fn new(settings: &ResponseSettings) -> Self {
        if settings.response_cache_bytes == 0 {
            return Self { inner: None };
        }
        let stats = Arc::new(CacheStats::default());
        let evictions = Arc::clone(&stats);
        let entries = Cache::builder()
            .name(INFO.name)
            .max_capacity(settings.response_cache_bytes)
            .time_to_live(settings.response_cache_ttl)
            .weigher(|_key, answer: &Arc<Answer>| answer.weight())
            .eviction_listener(move |_key, _value, cause: RemovalCause| {
                if cause.was_evicted() {
                    evictions.record_eviction();
                }
            })
            .build();
        Self {
            inner: Some(Arc::new(Inner {
                entries,
                sequence: AtomicU64::new(0),
                stripes: (0..STRIPES).map(|_| AtomicU64::new(0)).collect(),
                everything: AtomicU64::new(0),
                flights: Mutex::new(HashMap::new()),
                next_tag: AtomicU64::new(1),
                stats,
            })),
        }
    }

    pub fn is_on(&self) -> bool {
        self.inner.is_some()
    }

    /// Call before executing: the answer will be stored only if no change
    /// to what it read comes after this.
    pub fn begin(&self) -> Began {
        Began(
            self.inner
                .as_ref()
                .map_or(0, |inner| inner.sequence.load(Ordering::SeqCst)),
        )
    }

    /// The kept answer to `request` for `viewer`, without waiting and
    /// without counting (the hit path counts with [`Self::lookup`]).
    fn find(&self, inner: &Inner, request: &RequestKey, viewer: &Viewer) -> Option<Arc<Answer>> {
        // The role's first: most answers are shared. (Either one found is
        // the viewer's to receive: an answer kept for the role read nothing
        // of its viewer.)
        let scopes = [
            Scope::Role {
                admin: viewer.is_admin,
            },
            Scope::Viewer(viewer.id),
        ];
        for scope in scopes {
            let key = (request.hash, scope);
            let Some(answer) = inner.entries.get(&key) else {
                continue;
            };
            if answer.request != request.bytes {
                continue;
            }
            if inner.is_current(&answer) {
                return Some(answer);
            }
            inner.entries.invalidate(&key);
            inner.stats.record_invalidation();
        }
        None
    }

    /// The kept answer to `request` for `viewer`, if any, without waiting
    /// for an execution in progress.
    pub fn peek(&self, request: &RequestKey, viewer: &Viewer) -> Option<Arc<Answer>> {
        let inner = self.inner.as_ref()?;
        let found = self.find(inner, request, viewer);
        inner.stats.record_lookup(found.is_some());
        found
    }

    /// The kept answer to `request` for `viewer`, or a miss. When another
    /// execution of the request for the viewer's role is in progress, waits
    /// for it and looks again; otherwise the miss holds the flight.
    pub async fn lookup(&self, request: &RequestKey, viewer: &Viewer) -> Lookup {
        let Some(inner) = &self.inner else {
            return Lookup::Miss(None);
        };
        if let Some(answer) = self.find(inner, request, viewer) {
            inner.stats.record_lookup(true);
            return Lookup::Hit(answer);
        }
        let flight_key = (request.hash, viewer.is_admin);
        let waiting = {
            let mut flights = lock(&inner.flights);
            match flights.get(&flight_key) {
                Some((_, waiting)) => Some(waiting.clone()),
                None => {
                    let (done, waiting) = oneshot::channel();
                    let id = inner.next_tag.fetch_add(1, Ordering::Relaxed);
                    flights.insert(flight_key, (id, waiting.shared()));
                    drop(flights);
                    inner.stats.record_lookup(false);
                    return Lookup::Miss(Some(Flight {
                        inner: Arc::clone(inner),
                        key: flight_key,
                        id,
                        _done: done,
                    }));
                }
            }
        };
        if let Some(waiting) = waiting {
            // Ends (with an error) when the flight is dropped.
            let _ = waiting.await;
        }
        let found = self.find(inner, request, viewer);
        inner.stats.record_lookup(found.is_some());
        match found {
            Some(answer) => Lookup::Hit(answer),
            None => Lookup::Miss(None),
        }
    }

    /// Keeps `body`, the answer to `request` for `viewer` whose execution
    /// began at `began` and read `reads`, unless something it read has no
    /// key or changed since it began. Returns whether it was kept.
    pub fn store(
        &self,
        request: &RequestKey,
        viewer: &Viewer,
        operation: Option<String>,
        began: Began,
        reads: &ReadState,
        body: Bytes,
    ) -> Option<Arc<Answer>> {
        let inner = self.inner.as_ref()?;
        if reads.unkeyed.is_some() {
            return None;
        }
        let scope = if reads.per_viewer {
            Scope::Viewer(viewer.id)
        } else {
            Scope::Role {
                admin: viewer.is_admin,
            }
        };
        let mut stripes: Vec<u16> = reads.keys.iter().map(|key| stripe(*key)).collect();
        stripes.sort_unstable();
        stripes.dedup();
        let answer = Arc::new(Answer {
            request: request.bytes.clone(),
            body,
            operation,
            tag: inner.next_tag.fetch_add(1, Ordering::Relaxed),
            stripes: stripes.into_boxed_slice(),
            began: began.0,
            gzip: OnceLock::new(),
            br: OnceLock::new(),
        });
        if !inner.is_current(&answer) {
            inner.stats.record_stale_discard();
            return None;
        }
        // A change delivered after this check makes the entry unservable:
        // every hit checks again.
        inner
            .entries
            .insert((request.hash, scope), Arc::clone(&answer));
        Some(answer)
    }

    /// Stores `answer` again once a compressed form was added, so its
    /// weight counts it.
    pub fn reweigh(&self, request: &RequestKey, viewer: &Viewer, answer: &Arc<Answer>) {
        let Some(inner) = &self.inner else {
            return;
        };
        for scope in [
            Scope::Viewer(viewer.id),
            Scope::Role {
                admin: viewer.is_admin,
            },
        ] {
            let key = (request.hash, scope);
            if inner
                .entries
                .get(&key)
                .is_some_and(|kept| Arc::ptr_eq(&kept, answer))
            {
                inner.entries.insert(key, Arc::clone(answer));
            }
        }
    }
}

impl Inner {
    /// Whether no change to anything `answer` read came after its
    /// execution began.
    fn is_current(&self, answer: &Answer) -> bool {
        self.everything.load(Ordering::SeqCst) <= answer.began
            && answer
                .stripes
                .iter()
                .all(|&s| self.stripes[usize::from(s)].load(Ordering::SeqCst) <= answer.began)
    }
}

fn stripe(fingerprint: u64) -> u16 {
    // STRIPES is 4096: the remainder fits.
    (fingerprint % STRIPES as u64) as u16
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl SharedCache for ResponseCache {
    /// Takes the next sequence number and writes it where `change` names.
    fn on_change(&self, change: &Change) {
        let Some(inner) = &self.inner else {
            return;
        };
        let number = inner.sequence.fetch_add(1, Ordering::SeqCst) + 1;
        match changed_by(change) {
            None => {
                inner.everything.fetch_max(number, Ordering::SeqCst);
            }
            Some(keys) => {
                for key in keys {
                    inner.stripes[usize::from(stripe(key))].fetch_max(number, Ordering::SeqCst);
                }
            }
        }
    }

    fn report(&self) -> CacheReport {
        match &self.inner {
            Some(inner) => (
                INFO.name,
                inner.stats.snapshot(),
                inner.entries.entry_count(),
            ),
            None => (INFO.name, Default::default(), 0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::read_set::ReadKey;

    fn cache() -> ResponseCache {
        ResponseCache::new(&ResponseSettings {
            response_cache_bytes: 1 << 20,
            response_cache_ttl: Duration::from_secs(60),
        })
    }

    fn viewer(admin: bool) -> Viewer {
        Viewer {
            id: UserId::new(),
            is_admin: admin,
        }
    }

    fn reads(keys: &[ReadKey<'_>], per_viewer: bool) -> ReadState {
        ReadState {
            keys: keys.iter().map(ReadKey::fingerprint).collect(),
            unkeyed: None,
            per_viewer,
        }
    }

    async fn hit(cache: &ResponseCache, request: &RequestKey, viewer: &Viewer) -> bool {
        matches!(cache.lookup(request, viewer).await, Lookup::Hit(_))
    }

    #[tokio::test]
    async fn an_answer_is_served_until_a_change_names_what_it_read() {
        let cache = cache();
        let (one, two) = (viewer(false), viewer(false));
        let request = RequestKey::new("{ circles { x } }", None, b"{}");
        let began = cache.begin();
        let body = Bytes::from_static(b"{\"data\":{}}");
        let kept = cache.store(
            &request,
            &one,
            None,
            began,
            &reads(&[ReadKey::Circles], false),
            body,
        );
        assert!(kept.is_some());
        assert!(hit(&cache, &request, &one).await);
        assert!(hit(&cache, &request, &two).await, "shared within the role");
        assert!(
            !hit(&cache, &request, &viewer(true)).await,
            "not across roles"
        );
        cache.on_change(&Change::Agent { name: "a".into() });
        assert!(hit(&cache, &request, &one).await, "an unrelated change");
        cache.on_change(&Change::Circles);
        assert!(!hit(&cache, &request, &one).await);
    }

    #[tokio::test]
    async fn viewer_specific_answers_stay_with_their_viewer() {
        let cache = cache();
        let (one, two) = (viewer(false), viewer(false));
        let request = RequestKey::new("{ viewer { id } }", None, b"{}");
        let body = Bytes::from_static(b"{\"data\":{}}");
        cache.store(&request, &one, None, cache.begin(), &reads(&[], true), body);
        assert!(hit(&cache, &request, &one).await);
        assert!(!hit(&cache, &request, &two).await);
    }

    #[tokio::test]
    async fn unkeyed_answers_and_answers_a_change_overtook_are_not_kept() {
        let cache = cache();
        let one = viewer(false);
        let request = RequestKey::new("{ x }", None, b"{}");
        let body = Bytes::from_static(b"{}");
        let mut unkeyed = reads(&[], false);
        unkeyed.unkeyed = Some("a statement outside a keyed read");
        assert!(cache
            .store(&request, &one, None, cache.begin(), &unkeyed, body.clone())
            .is_none());
        let began = cache.begin();
        let circle = entity::CircleId::new();
        cache.on_change(&Change::Membership { circle_id: circle });
        let read = reads(&[ReadKey::Membership(circle)], false);
        assert!(cache
            .store(&request, &one, None, began, &read, body.clone())
            .is_none());
        assert_eq!(cache.report().1.stale_discards, 1);
        cache.on_change(&Change::Everything);
        let began = cache.begin();
        assert!(cache
            .store(&request, &one, None, began, &read, body)
            .is_some());
        cache.on_change(&Change::Everything);
        assert!(!hit(&cache, &request, &one).await);
    }

    #[tokio::test]
    async fn requests_that_differ_in_any_part_are_different_keys() {
        let a = RequestKey::new("{ x }", Some("A"), b"{}");
        let b = RequestKey::new("{ x }A", None, b"{}");
        assert_ne!(a.bytes, b.bytes);
        let c = RequestKey::new("{ x }", Some("A"), b"{\"v\":1}");
        assert_ne!(a.bytes, c.bytes);
    }

    #[tokio::test]
    async fn concurrent_misses_wait_for_the_first_and_then_hit() {
        let cache = cache();
        let one = viewer(false);
        let request = RequestKey::new("{ circles { x } }", None, b"{}");
        let Lookup::Miss(Some(flight)) = cache.lookup(&request, &one).await else {
            panic!("the first miss holds the flight");
        };
        let waiting = cache.lookup(&request, &one);
        let storing = async {
            tokio::task::yield_now().await;
            let body = Bytes::from_static(b"{\"data\":{}}");
            cache.store(
                &request,
                &one,
                None,
                cache.begin(),
                &reads(&[], false),
                body,
            );
            drop(flight);
        };
        let (looked, ()) = futures::future::join(waiting, storing).await;
        assert!(matches!(looked, Lookup::Hit(_)));
    }

    #[tokio::test]
    async fn a_dropped_flight_lets_the_waiters_execute() {
        let cache = cache();
        let one = viewer(false);
        let request = RequestKey::new("{ y }", None, b"{}");
        let first = cache.lookup(&request, &one).await;
        assert!(matches!(first, Lookup::Miss(Some(_))));
        let waiting = cache.lookup(&request, &one);
        let dropping = async {
            tokio::task::yield_now().await;
            drop(first);
        };
        let (looked, ()) = futures::future::join(waiting, dropping).await;
        assert!(
            matches!(looked, Lookup::Miss(None)),
            "it waited, then missed"
        );
    }

    #[tokio::test]
    async fn off_keeps_nothing() {
        let cache = ResponseCache::new(&ResponseSettings {
            response_cache_bytes: 0,
            response_cache_ttl: Duration::from_secs(60),
        });
        let one = viewer(false);
        let request = RequestKey::new("{ y }", None, b"{}");
        let body = Bytes::from_static(b"{}");
        assert!(cache
            .store(
                &request,
                &one,
                None,
                cache.begin(),
                &reads(&[], false),
                body
            )
            .is_none());
        assert!(matches!(
            cache.lookup(&request, &one).await,
            Lookup::Miss(None)
        ));
    }
}
