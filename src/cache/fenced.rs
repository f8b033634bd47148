//! [`FencedCache`]: a bounded moka cache with single-flight loads and a
//! generation fence, so that an invalidation always beats a load that was
//! already in flight.
//!
//! Why a fence: a load reads the database, then stores what it read. If a
//! mutation commits and invalidates the key between the read and the store,
//! a plain cache stores the pre-mutation value after the invalidation and
//! serves it until its TTL. Here every key hashes to a stripe holding a
//! generation counter; an invalidation bumps it. A load notes the
//! generation (its [`Stamp`]) *before* reading, and the entry carries that
//! stamp. A read accepts an entry only if its stamp equals the current one,
//! so an entry loaded before an invalidation can never be served after it,
//! whenever it was stored. Invalidations happen after commit, so a load
//! whose stamp is current read the database after the last commit that
//! touched its key.
//!
//! Single flight: concurrent misses of one key with the same stamp share one
//! load. A miss that comes after an invalidation has a newer stamp and does
//! not join a load started before it. A key that makes a load fail fails
//! only itself ([`batch`](crate::batch)): the other keys of the load, and
//! the requests that joined it for them, get their values.

use std::{
    collections::HashMap,
    future::Future,
    hash::{BuildHasher, Hash, RandomState},
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex, MutexGuard, PoisonError,
    },
    time::{Duration, Instant},
};

use futures::future::{BoxFuture, FutureExt, Shared};
use moka::{notification::RemovalCause, sync::Cache};

use crate::observability::{CacheStats, StatsSnapshot};
use crate::{
    batch::{self, Loaded},
    error::AppError,
    observability,
};

/// A cache's name, counters and number of entries.
pub type CacheReport = (&'static str, StatsSnapshot, u64);

/// Called after a load read the database and before its result is stored;
/// tests use it to hold a load at exactly that point.
pub type AfterLoadHook = Arc<dyn Fn(&'static str) -> BoxFuture<'static, ()> + Send + Sync>;

/// The generation a value was loaded under.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stamp {
    epoch: u64,
    generation: u64,
}

/// Generation counters: one per stripe of keys, and an epoch for "all".
pub(super) struct Fence {
    epoch: AtomicU64,
    stripes: Box<[AtomicU64]>,
    hasher: RandomState,
}

/// The fence as it was at one moment (for bulk loads of unknown keys).
pub struct FenceSnapshot {
    epoch: u64,
    stripes: Vec<u64>,
}

const STRIPES: usize = 4096;

impl Fence {
    fn new() -> Self {
        Self {
            epoch: AtomicU64::new(0),
            stripes: (0..STRIPES).map(|_| AtomicU64::new(0)).collect(),
            hasher: RandomState::new(),
        }
    }

    fn stripe<K: Hash>(&self, key: &K) -> usize {
        // STRIPES is a power of two well below u64::MAX; the cast is exact.
        (self.hasher.hash_one(key) % STRIPES as u64) as usize
    }

    pub(super) fn stamp<K: Hash>(&self, key: &K) -> Stamp {
        Stamp {
            epoch: self.epoch.load(Ordering::SeqCst),
            generation: self.stripes[self.stripe(key)].load(Ordering::SeqCst),
        }
    }

    fn bump<K: Hash>(&self, key: &K) {
        self.stripes[self.stripe(key)].fetch_add(1, Ordering::SeqCst);
    }

    fn bump_all(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
    }

    fn snapshot(&self) -> FenceSnapshot {
        FenceSnapshot {
            epoch: self.epoch.load(Ordering::SeqCst),
            stripes: self
                .stripes
                .iter()
                .map(|g| g.load(Ordering::SeqCst))
                .collect(),
        }
    }

    fn stamp_in<K: Hash>(&self, snapshot: &FenceSnapshot, key: &K) -> Stamp {
        Stamp {
            epoch: snapshot.epoch,
            generation: snapshot.stripes[self.stripe(key)],
        }
    }
}

#[derive(Clone)]
struct Stamped<V> {
    value: V,
    stamp: Stamp,
}

type LoadResult<V> = Result<Option<V>, AppError>;
type BatchResult<K, V> = Result<Arc<Loaded<K, V>>, AppError>;
type SharedBatch<K, V> = Shared<BoxFuture<'static, BatchResult<K, V>>>;

/// A load in progress for one key: the batch it is part of (a single-key
/// load is a batch of one) and the stamp it was started under.
struct InFlight<K, V> {
    stamp: Stamp,
    batch: SharedBatch<K, V>,
}

/// Settings of one cache.
#[derive(Clone, Copy, Debug)]
pub struct CacheSettings {
    pub capacity: u64,
    pub ttl: Duration,
}

impl CacheSettings {
    /// A bounded moka cache with this capacity and TTL that counts its
    /// evictions (size or TTL, not invalidations) in `stats`.
    pub(super) fn build<K, V>(self, name: &'static str, stats: Arc<CacheStats>) -> Cache<K, V>
    where
        K: Eq + Hash + Send + Sync + 'static,
        V: Clone + Send + Sync + 'static,
    {
        Cache::builder()
            .name(name)
            .max_capacity(self.capacity)
            .time_to_live(self.ttl)
            .eviction_listener(move |_key, _value, cause: RemovalCause| {
                if cause.was_evicted() {
                    stats.record_eviction();
                }
            })
            .build()
    }
}

/// A bounded, fenced, single-flight cache. Cheap to clone (shared state).
pub struct FencedCache<K, V> {
    inner: Arc<Inner<K, V>>,
}

impl<K, V> Clone for FencedCache<K, V> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

struct Inner<K, V> {
    name: &'static str,
    /// Notes the keys of the data an entry holds in the running request's
    /// read set (see [`read_set`](super::read_set)).
    note_read: fn(&K),
    entries: Cache<K, Stamped<V>>,
    fence: Fence,
    in_flight: Mutex<HashMap<K, InFlight<K, V>>>,
    stats: Arc<CacheStats>,
    after_load: Option<AfterLoadHook>,
}

impl<K, V> FencedCache<K, V>
where
    K: Clone + Eq + Hash + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    pub fn new(
        name: &'static str,
        settings: CacheSettings,
        note_read: fn(&K),
        after_load: Option<AfterLoadHook>,
    ) -> Self {
        let stats = Arc::new(CacheStats::default());
        let entries = settings.build(name, Arc::clone(&stats));
        Self {
            inner: Arc::new(Inner {
                name,
                note_read,
                entries,
                fence: Fence::new(),
                in_flight: Mutex::new(HashMap::new()),
                stats,
                after_load,
            }),
        }
    }

    pub fn stats(&self) -> &CacheStats {
        &self.inner.stats
    }

    pub fn entry_count(&self) -> u64 {
        self.inner.entries.entry_count()
    }

    /// This cache's name, counters and size, as `/metrics` reports them.
    pub fn report(&self) -> CacheReport {
        (self.inner.name, self.stats().snapshot(), self.entry_count())
    }

    /// The current stamp of `key`; a derived value built from this cache
    /// stays valid while it is unchanged.
    pub fn stamp(&self, key: &K) -> Stamp {
        self.inner.fence.stamp(key)
    }

    /// The cached value, if present and loaded under the current stamp.
    /// Counts a hit or a miss, and notes the read in the request's read set.
    pub fn get(&self, key: &K) -> Option<V> {
        (self.inner.note_read)(key);
        let stamp = self.inner.fence.stamp(key);
        let value = self
            .inner
            .entries
            .get(key)
            .filter(|entry| entry.stamp == stamp)
            .map(|entry| entry.value);
        self.inner.stats.record_lookup(value.is_some());
        observability::record_cache_lookup(self.inner.name, value.is_some());
        value
    }

    /// The cached value, or the result of `load` (shared with every
    /// concurrent miss under the same stamp). `Ok(None)` (nothing to cache,
    /// e.g. an unknown name) and errors are not stored.
    pub async fn get_or_load<F, Fut>(&self, key: &K, load: F) -> LoadResult<V>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = LoadResult<V>> + Send + 'static,
    {
        let wanted = key.clone();
        self.load_misses(std::slice::from_ref(key), move |_| {
            batch::load_one(wanted, load())
        })
        .await?
        .get(key)
    }

    /// The cached values of `keys`; the misses are loaded with one call of
    /// `load` (keys already being loaded under their current stamp by
    /// another request are waited for, not loaded again). Keys `load` does
    /// not return are absent from the answer and not stored. When `load`
    /// fails because of its keys' data, it is called again on parts of the
    /// batch, and only the keys at fault fail.
    pub async fn get_or_load_many<F, Fut>(
        &self,
        keys: &[K],
        load: F,
    ) -> Result<Loaded<K, V>, AppError>
    where
        F: Fn(Vec<K>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<HashMap<K, V>, AppError>> + Send + 'static,
    {
        self.load_misses(keys, move |missing| batch::load_isolated(missing, load))
            .await
    }

    /// The cached values of `keys`, the misses loaded by the future `start`
    /// makes for them (or joined, when in flight).
    async fn load_misses<S, Fut>(&self, keys: &[K], start: S) -> Result<Loaded<K, V>, AppError>
    where
        S: FnOnce(Vec<K>) -> Fut,
        Fut: Future<Output = Result<Loaded<K, V>, AppError>> + Send + 'static,
    {
        let mut loaded = Loaded::default();
        let mut missing = Vec::new();
        for key in keys {
            match self.get(key) {
                Some(value) => {
                    loaded.found.insert(key.clone(), value);
                }
                None => missing.push(key.clone()),
            }
        }
        if missing.is_empty() {
            return Ok(loaded);
        }
        let batches = self.join_or_start(missing.clone(), start);
        for batch in futures::future::try_join_all(batches).await? {
            for key in &missing {
                if let Some(value) = batch.found.get(key) {
                    loaded.found.insert(key.clone(), value.clone());
                } else if let Some(error) = batch.failed.get(key) {
                    loaded.failed.insert(key.clone(), error.clone());
                }
            }
        }
        Ok(loaded)
    }

    /// The batches that answer `missing`: loads in flight under the current
    /// stamp are joined; the rest are claimed and loaded together.
    fn join_or_start<S, Fut>(&self, missing: Vec<K>, start: S) -> Vec<SharedBatch<K, V>>
    where
        S: FnOnce(Vec<K>) -> Fut,
        Fut: Future<Output = Result<Loaded<K, V>, AppError>> + Send + 'static,
    {
        let mut in_flight = lock(&self.inner.in_flight);
        let mut batches: Vec<SharedBatch<K, V>> = Vec::new();
        let mut claimed = Vec::new();
        for key in missing {
            let stamp = self.inner.fence.stamp(&key);
            match in_flight.get(&key) {
                Some(flight) if flight.stamp == stamp => {
                    batches.push(flight.batch.clone());
                }
                _ => claimed.push((key, stamp)),
            }
        }
        if !claimed.is_empty() {
            let keys = claimed.iter().map(|(key, _)| key.clone()).collect();
            let batch = self.start_batch(claimed.clone(), start(keys));
            for (key, stamp) in claimed {
                in_flight.insert(
                    key,
                    InFlight {
                        stamp,
                        batch: batch.clone(),
                    },
                );
            }
            batches.push(batch);
        }
        batches
    }

    /// Starts the load in a task of its own, so it finishes (storing its
    /// result, clearing its in-flight entry and giving its connection back)
    /// even if every request waiting on it goes away; the requests only
    /// share its outcome. Its statements are charged to the request that
    /// started it.
    fn start_batch<Fut>(&self, claimed: Vec<(K, Stamp)>, load: Fut) -> SharedBatch<K, V>
    where
        Fut: Future<Output = Result<Loaded<K, V>, AppError>> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        // The load's statements are covered by the keys its requests noted
        // when they asked (`get`).
        let task = tokio::spawn(observability::cost::charged_to_current_request(
            super::read_set::covered(async move {
                // Held across the load: however the task ends, a panic
                // included, its keys stop pointing at it, so later misses
                // load afresh instead of joining a dead load.
                let flight = ClaimedFlight { inner, claimed };
                let inner = &flight.inner;
                let started = Instant::now();
                let result = load.await;
                inner.stats.record_load(started.elapsed(), result.is_ok());
                if let Some(hook) = &inner.after_load {
                    hook(inner.name).await;
                }
                if let Ok(loaded) = &result {
                    for (key, stamp) in &flight.claimed {
                        if let Some(value) = loaded.found.get(key) {
                            inner.store(key.clone(), value.clone(), *stamp);
                        }
                    }
                }
                result.map(Arc::new)
            }),
        ));
        async move {
            task.await.unwrap_or_else(|failed| {
                Err(AppError::internal(anyhow::anyhow!(
                    "a cache load task failed: {failed}"
                )))
            })
        }
        .boxed()
        .shared()
    }

    /// Stores values read in bulk (a background refresh), each only if its
    /// key was not invalidated since `snapshot` was taken.
    pub fn store_loaded(&self, snapshot: &FenceSnapshot, values: impl IntoIterator<Item = (K, V)>) {
        for (key, value) in values {
            let stamp = self.inner.fence.stamp_in(snapshot, &key);
            self.inner.store(key, value, stamp);
        }
    }

    /// Take before a bulk read; pass to [`Self::store_loaded`].
    pub fn snapshot(&self) -> FenceSnapshot {
        self.inner.fence.snapshot()
    }

    /// The held value whatever its stamp, without counting a lookup (for
    /// comparing against a fresh read).
    pub fn peek(&self, key: &K) -> Option<V> {
        self.inner.entries.get(key).map(|entry| entry.value)
    }

    /// Keys currently held (stale or not).
    pub fn keys(&self) -> Vec<K> {
        self.inner
            .entries
            .iter()
            .map(|(key, _)| (*key).clone())
            .collect()
    }

    pub fn invalidate(&self, key: &K) {
        self.inner.fence.bump(key);
        self.inner.entries.invalidate(key);
    }

    pub fn invalidate_all(&self) {
        self.inner.fence.bump_all();
        self.inner.entries.invalidate_all();
    }
}

/// The keys one load claimed, released from the in-flight map when the
/// load ends (or unwinds).
struct ClaimedFlight<K: Eq + Hash, V> {
    inner: Arc<Inner<K, V>>,
    claimed: Vec<(K, Stamp)>,
}

impl<K: Eq + Hash, V> Drop for ClaimedFlight<K, V> {
    fn drop(&mut self) {
        let mut in_flight = lock(&self.inner.in_flight);
        for (key, stamp) in &self.claimed {
            // A later load of the key (after an invalidation) has its own
            // entry, under a newer stamp; it is not this load's to remove.
            if in_flight
                .get(key)
                .is_some_and(|flight| flight.stamp == *stamp)
            {
                in_flight.remove(key);
            }
        }
    }
}

impl<K, V> Inner<K, V>
where
    K: Clone + Eq + Hash + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// Stores `value` unless `key` was invalidated since `stamp`. (A store
    /// that races an invalidation past this check is harmless: reads compare
    /// stamps.)
    fn store(&self, key: K, value: V, stamp: Stamp) {
        if self.fence.stamp(&key) == stamp {
            self.entries.insert(key, Stamped { value, stamp });
        } else {
            self.stats.record_stale_discard();
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use super::*;

    fn cache() -> FencedCache<String, u32> {
        FencedCache::new(
            "test",
            CacheSettings {
                capacity: 100,
                ttl: Duration::from_secs(60),
            },
            |_| {},
            None,
        )
    }

    #[tokio::test]
    async fn concurrent_misses_share_one_load() {
        let cache = cache();
        let loads = Arc::new(AtomicUsize::new(0));
        let key = "k".to_owned();
        let results = futures::future::join_all((0..50).map(|_| {
            let loads = Arc::clone(&loads);
            cache.get_or_load(&key, move || async move {
                loads.fetch_add(1, Ordering::SeqCst);
                tokio::task::yield_now().await;
                Ok(Some(7))
            })
        }))
        .await;
        assert_eq!(loads.load(Ordering::SeqCst), 1);
        assert!(results.iter().all(|r| matches!(r, Ok(Some(7)))));
        assert_eq!(cache.get(&key), Some(7));
    }

    #[tokio::test]
    async fn an_invalidation_during_a_load_wins() {
        let cache = cache();
        let key = "k".to_owned();
        let (loaded_tx, loaded_rx) = tokio::sync::oneshot::channel::<()>();
        let (release_tx, release_rx) = tokio::sync::oneshot::channel::<()>();
        let slow = {
            let cache = cache.clone();
            let key = key.clone();
            tokio::spawn(async move {
                cache
                    .get_or_load(&key, move || async move {
                        let _ = loaded_tx.send(());
                        let _ = release_rx.await;
                        Ok(Some(1))
                    })
                    .await
            })
        };
        loaded_rx.await.expect("load started");
        cache.invalidate(&key);
        let after = cache.get_or_load(&key, || async { Ok(Some(2)) }).await;
        assert!(
            matches!(after, Ok(Some(2))),
            "a miss after the invalidation does not join the old load"
        );
        release_tx.send(()).expect("release");
        assert!(matches!(slow.await.expect("joined"), Ok(Some(1))));
        assert_eq!(
            cache.get(&key),
            Some(2),
            "the old load did not overwrite the fresh value"
        );
        cache.invalidate(&key);
        assert_eq!(cache.get(&key), None);
    }

    #[tokio::test]
    async fn failed_and_empty_loads_are_not_stored() {
        let cache = cache();
        let key = "k".to_owned();
        let failed = cache
            .get_or_load(&key, || async { Err(AppError::NotFound("x")) })
            .await;
        assert!(failed.is_err());
        let empty = cache.get_or_load(&key, || async { Ok(None) }).await;
        assert!(matches!(empty, Ok(None)));
        assert_eq!(cache.get(&key), None);
        assert_eq!(cache.stats().snapshot().loads, 2);
    }

    #[tokio::test]
    async fn many_keys_load_together_and_join_loads_in_flight() {
        let cache = cache();
        let calls = Arc::new(Mutex::new(Vec::<Vec<String>>::new()));
        let load = |calls: Arc<Mutex<Vec<Vec<String>>>>| {
            move |keys: Vec<String>| {
                lock(&calls).push(keys.clone());
                async move {
                    tokio::task::yield_now().await;
                    Ok(keys
                        .into_iter()
                        .filter(|k| k != "none")
                        .map(|k| (k, 1))
                        .collect())
                }
            }
        };
        cache
            .get_or_load(&"a".to_owned(), || async { Ok(Some(0)) })
            .await
            .ok();
        let keys: Vec<String> = ["a", "b", "c", "none"].map(String::from).to_vec();
        let other: Vec<String> = ["c", "d"].map(String::from).to_vec();
        let (first, second) = futures::future::join(
            cache.get_or_load_many(&keys, load(Arc::clone(&calls))),
            cache.get_or_load_many(&other, load(Arc::clone(&calls))),
        )
        .await;
        let first = first.expect("first").found;
        assert_eq!(first.get("a"), Some(&0), "a hit is not reloaded");
        assert_eq!(
            (first.get("b"), first.get("c"), first.get("none")),
            (Some(&1), Some(&1), None)
        );
        assert_eq!(second.expect("second").found.len(), 2);
        let calls = lock(&calls).clone();
        assert_eq!(
            calls,
            vec![
                vec!["b".to_owned(), "c".to_owned(), "none".to_owned()],
                vec!["d".to_owned()]
            ],
            "c was joined, not reloaded"
        );
    }

    #[tokio::test]
    async fn a_load_that_panics_fails_its_waiters_and_is_not_joined_later() {
        let cache = cache();
        let key = "k".to_owned();
        let (started_tx, started_rx) = tokio::sync::oneshot::channel::<()>();
        let (release_tx, release_rx) = tokio::sync::oneshot::channel::<()>();
        let panicking = cache.get_or_load(&key, move || async move {
            let _ = started_tx.send(());
            let _ = release_rx.await;
            panic!("a load that panics");
        });
        let joined = async {
            started_rx.await.expect("the load started");
            let joined = cache.get_or_load(&key, || async { Ok(Some(1)) });
            release_tx.send(()).expect("release");
            joined.await
        };
        let (panicked, joined) = futures::future::join(panicking, joined).await;
        assert!(matches!(panicked, Err(AppError::Internal(_))));
        assert!(
            matches!(joined, Err(AppError::Internal(_))),
            "it joined the dead load"
        );
        let later = cache.get_or_load(&key, || async { Ok(Some(2)) }).await;
        assert!(matches!(later, Ok(Some(2))), "a later miss loads afresh");
    }

    #[tokio::test]
    async fn a_key_a_load_refuses_fails_alone_for_every_request_that_joined() {
        let cache = cache();
        let load = |keys: Vec<String>| async move {
            tokio::task::yield_now().await;
            if keys.iter().any(|k| k.contains('\0')) {
                return Err(AppError::bad_input("name", "refused"));
            }
            Ok(keys.into_iter().map(|k| (k, 1)).collect())
        };
        let bad = "b\0d".to_owned();
        let keys: Vec<String> = ["a".to_owned(), bad.clone(), "c".to_owned()].to_vec();
        let joining: Vec<String> = ["a".to_owned(), "c".to_owned()].to_vec();
        let (first, joined) = futures::future::join(
            cache.get_or_load_many(&keys, load),
            cache.get_or_load_many(&joining, load),
        )
        .await;
        let first = first.expect("the batch as a whole is answered");
        assert!(matches!(
            first.get(&bad),
            Err(AppError::BadUserInput { .. })
        ));
        assert_eq!(first.get(&"a".to_owned()).ok(), Some(Some(1)));
        assert_eq!(first.get(&"c".to_owned()).ok(), Some(Some(1)));
        let joined = joined.expect("the request that joined is answered");
        assert_eq!(joined.found.len(), 2, "{joined:?}");
        assert_eq!(cache.get(&"a".to_owned()), Some(1), "good keys are stored");
    }

    #[test]
    fn bulk_stores_skip_keys_invalidated_since_the_snapshot() {
        let cache = cache();
        let snapshot = cache.snapshot();
        cache.invalidate(&"b".to_owned());
        cache.store_loaded(&snapshot, [("a".to_owned(), 1), ("b".to_owned(), 2)]);
        assert_eq!(cache.get(&"a".to_owned()), Some(1));
        assert_eq!(cache.get(&"b".to_owned()), None);
    }
}
