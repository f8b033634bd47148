//! The loop: start the server, give it data worth asking for, send case
//! after case, check every property after each, and on a violation keep
//! the case in a file (seed, index, what failed, the case) and start a
//! fresh server, so one crash does not hide the next.

use std::{
    fs,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::task::JoinHandle;

use crate::{
    cases::{Case, CaseGenerator},
    documents::{Generator, Targets},
    properties::{self, Bounds, Violation},
    schema::Schema,
    send::{Observation, Target},
    server::{Limits, Server},
};

/// How many cases to send, or for how long.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Amount {
    Cases(usize),
    For(Duration),
}

#[derive(Clone, Debug)]
pub(crate) struct Plan {
    pub seed: u64,
    pub amount: Amount,
    pub postgres: Option<String>,
    /// Where failing cases are written.
    pub failures: PathBuf,
}

/// A failing case as kept on disk: enough to replay it.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Kept {
    pub seed: u64,
    pub index: usize,
    pub violations: Vec<Violation>,
    pub case: Case,
}

/// What a run saw.
#[derive(Debug, Default)]
pub(crate) struct Report {
    pub cases: usize,
    pub failures: Vec<Kept>,
    pub worst_cpu: Duration,
    pub peak_rss: u64,
    pub rss_ceiling: u64,
    pub elapsed: Duration,
}

impl Report {
    pub(crate) fn summary(&self) -> String {
        let mut text = format!(
            "{} cases in {:.1} s; worst server CPU of a case {:?}; peak RSS {} MiB (bound {} MiB); {} failing",
            self.cases,
            self.elapsed.as_secs_f64(),
            self.worst_cpu,
            self.peak_rss >> 20,
            self.rss_ceiling >> 20,
            self.failures.len()
        );
        for kept in &self.failures {
            let what: Vec<String> = kept
                .violations
                .iter()
                .map(|v| format!("{}: {}", v.property, v.detail))
                .collect();
            text += &format!(
                "\n  seed {} case {} ({}): {}",
                kept.seed,
                kept.index,
                kind(&kept.case),
                what.join("; ")
            );
        }
        text
    }
}

fn kind(case: &Case) -> &'static str {
    match case {
        Case::Post { .. } => "POST",
        Case::Get { .. } => "GET",
        Case::Raw { .. } => "raw HTTP",
        Case::WebSocket { .. } => "WebSocket",
    }
}

/// A server ready for cases: data in place, bounds measured.
struct Armed {
    server: Server,
    target: Target,
    bounds: Bounds,
    targets: Targets,
}

impl Armed {
    async fn start(limits: &Limits, postgres: Option<&str>) -> Self {
        let started = Instant::now();
        let server = tokio::task::block_in_place(|| Server::start(limits, postgres));
        let listening = started.elapsed();
        let targets = prepare(&server).await;
        eprintln!(
            "server {} listening after {:.1} s, its data ready after {:.1} s",
            server.pid(),
            listening.as_secs_f64(),
            started.elapsed().as_secs_f64()
        );
        let bounds = Bounds::derive(&server.limits, server.peak_rss());
        let target = Target::new(&server, bounds.answer_within);
        Self {
            server,
            target,
            bounds,
            targets,
        }
    }

    /// A fresh process on the same data, after a failure: every case
    /// starts from a healthy server. The bounds stay those of the first,
    /// warm process.
    fn restart(&mut self) {
        tokio::task::block_in_place(|| self.server.restart());
        self.target = Target::new(&self.server, self.bounds.answer_within);
    }

    /// Sends `case` (in line) and checks every property.
    async fn check(&mut self, case: &Case) -> (Vec<Violation>, Duration) {
        let cpu_before = self.server.cpu();
        let started = Instant::now();
        let observation = self.target.send(case).await;
        if std::env::var_os("AGENTGRAPH_GENERATED_VERBOSE").is_some() {
            eprintln!(
                "{} {:?} in {:?}: {}",
                kind(case),
                observation.statuses,
                started.elapsed(),
                serde_json::to_string(case)
                    .unwrap_or_default()
                    .chars()
                    .take(160)
                    .collect::<String>()
            );
        }
        let mut violations = self.after(case, &observation).await;
        let cpu = self.server.cpu().saturating_sub(cpu_before);
        violations.extend(properties::check_resources(
            &self.bounds,
            cpu,
            self.server.peak_rss(),
        ));
        (violations, cpu)
    }

    /// The answer's properties and the process's liveness.
    async fn after(&mut self, case: &Case, observation: &Observation) -> Vec<Violation> {
        let sent = serde_json::to_string(case).unwrap_or_default();
        let mut violations = properties::check_answer(observation, &sent);
        violations.extend(self.alive().await);
        violations
    }

    async fn alive(&mut self) -> Option<Violation> {
        if let Some(exit) = self.server.exited() {
            return Some(Violation::new(
                "process",
                format!("{exit}; log tail:\n{}", self.server.log_tail()),
            ));
        }
        let healthz = reqwest::Client::new()
            .get(format!("http://{}/healthz", self.server.address))
            .timeout(self.target.bound)
            .send()
            .await;
        let unhealthy = match healthz {
            Ok(response) if response.status().is_success() => return None,
            Ok(response) => format!("/healthz answered {}", response.status()),
            Err(error) => format!("/healthz: {error}"),
        };
        // A process that is aborting may still be on its way out.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let exit = self.server.exited().unwrap_or_default();
        Some(Violation::new(
            "process",
            format!("{unhealthy}; {exit}; log tail:\n{}", self.server.log_tail()),
        ))
    }
}

/// Runs `plan`: the cases of its seed, each checked; failing ones kept.
pub(crate) async fn run(plan: &Plan, limits: &Limits) -> Report {
    let started = Instant::now();
    let schema = Schema::load();
    let mut armed = Armed::start(limits, plan.postgres.as_deref()).await;
    let targets = armed.targets.clone();
    let documents = Generator::new(plan.seed, &schema, &targets, limits.body_limit_bytes);
    let mut generator = CaseGenerator::new(documents, limits.body_limit_bytes);
    let mut report = Report {
        rss_ceiling: armed.bounds.rss_ceiling,
        ..Report::default()
    };
    let mut slow: Vec<(usize, Case, JoinHandle<Observation>)> = Vec::new();
    let mut index = 0;
    while !done(plan.amount, index, started) {
        let case = generator.case();
        if case.is_slow() {
            let target = armed.target.clone();
            let sent = case.clone();
            slow.push((
                index,
                case,
                tokio::spawn(async move { target.send(&sent).await }),
            ));
        } else {
            let (violations, cpu) = armed.check(&case).await;
            report.worst_cpu = report.worst_cpu.max(cpu);
            report.peak_rss = report.peak_rss.max(armed.server.peak_rss());
            if !violations.is_empty() {
                keep(plan, &mut report, index, case, violations);
                armed.restart();
            }
        }
        for (index, case, observation) in finished(&mut slow, false).await {
            let violations = armed.after(&case, &observation).await;
            if !violations.is_empty() {
                keep(plan, &mut report, index, case, violations);
            }
        }
        index += 1;
    }
    for (index, case, observation) in finished(&mut slow, true).await {
        let violations = armed.after(&case, &observation).await;
        if !violations.is_empty() {
            keep(plan, &mut report, index, case, violations);
        }
    }
    report.cases = index;
    report.elapsed = started.elapsed();
    report
}

/// Replays kept cases, each on a fresh server; returns the ones that
/// still fail.
pub(crate) async fn replay(
    files: &[PathBuf],
    limits: &Limits,
    postgres: Option<&str>,
) -> Vec<String> {
    let mut failing = Vec::new();
    if files.is_empty() {
        return failing;
    }
    let mut armed = Armed::start(limits, postgres).await;
    for file in files {
        let text = fs::read_to_string(file).expect("a kept case is readable");
        let kept: Kept = serde_json::from_str(&text).expect("a kept case parses");
        armed.restart();
        let violations = if kept.case.is_slow() {
            let observation = armed.target.send(&kept.case).await;
            armed.after(&kept.case, &observation).await
        } else {
            armed.check(&kept.case).await.0
        };
        if !violations.is_empty() {
            failing.push(format!("{}: {violations:?}", file.display()));
        }
    }
    failing
}

fn done(amount: Amount, index: usize, started: Instant) -> bool {
    match amount {
        Amount::Cases(cases) => index >= cases,
        Amount::For(duration) => started.elapsed() >= duration,
    }
}

/// The slow cases that have finished (all of them when `wait`).
async fn finished(
    slow: &mut Vec<(usize, Case, JoinHandle<Observation>)>,
    wait: bool,
) -> Vec<(usize, Case, Observation)> {
    let mut done = Vec::new();
    let mut still = Vec::new();
    for (index, case, handle) in slow.drain(..) {
        if wait || handle.is_finished() {
            let observation = handle.await.unwrap_or_default();
            done.push((index, case, observation));
        } else {
            still.push((index, case, handle));
        }
    }
    *slow = still;
    done
}

fn keep(plan: &Plan, report: &mut Report, index: usize, case: Case, violations: Vec<Violation>) {
    let kept = Kept {
        seed: plan.seed,
        index,
        violations,
        case,
    };
    fs::create_dir_all(&plan.failures).expect("the failures directory");
    let file = plan.failures.join(format!("{}-{}.json", plan.seed, index));
    let text = serde_json::to_string_pretty(&kept).expect("a case serialises");
    fs::write(&file, text).expect("a failing case is written");
    eprintln!(
        "seed {} case {index}: {:?} (kept in {})",
        plan.seed,
        kept.violations,
        file.display()
    );
    report.failures.push(kept);
}

/// Every kept case in `dir`.
pub(crate) fn kept_cases(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|entry| Some(entry.ok()?.path()))
                .filter(|path| path.extension().is_some_and(|e| e == "json"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// Agents to name and a project worth asking for: the demo data plus
/// [`HEAVY_SIGNALS`] long unanalyzed signals on one demo project.
async fn prepare(server: &Server) -> Targets {
    let client = reqwest::Client::new();
    let url = format!("http://{}/graphql", server.address);
    let graphql = |query: String| {
        client
            .post(&url)
            .header("authorization", &server.admin)
            .json(&json!({ "query": query }))
            .send()
    };
    let agents: serde_json::Value = graphql("{ agents(first: 100) { nodes { name } } }".into())
        .await
        .expect("agents are listed")
        .json()
        .await
        .expect("a JSON answer");
    let agents: Vec<String> = agents["data"]["agents"]["nodes"]
        .as_array()
        .expect("agents")
        .iter()
        .filter_map(|node| node["name"].as_str().map(str::to_owned))
        .collect();
    let heavy = agentgraph::seed::DEMO_PROJECT_DEVELOPING.0.to_string();
    let content = "signal ".repeat(HEAVY_SIGNAL_CHARS / 7);
    for batch in 0..HEAVY_SIGNALS / SIGNALS_PER_REQUEST {
        let aliases: Vec<String> = (0..SIGNALS_PER_REQUEST)
            .map(|i| {
                format!(
                    "s{i}: addSignal(projectId: \"{heavy}\", input: {{ source: \"generated {batch}\", authority: CLIENT, content: \"{content}\" }}) {{ id }}"
                )
            })
            .collect();
        let mutation = format!("mutation {{ {} }}", aliases.join(" "));
        // A busy machine may take a batch past the request timeout (it
        // then rolls back): try again.
        let mut attempts = 0;
        loop {
            let status = graphql(mutation.clone())
                .await
                .expect("signals are added")
                .status();
            attempts += 1;
            if status.is_success() {
                break;
            }
            assert!(attempts < 5, "adding signals: {status}");
        }
    }
    let projects = [
        agentgraph::seed::DEMO_PROJECT_INSUFFICIENT,
        agentgraph::seed::DEMO_PROJECT_DEVELOPING,
        agentgraph::seed::DEMO_PROJECT_EXCELLENT,
    ]
    .iter()
    .map(|id| id.0.to_string())
    .chain([
        "00000000-0000-0000-0000-000000000000".to_owned(),
        "not-a-uuid".to_owned(),
    ])
    .collect();
    Targets {
        agents,
        projects,
        heavy_project: heavy,
    }
}

/// Long unanalyzed signals on the heavy project: 500 (what `diContext`
/// returns at most) of 8,000 characters, so one `diContext(signalsLimit:
/// 500)` answer is about 4 MB.
const HEAVY_SIGNALS: usize = 500;
const HEAVY_SIGNAL_CHARS: usize = 8_000;
/// Aliases of `addSignal` per request, under `--max-aliases`.
const SIGNALS_PER_REQUEST: usize = 10;
