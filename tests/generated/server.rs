//! The server under test in a process of its own (an abort or a stack
//! overflow kills that process, not the harness): started from the real
//! binary with explicit limits, watched through `/proc`, restarted after
//! any failure so every case starts from a healthy process.

use std::{
    fs,
    io::{BufRead, BufReader},
    net::SocketAddr,
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::Duration,
};

use agentgraph::{
    auth::{TokenKeys, Viewer},
    seed::DEMO_USER_ID,
};

pub(crate) const SECRET: &str = "generated-input-secret-of-at-least-32-bytes";

/// How long the binary may take to migrate, seed and listen (a debug build
/// on a busy machine).
const START_TIMEOUT: Duration = Duration::from_secs(120);

/// `/proc` counts CPU time in ticks of USER_HZ, 100 on every common Linux.
const MILLIS_PER_TICK: u64 = 10;

/// The limits the server is started with; every bound the properties check
/// is derived from these (see [`crate::properties::Bounds`]).
#[derive(Clone, Debug)]
pub(crate) struct Limits {
    pub body_limit_bytes: usize,
    pub request_timeout: Duration,
    pub persisted_queries_bytes: u64,
    pub document_cache_bytes: u64,
    /// Bytes of one answer, where the server has such a limit.
    pub response_bytes: Option<u64>,
    /// Bytes of kept answers, where the server keeps them.
    pub response_cache_bytes: Option<u64>,
}

impl Limits {
    pub(crate) fn harness() -> Self {
        Self {
            body_limit_bytes: 256 * 1024,
            request_timeout: Duration::from_secs(4),
            persisted_queries_bytes: 4 * 1024 * 1024,
            document_cache_bytes: 4 * 1024 * 1024,
            response_bytes: None,
            response_cache_bytes: None,
        }
    }
}

/// One running server process on its own fresh database.
pub(crate) struct Server {
    child: Child,
    pub address: SocketAddr,
    pub limits: Limits,
    /// The command line, for a restart on the same database.
    flags: Vec<String>,
    /// The fresh PostgreSQL database to drop at the end: (server, name).
    postgres: Option<(String, String)>,
    /// Where the server's log goes (kept with a failing case).
    pub log: PathBuf,
    /// The SQLite file and the log; removed with the server.
    _dir: tempfile::TempDir,
    /// `Bearer ...` of the demo admin (owns the demo projects).
    pub admin: String,
    /// `Bearer ...` of a user without roles who owns nothing.
    pub user: String,
}

impl Server {
    /// Starts the binary on a fresh database (SQLite in a temp dir, or a
    /// fresh database on the PostgreSQL server `postgres` names) with the
    /// demo data and `limits`.
    pub(crate) fn start(limits: &Limits, postgres: Option<&str>) -> Self {
        let dir = tempfile::tempdir().expect("a temp dir");
        let log = dir.path().join("server.log");
        let (database_url, postgres) = match postgres {
            Some(url) => {
                let (database_url, name) = fresh_postgres_database(url);
                (database_url, Some((url.to_owned(), name)))
            }
            None => {
                let file = dir.path().join("db.sqlite");
                (format!("sqlite://{}?mode=rwc", file.display()), None)
            }
        };
        let mut limits = limits.clone();
        let flags = server_flags(&mut limits, &database_url);
        let (child, address) = spawn(&flags, &log);
        let keys = TokenKeys::new(SECRET.as_bytes()).expect("the secret is long enough");
        Self {
            child,
            address,
            limits,
            flags,
            postgres,
            log,
            _dir: dir,
            admin: bearer(&keys, DEMO_USER_ID.0, true),
            user: bearer(&keys, uuid::Uuid::now_v7(), false),
        }
    }

    /// Ends the process (if it still runs) and starts a new one on the
    /// same database: the data a run prepared stays.
    pub(crate) fn restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let (child, address) = spawn(&self.flags, &self.log);
        self.child = child;
        self.address = address;
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process is still running (an abort or overflow ends it).
    pub(crate) fn exited(&mut self) -> Option<String> {
        match self.child.try_wait() {
            Ok(None) => None,
            Ok(Some(status)) => Some(format!("the server exited: {status}")),
            Err(error) => Some(format!("the server cannot be waited for: {error}")),
        }
    }

    /// Process CPU time so far (user + system, every thread).
    pub(crate) fn cpu(&self) -> Duration {
        let stat = fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap_or_default();
        // The command name may hold spaces; the fields after it do not.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map_or(Vec::new(), |(_, rest)| rest.split_whitespace().collect());
        let ticks: u64 = [11, 12]
            .iter()
            .filter_map(|&i| fields.get(i)?.parse::<u64>().ok())
            .sum();
        Duration::from_millis(ticks * MILLIS_PER_TICK)
    }

    /// The most resident memory the process has held so far (`VmHWM`), in
    /// bytes: a large answer freed before the harness looks (big blocks go
    /// straight back to the system) still shows.
    pub(crate) fn peak_rss(&self) -> u64 {
        status_kib(self.pid(), "VmHWM:") * 1024
    }

    /// The last lines of the server's log, for a failure report.
    pub(crate) fn log_tail(&self) -> String {
        let log = fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some((url, name)) = &self.postgres {
            let _ = Command::new("psql")
                .args([
                    url.as_str(),
                    "-qc",
                    &format!("DROP DATABASE {name} WITH (FORCE)"),
                ])
                .status();
        }
    }
}

fn spawn(flags: &[String], log: &std::path::Path) -> (Child, SocketAddr) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_agentgraph"))
        .args(flags)
        .env("RUST_LOG", "warn")
        // One malloc arena (README, "Memory"): with glibc's default of eight
        // per core, memory freed on one thread does not serve another, so
        // resident memory grows with how a run's requests landed on threads
        // rather than with what the server holds, which the bound is about.
        .env("MALLOC_ARENA_MAX", "1")
        .env_remove("AGENTGRAPH_JWT_SECRET")
        .stdout(Stdio::piped())
        .stderr(fs::File::create(log).expect("the server log"))
        .spawn()
        .expect("the server binary starts");
    let address = serving_address(&mut child, log);
    (child, address)
}

/// The command line: explicit limits, and every timeout the server has
/// for a connection that has not finished its request (under whatever
/// name this build calls it) set to the request timeout, so one bound
/// covers them all. Flags this build does not know are left out.
fn server_flags(limits: &mut Limits, database_url: &str) -> Vec<String> {
    let help = supported_flags();
    let timeout = format!("{}ms", limits.request_timeout.as_millis());
    let mut flags: Vec<String> = [
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--database-url",
        database_url,
        "--jwt-secret",
        SECRET,
        "--introspection",
        "authenticated",
        "--body-limit-bytes",
        &limits.body_limit_bytes.to_string(),
        "--request-timeout",
        &timeout,
        "--persisted-queries-bytes",
        &limits.persisted_queries_bytes.to_string(),
        "--document-cache-bytes",
        &limits.document_cache_bytes.to_string(),
        "--websocket-keepalive",
        "2s",
    ]
    .map(str::to_owned)
    .to_vec();
    for flag in &help {
        let waits_for_a_client = flag.contains("timeout")
            && ["header", "init", "idle", "handshake", "body"]
                .iter()
                .any(|part| flag.contains(part));
        if waits_for_a_client {
            flags.extend([flag.clone(), timeout.clone()]);
        }
        if flag == "--response-cache-bytes" {
            let bytes = 4 * 1024 * 1024;
            limits.response_cache_bytes = Some(bytes);
            flags.extend([flag.clone(), bytes.to_string()]);
        } else if flag.contains("response") && flag.contains("bytes") {
            let bytes = 4 * limits.body_limit_bytes as u64;
            limits.response_bytes = Some(bytes);
            flags.extend([flag.clone(), bytes.to_string()]);
        }
    }
    flags
}

/// The `--long-flags` of this build's `serve`.
fn supported_flags() -> Vec<String> {
    let output = Command::new(env!("CARGO_BIN_EXE_agentgraph"))
        .args(["serve", "--help"])
        .output()
        .expect("agentgraph serve --help runs");
    String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .filter(|word| word.starts_with("--") && word.len() > 2)
        .map(|word| word.trim_end_matches([',', '=']).to_owned())
        .collect()
}

/// Reads the server's stdout until it says where it serves; keeps reading
/// it afterwards (so the pipe never fills).
fn serving_address(child: &mut Child, log: &std::path::Path) -> SocketAddr {
    let stdout = child.stdout.take().expect("stdout is piped");
    let (found, address) = mpsc::channel();
    std::thread::spawn(move || {
        let mut found = Some(found);
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let serving = line
                .split("http://")
                .nth(1)
                .and_then(|rest| rest.split('/').next())
                .and_then(|address| address.parse::<SocketAddr>().ok());
            if let (Some(address), Some(sender)) = (serving, found.take()) {
                let _ = sender.send(address);
            }
        }
    });
    address.recv_timeout(START_TIMEOUT).unwrap_or_else(|_| {
        panic!(
            "the server did not start within {START_TIMEOUT:?}; its log:\n{}",
            fs::read_to_string(log).unwrap_or_default()
        )
    })
}

/// A new database on the server `url` names: its URL and its name.
fn fresh_postgres_database(url: &str) -> (String, String) {
    let name = format!("agentgraph_generated_{}", uuid::Uuid::new_v4().simple());
    let status = Command::new("psql")
        .args([url, "-qc", &format!("CREATE DATABASE {name}")])
        .status()
        .expect("psql runs");
    assert!(status.success(), "CREATE DATABASE {name} failed");
    let base = url.rsplit_once('/').map_or(url, |(base, _)| base);
    (format!("{base}/{name}"), name)
}

fn status_kib(pid: u32, field: &str) -> u64 {
    fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn bearer(keys: &TokenKeys, id: uuid::Uuid, is_admin: bool) -> String {
    let viewer = Viewer {
        id: id.into(),
        is_admin,
    };
    format!("Bearer {}", keys.issue(viewer, Duration::from_secs(3600)))
}
