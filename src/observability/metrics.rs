//! Prometheus metrics, rendered by `GET /metrics`.
//!
//! Families (all prefixed `agentgraph_`):
//! - `request_duration_seconds{operation}`: GraphQL request latency;
//! - `sql_statements_total{outcome}`, `sql_statement_duration_seconds`;
//! - `cache_hits_total`, `cache_misses_total`, `cache_loads_total`,
//!   `cache_load_failures_total`, `cache_load_seconds_total`,
//!   `cache_evictions_total`, `cache_stale_discards_total`, `cache_entries`,
//!   each by `cache`;
//! - `db_pool_connections{state="in_use"|"idle"}`;
//! - on PostgreSQL: `invalidation_listener_up`,
//!   `invalidation_listener_reconnects_total`, `invalidations_received_total`.
//!
//! Request and statement series live in a process-wide recorder (installed
//! on first use); cache and pool series are read from the application at
//! scrape time.

use std::{sync::OnceLock, time::Duration};

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::cache::StatsSnapshot;

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

pub(super) fn record_statement(elapsed: Duration, failed: bool) {
    let outcome = if failed { "error" } else { "ok" };
    metrics::counter!("agentgraph_sql_statements_total", "outcome" => outcome).increment(1);
    metrics::histogram!("agentgraph_sql_statement_duration_seconds").record(elapsed.as_secs_f64());
}

/// Records one GraphQL request's latency under its operation name.
pub fn record_request(operation: Option<&str>, elapsed: Duration) {
    metrics::histogram!("agentgraph_request_duration_seconds", "operation" => operation_label(operation))
        .record(elapsed.as_secs_f64());
}

/// Operation names come from clients: keep them short and plain so a
/// client cannot blow up the number of series with junk.
fn operation_label(operation: Option<&str>) -> String {
    match operation {
        None => "anonymous".to_owned(),
        Some(name)
            if !name.is_empty()
                && name.len() <= 64
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') =>
        {
            name.to_owned()
        }
        Some(_) => "invalid".to_owned(),
    }
}

/// The process-wide series plus this application's own: cache counters and
/// sizes and pool connections, written straight from their sources at
/// scrape time (so they are exact for the application that serves the
/// scrape).
pub fn render(
    caches: &[(&'static str, StatsSnapshot, u64)],
    pool: (u32, u32),
    listener: Option<(bool, u64, u64)>,
) -> String {
    use std::fmt::Write as _;

    let mut text = handle().render();
    type Read = fn(&StatsSnapshot) -> String;
    let families: [(&str, &str, Read); 7] = [
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

    #[test]
    fn operation_labels_are_bounded() {
        assert_eq!(operation_label(None), "anonymous");
        assert_eq!(operation_label(Some("Viewer_1")), "Viewer_1");
        assert_eq!(operation_label(Some("drop table; --")), "invalid");
        assert_eq!(operation_label(Some(&"a".repeat(65))), "invalid");
    }
}
