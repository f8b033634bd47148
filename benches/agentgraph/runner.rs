//! The closed loop: C workers, each one connection sending one operation
//! after another, first for a short warm-up (not recorded), then for the
//! measured duration. A row is the merge of every worker's samples, with
//! the CPU time the server and PostgreSQL spent in the measured window.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use crate::{
    client::Cost,
    cpu::CpuUse,
    workloads::{Bench, Sample, Workload},
};

/// A worker that fails this many operations in a row gives up.
const MAX_CONSECUTIVE_ERRORS: usize = 100;

/// One line of the table: a workload at a concurrency.
#[derive(Debug)]
pub(crate) struct Row {
    pub workload: Workload,
    pub connections: usize,
    pub outcome: Outcome,
}

#[derive(Debug)]
pub(crate) enum Outcome {
    Measured(Stats),
    /// Not measurable here: a short reason for the table, the detail below.
    NotAvailable {
        reason: String,
        detail: String,
    },
}

/// What the measured window showed.
#[derive(Debug)]
pub(crate) struct Stats {
    pub operations: usize,
    pub elapsed: Duration,
    /// Sorted.
    latencies: Vec<Duration>,
    pub cost: Cost,
    /// Most SQL statements any one operation ran.
    pub max_statements: u64,
    pub errors: usize,
    pub first_error: Option<String>,
    /// From the end of the warm-up to the end of the last operation. The
    /// operations still running when the warm-up ends are not counted, but
    /// what is left of their work is: at most one operation per connection.
    pub cpu: CpuUse,
}

impl Stats {
    pub(crate) fn per_second(&self) -> f64 {
        self.operations as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The latency at quantile `q` (0..1), nearest rank.
    pub(crate) fn quantile(&self, q: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let rank = (q * self.latencies.len() as f64).ceil() as usize;
        self.latencies[rank.clamp(1, self.latencies.len()) - 1]
    }

    /// Mean time the server spent in SQL per operation.
    pub(crate) fn sql_time_per_operation(&self) -> Duration {
        Duration::from_micros(self.cost.sql_micros / self.operations.max(1) as u64)
    }

    /// Mean server CPU time per operation, where `/proc` tells.
    pub(crate) fn server_cpu_per_operation(&self) -> Option<Duration> {
        self.per_operation(self.cpu.server?)
    }

    /// Mean CPU time of PostgreSQL per operation (`None` on SQLite).
    pub(crate) fn postgres_cpu_per_operation(&self) -> Option<Duration> {
        self.per_operation(self.cpu.postgres?)
    }

    fn per_operation(&self, total: Duration) -> Option<Duration> {
        (self.operations > 0).then(|| total.div_f64(self.operations as f64))
    }

    pub(crate) fn statements_per_operation(&self) -> f64 {
        self.cost.statements as f64 / self.operations.max(1) as f64
    }

    /// Cache hits / lookups, `None` when no cache was consulted.
    pub(crate) fn hit_rate(&self) -> Option<f64> {
        let lookups = self.cost.cache_hits + self.cost.cache_misses;
        (lookups > 0).then(|| self.cost.cache_hits as f64 / lookups as f64)
    }
}

/// The warm-up before each measurement: a tenth of it, within 200 ms..1 s.
pub(crate) fn warm_up(duration: Duration) -> Duration {
    (duration / 10).clamp(Duration::from_millis(200), Duration::from_secs(1))
}

/// Runs `workload` with `connections` workers for `duration` (after the
/// warm-up). One probe operation first: if it fails, the row is "n/a".
pub(crate) async fn measure(
    bench: Arc<Bench>,
    workload: Workload,
    connections: usize,
    duration: Duration,
) -> Row {
    let outcome = match probe(&bench, workload).await {
        Err(not_available) => not_available,
        Ok(()) => Outcome::Measured(run(bench, workload, connections, duration).await),
    };
    Row {
        workload,
        connections,
        outcome,
    }
}

async fn probe(bench: &Bench, workload: Workload) -> Result<(), Outcome> {
    if workload == Workload::DiContext && bench.di_context_query().is_none() {
        return Err(Outcome::NotAvailable {
            reason: "not in schema".to_owned(),
            detail: "the API has no Project.diContext field".to_owned(),
        });
    }
    let result = match bench.worker(usize::MAX) {
        Ok(mut worker) => bench.run_once(workload, &mut worker).await.map(drop),
        Err(error) => Err(error),
    };
    result.map_err(|error| Outcome::NotAvailable {
        reason: if workload == Workload::DiContext {
            "not in schema".to_owned()
        } else {
            "error".to_owned()
        },
        detail: format!("{error:#}"),
    })
}

async fn run(
    bench: Arc<Bench>,
    workload: Workload,
    connections: usize,
    duration: Duration,
) -> Stats {
    let measure_from = Instant::now() + warm_up(duration);
    let until = measure_from + duration;
    let workers: Vec<_> = (0..connections)
        .map(|index| {
            let bench = Arc::clone(&bench);
            tokio::spawn(async move { work(&bench, workload, index, measure_from, until).await })
        })
        .collect();
    tokio::time::sleep_until(measure_from.into()).await;
    let cpu_before = bench.cpu().read();
    let mut merged = WorkerResult::default();
    for worker in workers {
        match worker.await {
            Ok(result) => merged.absorb(result),
            Err(error) => merged.error(format!("a worker task failed: {error}")),
        }
    }
    let cpu = bench.cpu().read().since(&cpu_before);
    merged.into_stats(measure_from, cpu)
}

/// One worker's loop. Operations started before `measure_from` are the
/// warm-up; none is started at or after `until`.
async fn work(
    bench: &Bench,
    workload: Workload,
    index: usize,
    measure_from: Instant,
    until: Instant,
) -> WorkerResult {
    let mut result = WorkerResult::default();
    let mut worker = match bench.worker(index) {
        Ok(worker) => worker,
        Err(error) => {
            result.error(format!("{error:#}"));
            return result;
        }
    };
    let mut consecutive_errors = 0;
    loop {
        let started = Instant::now();
        if started >= until || consecutive_errors >= MAX_CONSECUTIVE_ERRORS {
            break;
        }
        let outcome = bench.run_once(workload, &mut worker).await;
        let done = Instant::now();
        consecutive_errors = if outcome.is_ok() {
            0
        } else {
            consecutive_errors + 1
        };
        if started < measure_from {
            continue;
        }
        result.last_done = Some(result.last_done.map_or(done, |last| last.max(done)));
        match outcome {
            Ok(sample) => result.samples.push(sample),
            Err(error) => result.error(format!("{error:#}")),
        }
    }
    result
}

#[derive(Default)]
struct WorkerResult {
    samples: Vec<Sample>,
    errors: usize,
    first_error: Option<String>,
    last_done: Option<Instant>,
}

impl WorkerResult {
    fn error(&mut self, message: String) {
        self.errors += 1;
        self.first_error.get_or_insert(message);
    }

    fn absorb(&mut self, other: WorkerResult) {
        self.samples.extend(other.samples);
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
        self.last_done = match (self.last_done, other.last_done) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
    }

    fn into_stats(self, measure_from: Instant, cpu: CpuUse) -> Stats {
        let elapsed = self.last_done.map_or(Duration::ZERO, |last| {
            last.saturating_duration_since(measure_from)
        });
        let mut latencies: Vec<Duration> = self.samples.iter().map(|s| s.latency).collect();
        latencies.sort_unstable();
        let cost = self
            .samples
            .iter()
            .fold(Cost::default(), |total, s| total.add(s.cost));
        let max_statements = self
            .samples
            .iter()
            .map(|s| s.cost.statements)
            .max()
            .unwrap_or(0);
        Stats {
            operations: self.samples.len(),
            elapsed,
            latencies,
            cost,
            max_statements,
            errors: self.errors,
            first_error: self.first_error,
            cpu,
        }
    }
}
