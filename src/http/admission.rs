//! What a GraphQL request passes before it runs: its viewer's budget
//! (429 `RATE_LIMITED`), then the pool's queue (503 `OVERLOADED`); both
//! answer with `Retry-After` and run nothing.

use std::{net::SocketAddr, time::Duration};

use axum::{
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use serde_json::json;

use super::{state::AppState, with_media, Media};
use crate::{
    auth::Viewer,
    budget::{retry_after_secs, Charge, Settled},
    db::Admitted,
    error::ErrorCode,
    observability::RequestCost,
};

/// A request let in: its charge, and its place among the requests using
/// the pool. Dropped unsettled (the request was cancelled), the charge is
/// kept and the place given back.
pub(super) struct Admission {
    charge: Charge,
    _place: Admitted,
}

impl Admission {
    /// Charges the request `estimated` units to its viewer and takes a
    /// place for it, or says why not.
    pub(super) fn enter(
        state: &AppState,
        viewer: Option<&Viewer>,
        peer: Option<SocketAddr>,
        headers: &HeaderMap,
        estimated: u64,
    ) -> Result<Self, Refusal> {
        let budgets = state.budgets();
        let key = budgets.key(viewer, peer, headers);
        let charge = budgets
            .charge(key, estimated)
            .map_err(|over| Refusal::OverBudget(over.retry_after))?;
        match state.services().db.admit() {
            Ok(place) => Ok(Self {
                charge,
                _place: place,
            }),
            Err(overloaded) => {
                // Nothing ran: the charge goes back.
                charge.cancel();
                Err(Refusal::Overloaded(overloaded.retry_after))
            }
        }
    }

    /// Settles the charge by what the request cost (what caches answered
    /// is refunded) and gives the place back.
    pub(super) fn settle(self, cost: &RequestCost) -> Settled {
        self.charge.settle(cost)
    }
}

/// Charges an answer sent from the response cache: one unit, the least a
/// request costs, kept whole (nothing ran, so nothing is refunded). It uses
/// no connection, so the pool's queue is not asked.
pub(super) fn charge_hit(
    state: &AppState,
    viewer: Option<&Viewer>,
    peer: Option<SocketAddr>,
    headers: &HeaderMap,
) -> Result<(), Refusal> {
    let budgets = state.budgets();
    let key = budgets.key(viewer, peer, headers);
    match budgets.charge(key, 1) {
        Ok(_kept_whole) => Ok(()),
        Err(over) => Err(Refusal::OverBudget(over.retry_after)),
    }
}

/// Why a request was not let in, and about how long to wait.
#[derive(Clone, Copy, Debug)]
pub(super) enum Refusal {
    OverBudget(Duration),
    Overloaded(Duration),
}

impl Refusal {
    /// The answer: 429 or 503, with `Retry-After`; nothing ran.
    pub(super) fn response(self, media: Media) -> Response {
        let (status, code, message, wait) = match self {
            Self::OverBudget(wait) => (
                StatusCode::TOO_MANY_REQUESTS,
                ErrorCode::RateLimited,
                "this viewer's budget is spent; retry after the Retry-After seconds",
                wait,
            ),
            Self::Overloaded(wait) => (
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::Overloaded,
                "the server is overloaded; retry after the Retry-After seconds",
                wait,
            ),
        };
        let seconds = retry_after_secs(wait);
        let body = json!({ "errors": [{
            "message": message,
            "extensions": { "code": code.as_str(), "retryAfterSeconds": seconds },
        }] });
        let mut response = with_media(axum::Json(body).into_response(), status, media);
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        response
    }
}

/// The budget's part of the cost extension.
pub(super) fn cost_fields(settled: &Settled) -> serde_json::Value {
    json!({
        "estimatedCost": settled.estimated,
        "actualCost": settled.actual,
        "remainingBudget": settled.remaining.map(f64::floor),
    })
}
