//! The agentgraph benchmark (SPEC 11): builds a synthetic data set, starts
//! the real server in this process on SQLite or PostgreSQL, drives it over
//! real HTTP with closed-loop workers and prints one table of requests/s,
//! p50, p99, server and PostgreSQL CPU time per request, SQL statements per
//! request and cache hit rate, with a floor (a plain axum handler and a
//! trivial GraphQL query) measured in the same run.
//!
//! Run it from a fresh clone:
//!
//! ```text
//! cargo bench --bench agentgraph                      # SQLite in a temp dir
//! cargo bench --bench agentgraph -- --database-url postgres://postgres@127.0.0.1:5432/test
//! cargo bench --bench agentgraph -- --agents 100 --circles 10 --projects 20 \
//!     --signals 2000 --features 200 --duration 1s     # a quick run
//! cargo bench --bench agentgraph -- --only soak        # 10 + 1 minutes, RSS every 30 s
//! ```
//!
//! With PostgreSQL the tool creates its own database
//! (`agentgraph_bench_<random>`) on that server and drops it at the end.
//!
//! Modules: [`database`] (the scratch database), [`data`] (the synthetic
//! data set), [`server`] (the real server and the floor server, on a
//! runtime of their own), [`cpu`] (their CPU time and PostgreSQL's, from
//! `/proc`), [`client`] (one HTTP client per worker, reading
//! `extensions.cost`),
//! [`introspect`] (the diContext query, built from the schema),
//! [`workloads`] (what one operation of each workload does), [`runner`]
//! (the closed loop and its statistics), [`fanout`] (subscribers of one
//! project over WebSocket, mutation to last event), [`soak`] (minutes of
//! load with the RSS sampled, `--only soak`), [`abuse`] (normal viewers at
//! a fixed rate beside one abusive viewer, on a server with budgets),
//! [`report`] (the tables).

mod abuse;
mod client;
mod cpu;
mod data;
mod database;
mod fanout;
mod introspect;
mod report;
mod runner;
mod server;
mod soak;
mod workloads;

use std::{sync::Arc, time::Duration};

use anyhow::Context as _;
use clap::Parser;

use crate::{
    data::Sizes,
    database::ScratchDatabase,
    report::Environment,
    workloads::{Bench, Workload},
};

/// How often `db::readiness::compute` is timed directly.
const DIRECT_COMPUTE_RUNS: usize = 21;

/// The name of the load generator's threads (the main runtime's); the
/// servers run on their own, see [`server::SERVER_THREADS`].
const LOAD_THREADS: &str = "bench-load";

/// Benchmark the agentgraph server (SPEC 11).
#[derive(Debug, Parser)]
#[command(name = "agentgraph-bench")]
struct Args {
    /// Database to benchmark on. Default: a fresh SQLite file in a temp dir.
    /// A PostgreSQL URL names a server: the tool creates (and drops) its own
    /// database `agentgraph_bench_<random>` there.
    #[arg(long)]
    database_url: Option<String>,

    /// Agents (each with 2-3 tools, most with a model).
    #[arg(long, default_value_t = 1000)]
    agents: usize,

    /// Circles.
    #[arg(long, default_value_t = 100)]
    circles: usize,

    /// Members per circle (at most `--agents`).
    #[arg(long, default_value_t = 20)]
    members: usize,

    /// Projects owned by the bench user, the big one included.
    #[arg(long, default_value_t = 200)]
    projects: usize,

    /// Signals of the big project.
    #[arg(long, default_value_t = 10_000)]
    signals: usize,

    /// Features of the big project.
    #[arg(long, default_value_t = 1000)]
    features: usize,

    /// How long each workload runs at each concurrency (`3s`, `500ms`).
    #[arg(long, default_value = "3s", value_parser = humantime::parse_duration)]
    duration: Duration,

    /// Concurrent connections to measure at, comma separated.
    #[arg(long, value_delimiter = ',', default_value = "1,16")]
    connections: Vec<usize>,

    /// Run only the workloads whose name contains one of these (comma
    /// separated); the floor rows always run.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,

    /// Subscribers of one project in the fan-out row (0 skips it).
    #[arg(long, default_value_t = 1000)]
    subscribers: usize,

    /// Mutations measured in the fan-out row.
    #[arg(long, default_value_t = 20)]
    fan_out_changes: usize,

    /// The soak row (`--only soak`, never in a default run): minutes of
    /// the mixed load.
    #[arg(long, default_value_t = 10.0)]
    soak_minutes: f64,

    /// The soak row: minutes of all-distinct documents after the mixed
    /// load.
    #[arg(long, default_value_t = 1.0)]
    soak_distinct_minutes: f64,

    /// The soak row: concurrent connections.
    #[arg(long, default_value_t = 16)]
    soak_connections: usize,

    /// The soak row: how often the RSS is read (`30s`).
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    soak_sample_every: Duration,

    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

impl Args {
    fn sizes(&self) -> Sizes {
        Sizes {
            agents: self.agents,
            circles: self.circles,
            members: self.members,
            projects: self.projects,
            signals: self.signals,
            features: self.features,
        }
    }

    fn check(&self) -> anyhow::Result<()> {
        anyhow::ensure!(self.agents > 0, "--agents must be at least 1");
        anyhow::ensure!(self.projects > 0, "--projects must be at least 1");
        anyhow::ensure!(
            self.members <= self.agents,
            "--members ({}) cannot exceed --agents ({})",
            self.members,
            self.agents
        );
        anyhow::ensure!(
            !self.connections.is_empty() && !self.connections.contains(&0),
            "--connections needs positive numbers"
        );
        anyhow::ensure!(
            self.soak_minutes >= 0.0 && self.soak_distinct_minutes >= 0.0,
            "--soak-minutes and --soak-distinct-minutes cannot be negative"
        );
        anyhow::ensure!(
            self.soak_connections > 0 && !self.soak_sample_every.is_zero(),
            "--soak-connections and --soak-sample-every must be positive"
        );
        Ok(())
    }

    fn wants_fan_out(&self) -> bool {
        self.only.is_empty()
            || self
                .only
                .iter()
                .any(|name| report::FAN_OUT_ROW.contains(name.as_str()))
    }

    fn wants_abuse(&self) -> bool {
        self.only.is_empty()
            || self
                .only
                .iter()
                .any(|name| abuse::ABUSE_ROW.contains(name.as_str()))
    }

    /// The soak row runs only when `--only` names it: it takes minutes.
    fn wants_soak(&self) -> bool {
        self.only.iter().any(|name| name == "soak")
    }

    fn soak_settings(&self) -> soak::Settings {
        soak::Settings {
            mixed: Duration::from_secs_f64(self.soak_minutes * 60.0),
            distinct: Duration::from_secs_f64(self.soak_distinct_minutes * 60.0),
            connections: self.soak_connections,
            sample_every: self.soak_sample_every,
        }
    }

    fn wants(&self, workload: Workload) -> bool {
        workload.is_floor()
            || self.only.is_empty()
            || self
                .only
                .iter()
                .any(|name| workload.name().contains(name.as_str()))
    }
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    args.check()?;
    init_tracing();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .thread_name(LOAD_THREADS)
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;
    runtime.block_on(run_and_clean_up(args))
}

/// Server warnings and errors only, unless `RUST_LOG` says otherwise: the
/// request log would drown the tables.
fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

/// Runs the benchmark, then drops the scratch database whatever happened
/// (an error, or Ctrl-C).
async fn run_and_clean_up(args: Args) -> anyhow::Result<()> {
    let database = ScratchDatabase::create(args.database_url.as_deref()).await?;
    let outcome = tokio::select! {
        outcome = run(&args, &database) => outcome,
        _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted")),
    };
    database.drop_database().await;
    outcome
}

async fn run(args: &Args, database: &ScratchDatabase) -> anyhow::Result<()> {
    let sizes = args.sizes();
    println!("agentgraph benchmark on {}", database.backend_name());
    let (data, load_time) = data::load(&database.url, &sizes).await?;
    println!(
        "loaded the data set in {:.1} s ({} rows)",
        load_time.as_secs_f64(),
        data.rows
    );

    let servers = server::start(&database.url).await?;
    let bench = Arc::new(Bench::new(&servers, data, &database.url).await?);
    let compute_median = bench
        .time_direct_readiness_compute(DIRECT_COMPUTE_RUNS)
        .await?;
    println!(
        "db::readiness::compute(big project), direct, median of {DIRECT_COMPUTE_RUNS}: {:.2} ms",
        compute_median.as_secs_f64() * 1e3
    );

    let mut rows = Vec::new();
    for workload in Workload::ALL.into_iter().filter(|w| args.wants(*w)) {
        bench.prepare(workload).await?;
        for &connections in &args.connections {
            let (hits, misses) = bench.response_cache_counts();
            let row =
                runner::measure(Arc::clone(&bench), workload, connections, args.duration).await;
            report::print_progress(&row);
            let (hits_after, misses_after) = bench.response_cache_counts();
            let (hits, misses) = (hits_after - hits, misses_after - misses);
            if hits + misses > 0 {
                println!(
                    "  response cache: {hits} hits, {misses} misses ({:.1} % hits)",
                    100.0 * hits as f64 / (hits + misses) as f64
                );
            }
            rows.push(row);
        }
    }
    let fan_out = if args.subscribers > 0 && args.wants_fan_out() {
        let fan_out = fanout::measure(
            &servers.graphql_url,
            bench.user_bearer(),
            args.subscribers,
            args.fan_out_changes,
        )
        .await?;
        report::print_fan_out_progress(&fan_out);
        Some(fan_out)
    } else {
        None
    };
    let abuse = if args.wants_abuse() {
        // A server of its own, with budgets on; the main one idles.
        let abuse = abuse::measure(&database.url, args.duration).await?;
        abuse::print_progress(&abuse);
        Some(abuse)
    } else {
        None
    };
    let soak = if args.wants_soak() {
        Some(soak::run(Arc::clone(&bench), args.soak_settings()).await?)
    } else {
        None
    };
    servers.stop().await;

    let environment = Environment {
        backend: database.backend_name(),
        sizes,
        duration: args.duration,
        warm_up: runner::warm_up(args.duration),
        load_time,
        compute_median,
        cold_runtime_method: workloads::COLD_RUNTIME_METHOD,
        cold_circles_method: workloads::COLD_CIRCLES_METHOD,
        di_context_query: bench.di_context_query().map(str::to_owned),
        command: command_line(),
    };
    report::print(&rows, fan_out.as_ref(), &environment);
    if let Some(abuse) = &abuse {
        abuse::print(abuse);
    }
    if let Some(soak) = &soak {
        soak::print(soak);
    }
    Ok(())
}

/// The command that produced this run, for docs/PERFORMANCE.md.
fn command_line() -> String {
    let flags: Vec<String> = std::env::args()
        .skip(1)
        .filter(|arg| arg != "--bench")
        .map(|arg| database::redact(&arg))
        .collect();
    if flags.is_empty() {
        "cargo bench --bench agentgraph".to_owned()
    } else {
        format!("cargo bench --bench agentgraph -- {}", flags.join(" "))
    }
}
