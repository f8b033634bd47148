//! A token bucket in cost units: pure arithmetic, the clock passed in.
//!
//! A bucket holds at most `burst` units and gains `rate` units a second.
//! A request is charged its estimated cost before it runs (refused when the
//! bucket holds less) and refunded, after it ran, what it turned out not to
//! cost.

use std::time::{Duration, Instant};

/// How fast a bucket refills and how much it holds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Rate {
    /// Units gained per second (> 0).
    pub(crate) per_second: f64,
    /// Most units held (>= 1).
    pub(crate) burst: f64,
}

impl Rate {
    /// How long an empty bucket takes to fill: a bucket left alone that
    /// long is full, the same as a new one, so forgetting it loses nothing.
    pub(crate) fn time_to_fill(self) -> Duration {
        Duration::from_secs_f64(self.burst / self.per_second)
    }
}

/// One viewer's units, as of `updated`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Bucket {
    tokens: f64,
    updated: Instant,
}

impl Bucket {
    /// A full bucket.
    pub(crate) fn full(rate: Rate, now: Instant) -> Self {
        Self {
            tokens: rate.burst,
            updated: now,
        }
    }

    /// Adds what `rate` gave since the last update, up to the burst. A
    /// clock that went backwards (never, with `Instant`) adds nothing.
    fn refill(&mut self, rate: Rate, now: Instant) {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate.per_second).min(rate.burst);
        self.updated = self.updated.max(now);
    }

    /// Units held at `now`.
    pub(crate) fn tokens(&mut self, rate: Rate, now: Instant) -> f64 {
        self.refill(rate, now);
        self.tokens
    }

    /// Takes `cost` units (at most the burst: a request costing more than
    /// a full bucket needs a full bucket, no more, or it could never run).
    /// `Ok` with the units charged; `Err` with how long until enough units
    /// are there (nothing taken).
    pub(crate) fn charge(&mut self, cost: f64, rate: Rate, now: Instant) -> Result<f64, Duration> {
        self.refill(rate, now);
        let cost = cost.clamp(0.0, rate.burst);
        if self.tokens >= cost {
            self.tokens -= cost;
            return Ok(cost);
        }
        let missing = cost - self.tokens;
        Err(Duration::from_secs_f64(missing / rate.per_second))
    }

    /// Gives back `units` (never past the burst).
    pub(crate) fn refund(&mut self, units: f64, rate: Rate, now: Instant) {
        self.refill(rate, now);
        self.tokens = (self.tokens + units.max(0.0)).min(rate.burst);
    }
}

/// Whole seconds for `Retry-After`: rounded up, at least 1 (a client told
/// 0 would retry at once and be refused again).
pub(crate) fn retry_after_secs(wait: Duration) -> u64 {
    let secs = wait.as_secs_f64().ceil();
    if secs.is_finite() && secs >= 1.0 {
        // Saturates: `as` from a float clamps to the integer's range.
        secs as u64
    } else {
        1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: Rate = Rate {
        per_second: 10.0,
        burst: 100.0,
    };

    #[test]
    fn a_new_bucket_is_full_and_charges_until_empty() {
        let now = Instant::now();
        let mut bucket = Bucket::full(RATE, now);
        assert_eq!(bucket.charge(60.0, RATE, now), Ok(60.0));
        assert_eq!(bucket.charge(40.0, RATE, now), Ok(40.0));
        assert_eq!(bucket.tokens(RATE, now), 0.0);
    }

    #[test]
    fn a_refused_charge_takes_nothing_and_says_how_long_to_wait() {
        let now = Instant::now();
        let mut bucket = Bucket::full(RATE, now);
        bucket.charge(95.0, RATE, now).expect("fits");
        // 5 held, 25 asked: 20 missing at 10 a second.
        assert_eq!(bucket.charge(25.0, RATE, now), Err(Duration::from_secs(2)));
        assert_eq!(bucket.tokens(RATE, now), 5.0);
    }

    #[test]
    fn the_bucket_refills_at_the_rate_up_to_the_burst() {
        let now = Instant::now();
        let mut bucket = Bucket::full(RATE, now);
        bucket.charge(100.0, RATE, now).expect("fits");
        let later = now + Duration::from_millis(2500);
        assert!((bucket.tokens(RATE, later) - 25.0).abs() < 1e-9);
        let much_later = now + Duration::from_secs(3600);
        assert_eq!(bucket.tokens(RATE, much_later), 100.0);
        assert_eq!(RATE.time_to_fill(), Duration::from_secs(10));
    }

    #[test]
    fn a_refund_gives_back_units_but_never_past_the_burst() {
        let now = Instant::now();
        let mut bucket = Bucket::full(RATE, now);
        bucket.charge(30.0, RATE, now).expect("fits");
        bucket.refund(20.0, RATE, now);
        assert_eq!(bucket.tokens(RATE, now), 90.0);
        bucket.refund(50.0, RATE, now);
        assert_eq!(bucket.tokens(RATE, now), 100.0);
        bucket.refund(-5.0, RATE, now);
        assert_eq!(bucket.tokens(RATE, now), 100.0);
    }

    #[test]
    fn a_cost_above_the_burst_needs_a_full_bucket_not_more() {
        let now = Instant::now();
        let mut bucket = Bucket::full(RATE, now);
        assert_eq!(bucket.charge(1000.0, RATE, now), Ok(100.0));
        assert_eq!(
            bucket.charge(1000.0, RATE, now),
            Err(Duration::from_secs(10))
        );
    }

    #[test]
    fn an_earlier_clock_reading_adds_nothing() {
        let now = Instant::now() + Duration::from_secs(10);
        let mut bucket = Bucket::full(RATE, now);
        bucket.charge(50.0, RATE, now).expect("fits");
        let earlier = now - Duration::from_secs(5);
        assert_eq!(bucket.tokens(RATE, earlier), 50.0);
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds_and_is_at_least_one() {
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(10)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1001)), 2);
        assert_eq!(retry_after_secs(Duration::from_secs(7)), 7);
        assert_eq!(retry_after_secs(Duration::MAX), u64::MAX);
    }
}
