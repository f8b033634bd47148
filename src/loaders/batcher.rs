//! [`Batcher`]: collects the keys requested in one executor pass and loads
//! them with one call, without a timer and without leaving the task. A
//! key that makes the call fail fails only itself ([`batch`]).

use std::{
    collections::HashMap,
    future::Future,
    hash::Hash,
    sync::{Arc, Mutex, MutexGuard, PoisonError, Weak},
};

use futures::future::{BoxFuture, FutureExt, Shared};

use crate::{
    batch::{self, Loaded},
    error::AppError,
};

type BatchResult<K, V> = Result<Arc<Loaded<K, V>>, AppError>;
type BatchFuture<K, V> = Shared<BoxFuture<'static, BatchResult<K, V>>>;
type Fetch<K, V> =
    Arc<dyn Fn(Vec<K>) -> BoxFuture<'static, Result<Loaded<K, V>, AppError>> + Send + Sync>;

/// Batches lookups of `V` by `K` within one request, and remembers every
/// answer for the rest of the request.
pub struct Batcher<K, V> {
    state: Arc<Mutex<State<K, V>>>,
    fetch: Fetch<K, V>,
}

struct State<K, V> {
    /// The batch still taking keys; closed when its fetch starts.
    open: Option<OpenBatch<K, V>>,
    /// Every key asked for so far, with the batch that answers it.
    by_key: HashMap<K, BatchFuture<K, V>>,
}

struct OpenBatch<K, V> {
    keys: Vec<K>,
    future: BatchFuture<K, V>,
}

impl<K, V> Batcher<K, V>
where
    K: Clone + Eq + Hash + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// `fetch` gets a batch of distinct keys and returns the values it found;
    /// a key missing from its answer loads as `None`. A batch that fails
    /// because of its keys' data is split until the keys at fault stand
    /// alone ([`batch::load_isolated`]).
    pub fn new<F, Fut>(fetch: F) -> Self
    where
        F: Fn(Vec<K>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<HashMap<K, V>, AppError>> + Send + 'static,
    {
        let fetch = Arc::new(fetch);
        Self::isolated(move |keys| {
            let fetch = Arc::clone(&fetch);
            async move { batch::load_isolated(keys, |keys| fetch(keys)).await }
        })
    }

    /// Like [`Self::new`], for a `fetch` that isolates failing keys itself
    /// (a cache, whose loads other requests join).
    pub fn isolated<F, Fut>(fetch: F) -> Self
    where
        F: Fn(Vec<K>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Loaded<K, V>, AppError>> + Send + 'static,
    {
        Self {
            state: Arc::new(Mutex::new(State {
                open: None,
                by_key: HashMap::new(),
            })),
            fetch: Arc::new(move |keys| fetch(keys).boxed()),
        }
    }

    pub async fn load(&self, key: K) -> Result<Option<V>, AppError> {
        let (batch, joined_open_batch) = self.enqueue(key.clone());
        if joined_open_batch {
            // Give every sibling polled in this executor pass (other fields,
            // other list items) the chance to add its key before the batch
            // is sent: the first waiter to poll the batch closes it.
            tokio::task::yield_now().await;
        }
        batch.await?.get(&key)
    }

    /// The batch that answers `key`, and whether the key was just added to
    /// the open batch (rather than found in one already sent).
    fn enqueue(&self, key: K) -> (BatchFuture<K, V>, bool) {
        let mut state = lock(&self.state);
        if let Some(batch) = state.by_key.get(&key) {
            let still_open = state
                .open
                .as_ref()
                .is_some_and(|open| open.keys.contains(&key));
            return (batch.clone(), still_open);
        }
        let batch = match &mut state.open {
            Some(open) => {
                open.keys.push(key.clone());
                open.future.clone()
            }
            None => {
                let future = self.start_batch();
                state.open = Some(OpenBatch {
                    keys: vec![key.clone()],
                    future: future.clone(),
                });
                future
            }
        };
        state.by_key.insert(key, batch.clone());
        (batch, true)
    }

    fn start_batch(&self) -> BatchFuture<K, V> {
        // Weak: the future is stored in the state it reads, and a strong
        // reference would keep both alive after the request ends.
        let state: Weak<Mutex<State<K, V>>> = Arc::downgrade(&self.state);
        let fetch = Arc::clone(&self.fetch);
        async move {
            let keys = state
                .upgrade()
                .and_then(|state| lock(&state).open.take())
                .map(|open| open.keys)
                .unwrap_or_default();
            fetch(keys).await.map(Arc::new)
        }
        .boxed()
        .shared()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    type Recorded = Arc<Mutex<Vec<Vec<u32>>>>;

    fn counting_batcher() -> (Batcher<u32, u32>, Arc<AtomicUsize>, Recorded) {
        let calls = Arc::new(AtomicUsize::new(0));
        let batches = Arc::new(Mutex::new(Vec::new()));
        let batcher = Batcher::new({
            let calls = Arc::clone(&calls);
            let batches = Arc::clone(&batches);
            move |keys: Vec<u32>| {
                calls.fetch_add(1, Ordering::SeqCst);
                lock(&batches).push(keys.clone());
                async move {
                    Ok(keys
                        .into_iter()
                        .filter(|k| k % 10 != 0)
                        .map(|k| (k, k * 2))
                        .collect())
                }
            }
        });
        (batcher, calls, batches)
    }

    #[tokio::test]
    async fn lookups_polled_together_share_one_fetch() {
        let (batcher, calls, batches) = counting_batcher();
        let results = futures::future::join_all((1..=50).map(|k| batcher.load(k))).await;
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(lock(&batches)[0].len(), 50);
        assert_eq!(results[0].as_ref().ok(), Some(&Some(2)));
        assert_eq!(results[9].as_ref().ok(), Some(&None), "10 is not found");
    }

    #[tokio::test]
    async fn a_key_the_fetch_refuses_fails_alone() {
        let batcher = Batcher::new(|keys: Vec<u32>| async move {
            if keys.contains(&13) {
                return Err(AppError::bad_input("name", "refused"));
            }
            Ok(keys.into_iter().map(|k| (k, k * 2)).collect())
        });
        let results = futures::future::join_all((1..=20).map(|k| batcher.load(k))).await;
        for (key, result) in (1..=20).zip(&results) {
            match key {
                13 => assert!(matches!(result, Err(AppError::BadUserInput { .. }))),
                _ => assert_eq!(result.as_ref().ok(), Some(&Some(key * 2)), "key {key}"),
            }
        }
    }

    #[tokio::test]
    async fn a_key_is_fetched_once_per_request() {
        let (batcher, calls, _) = counting_batcher();
        let first = batcher.load(7).await.ok().flatten();
        let again = batcher.load(7).await.ok().flatten();
        assert_eq!((first, again), (Some(14), Some(14)));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn lookups_after_a_batch_was_sent_start_a_new_one() {
        let (batcher, calls, batches) = counting_batcher();
        let _ = batcher.load(1).await;
        let _ = futures::future::join(batcher.load(2), batcher.load(3)).await;
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        assert_eq!(*lock(&batches), vec![vec![1], vec![2, 3]]);
    }
}
