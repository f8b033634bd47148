//! Prometheus metrics, rendered by `GET /metrics`.
//!
//! Families (all prefixed `agentgraph_`):
//! - `request_duration_seconds{operation}`: GraphQL request latency;
//! - `sql_statements_total{outcome}`, `sql_statement_duration_seconds`;
//! - `cache_hits_total`, `cache_misses_total`, `cache_loads_total`,
//!   `cache_load_failures_total`, `cache_load_seconds_total`,
//!   `cache_evictions_total`, `cache_invalidations_total`,
//!   `cache_stale_discards_total`, `cache_entries`,
//!   each by `cache`;
//! - `db_pool_connections{state="in_use"|"idle"}`;
//! - `requests_over_budget_total`: requests (and subscription starts)
//!   refused with `RATE_LIMITED` by a viewer's budget;
//! - `requests_shed_total`: requests refused with `OVERLOADED` because the
//!   pool's wait queue was longer than its acquire timeout could serve;
//! - `subscriptions_active` (gauge), `subscription_events_total`: GraphQL
//!   subscriptions open now and values sent to them;
//! - on PostgreSQL: `invalidation_listener_up`,
//!   `invalidation_listener_reconnects_total`, `invalidations_received_total`.
//!
//! Request and statement series live in a process-wide recorder (installed
//! on first use); cache and pool series are read from the application at
//! scrape time.

use std::{
    collections::HashMap,
    sync::{Mutex, OnceLock, PoisonError},
    time::Duration,
};

use metrics::{Counter, Histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use super::StatsSnapshot;

/// Latency buckets, in seconds: 50 µs to 2.5 s.
const BUCKETS: &[f64] = &[
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5,
];

/// The process's recorder handle; installs the recorder on first use.
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("seconds".to_owned()), BUCKETS)
            .unwrap_or_else(|_| PrometheusBuilder::new())
            .build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("a metrics recorder was already installed; /metrics may be empty");
        }
        handle
    })
}

/// How often recorded histogram samples are folded into their buckets.
const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

/// Folds histogram samples into buckets every few seconds. The recorder
/// keeps raw samples until then (or until a scrape), so without this a
/// server nobody scrapes would hold every request's latency forever.
pub fn spawn_upkeep() -> tokio::task::JoinHandle<()> {
    tokio::spawn(async {
        let mut ticks = tokio::time::interval(UPKEEP_INTERVAL);
        loop {
            ticks.tick().await;
            handle().run_upkeep();
        }
    })
}

/// The statement series, registered once: looking a series up by name and
/// labels on every statement costs more than recording into it.
struct StatementSeries {
    ok: Counter,
    failed: Counter,
    duration: Histogram,
}

pub(super) fn record_statement(elapsed: Duration, failed: bool) {
    static SERIES: OnceLock<StatementSeries> = OnceLock::new();
    let series = SERIES.get_or_init(|| {
        handle();
        StatementSeries {
            ok: metrics::counter!("agentgraph_sql_statements_total", "outcome" => "ok"),
            failed: metrics::counter!("agentgraph_sql_statements_total", "outcome" => "error"),
            duration: metrics::histogram!("agentgraph_sql_statement_duration_seconds"),
        }
    });
    if failed { &series.failed } else { &series.ok }.increment(1);
    series.duration.record(elapsed.as_secs_f64());
}

/// Counts one request refused by its viewer's budget.
pub fn record_over_budget() {
    static SERIES: OnceLock<Counter> = OnceLock::new();
    SERIES
        .get_or_init(|| {
            handle();
            metrics::counter!("agentgraph_requests_over_budget_total")
        })
        .increment(1);
}

/// Counts one request shed because the pool could not serve it in time.
pub fn record_shed() {
    static SERIES: OnceLock<Counter> = OnceLock::new();
    SERIES
        .get_or_init(|| {
            handle();
            metrics::counter!("agentgraph_requests_shed_total")
        })
        .increment(1);
}

/// What the HTTP layer knows about a finished GraphQL request, for its
/// latency label.
#[derive(Clone, Copy, Debug)]
pub struct RequestOutcome<'a> {
    /// The document parsed, passed the limits and validation, and ran.
    pub executed: bool,
    /// The request carried a valid token.
    pub authenticated: bool,
    /// The operation's name, as the client wrote it.
    pub operation: Option<&'a str>,
}

fn request_series(label: &str) -> Histogram {
    handle();
    metrics::histogram!("agentgraph_request_duration_seconds", "operation" => label.to_owned())
}

/// Most operation names that get a series of their own; later names share
/// the `other` series. Each name costs one histogram (about 18 series).
pub const MAX_OPERATION_LABELS: usize = 100;

/// The operation names that have a series: the first `capacity` plain
/// names of executed, authenticated requests. Operation names come from
/// clients, so a name becomes a label only once a request with a valid
/// token ran it, and the set never grows past its capacity. Each label's
/// histogram is registered once and kept here.
pub struct OperationLabels {
    capacity: usize,
    /// The series of every label handed out so far.
    series: Mutex<HashMap<String, Histogram>>,
}

impl std::fmt::Debug for OperationLabels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OperationLabels")
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

/// Labels that are not operation names, so they never count against the
/// capacity.
const FIXED_LABELS: [&str; 4] = ["refused", "unauthenticated", "anonymous", "other"];

impl Default for OperationLabels {
    fn default() -> Self {
        Self::new(MAX_OPERATION_LABELS)
    }
}

impl OperationLabels {
    fn new(capacity: usize) -> Self {
        let series = FIXED_LABELS
            .iter()
            .map(|label| (label.to_string(), request_series(label)))
            .collect();
        Self {
            capacity,
            series: Mutex::new(series),
        }
    }

    /// Records the latency of one GraphQL request that ended with `outcome`.
    pub fn record(&self, outcome: RequestOutcome<'_>, elapsed: Duration) {
        self.register(outcome).1.record(elapsed.as_secs_f64());
    }

    /// The label of a request that ended with `outcome`.
    #[cfg(test)]
    fn label<'a>(&self, outcome: RequestOutcome<'a>) -> &'a str {
        self.register(outcome).0
    }

    /// The label of `outcome` and its histogram, registered on first use.
    fn register<'a>(&self, outcome: RequestOutcome<'a>) -> (&'a str, Histogram) {
        let mut series = self.series.lock().unwrap_or_else(PoisonError::into_inner);
        let label = match candidate(outcome) {
            Candidate::Fixed(fixed) => fixed,
            Candidate::Name(name) if series.contains_key(name) => name,
            Candidate::Name(name) if series.len() - FIXED_LABELS.len() < self.capacity => name,
            Candidate::Name(_) => "other",
        };
        let histogram = series
            .entry(label.to_owned())
            .or_insert_with(|| request_series(label))
            .clone();
        (label, histogram)
    }
}

/// What a request's label would be: a fixed one, or its operation name
/// while there is room for another.
enum Candidate<'a> {
    Fixed(&'static str),
    Name(&'a str),
}

fn candidate(outcome: RequestOutcome<'_>) -> Candidate<'_> {
    match outcome.operation {
        _ if !outcome.executed => Candidate::Fixed("refused"),
        _ if !outcome.authenticated => Candidate::Fixed("unauthenticated"),
        None => Candidate::Fixed("anonymous"),
        Some(name) if !is_plain_name(name) || FIXED_LABELS.contains(&name) => {
            Candidate::Fixed("other")
        }
        Some(name) => Candidate::Name(name),
    }
}

/// Short and plain: what a hand-written operation name looks like.
fn is_plain_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The process-wide series plus this application's own: cache counters and
/// sizes and pool connections, written straight from their sources at
/// scrape time (so they are exact for the application that serves the
/// scrape).
pub fn render(
    caches: &[(&'static str, StatsSnapshot, u64)],
    pool: (u32, u32),
    subscriptions: (u64, u64),
    listener: Option<(bool, u64, u64)>,
) -> String {
    use std::fmt::Write as _;

    let mut text = handle().render();
    type Read = fn(&StatsSnapshot) -> String;
    let families: [(&str, &str, Read); 8] = [
        ("agentgraph_cache_hits_total", "counter", |s| {
            s.hits.to_string()
        }),
        ("agentgraph_cache_misses_total", "counter", |s| {
            s.misses.to_string()
        }),
        ("agentgraph_cache_loads_total", "counter", |s| {
            s.loads.to_string()
        }),
        ("agentgraph_cache_load_failures_total", "counter", |s| {
            s.load_failures.to_string()
        }),
        ("agentgraph_cache_load_seconds_total", "counter", |s| {
            s.load_time.as_secs_f64().to_string()
        }),
        ("agentgraph_cache_evictions_total", "counter", |s| {
            s.evictions.to_string()
        }),
        ("agentgraph_cache_invalidations_total", "counter", |s| {
            s.invalidations.to_string()
        }),
        ("agentgraph_cache_stale_discards_total", "counter", |s| {
            s.stale_discards.to_string()
        }),
    ];
    for (family, kind, read) in families {
        let _ = writeln!(text, "# TYPE {family} {kind}");
        for (cache, stats, _) in caches {
            let _ = writeln!(text, "{family}{{cache=\"{cache}\"}} {}", read(stats));
        }
    }
    let _ = writeln!(text, "# TYPE agentgraph_cache_entries gauge");
    for (cache, _, entries) in caches {
        let _ = writeln!(
            text,
            "agentgraph_cache_entries{{cache=\"{cache}\"}} {entries}"
        );
    }
    let (in_use, idle) = pool;
    let _ = writeln!(text, "# TYPE agentgraph_db_pool_connections gauge");
    let _ = writeln!(
        text,
        "agentgraph_db_pool_connections{{state=\"in_use\"}} {in_use}"
    );
    let _ = writeln!(
        text,
        "agentgraph_db_pool_connections{{state=\"idle\"}} {idle}"
    );
    let (active, events) = subscriptions;
    let _ = writeln!(text, "# TYPE agentgraph_subscriptions_active gauge");
    let _ = writeln!(text, "agentgraph_subscriptions_active {active}");
    let _ = writeln!(text, "# TYPE agentgraph_subscription_events_total counter");
    let _ = writeln!(text, "agentgraph_subscription_events_total {events}");
    if let Some((up, reconnects, received)) = listener {
        let _ = writeln!(text, "# TYPE agentgraph_invalidation_listener_up gauge");
        let _ = writeln!(text, "agentgraph_invalidation_listener_up {}", u8::from(up));
        let _ = writeln!(
            text,
            "# TYPE agentgraph_invalidation_listener_reconnects_total counter"
        );
        let _ = writeln!(
            text,
            "agentgraph_invalidation_listener_reconnects_total {reconnects}"
        );
        let _ = writeln!(
            text,
            "# TYPE agentgraph_invalidations_received_total counter"
        );
        let _ = writeln!(text, "agentgraph_invalidations_received_total {received}");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ran(operation: Option<&str>) -> RequestOutcome<'_> {
        RequestOutcome {
            executed: true,
            authenticated: true,
            operation,
        }
    }

    #[test]
    fn only_executed_authenticated_plain_names_become_labels() {
        let names = OperationLabels::new(10);
        assert_eq!(names.label(ran(None)), "anonymous");
        assert_eq!(names.label(ran(Some("Viewer_1"))), "Viewer_1");
        assert_eq!(names.label(ran(Some("drop table; --"))), "other");
        assert_eq!(names.label(ran(Some(&"a".repeat(65)))), "other");
        let refused = RequestOutcome {
            executed: false,
            ..ran(Some("Chosen"))
        };
        assert_eq!(names.label(refused), "refused");
        let stranger = RequestOutcome {
            authenticated: false,
            ..ran(Some("Chosen"))
        };
        assert_eq!(names.label(stranger), "unauthenticated");
    }

    #[test]
    fn names_past_the_capacity_share_one_label() {
        let names = OperationLabels::new(2);
        assert_eq!(names.label(ran(Some("A"))), "A");
        assert_eq!(names.label(ran(Some("B"))), "B");
        assert_eq!(names.label(ran(Some("C"))), "other");
        assert_eq!(
            names.label(ran(Some("A"))),
            "A",
            "known names keep their label"
        );
    }
}
