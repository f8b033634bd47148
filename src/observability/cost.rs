//! The per-request cost: how many SQL statements a request ran and how its
//! cache lookups went.
//!
//! The cost is carried in a task-local, so the database metric callback
//! (which knows nothing of requests) charges each statement to the request
//! whose task ran it, even when many requests run at once.

use std::{
    collections::BTreeMap,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex, PoisonError,
    },
    time::Duration,
};

/// What one request cost. Shared by every future of the request.
#[derive(Debug, Default)]
pub struct RequestCost {
    statements: AtomicU64,
    statement_micros: AtomicU64,
    caches: Mutex<BTreeMap<&'static str, CacheOutcomes>>,
}

/// Hits and misses of one cache within one request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct CacheOutcomes {
    pub hits: u64,
    pub misses: u64,
}

tokio::task_local! {
    static CURRENT_COST: Arc<RequestCost>;
}

impl RequestCost {
    /// Runs `future` with `cost` as the request cost that statements and
    /// cache lookups inside it are charged to.
    pub async fn scope<F: std::future::Future>(cost: Arc<RequestCost>, future: F) -> F::Output {
        CURRENT_COST.scope(cost, future).await
    }

    pub fn statements(&self) -> u64 {
        self.statements.load(Ordering::Relaxed)
    }

    pub fn statement_time(&self) -> Duration {
        Duration::from_micros(self.statement_micros.load(Ordering::Relaxed))
    }

    pub fn caches(&self) -> BTreeMap<&'static str, CacheOutcomes> {
        self.caches
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// `future`, charging what it costs to the request running now (if any),
/// wherever it is polled: for work a request starts in a task of its own.
pub fn charged_to_current_request<F: std::future::Future>(
    future: F,
) -> impl std::future::Future<Output = F::Output> {
    let cost = CURRENT_COST.try_with(Arc::clone).ok();
    // What the work reads counts for the request's answer too.
    let future = crate::cache::read_set::propagated(future);
    async move {
        match cost {
            Some(cost) => CURRENT_COST.scope(cost, future).await,
            None => future.await,
        }
    }
}

/// Charges one executed SQL statement to the current request, if any, and
/// to the process-wide metrics; outside a keyed read it also makes the
/// request's answer not keepable (see [`read_set`](crate::cache::read_set)).
pub fn record_statement(elapsed: Duration, failed: bool) {
    super::metrics::record_statement(elapsed, failed);
    crate::cache::read_set::note_statement();
    let _ = CURRENT_COST.try_with(|cost| {
        cost.statements.fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        cost.statement_micros.fetch_add(micros, Ordering::Relaxed);
    });
}

/// Charges one cache lookup to the current request, if any.
pub fn record_cache_lookup(cache: &'static str, hit: bool) {
    let _ = CURRENT_COST.try_with(|cost| {
        let mut caches = cost.caches.lock().unwrap_or_else(PoisonError::into_inner);
        let outcomes = caches.entry(cache).or_default();
        if hit {
            outcomes.hits += 1;
        } else {
            outcomes.misses += 1;
        }
    });
}
