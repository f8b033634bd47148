//! CPU time of the server and of PostgreSQL over a measured window, read
//! from `/proc` (Linux): the server is this process's threads that belong
//! to it (its own tokio runtime, workers and blocking threads alike, and
//! the SQLite worker threads of its pool), PostgreSQL is every process
//! named `postgres` on the machine. Elsewhere, or when `/proc` cannot be
//! read, the figures are simply absent.

use std::{collections::HashMap, fs, time::Duration};

use crate::server::SERVER_THREADS;

/// Names of the threads sqlx runs each SQLite connection on
/// (`sqlx-sqlite-worker-N`), as the kernel keeps them: 15 bytes at most.
/// The bench's own SQLite connections are named differently (see
/// [`BENCH_SQLITE_THREADS`]), so these are the server's.
const SQLITE_WORKER_THREADS: &str = "sqlx-sqlite-wor";

/// What the bench names the threads of its own SQLite connections, so they
/// are not taken for the server's.
pub(crate) const BENCH_SQLITE_THREADS: &str = "bench-sqlite";

/// `/proc` counts CPU time in clock ticks of USER_HZ, assumed to be 100 (10
/// ms a tick), what Linux uses on every common architecture: asking
/// `sysconf(_SC_CLK_TCK)` would take unsafe code, which the workspace
/// forbids.
const MILLIS_PER_TICK: u64 = 10;

/// Reads the CPU time of the server's threads and, on PostgreSQL, of the
/// `postgres` processes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Probe {
    postgres: bool,
}

/// Ticks so far per thread (server) or process (PostgreSQL), by id: a
/// thread or process that ends within the window takes only its own time
/// with it, instead of making the total go backwards.
#[derive(Debug)]
pub(crate) struct Reading {
    server: Option<HashMap<u32, u64>>,
    postgres: Option<HashMap<u32, u64>>,
}

/// CPU time spent between two readings.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct CpuUse {
    pub server: Option<Duration>,
    /// `None` on SQLite.
    pub postgres: Option<Duration>,
}

impl Probe {
    pub(crate) fn new(postgres: bool) -> Self {
        Self { postgres }
    }

    pub(crate) fn read(&self) -> Reading {
        Reading {
            server: ticks_by_id("/proc/self/task", is_server_thread),
            postgres: self
                .postgres
                .then(|| ticks_by_id("/proc", |name| name == "postgres"))
                .flatten(),
        }
    }
}

impl Reading {
    /// What was spent from `earlier` to this reading.
    pub(crate) fn since(&self, earlier: &Reading) -> CpuUse {
        CpuUse {
            server: spent(earlier.server.as_ref(), self.server.as_ref()),
            postgres: spent(earlier.postgres.as_ref(), self.postgres.as_ref()),
        }
    }
}

fn is_server_thread(name: &str) -> bool {
    name.starts_with(SERVER_THREADS) || name.starts_with(SQLITE_WORKER_THREADS)
}

fn spent(
    before: Option<&HashMap<u32, u64>>,
    after: Option<&HashMap<u32, u64>>,
) -> Option<Duration> {
    let (before, after) = (before?, after?);
    let ticks: u64 = after
        .iter()
        .map(|(id, now)| now.saturating_sub(before.get(id).copied().unwrap_or(0)))
        .sum();
    Some(Duration::from_millis(ticks.saturating_mul(MILLIS_PER_TICK)))
}

/// utime + stime of every numeric entry of `dir` whose name `wanted`
/// accepts; `None` when `dir` cannot be listed. Entries that vanish while
/// being read are skipped.
fn ticks_by_id(dir: &str, wanted: impl Fn(&str) -> bool) -> Option<HashMap<u32, u64>> {
    let entries = fs::read_dir(dir).ok()?;
    let mut ticks = HashMap::new();
    for entry in entries.flatten() {
        let Some(id) = entry
            .file_name()
            .to_str()
            .and_then(|name| name.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        if let Some((name, spent)) = parse_stat(&stat) {
            if wanted(name) {
                ticks.insert(id, spent);
            }
        }
    }
    Some(ticks)
}

/// The name (`comm`, the same as the `comm` file holds) and utime + stime
/// of a `stat` line: `pid (comm) state ppid ... utime stime ...`. The name
/// is in parentheses and may itself contain spaces and parentheses, so the
/// fields are counted from the last `)`: utime and stime are fields 14 and
/// 15, the 12th and 13th after it.
fn parse_stat(stat: &str) -> Option<(&str, u64)> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let name = stat.get(open + 1..close)?;
    let mut fields = stat.get(close + 1..)?.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some((name, utime + stime))
}
