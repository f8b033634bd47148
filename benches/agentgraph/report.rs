//! What the benchmark prints: a progress line per row while it runs, then
//! the table (workload | conns | req/s | p50 | p99 | server CPU/req | PG
//! CPU/req | SQL/req | cache hit rate), the floor ratios, SPEC 8's
//! statement budgets against what was seen, any errors, the environment,
//! and the table again as Markdown for docs/PERFORMANCE.md.

use std::time::Duration;

use crate::{
    data::Sizes,
    fanout::FanOut,
    runner::{Outcome, Row, Stats},
    workloads::Workload,
};

/// The circumstances of a run, printed under the tables.
#[derive(Debug)]
pub(crate) struct Environment {
    pub backend: &'static str,
    pub sizes: Sizes,
    pub duration: Duration,
    pub warm_up: Duration,
    pub load_time: Duration,
    /// Median of `db::readiness::compute` on the big project, called
    /// directly.
    pub compute_median: Duration,
    pub cold_runtime_method: &'static str,
    pub cold_circles_method: &'static str,
    pub di_context_query: Option<String>,
    pub command: String,
}

/// Columns of the table.
const COLUMNS: usize = 9;

const HEADER: [&str; COLUMNS] = [
    "workload",
    "conns",
    "req/s",
    "p50",
    "p99",
    "server CPU/req",
    "PG CPU/req",
    "SQL/req",
    "cache hit rate",
];

/// One line to stderr as each row is measured.
pub(crate) fn print_progress(row: &Row) {
    let cells = cells(row);
    eprintln!(
        "  {:<34} {:>3} conns  {:>9} req/s  p50 {:>10}  p99 {:>10}  \
         server CPU/req {:>10}  PG CPU/req {:>10}  SQL/req {:>6}  hits {}",
        cells[0], cells[1], cells[2], cells[3], cells[4], cells[5], cells[6], cells[7], cells[8]
    );
}

/// The name of the fan-out row (and what `--only` matches it by).
pub(crate) const FAN_OUT_ROW: &str = "subscription fan-out";

pub(crate) fn print_fan_out_progress(fan_out: &FanOut) {
    eprintln!("  {}", fan_out_line(fan_out));
}

fn fan_out_line(fan_out: &FanOut) -> String {
    format!(
        "{FAN_OUT_ROW}: {} subscribers of one project over {} connections, {} changes: \
         mutation response to last event p50 {}, p99 {}; SQL per change beyond the mutation {:.1}",
        fan_out.subscribers,
        fan_out.connections,
        fan_out.times.len(),
        millis(fan_out.quantile(0.5)),
        millis(fan_out.quantile(0.99)),
        fan_out.statements_per_change,
    )
}

/// Everything after the runs.
pub(crate) fn print(rows: &[Row], fan_out: Option<&FanOut>, environment: &Environment) {
    println!();
    print_plain_table(rows);
    if let Some(fan_out) = fan_out {
        println!();
        println!("{}", fan_out_line(fan_out));
    }
    print_floor_ratios(rows);
    print_budgets(rows);
    print_errors(rows);
    print_environment(environment);
    println!();
    println!("Markdown (for docs/PERFORMANCE.md):");
    println!();
    print_markdown_table(rows);
    if let Some(fan_out) = fan_out {
        println!();
        println!("| {FAN_OUT_ROW} | subscribers | changes | p50 (response to last event) | p99 | SQL per change |");
        println!("| --- | ---: | ---: | ---: | ---: | ---: |");
        println!(
            "| one project | {} | {} | {} | {} | {:.1} |",
            fan_out.subscribers,
            fan_out.times.len(),
            millis(fan_out.quantile(0.5)),
            millis(fan_out.quantile(0.99)),
            fan_out.statements_per_change
        );
    }
}

fn cells(row: &Row) -> [String; COLUMNS] {
    let name = row.workload.name().to_owned();
    let conns = row.connections.to_string();
    match &row.outcome {
        Outcome::Measured(stats) => [
            name,
            conns,
            format!("{:.0}", stats.per_second()),
            millis(stats.quantile(0.50)),
            millis(stats.quantile(0.99)),
            stats
                .server_cpu_per_operation()
                .map_or_else(|| "-".to_owned(), millis),
            stats
                .postgres_cpu_per_operation()
                .map_or_else(|| "-".to_owned(), millis),
            format!("{:.2}", stats.statements_per_operation()),
            stats
                .hit_rate()
                .map_or_else(|| "-".to_owned(), |rate| format!("{:.1}%", rate * 100.0)),
        ],
        Outcome::NotAvailable { reason, .. } => {
            let na = format!("n/a ({reason})");
            [
                name,
                conns,
                na,
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
            ]
        }
    }
}

/// `0.412 ms`, `12.3 ms`, `1234 ms`: three significant digits or so.
pub(crate) fn millis(duration: Duration) -> String {
    let ms = duration.as_secs_f64() * 1e3;
    if ms < 10.0 {
        format!("{ms:.3} ms")
    } else if ms < 100.0 {
        format!("{ms:.2} ms")
    } else {
        format!("{ms:.1} ms")
    }
}

fn print_plain_table(rows: &[Row]) {
    let lines: Vec<[String; COLUMNS]> = rows.iter().map(cells).collect();
    let mut widths = HEADER.map(str::len);
    for line in &lines {
        for (width, cell) in widths.iter_mut().zip(line) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let header = HEADER.map(str::to_owned);
    println!("{}", plain_line(&header, &widths));
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    println!("{}", rule.join("-+-"));
    for line in &lines {
        println!("{}", plain_line(line, &widths));
    }
}

/// The name left-aligned, the figures right-aligned.
fn plain_line(cells: &[String; COLUMNS], widths: &[usize; COLUMNS]) -> String {
    cells
        .iter()
        .zip(widths)
        .enumerate()
        .map(|(i, (cell, width))| {
            if i == 0 {
                format!("{cell:<width$}")
            } else {
                format!("{cell:>width$}")
            }
        })
        .collect::<Vec<_>>()
        .join(" | ")
}

fn print_markdown_table(rows: &[Row]) {
    println!("| {} |", HEADER.join(" | "));
    println!("| --- |{}", " ---: |".repeat(COLUMNS - 1));
    for row in rows {
        println!("| {} |", cells(row).join(" | "));
    }
}

fn measured(rows: &[Row], workload: Workload, connections: usize) -> Option<&Stats> {
    rows.iter()
        .find(|row| row.workload == workload && row.connections == connections)
        .and_then(|row| match &row.outcome {
            Outcome::Measured(stats) if stats.operations > 0 => Some(stats),
            _ => None,
        })
}

/// Each workload's req/s as a share of the floors at the same concurrency.
fn print_floor_ratios(rows: &[Row]) {
    println!();
    println!("Floor ratios (req/s as a share of the floor at the same concurrency):");
    for row in rows.iter().filter(|row| !row.workload.is_floor()) {
        let Some(stats) = measured(rows, row.workload, row.connections) else {
            continue;
        };
        let share = |floor: Workload| {
            measured(rows, floor, row.connections).map_or_else(
                || "-".to_owned(),
                |floor| format!("{:.1}%", 100.0 * stats.per_second() / floor.per_second()),
            )
        };
        println!(
            "  {:<34} {:>3} conns: {:>7} of plain axum, {:>7} of trivial graphql",
            row.workload.name(),
            row.connections,
            share(Workload::FloorAxum),
            share(Workload::FloorGraphql)
        );
    }
}

/// Per operation: the most statements any one ran against SPEC 8's
/// budget (where it sets one), and the mean server time spent in SQL
/// next to the median latency, to show where the time goes.
fn print_budgets(rows: &[Row]) {
    println!();
    println!("SQL per operation (max statements seen / SPEC 8 budget; mean time in SQL vs p50):");
    for row in rows.iter().filter(|row| !row.workload.is_floor()) {
        let Outcome::Measured(stats) = &row.outcome else {
            continue;
        };
        let budget = match row.workload.statement_budget() {
            Some(budget) if stats.max_statements <= budget => format!("/ {budget} ok"),
            Some(budget) => format!("/ {budget} OVER BUDGET"),
            None => "(no budget)".to_owned(),
        };
        println!(
            "  {:<34} {:>3} conns: max {} {budget:<14} SQL {:>10} of p50 {:>10}",
            row.workload.name(),
            row.connections,
            stats.max_statements,
            millis(stats.sql_time_per_operation()),
            millis(stats.quantile(0.5)),
        );
    }
}

fn print_errors(rows: &[Row]) {
    let mut printed_title = false;
    let mut title = || {
        if !printed_title {
            println!();
            println!("Errors and unavailable rows:");
            printed_title = true;
        }
    };
    for row in rows {
        match &row.outcome {
            Outcome::Measured(stats) if stats.errors > 0 => {
                title();
                println!(
                    "  {} at {} conns: {} failed operations; first: {}",
                    row.workload.name(),
                    row.connections,
                    stats.errors,
                    stats.first_error.as_deref().unwrap_or("?")
                );
            }
            Outcome::NotAvailable { detail, .. } => {
                title();
                println!(
                    "  {} at {} conns: n/a: {detail}",
                    row.workload.name(),
                    row.connections
                );
            }
            Outcome::Measured(_) => {}
        }
    }
}

fn print_environment(environment: &Environment) {
    let sizes = &environment.sizes;
    println!();
    println!("Environment:");
    println!("  command:   {}", environment.command);
    println!(
        "  backend:   {} (server pool: {} connections)",
        environment.backend,
        crate::server::DB_MAX_CONNECTIONS
    );
    println!(
        "  machine:   {} logical CPUs{}; server and load generator share this process, \
         each on its own tokio runtime (the servers': {} worker threads)",
        std::thread::available_parallelism().map_or(0, usize::from),
        cpu_model().map_or_else(String::new, |model| format!(", {model}")),
        crate::server::SERVER_WORKER_THREADS
    );
    println!(
        "  CPU/req:   from /proc (utime + stime, 100 ticks/s) at the end of the warm-up and of the last \
         operation, over the operations measured; server: the threads of the servers' runtime \
         and of the server's SQLite connections; PG: every postgres process on the machine"
    );
    println!(
        "  data:      {} agents, {} circles x {} members, {} projects; big project: {} signals, {} features",
        sizes.agents, sizes.circles, sizes.members, sizes.projects, sizes.signals, sizes.features
    );
    println!(
        "  load:      {:.1} s (bulk inserts of 500 rows in one transaction; PostgreSQL: then VACUUM ANALYZE)",
        environment.load_time.as_secs_f64()
    );
    println!(
        "  runs:      {} per workload and concurrency, after {} warm-up; closed loop, one keep-alive connection per worker",
        humantime::format_duration(environment.duration),
        humantime::format_duration(environment.warm_up)
    );
    println!(
        "  readiness: db::readiness::compute(big project) called directly: median {}",
        millis(environment.compute_median)
    );
    println!("  cold agentRuntime: {}", environment.cold_runtime_method);
    println!("  cold circles: {}", environment.cold_circles_method);
    match &environment.di_context_query {
        Some(query) => println!("  diContext query: {query}"),
        None => println!("  diContext query: none (the API has no Project.diContext)"),
    }
}

/// The CPU's name from /proc/cpuinfo (Linux), if it says.
fn cpu_model() -> Option<String> {
    let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    info.lines()
        .find(|line| line.starts_with("model name"))
        .and_then(|line| line.split_once(':'))
        .map(|(_, model)| model.trim().to_owned())
}
