//! The soak row (`--only soak`): the mixed load for a long stretch, then a
//! stretch in which every request is a document never sent before (it
//! fills the parsed-document store and the persisted-query store to their
//! bounds and keeps evicting), with the process's resident memory sampled
//! at a fixed interval and no `/metrics` scraper running: what the
//! figures show is that memory stays flat on its own.
//!
//! The server runs in this process (see [`crate::server`]), so the RSS is
//! the server's plus the load generator's; the generator keeps only
//! counters and a fixed-size latency histogram, so its share does not grow
//! with the run.

use std::{
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use crate::workloads::{Bench, Workload};

/// How long each phase runs, with how many connections, how often the
/// RSS is read.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Settings {
    pub mixed: Duration,
    pub distinct: Duration,
    pub connections: usize,
    pub sample_every: Duration,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Mixed,
    Distinct,
}

impl Phase {
    fn name(self) -> &'static str {
        match self {
            Phase::Mixed => "mixed",
            Phase::Distinct => "all-distinct documents",
        }
    }
}

/// One reading of the RSS.
#[derive(Debug)]
struct Reading {
    at: Duration,
    phase: Phase,
    rss_bytes: u64,
    requests: u64,
    errors: u64,
}

/// What one phase did.
#[derive(Debug)]
struct PhaseResult {
    phase: Phase,
    elapsed: Duration,
    requests: u64,
    errors: u64,
    first_error: Option<String>,
    latencies: Histogram,
}

#[derive(Debug)]
pub(crate) struct Soak {
    settings: Settings,
    readings: Vec<Reading>,
    phases: Vec<PhaseResult>,
}

/// Counters every worker adds to.
#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    errors: AtomicU64,
    /// Numbers the all-distinct documents; never repeats in a process.
    next_document: AtomicU64,
    first_error: Mutex<Option<String>>,
    latencies: Mutex<Histogram>,
}

pub(crate) async fn run(bench: Arc<Bench>, settings: Settings) -> anyhow::Result<Soak> {
    bench.prepare(Workload::Mixed).await?;
    let counters = Arc::new(Counters::default());
    let started = Instant::now();
    let readings = Arc::new(Mutex::new(Vec::new()));
    let current = Arc::new(Mutex::new(Phase::Mixed));
    let sampler = tokio::spawn(sample(
        Arc::clone(&counters),
        Arc::clone(&readings),
        Arc::clone(&current),
        started,
        settings.sample_every,
    ));
    let mut phases = Vec::new();
    for (phase, duration) in [
        (Phase::Mixed, settings.mixed),
        (Phase::Distinct, settings.distinct),
    ] {
        *lock(&current) = phase;
        phases.push(run_phase(&bench, &counters, phase, duration, settings.connections).await);
    }
    sampler.abort();
    let mut readings = std::mem::take(&mut *lock(&readings));
    readings.push(read_now(&counters, *lock(&current), started));
    Ok(Soak {
        settings,
        readings,
        phases,
    })
}

async fn run_phase(
    bench: &Arc<Bench>,
    counters: &Arc<Counters>,
    phase: Phase,
    duration: Duration,
    connections: usize,
) -> PhaseResult {
    let before = (
        counters.requests.load(Ordering::Relaxed),
        counters.errors.load(Ordering::Relaxed),
    );
    *lock(&counters.latencies) = Histogram::default();
    *lock(&counters.first_error) = None;
    let started = Instant::now();
    let until = started + duration;
    let workers: Vec<_> = (0..connections)
        .map(|index| {
            let bench = Arc::clone(bench);
            let counters = Arc::clone(counters);
            tokio::spawn(async move { work(&bench, &counters, phase, index, until).await })
        })
        .collect();
    for worker in workers {
        if let Err(error) = worker.await {
            lock(&counters.first_error).get_or_insert(format!("a worker failed: {error}"));
        }
    }
    PhaseResult {
        phase,
        elapsed: started.elapsed(),
        requests: counters.requests.load(Ordering::Relaxed) - before.0,
        errors: counters.errors.load(Ordering::Relaxed) - before.1,
        first_error: lock(&counters.first_error).take(),
        latencies: std::mem::take(&mut *lock(&counters.latencies)),
    }
}

async fn work(bench: &Bench, counters: &Counters, phase: Phase, index: usize, until: Instant) {
    let mut worker = match bench.worker(index) {
        Ok(worker) => worker,
        Err(error) => {
            lock(&counters.first_error).get_or_insert(format!("{error:#}"));
            return;
        }
    };
    let mut latencies = Histogram::default();
    while Instant::now() < until {
        let outcome = match phase {
            Phase::Mixed => bench.run_once(Workload::Mixed, &mut worker).await,
            Phase::Distinct => {
                let n = counters.next_document.fetch_add(1, Ordering::Relaxed);
                bench.distinct_document(&worker, n).await
            }
        };
        counters.requests.fetch_add(1, Ordering::Relaxed);
        match outcome {
            Ok(sample) => latencies.record(sample.latency),
            Err(error) => {
                counters.errors.fetch_add(1, Ordering::Relaxed);
                lock(&counters.first_error).get_or_insert(format!("{error:#}"));
            }
        }
    }
    lock(&counters.latencies).absorb(&latencies);
}

/// Reads the RSS every `every` until aborted.
async fn sample(
    counters: Arc<Counters>,
    readings: Arc<Mutex<Vec<Reading>>>,
    current: Arc<Mutex<Phase>>,
    started: Instant,
    every: Duration,
) {
    let mut ticks = tokio::time::interval(every);
    loop {
        ticks.tick().await;
        let reading = read_now(&counters, *lock(&current), started);
        lock(&readings).push(reading);
    }
}

fn read_now(counters: &Counters, phase: Phase, started: Instant) -> Reading {
    Reading {
        at: started.elapsed(),
        phase,
        rss_bytes: rss_bytes(),
        requests: counters.requests.load(Ordering::Relaxed),
        errors: counters.errors.load(Ordering::Relaxed),
    }
}

/// This process's resident set (`VmRSS`), 0 where `/proc` cannot tell.
fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(0, |kib| kib * 1024)
}

/// A poisoned lock only means a worker panicked; its counts still stand.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Latencies in fixed buckets, so a long run holds no per-request data:
/// 50 µs wide up to 100 ms, then 10 ms wide up to 10 s.
#[derive(Debug)]
struct Histogram {
    buckets: Vec<u64>,
}

const FINE_BUCKET_MICROS: u64 = 50;
const FINE_UNTIL_MICROS: u64 = 100_000;
const COARSE_BUCKET_MICROS: u64 = 10_000;
const COARSE_BUCKETS: u64 = 990;

impl Default for Histogram {
    fn default() -> Self {
        let fine = FINE_UNTIL_MICROS / FINE_BUCKET_MICROS;
        Self {
            buckets: vec![0; (fine + COARSE_BUCKETS + 1) as usize],
        }
    }
}

impl Histogram {
    fn record(&mut self, latency: Duration) {
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        let index = if micros < FINE_UNTIL_MICROS {
            micros / FINE_BUCKET_MICROS
        } else {
            FINE_UNTIL_MICROS / FINE_BUCKET_MICROS
                + ((micros - FINE_UNTIL_MICROS) / COARSE_BUCKET_MICROS).min(COARSE_BUCKETS)
        };
        self.buckets[index as usize] += 1;
    }

    fn absorb(&mut self, other: &Histogram) {
        for (mine, theirs) in self.buckets.iter_mut().zip(&other.buckets) {
            *mine += theirs;
        }
    }

    /// The upper edge of the bucket holding quantile `q`.
    fn quantile(&self, q: f64) -> Duration {
        let total: u64 = self.buckets.iter().sum();
        let rank = ((q * total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (index, count) in self.buckets.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return Duration::from_micros(upper_edge(index as u64));
            }
        }
        Duration::ZERO
    }
}

fn upper_edge(index: u64) -> u64 {
    let fine = FINE_UNTIL_MICROS / FINE_BUCKET_MICROS;
    if index < fine {
        (index + 1) * FINE_BUCKET_MICROS
    } else {
        FINE_UNTIL_MICROS + (index - fine + 1) * COARSE_BUCKET_MICROS
    }
}

/// The RSS table and one line per phase, as Markdown for
/// docs/PERFORMANCE.md.
pub(crate) fn print(soak: &Soak) {
    let settings = soak.settings;
    println!();
    println!(
        "soak: {:.1} min of the mixed load, then {:.1} min of all-distinct documents, {} connections, \
         RSS of the process (server and load generator) every {} s, no /metrics scraper",
        settings.mixed.as_secs_f64() / 60.0,
        settings.distinct.as_secs_f64() / 60.0,
        settings.connections,
        settings.sample_every.as_secs()
    );
    println!();
    println!("| time | phase | RSS (MiB) | requests so far | errors so far |");
    println!("| --- | --- | --- | --- | --- |");
    for reading in &soak.readings {
        let seconds = reading.at.as_secs();
        println!(
            "| {}:{:02} | {} | {:.1} | {} | {} |",
            seconds / 60,
            seconds % 60,
            reading.phase.name(),
            reading.rss_bytes as f64 / f64::from(1 << 20),
            reading.requests,
            reading.errors
        );
    }
    println!();
    println!("| phase | requests | requests/s | p50 | p99 | errors |");
    println!("| --- | --- | --- | --- | --- | --- |");
    for phase in &soak.phases {
        println!(
            "| {} | {} | {:.0} | {:.2} ms | {:.2} ms | {} |",
            phase.phase.name(),
            phase.requests,
            phase.requests as f64 / phase.elapsed.as_secs_f64().max(1e-9),
            phase.latencies.quantile(0.5).as_secs_f64() * 1e3,
            phase.latencies.quantile(0.99).as_secs_f64() * 1e3,
            phase.errors
        );
        if let Some(error) = &phase.first_error {
            println!("  first error ({}): {error}", phase.phase.name());
        }
    }
    let peak = soak.readings.iter().map(|r| r.rss_bytes).max().unwrap_or(0);
    println!();
    println!("peak RSS {:.1} MiB", peak as f64 / f64::from(1 << 20));
}
