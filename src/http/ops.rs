//! `/healthz`, `/readyz` and `/metrics`.

use std::time::Duration;

use axum::{
    extract::State,
    http::{header, StatusCode},
    response::{IntoResponse, Response},
};

use super::AppState;
use crate::observability;

/// `GET /healthz`: the process is alive. Never touches the database.
pub async fn healthz() -> &'static str {
    "ok"
}

/// `GET /metrics`: Prometheus text format.
pub async fn metrics(State(state): State<AppState>) -> Response {
    let services = state.services();
    let listener = state
        .listener()
        .map(|l| (l.is_connected(), l.reconnects(), l.received()));
    let text = observability::metrics::render(
        &services.caches.stats(),
        services.db.pool_connections(),
        services.live.stats(),
        listener,
    );
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

/// `GET /readyz`: 200 when the database answers and takes writes, 503 when
/// it does not, while new requests are being shed (the body starts with
/// `saturated`), or while shutting down.
pub async fn readyz(State(state): State<AppState>) -> Response {
    if state.is_shutting_down() {
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down").into_response();
    }
    if state
        .listener()
        .is_some_and(|listener| !listener.is_connected())
    {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "invalidation listener reconnecting",
        )
            .into_response();
    }
    // Before the ping, which would wait in the same queue.
    if let Some(wait) = state.services().db.saturated() {
        let seconds = crate::budget::retry_after_secs(wait);
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, seconds.to_string())],
            "saturated: the database pool's queue is longer than its acquire timeout can serve",
        )
            .into_response();
    }
    let ping =
        tokio::time::timeout(Duration::from_secs(2), state.services().db.accepts_writes()).await;
    match ping {
        Ok(true) => "ready".into_response(),
        _ => (
            StatusCode::SERVICE_UNAVAILABLE,
            "database unreachable or refusing writes",
        )
            .into_response(),
    }
}
