//! The abusive-viewer row (issue 21): normal viewers send a fixed rate of
//! requests (open loop: each request leaves at its scheduled time, however
//! slow the previous answers, and its latency counts from that time), once
//! alone and once beside one abusive viewer sending ten times a normal
//! viewer's rate, on a server with budgets on. Printed: the normal
//! viewers' p99 in both phases and their ratio, the abuser's 429s, and
//! requests/s with server CPU time per request in each phase. A control
//! phase runs the abuser beside them on a server without budgets.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use agentgraph::auth::TokenKeys;
use anyhow::Context as _;
use serde_json::json;
use uuid::Uuid;

use crate::{
    cpu,
    report::millis,
    server::{self, JWT_SECRET},
    workloads::bearer,
};

pub(crate) const ABUSE_ROW: &str = "abusive viewer";

/// Normal viewers, each its own token.
const NORMAL_VIEWERS: usize = 8;
/// Requests a second each normal viewer sends.
const NORMAL_RATE: f64 = 20.0;
/// The abuser's rate, as a multiple of a normal viewer's.
const ABUSE_FACTOR: f64 = 10.0;
/// What every viewer asks: 1 + 4 fields = 5 units, none answered by a
/// cache. A normal viewer spends 100 units a second, the abuser 1,000.
const QUERY: &str = "{ agents(first: 10) { nodes { name description } } }";
/// The server's budget: 200 units a second, 400 at once per viewer.
const BUDGET_FLAGS: [&str; 4] = ["--budget-rate", "200", "--budget-burst", "400"];

/// One phase's outcome.
#[derive(Debug)]
pub(crate) struct Phase {
    /// Normal viewers' latencies of answered requests, sorted.
    normal: Vec<Duration>,
    /// Normal viewers' requests refused or failed.
    normal_refused: usize,
    abuser_sent: usize,
    abuser_429: usize,
    /// Every request of the phase, per second.
    per_second: f64,
    /// Server CPU time per request of the phase (429s included).
    cpu_per_request: Option<Duration>,
}

impl Phase {
    fn p99(&self) -> Duration {
        quantile(&self.normal, 0.99)
    }
}

fn quantile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

/// Both phases, and the control: the abuser on a server without budgets.
#[derive(Debug)]
pub(crate) struct Abuse {
    pub without: Phase,
    pub with: Phase,
    pub unbudgeted: Phase,
}

/// Starts a server with budgets on `database_url` and runs both phases of
/// `duration` each (after a warm-up of normal viewers alone).
pub(crate) async fn measure(database_url: &str, duration: Duration) -> anyhow::Result<Abuse> {
    let servers = server::start_with(database_url, &BUDGET_FLAGS).await?;
    let probe = cpu::Probe::new(servers.state.config().is_postgres());
    let keys = TokenKeys::new(JWT_SECRET.as_bytes())?;
    let normal: Vec<String> = (0..NORMAL_VIEWERS)
        .map(|_| bearer(&keys, Uuid::now_v7()))
        .collect();
    let abuser = bearer(&keys, Uuid::now_v7());
    let url = servers.graphql_url.clone();
    let outcome = async {
        run_phase(
            &url,
            &normal,
            None,
            duration.min(Duration::from_secs(1)),
            &probe,
        )
        .await?;
        let without = run_phase(&url, &normal, None, duration, &probe).await?;
        let with = run_phase(&url, &normal, Some(&abuser), duration, &probe).await?;
        anyhow::Ok((without, with))
    }
    .await;
    servers.stop().await;
    let (without, with) = outcome?;
    // The control: the same load on a server without budgets.
    let servers = server::start_with(database_url, &[]).await?;
    let url = servers.graphql_url.clone();
    let outcome = async {
        run_phase(
            &url,
            &normal,
            None,
            duration.min(Duration::from_secs(1)),
            &probe,
        )
        .await?;
        run_phase(&url, &normal, Some(&abuser), duration, &probe).await
    }
    .await;
    servers.stop().await;
    Ok(Abuse {
        without,
        with,
        unbudgeted: outcome?,
    })
}

/// What one request came to.
struct Sent {
    abuser: bool,
    status: u16,
    latency: Duration,
}

async fn run_phase(
    url: &str,
    normal: &[String],
    abuser: Option<&String>,
    duration: Duration,
    probe: &cpu::Probe,
) -> anyhow::Result<Phase> {
    let start = Instant::now() + Duration::from_millis(50);
    let end = start + duration;
    let mut senders = Vec::new();
    for token in normal {
        senders.push(tokio::spawn(send_at_rate(
            url.to_owned(),
            token.clone(),
            false,
            NORMAL_RATE,
            start,
            end,
        )));
    }
    if let Some(token) = abuser {
        senders.push(tokio::spawn(send_at_rate(
            url.to_owned(),
            token.clone(),
            true,
            NORMAL_RATE * ABUSE_FACTOR,
            start,
            end,
        )));
    }
    let before = probe.read();
    let mut sent = Vec::new();
    for sender in senders {
        sent.extend(sender.await.context("a sender")??);
    }
    let spent = probe.read().since(&before);
    let elapsed = start.elapsed();
    let mut phase = Phase {
        normal: Vec::new(),
        normal_refused: 0,
        abuser_sent: 0,
        abuser_429: 0,
        per_second: sent.len() as f64 / elapsed.as_secs_f64(),
        cpu_per_request: spent
            .server
            .map(|cpu| cpu / u32::try_from(sent.len().max(1)).unwrap_or(u32::MAX)),
    };
    for one in sent {
        match (one.abuser, one.status) {
            (false, 200) => phase.normal.push(one.latency),
            (false, _) => phase.normal_refused += 1,
            (true, status) => {
                phase.abuser_sent += 1;
                if status == 429 {
                    phase.abuser_429 += 1;
                }
            }
        }
    }
    phase.normal.sort();
    Ok(phase)
}

/// Sends `QUERY` as `token` at `rate` a second from `start` to `end`, each
/// request at its scheduled time; the latency counts from that time.
async fn send_at_rate(
    url: String,
    token: String,
    abuser: bool,
    rate: f64,
    start: Instant,
    end: Instant,
) -> anyhow::Result<Vec<Sent>> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .context("building an HTTP client")?;
    let body = Arc::new(json!({ "query": QUERY }));
    let interval = Duration::from_secs_f64(1.0 / rate);
    let mut requests = Vec::new();
    let mut at = start;
    while at < end {
        tokio::time::sleep_until(at.into()).await;
        let request = http.post(&url).header("authorization", &token).json(&*body);
        let scheduled = at;
        requests.push(tokio::spawn(async move {
            let status = match request.send().await {
                Ok(response) => {
                    let status = response.status().as_u16();
                    // Read to the end: the answer is complete.
                    let _ = response.bytes().await;
                    status
                }
                Err(_) => 0,
            };
            Sent {
                abuser,
                status,
                latency: scheduled.elapsed(),
            }
        }));
        at += interval;
    }
    let mut sent = Vec::with_capacity(requests.len());
    for request in requests {
        sent.push(request.await.context("a request task")?);
    }
    Ok(sent)
}

pub(crate) fn print_progress(abuse: &Abuse) {
    eprintln!("  {}", line(abuse));
}

fn line(abuse: &Abuse) -> String {
    let (without, with) = (abuse.without.p99(), abuse.with.p99());
    format!(
        "{ABUSE_ROW}: {NORMAL_VIEWERS} viewers at {NORMAL_RATE}/s each; normal p99 without the abuser {}, \
         with it {}, ratio {:.2} (budgets off: {}, ratio {:.2}); abuser 429s {} of {}; \
         normal viewers refused {} / {}",
        millis(without),
        millis(with),
        with.as_secs_f64() / without.as_secs_f64().max(1e-9),
        millis(abuse.unbudgeted.p99()),
        abuse.unbudgeted.p99().as_secs_f64() / without.as_secs_f64().max(1e-9),
        abuse.with.abuser_429,
        abuse.with.abuser_sent,
        abuse.without.normal_refused,
        abuse.with.normal_refused,
    )
}

/// The row's table.
pub(crate) fn print(abuse: &Abuse) {
    println!();
    println!(
        "| {ABUSE_ROW} | normal p50 | normal p99 | normal refused | abuser 429 / sent | req/s | server CPU per request |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    let phases = [
        ("without the abuser", &abuse.without),
        ("with the abuser (10x)", &abuse.with),
        ("control: with the abuser, budgets off", &abuse.unbudgeted),
    ];
    for (name, phase) in phases {
        println!(
            "| {name} | {} | {} | {} | {} / {} | {:.0} | {} |",
            millis(quantile(&phase.normal, 0.5)),
            millis(phase.p99()),
            phase.normal_refused,
            phase.abuser_429,
            phase.abuser_sent,
            phase.per_second,
            phase
                .cpu_per_request
                .map_or_else(|| "n/a".to_owned(), millis),
        );
    }
    println!("{}", line(abuse));
}
