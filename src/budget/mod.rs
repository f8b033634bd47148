//! A budget per viewer: a token bucket in cost units for each token
//! subject, or for each client address when a request has no token.
//!
//! - A request is charged its document's estimated cost before it runs:
//!   [`estimated_cost`], 1 plus the field selections the limits walk counted
//!   (fragments expanded), computed once per parsed document and kept with
//!   it. A viewer whose bucket holds less is answered 429 with
//!   `Retry-After`, and nothing runs.
//! - When it has run, the part its caches answered is given back:
//!   [`actual_cost`] keeps 1 plus the fields times the share of its data
//!   lookups that went to the database (cache hits against SQL
//!   statements), so a warm read costs about 1 and a cold one its estimate.
//! - A request dropped before it finished (the client went away, the
//!   request timeout) keeps its whole charge: it was admitted and may have
//!   done all its work. The charge is one value settled at most once, so
//!   nothing is refunded twice.
//! - Each bucket is forgotten once its viewer has been idle as long as an
//!   empty bucket takes to fill (it would be full again, so nothing is
//!   lost), and the store holds at most `--budget-viewers` buckets.

mod bucket;

use std::{
    net::{IpAddr, SocketAddr},
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant},
};

use axum::http::HeaderMap;
use clap::Args;
use moka::sync::Cache;

use entity::UserId;

use crate::{auth::Viewer, observability::RequestCost};

pub(crate) use bucket::retry_after_secs;
use bucket::{Bucket, Rate};

/// The per-viewer budget (off unless `--budget-rate` is set).
#[derive(Clone, Debug, Args)]
pub struct BudgetConfig {
    /// Cost units each viewer (token subject; client address without a
    /// token) gains per second; 0 turns budgets off. A request costs 1 plus
    /// the fields it selects, less what caches answered.
    #[arg(
        long,
        env = "AGENTGRAPH_BUDGET_RATE",
        default_value_t = 0,
        global = true
    )]
    pub budget_rate: u32,

    /// Most cost units a viewer's bucket holds: the largest burst. Default:
    /// ten seconds of `--budget-rate`.
    #[arg(long, env = "AGENTGRAPH_BUDGET_BURST", global = true)]
    pub budget_burst: Option<u32>,

    /// Charge admin tokens too (by default they are exempt: operators'
    /// tools are not a frontend's traffic).
    #[arg(long, env = "AGENTGRAPH_BUDGET_ADMINS", global = true)]
    pub budget_admins: bool,

    /// Most viewers whose buckets are held at once (least recently used
    /// ones are forgotten first: a forgotten viewer starts full).
    #[arg(
        long,
        env = "AGENTGRAPH_BUDGET_VIEWERS",
        default_value_t = 100_000,
        global = true
    )]
    pub budget_viewers: u64,

    /// Behind a proxy: take an anonymous client's address from the last
    /// `X-Forwarded-For` entry (the one the proxy added) instead of the
    /// connection's peer. Only behind a proxy that sets it: otherwise any
    /// client picks its own address.
    #[arg(long, env = "AGENTGRAPH_TRUST_FORWARDED_FOR", global = true)]
    pub trust_forwarded_for: bool,
}

impl BudgetConfig {
    fn rate(&self) -> Option<Rate> {
        if self.budget_rate == 0 {
            return None;
        }
        let per_second = f64::from(self.budget_rate);
        let burst = self
            .budget_burst
            .map_or(per_second * 10.0, f64::from)
            .max(1.0);
        Some(Rate { per_second, burst })
    }

    /// The flag at fault and why, for a setting the budget cannot run with.
    pub(crate) fn problem(&self) -> Option<(&'static str, &'static str)> {
        if self.budget_burst == Some(0) {
            return Some(("--budget-burst", "must be at least 1"));
        }
        if self.budget_rate > 0 && self.budget_viewers == 0 {
            return Some(("--budget-viewers", "must be at least 1"));
        }
        None
    }
}

/// Whose budget a request spends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum ViewerKey {
    /// A token's subject.
    User(UserId),
    /// An anonymous client's address; IPv6 by its /64 (one host's usual
    /// share, so a client cannot pick a fresh address per request).
    Address(IpAddr),
}

impl ViewerKey {
    fn address(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(_) => Self::Address(ip),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Self::Address(IpAddr::V4(v4)),
                None => {
                    let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                    Self::Address(IpAddr::V6(prefix.into()))
                }
            },
        }
    }
}

/// The anonymous client's address: the connection's peer, or with
/// `trust_forwarded_for` the last `X-Forwarded-For` entry when it parses.
pub(crate) fn client_address(
    peer: Option<SocketAddr>,
    headers: &HeaderMap,
    trust_forwarded_for: bool,
) -> Option<IpAddr> {
    if trust_forwarded_for {
        let forwarded = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .next_back()
            .and_then(|last| last.trim().parse::<IpAddr>().ok());
        if forwarded.is_some() {
            return forwarded;
        }
    }
    peer.map(|peer| peer.ip())
}

/// The estimated cost of a document: 1 for the request itself, plus each
/// field selection it would execute (fragments expanded, introspection not
/// counted: the schema answers it from memory).
pub(crate) fn estimated_cost(data_fields: usize) -> u64 {
    u64::try_from(data_fields)
        .unwrap_or(u64::MAX)
        .saturating_add(1)
}

/// What a request that ran cost: 1, plus its fields times the share of its
/// data lookups that reached the database. Lookups are cache hits (each a
/// statement the cache saved) and SQL statements; with neither (only
/// `__typename` or introspection) nothing reached the database. Never more
/// than the estimate.
pub(crate) fn actual_cost(estimated: u64, cache_hits: u64, statements: u64) -> u64 {
    let fields = estimated.saturating_sub(1);
    let lookups = cache_hits.saturating_add(statements);
    if lookups == 0 {
        return 1;
    }
    // Rounded up: a request that touched the database pays at least one
    // unit for it. (u128: no overflow for any u64 inputs.)
    let database = (u128::from(fields) * u128::from(statements)).div_ceil(u128::from(lookups));
    u64::try_from(database)
        .unwrap_or(u64::MAX)
        .saturating_add(1)
        .min(estimated.max(1))
}

/// Why a request was refused: how long until the viewer's bucket holds
/// enough.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct OverBudget {
    pub(crate) retry_after: Duration,
}

/// Every viewer's bucket, bounded in memory.
pub(crate) struct Budgets {
    rate: Option<Rate>,
    charge_admins: bool,
    trust_forwarded_for: bool,
    buckets: Cache<ViewerKey, Arc<Mutex<Bucket>>>,
}

impl Budgets {
    pub(crate) fn new(config: &BudgetConfig) -> Self {
        let rate = config.rate();
        let mut builder = Cache::builder().max_capacity(config.budget_viewers);
        if let Some(rate) = rate {
            builder = builder.time_to_idle(rate.time_to_fill().max(Duration::from_secs(1)));
        }
        Self {
            rate,
            charge_admins: config.budget_admins,
            trust_forwarded_for: config.trust_forwarded_for,
            buckets: builder.build(),
        }
    }

    /// The budget `viewer` (or, without one, the client at `peer`) spends;
    /// `None` when budgets are off, for an exempt admin, or when no address
    /// is known.
    pub(crate) fn key(
        &self,
        viewer: Option<&Viewer>,
        peer: Option<SocketAddr>,
        headers: &HeaderMap,
    ) -> Option<ViewerKey> {
        self.key_for(viewer, self.client_address(peer, headers))
    }

    /// The client's address as the budget sees it (see [`client_address`]).
    pub(crate) fn client_address(
        &self,
        peer: Option<SocketAddr>,
        headers: &HeaderMap,
    ) -> Option<IpAddr> {
        client_address(peer, headers, self.trust_forwarded_for)
    }

    /// [`Self::key`] for an anonymous client at `address`.
    pub(crate) fn key_for(
        &self,
        viewer: Option<&Viewer>,
        address: Option<IpAddr>,
    ) -> Option<ViewerKey> {
        self.rate?;
        match viewer {
            Some(viewer) if viewer.is_admin && !self.charge_admins => None,
            Some(viewer) => Some(ViewerKey::User(viewer.id)),
            None => address.map(ViewerKey::address),
        }
    }

    /// Charges `estimated` units to `key`'s bucket (none: nothing to
    /// charge). Synchronous: a request dropped around it either was charged
    /// and holds the [`Charge`], or was not.
    pub(crate) fn charge(
        &self,
        key: Option<ViewerKey>,
        estimated: u64,
    ) -> Result<Charge, OverBudget> {
        let (Some(key), Some(rate)) = (key, self.rate) else {
            return Ok(Charge::free(estimated));
        };
        let now = Instant::now();
        let bucket = self
            .buckets
            .get_with(key, || Arc::new(Mutex::new(Bucket::full(rate, now))));
        // Lossy for costs past 2^53: far beyond any burst, clamped anyway.
        #[allow(clippy::cast_precision_loss)]
        let asked = estimated as f64;
        let charged = lock(&bucket)
            .charge(asked, rate, now)
            .map_err(|retry_after| {
                crate::observability::metrics::record_over_budget();
                OverBudget { retry_after }
            })?;
        Ok(Charge {
            estimated,
            charged,
            bucket: Some((bucket, rate)),
        })
    }
}

fn lock(bucket: &Mutex<Bucket>) -> std::sync::MutexGuard<'_, Bucket> {
    bucket.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Units charged to one viewer for one request, settled once.
#[derive(Debug)]
pub(crate) struct Charge {
    estimated: u64,
    charged: f64,
    bucket: Option<(Arc<Mutex<Bucket>>, Rate)>,
}

/// What a settled request cost, for the cost extension.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Settled {
    pub(crate) estimated: u64,
    pub(crate) actual: u64,
    /// Units left in the viewer's bucket; `None` when nothing is charged.
    pub(crate) remaining: Option<f64>,
}

impl Charge {
    fn free(estimated: u64) -> Self {
        Self {
            estimated,
            charged: 0.0,
            bucket: None,
        }
    }

    /// Settles the charge by what `cost` says the request did: the part
    /// its caches answered is refunded.
    pub(crate) fn settle(self, cost: &RequestCost) -> Settled {
        let hits = cost.caches().values().map(|outcomes| outcomes.hits).sum();
        let actual = actual_cost(self.estimated, hits, cost.statements());
        self.settle_at(actual)
    }

    /// Keeps no more than `actual` of the charge; what else was charged is
    /// refunded.
    pub(crate) fn settle_at(self, actual: u64) -> Settled {
        let remaining = self.bucket.map(|(bucket, rate)| {
            let now = Instant::now();
            let mut bucket = lock(&bucket);
            #[allow(clippy::cast_precision_loss)]
            let kept = actual as f64;
            bucket.refund(self.charged - kept, rate, now);
            bucket.tokens(rate, now)
        });
        Settled {
            estimated: self.estimated,
            actual,
            remaining,
        }
    }

    /// Gives the whole charge back: the request did not run after all.
    pub(crate) fn cancel(self) {
        let _ = self.settle_at(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_zero_burst_or_store_is_refused_naming_its_flag() {
        assert_eq!(
            config(1, 0).problem().map(|(flag, _)| flag),
            Some("--budget-burst")
        );
        let no_store = BudgetConfig {
            budget_viewers: 0,
            ..config(1, 1)
        };
        assert_eq!(
            no_store.problem().map(|(flag, _)| flag),
            Some("--budget-viewers")
        );
        assert_eq!(config(0, 1).problem(), None);
        assert_eq!(config(5, 1).problem(), None);
    }

    #[test]
    fn the_estimate_is_one_plus_the_fields() {
        assert_eq!(estimated_cost(0), 1);
        assert_eq!(estimated_cost(12), 13);
        assert_eq!(estimated_cost(usize::MAX), u64::MAX);
    }

    #[test]
    fn a_warm_read_costs_one_and_a_cold_one_its_estimate() {
        assert_eq!(actual_cost(11, 3, 0), 1, "warm: caches answered all");
        assert_eq!(actual_cost(11, 0, 2), 11, "cold: every lookup ran SQL");
        // Half the lookups hit: half the fields, rounded up, plus 1.
        assert_eq!(actual_cost(11, 2, 2), 6);
        assert_eq!(actual_cost(11, 0, 0), 1, "nothing looked up");
        assert_eq!(actual_cost(u64::MAX, 1, u64::MAX), u64::MAX);
    }

    fn config(rate: u32, burst: u32) -> BudgetConfig {
        BudgetConfig {
            budget_rate: rate,
            budget_burst: Some(burst),
            budget_admins: false,
            budget_viewers: 10,
            trust_forwarded_for: false,
        }
    }

    fn user() -> Viewer {
        Viewer {
            id: UserId::from(uuid::Uuid::now_v7()),
            is_admin: false,
        }
    }

    #[test]
    fn a_settled_charge_refunds_what_was_not_used_and_once_only() {
        let budgets = Budgets::new(&config(1, 100));
        let key = budgets.key(Some(&user()), None, &HeaderMap::new());
        let charge = budgets.charge(key, 30).expect("fits");
        let settled = charge.settle_at(10);
        assert_eq!(settled.actual, 10);
        let remaining = settled.remaining.expect("charged");
        assert!((90.0..90.1).contains(&remaining), "{remaining}");
        // A dropped charge keeps what it took.
        drop(budgets.charge(key, 50).expect("fits"));
        let over = budgets.charge(key, 50).expect_err("40 left");
        assert!(over.retry_after > Duration::from_secs(9), "{over:?}");
    }

    #[test]
    fn admins_are_exempt_unless_asked_and_off_means_no_key() {
        let admin = Viewer {
            is_admin: true,
            ..user()
        };
        let headers = HeaderMap::new();
        assert_eq!(
            Budgets::new(&config(1, 1)).key(Some(&admin), None, &headers),
            None
        );
        let charged = BudgetConfig {
            budget_admins: true,
            ..config(1, 1)
        };
        assert!(Budgets::new(&charged)
            .key(Some(&admin), None, &headers)
            .is_some());
        assert_eq!(
            Budgets::new(&config(0, 1)).key(Some(&user()), None, &headers),
            None
        );
    }

    #[test]
    fn the_forwarded_address_counts_only_when_trusted_and_v6_by_its_64() {
        let peer: SocketAddr = "10.0.0.1:5000".parse().expect("an address");
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            "1.2.3.4, 203.0.113.9".parse().expect("a header"),
        );
        assert_eq!(client_address(Some(peer), &headers, false), Some(peer.ip()));
        assert_eq!(
            client_address(Some(peer), &headers, true),
            "203.0.113.9".parse().ok()
        );
        let a = ViewerKey::address("2001:db8:1:2:aaaa::1".parse().expect("v6"));
        let b = ViewerKey::address("2001:db8:1:2:bbbb::9".parse().expect("v6"));
        assert_eq!(a, b);
        assert_ne!(
            a,
            ViewerKey::address("2001:db8:1:3::1".parse().expect("v6"))
        );
    }
}
