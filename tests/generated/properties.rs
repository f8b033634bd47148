//! What must hold after every case, and the bounds those properties use,
//! each derived from the limits the server was started with.

use std::time::Duration;

use crate::{send::Observation, server::Limits};

/// Scheduling slack on top of the request timeout: a debug build on a
/// shared two-core machine may be descheduled for a while.
pub(crate) const ANSWER_MARGIN: Duration = Duration::from_secs(2);

/// A request's transient memory per byte of its body: the parsed document
/// (every name, position and node a value of its own, about 100 bytes per
/// two bytes of a wide selection) and its errors or answer while they are
/// serialised.
pub(crate) const TRANSIENT_BYTES_PER_BODY_BYTE: u64 = 128;

/// Text that only leaks from inside the server: Rust paths and panics,
/// database drivers and SQL, backtraces.
const INTERNAL_TEXT: &[&str] = &[
    "panicked",
    "backtrace",
    "RUST_",
    "sqlx",
    "DbErr",
    "sea_orm",
    "SQLSTATE",
    "SELECT ",
    "INSERT INTO",
    "UPDATE \"",
    "async_graphql",
    "GraphQLRequest",
    "BatchRequest",
    "serde",
    "axum::",
    "hyper::",
    "core::",
    "alloc::",
    "std::",
    "agentgraph::",
    ".rs:",
    "called `",
];

/// The bounds every case is held to.
#[derive(Clone, Debug)]
pub(crate) struct Bounds {
    /// Any answer, or the server letting go of a connection it has no
    /// complete request from: the request timeout plus the margin.
    pub answer_within: Duration,
    /// Server CPU per case: a request that stops at its deadline spends at
    /// most its deadline on the one task that runs it.
    pub cpu_per_case: Duration,
    /// Peak resident memory: what the process took once started and warm, plus
    /// every store at its flag's size, plus one request's transient memory
    /// (the harness sends one at a time) and one answer at its limit.
    pub rss_ceiling: u64,
}

impl Bounds {
    pub(crate) fn derive(limits: &Limits, warm_rss: u64) -> Self {
        let stores = limits.persisted_queries_bytes
            + limits.document_cache_bytes
            + limits.response_cache_bytes.unwrap_or(0);
        let transient = TRANSIENT_BYTES_PER_BODY_BYTE * limits.body_limit_bytes as u64
            + 2 * limits.response_bytes.unwrap_or(0);
        Self {
            answer_within: limits.request_timeout + ANSWER_MARGIN,
            cpu_per_case: limits.request_timeout,
            rss_ceiling: warm_rss + stores + transient,
        }
    }
}

/// What the server did wrong in one case.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct Violation {
    /// One of: `process`, `status`, `internal text`, `time`, `cpu`, `rss`.
    pub property: String,
    pub detail: String,
}

impl Violation {
    pub(crate) fn new(property: &str, detail: impl Into<String>) -> Self {
        Self {
            property: property.to_owned(),
            detail: detail.into(),
        }
    }
}

/// The properties of an answer: no 5xx but 503 and 504, no internal text
/// (unless the case itself sent it, to be echoed), on time.
pub(crate) fn check_answer(observation: &Observation, sent: &str) -> Vec<Violation> {
    let mut violations = Vec::new();
    for &status in &observation.statuses {
        if status >= 500 && status != 503 && status != 504 {
            violations.push(Violation::new("status", format!("answered {status}")));
        }
    }
    for needle in INTERNAL_TEXT {
        if observation.text.contains(needle) && !sent.contains(needle) {
            violations.push(Violation::new(
                "internal text",
                format!("{needle:?} in {:?}", around(&observation.text, needle)),
            ));
        }
    }
    if let Some(late) = &observation.late {
        violations.push(Violation::new("time", late.clone()));
    }
    violations
}

/// CPU and memory after a case.
pub(crate) fn check_resources(bounds: &Bounds, cpu: Duration, peak_rss: u64) -> Vec<Violation> {
    let mut violations = Vec::new();
    if cpu > bounds.cpu_per_case {
        violations.push(Violation::new(
            "cpu",
            format!("{cpu:?} of server CPU, bound {:?}", bounds.cpu_per_case),
        ));
    }
    if peak_rss > bounds.rss_ceiling {
        violations.push(Violation::new(
            "rss",
            format!(
                "{} MiB resident at the peak, bound {} MiB",
                peak_rss >> 20,
                bounds.rss_ceiling >> 20
            ),
        ));
    }
    violations
}

/// Up to 80 characters either side of the first `needle` in `text`.
fn around<'a>(text: &'a str, needle: &str) -> &'a str {
    let at = text.find(needle).unwrap_or(0);
    let mut from = at.saturating_sub(80);
    while !text.is_char_boundary(from) {
        from -= 1;
    }
    let mut to = (at + needle.len() + 80).min(text.len());
    while !text.is_char_boundary(to) {
        to += 1;
    }
    &text[from..to]
}
