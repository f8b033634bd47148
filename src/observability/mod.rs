//! Observability: tracing set-up ([`init_tracing`]), the per-request cost
//! ([`cost`]) and the Prometheus metrics ([`metrics`]).

pub mod cache_stats;
pub mod cost;
pub mod metrics;

pub use cache_stats::{CacheStats, StatsSnapshot};
pub use cost::{record_cache_lookup, CacheOutcomes, RequestCost};

use tracing_subscriber::{layer::SubscriberExt, util::SubscriberInitExt, EnvFilter};

use crate::config::LogFormat;

/// Installs the global tracing subscriber. `RUST_LOG` overrides the default
/// filter. Safe to call more than once (later calls do nothing).
pub fn init_tracing(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sea_orm=warn,tower_http=info"));
    let registry = tracing_subscriber::registry().with(filter);
    let _ = match format {
        LogFormat::Text => registry.with(tracing_subscriber::fmt::layer()).try_init(),
        LogFormat::Json => registry
            .with(tracing_subscriber::fmt::layer().json().flatten_event(true))
            .try_init(),
    };
}
