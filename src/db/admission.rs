//! Load shedding: new work is refused at once when the pool's wait queue
//! is longer than the acquire timeout can serve, instead of being queued
//! to time out.
//!
//! sqlx does not say how many tasks wait for a connection, so the queue is
//! estimated from what this module counts itself:
//! - `executing`: requests admitted and not yet finished (a guard each,
//!   dropped however the request ends, cancellation included);
//! - the pool's connections in use, from the pool;
//! - the hold time: how long a statement keeps its connection, as a moving
//!   average of every statement's time, or, when longer, the time since the
//!   pool last made progress (a statement finished, or a connection was
//!   seen free): connections held far longer than usual show up at once,
//!   before any of them finishes.
//!
//! When every connection is in use, the requests beyond one per connection
//! wait: `waiting = executing - max_connections`. The pool serves
//! `max_connections` of them per hold time, so a new request would wait
//! about `waiting * hold / max_connections`. Past the acquire timeout it
//! would time out anyway: it is refused now, with that wait as
//! `Retry-After`. (An estimate: an executing request answered by caches is
//! counted as waiting; one holding several connections counts once.)

use std::{
    sync::{
        atomic::{AtomicU64, AtomicUsize, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

/// What the queue looks like at one moment (pure input of [`expected_wait`]).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Queue {
    /// Connections in use.
    pub(crate) busy: u32,
    /// Most connections the pool opens.
    pub(crate) max: u32,
    /// Requests admitted and not finished.
    pub(crate) executing: usize,
    /// Average time a statement holds its connection.
    pub(crate) hold: Duration,
    /// Time since the pool last made progress.
    pub(crate) stalled: Duration,
}

/// How long a new request would wait for a connection; `None` when one is
/// free (or can be opened) or nobody waits.
pub(crate) fn expected_wait(queue: Queue) -> Option<Duration> {
    if queue.max == 0 || queue.busy < queue.max {
        return None;
    }
    let max = usize::try_from(queue.max).unwrap_or(usize::MAX);
    let waiting = queue.executing.saturating_sub(max);
    if waiting == 0 {
        return None;
    }
    let hold = queue.hold.max(queue.stalled);
    let waiting = u32::try_from(waiting).unwrap_or(u32::MAX);
    Some(hold.saturating_mul(waiting) / queue.max)
}

/// The shedding state of one pool.
#[derive(Debug)]
pub(crate) struct Admission {
    enabled: bool,
    max: u32,
    acquire_timeout: Duration,
    executing: AtomicUsize,
    /// Moving average of statement time, in microseconds.
    hold_micros: AtomicU64,
    /// When the pool last made progress, in microseconds since `origin`.
    progress_micros: AtomicU64,
    origin: Instant,
}

/// Why a request was shed: about how long the queue takes to drain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Overloaded {
    pub retry_after: Duration,
}

/// An admitted request's place among those executing; given back on drop.
#[derive(Debug)]
pub struct Admitted(Arc<Admission>);

impl Drop for Admitted {
    fn drop(&mut self) {
        self.0.executing.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Weight of a new statement in the moving average: 1/16.
const EWMA_SHIFT: u32 = 4;

impl Admission {
    pub(crate) fn new(enabled: bool, max: u32, acquire_timeout: Duration) -> Self {
        Self {
            enabled,
            max,
            acquire_timeout,
            executing: AtomicUsize::new(0),
            hold_micros: AtomicU64::new(0),
            progress_micros: AtomicU64::new(0),
            origin: Instant::now(),
        }
    }

    fn now_micros(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_micros()).unwrap_or(u64::MAX)
    }

    /// A statement finished after holding its connection `elapsed`.
    pub(crate) fn statement_done(&self, elapsed: Duration) {
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        let _ = self
            .hold_micros
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |old| {
                Some(if old == 0 {
                    micros
                } else {
                    old - (old >> EWMA_SHIFT) + (micros >> EWMA_SHIFT)
                })
            });
        self.progress_micros
            .fetch_max(self.now_micros(), Ordering::Relaxed);
    }

    /// How long a new request would wait, with `busy` connections in use;
    /// notes progress when one is free.
    pub(crate) fn expected_wait(&self, busy: u32) -> Option<Duration> {
        let now = self.now_micros();
        if busy < self.max {
            self.progress_micros.fetch_max(now, Ordering::Relaxed);
            return None;
        }
        let stalled = now.saturating_sub(self.progress_micros.load(Ordering::Relaxed));
        expected_wait(Queue {
            busy,
            max: self.max,
            executing: self.executing.load(Ordering::Acquire),
            hold: Duration::from_micros(self.hold_micros.load(Ordering::Relaxed)),
            stalled: Duration::from_micros(stalled),
        })
    }

    /// `Some` with the expected wait when the queue is longer than the
    /// acquire timeout can serve (never when shedding is off).
    pub(crate) fn saturated(&self, busy: u32) -> Option<Duration> {
        if !self.enabled {
            return None;
        }
        self.expected_wait(busy)
            .filter(|wait| *wait > self.acquire_timeout)
    }

    /// A place among the executing requests, or the refusal.
    pub(crate) fn admit(self: &Arc<Self>, busy: u32) -> Result<Admitted, Overloaded> {
        if let Some(wait) = self.saturated(busy) {
            crate::observability::metrics::record_shed();
            return Err(Overloaded { retry_after: wait });
        }
        self.executing.fetch_add(1, Ordering::AcqRel);
        Ok(Admitted(Arc::clone(self)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn queue(busy: u32, executing: usize) -> Queue {
        Queue {
            busy,
            max: 4,
            executing,
            hold: 10 * MS,
            stalled: Duration::ZERO,
        }
    }

    #[test]
    fn nobody_waits_while_a_connection_is_free_or_none_is_queued() {
        assert_eq!(expected_wait(queue(3, 100)), None);
        assert_eq!(expected_wait(queue(4, 4)), None);
    }

    #[test]
    fn the_wait_is_the_queue_beyond_the_pool_times_the_hold_over_the_pool() {
        // 8 waiting, 4 served per 10 ms.
        assert_eq!(expected_wait(queue(4, 12)), Some(20 * MS));
    }

    #[test]
    fn a_stalled_pool_counts_its_stall_as_the_hold() {
        let stalled = Queue {
            stalled: Duration::from_secs(2),
            ..queue(4, 6)
        };
        assert_eq!(expected_wait(stalled), Some(Duration::from_secs(1)));
    }

    #[test]
    fn requests_are_shed_only_past_the_acquire_timeout_and_given_back_on_drop() {
        let admission = Arc::new(Admission::new(true, 1, Duration::from_millis(100)));
        admission.statement_done(Duration::from_millis(60));
        let first = admission.admit(1).expect("nobody waits");
        let second = admission.admit(1).expect("nobody waits beyond the pool");
        // One waits now: 60 ms, within the timeout.
        let third = admission.admit(1).expect("60 ms");
        // Two wait: 120 ms.
        let refused = admission.admit(1).expect_err("120 ms");
        assert!(refused.retry_after >= Duration::from_millis(120));
        // A free connection: admitted whatever the queue.
        let fourth = admission.admit(0).expect("a free connection");
        drop((first, second, third, fourth));
        assert!(admission.admit(1).is_ok(), "every place given back");
        let off = Arc::new(Admission::new(false, 1, Duration::ZERO));
        let held: Vec<_> = (0..5).map(|_| off.admit(1)).collect();
        assert!(held.iter().all(Result::is_ok));
    }
}
