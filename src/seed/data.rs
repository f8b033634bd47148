//! The demo data set itself: every provider, model, agent, tool, circle and
//! project row as a table, with the fixed ids and timestamps that make it
//! the same on every machine. Turning these tables into rows and inserting
//! them is the parent module's job.

use chrono::{DateTime, TimeDelta, Utc};
use entity::{agents::AgentStatus, signals::SignalAuthority};
use entity::{ProjectId, UserId};
use serde_json::{json, Value};
use uuid::Uuid;

/// Every demo id is `ID_BASE | kind << 32 | n`: a valid, v7-shaped UUID that
/// never collides with ids the application generates (those carry the
/// current time in their first 48 bits).
const ID_BASE: u128 = 0x0193_6b2a_0000_7000_8000_0000_0000_0000;

pub(super) const fn demo_id(kind: u128, n: u128) -> Uuid {
    Uuid::from_u128(ID_BASE | (kind << 32) | n)
}

pub(super) const USER: u128 = 0;
pub(super) const PROVIDER: u128 = 1;
pub(super) const MODEL: u128 = 2;
pub(super) const AGENT: u128 = 3;
pub(super) const TOOL: u128 = 4;
pub(super) const CIRCLE: u128 = 5;
pub(super) const MEMBER: u128 = 6;
pub(super) const PROJECT: u128 = 7;
pub(super) const FEATURE: u128 = 8;
pub(super) const PERSONA: u128 = 9;
pub(super) const STEP: u128 = 10;
pub(super) const MEETING: u128 = 11;
pub(super) const SIGNAL: u128 = 12;

/// The demo admin user: owns the demo projects, and the dev-mode token is
/// issued for it.
pub const DEMO_USER_ID: UserId = UserId(demo_id(USER, 1));
/// A project just started: one idea, two signals.
pub const DEMO_PROJECT_INSUFFICIENT: ProjectId = ProjectId(demo_id(PROJECT, 1));
/// A project half-way through discovery, still without client signals.
pub const DEMO_PROJECT_DEVELOPING: ProjectId = ProjectId(demo_id(PROJECT, 2));
/// A project with complete discovery evidence.
pub const DEMO_PROJECT_EXCELLENT: ProjectId = ProjectId(demo_id(PROJECT, 3));

/// 2026-10-01T09:00:00Z: every demo timestamp is an offset from it.
const BASE_TIME: i64 = 1_790_845_200;

pub(super) fn at(days: i64, hours: i64) -> DateTime<Utc> {
    DateTime::UNIX_EPOCH + TimeDelta::seconds(BASE_TIME + days * 86_400 + hours * 3_600)
}

/// (name, api type); provider `n` is the `n`th row, from 1.
pub(super) const PROVIDERS: [(&str, &str); 3] = [
    ("openai", "openai"),
    ("anthropic", "anthropic"),
    ("ollama", "ollama"),
];

/// (model number, provider number, model name, alias); agents refer to the number.
pub(super) const MODELS: [(u128, u128, &str, Option<&str>); 6] = [
    (1, 1, "gpt-4o-2024-08-06", Some("gpt-4o")),
    (2, 1, "gpt-4o-mini-2024-07-18", Some("gpt-4o-mini")),
    (3, 2, "claude-sonnet-4-5-20250929", Some("claude-sonnet")),
    (4, 2, "claude-haiku-4-5-20251001", Some("claude-haiku")),
    (5, 3, "llama3.1:8b", Some("llama3")),
    (6, 3, "qwen2.5:14b", None),
];

pub(super) const DISCOVERY_BASE: &str =
    "You are part of a product-discovery team helping a consultant \
understand a client's problem before anything is built. Ground every statement in the \
project's evidence (signals, meetings, foundation), say plainly when evidence is missing, \
and never invent client quotes.";

pub(super) const DELIVERY_BASE: &str =
    "You help turn a validated product idea into a plan a delivery \
team can execute. Be concrete, state your assumptions, and keep scope tied to confirmed \
features.";

/// One demo agent; its id is `demo_id(AGENT, index + 1)` in [`agent_specs`].
pub(super) struct AgentSpec {
    pub(super) name: &'static str,
    pub(super) description: &'static str,
    pub(super) system_prompt: &'static str,
    pub(super) base_prompt: &'static str,
    pub(super) skills: &'static [&'static str],
    pub(super) status: AgentStatus,
    /// Number in [`MODELS`]; `None` for agents not yet assigned a model.
    pub(super) model: Option<u128>,
    pub(super) temperature: Option<f64>,
    pub(super) max_tokens: Option<i32>,
}

#[expect(
    clippy::too_many_arguments,
    reason = "one positional row per agent keeps the demo table readable"
)]
const fn spec(
    name: &'static str,
    description: &'static str,
    system_prompt: &'static str,
    base_prompt: &'static str,
    skills: &'static [&'static str],
    status: AgentStatus,
    model: Option<u128>,
    sampling: Option<(f64, i32)>,
) -> AgentSpec {
    let (temperature, max_tokens) = match sampling {
        Some((t, m)) => (Some(t), Some(m)),
        None => (None, None),
    };
    AgentSpec {
        name,
        description,
        system_prompt,
        base_prompt,
        skills,
        status,
        model,
        temperature,
        max_tokens,
    }
}

#[rustfmt::skip]
pub(super) fn agent_specs() -> Vec<AgentSpec> {
    use AgentStatus::{Active, Archived, Paused};
    vec![
        spec("discovery-intelligence", "Reads a project's new signals and state, scores readiness and says what evidence is missing.",
            "Analyze the unanalyzed signals against the project's current state. Return the gaps, contradictions and the next three discovery actions, ranked by impact on readiness.",
            DISCOVERY_BASE, &["signal-analysis", "readiness-scoring", "gap-detection"], Active, Some(3), Some((0.2, 4096))),
        spec("persona-builder", "Synthesizes personas from interviews and signals.",
            "Cluster the evidence by goals, frustrations and context. Propose at most three personas, each with a name, a one-line summary and the signals it rests on.",
            DISCOVERY_BASE, &["persona-synthesis", "interview-coding"], Active, Some(1), Some((0.7, 2048))),
        spec("meeting-summarizer", "Turns meeting transcripts into decisions, open questions and action items.",
            "Summarize the transcript in five bullets, then list decisions, open questions and action items with owners. Quote the client verbatim where it matters.",
            DISCOVERY_BASE, &["transcript-parsing", "action-items"], Active, Some(2), Some((0.3, 1500))),
        spec("signal-classifier", "Tags incoming signals with authority and topic and flags duplicates.",
            "Classify each signal's authority (client, consultant, research, other) and topic. Mark near-duplicates of existing signals instead of repeating them.",
            DISCOVERY_BASE, &["authority-tagging", "deduplication"], Active, Some(4), Some((0.0, 512))),
        spec("feature-scout", "Proposes candidate features from the evidence and ranks them.",
            "Extract candidate features implied by the signals and personas. For each, cite the evidence and estimate value and effort on a 1-5 scale.",
            DISCOVERY_BASE, &["feature-extraction", "prioritization"], Active, Some(3), Some((0.5, 2048))),
        spec("value-path-mapper", "Maps the steps a user takes from problem to value.",
            "Draft the value path as 3-7 ordered steps from trigger to outcome. Name the persona, the action and the evidence for each step.",
            DISCOVERY_BASE, &["journey-mapping"], Active, Some(1), Some((0.4, 2048))),
        spec("foundation-writer", "Drafts the problem statement, target users, value proposition, business case and constraints.",
            "Write or tighten the five foundation fields. Keep each under 80 words and mark every claim the evidence does not support.",
            DISCOVERY_BASE, &["problem-framing", "business-case"], Active, Some(3), Some((0.4, 3000))),
        spec("strategy-analyst", "Places the project in its market: size, competitors, positioning.",
            "Assess market size, competitive alternatives and positioning. Separate sourced facts from estimates and give ranges, not point values.",
            DISCOVERY_BASE, &["market-sizing", "competitive-analysis"], Active, Some(3), Some((0.3, 4096))),
        spec("research-librarian", "Finds and cites internal research relevant to a question.",
            "Search the research index and answer with citations only. If nothing relevant is found, say so.",
            "", &["retrieval", "citation"], Active, Some(5), Some((0.1, 1024))),
        spec("interview-planner", "Prepares client interview guides that close the project's evidence gaps.",
            "Write an interview guide of 8-12 open questions that target the project's current blockers. Avoid leading questions.",
            DISCOVERY_BASE, &["question-design"], Active, Some(2), Some((0.6, 1500))),
        spec("requirements-drafter", "Writes user stories with acceptance criteria for confirmed features.",
            "For each confirmed feature, write user stories in the 'As a / I want / so that' form with testable acceptance criteria.",
            DELIVERY_BASE, &["user-stories", "acceptance-criteria"], Active, Some(1), Some((0.3, 4096))),
        spec("risk-assessor", "Keeps a risk register for the project.",
            "List delivery, adoption and compliance risks with likelihood, impact and a mitigation. Flag any risk without an owner.",
            DELIVERY_BASE, &["risk-register"], Active, Some(4), Some((0.2, 1024))),
        spec("competitor-watcher", "Monitors competitors' public changes (paused while its data source is replaced).",
            "Report notable changes on the watched competitors' websites and changelogs since the last run.",
            "", &["web-monitoring"], Paused, None, None),
        spec("pricing-advisor", "Suggests pricing models and price points for the proposed product.",
            "Propose two or three pricing models with example price points, and the evidence each relies on.",
            DELIVERY_BASE, &["pricing-models"], Active, Some(1), Some((0.5, 1500))),
        spec("roadmap-planner", "Sequences confirmed features into a release roadmap.",
            "Order the confirmed features into releases by dependency and value. Each release needs a goal and a measurable success criterion.",
            DELIVERY_BASE, &["sequencing", "estimation"], Active, Some(3), Some((0.4, 3000))),
        spec("stakeholder-mapper", "Maps the client's stakeholders, their influence and their stake.",
            "Build a stakeholder map: role, influence, interest and what each needs to hear.",
            DISCOVERY_BASE, &["stakeholder-analysis"], Active, None, None),
        spec("copy-editor", "Edits deliverables for clarity and tone.",
            "Edit for plain language and the client's tone of voice. Do not change meaning; list every substantive edit.",
            "", &["tone-of-voice"], Active, Some(2), Some((0.7, 1024))),
        spec("qa-reviewer", "Checks deliverables for consistency with the project's evidence.",
            "Check the document against the project's signals and foundation. Report contradictions, unsupported claims and missing citations.",
            DISCOVERY_BASE, &["consistency-check", "fact-check"], Active, Some(4), Some((0.0, 2048))),
        spec("data-analyst", "Answers quantitative questions from the client's exported data.",
            "Answer with the query you ran, the result table and one paragraph of interpretation. State sample sizes.",
            "", &["sql", "charting"], Active, Some(6), Some((0.1, 2048))),
        spec("legacy-report-generator", "Produced the old weekly PDF status report (archived, replaced by the readiness view).",
            "Produce the weekly status report.",
            "", &["pdf-export"], Archived, Some(2), Some((0.3, 2048))),
    ]
}

/// (agent, name, tool_type, description, config, is_active).
pub(super) type ToolRow = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    Value,
    bool,
);

#[rustfmt::skip]
pub(super) fn tool_table() -> Vec<ToolRow> {
    vec![
        ("discovery-intelligence", "get_project_state", "function", "Counts, foundation and readiness of the project.", json!({"parameters": {"project_id": "uuid"}}), true),
        ("discovery-intelligence", "list_unanalyzed_signals", "function", "Signals not yet analyzed.", json!({"parameters": {"project_id": "uuid", "limit": 100}}), true),
        ("discovery-intelligence", "store_analysis", "function", "Stores the analysis and marks its signals analyzed.", json!({"parameters": {"project_id": "uuid", "analysis": "object"}}), true),
        ("discovery-intelligence", "search_research", "retrieval", "Searches the research index.", json!({"index": "research", "top_k": 8}), true),
        ("persona-builder", "list_signals", "function", "All signals of a project.", json!({"parameters": {"project_id": "uuid"}}), true),
        ("persona-builder", "create_persona", "function", "Adds a persona to the project.", json!({"parameters": {"project_id": "uuid", "name": "string", "description": "string"}}), true),
        ("meeting-summarizer", "fetch_transcript", "http", "Downloads a transcript from the recording service.", json!({"method": "GET", "url": "https://recordings.example.com/api/transcripts/{id}", "timeout_ms": 5000}), true),
        ("meeting-summarizer", "add_meeting", "function", "Adds the meeting and its notes to the project.", json!({"parameters": {"project_id": "uuid", "title": "string", "notes": "string"}}), true),
        ("signal-classifier", "find_similar_signals", "retrieval", "Finds near-duplicate signals.", json!({"index": "signals", "top_k": 5, "min_score": 0.85}), true),
        ("feature-scout", "list_features", "function", "Features of a project.", json!({"parameters": {"project_id": "uuid"}}), true),
        ("feature-scout", "propose_feature", "function", "Adds an unconfirmed feature.", json!({"parameters": {"project_id": "uuid", "name": "string", "description": "string"}}), true),
        ("value-path-mapper", "set_value_path", "function", "Replaces the project's value-path steps.", json!({"parameters": {"project_id": "uuid", "steps": "array"}}), true),
        ("foundation-writer", "set_foundation", "function", "Writes the foundation fields.", json!({"parameters": {"project_id": "uuid", "fields": "object"}}), true),
        ("foundation-writer", "search_research", "retrieval", "Searches the research index.", json!({"index": "research", "top_k": 5}), true),
        ("strategy-analyst", "search_market_reports", "retrieval", "Searches licensed market reports.", json!({"index": "market-reports", "top_k": 10}), true),
        ("strategy-analyst", "company_lookup", "http", "Firmographics of a company.", json!({"method": "GET", "url": "https://firmographics.example.com/v2/companies", "timeout_ms": 3000}), true),
        ("strategy-analyst", "set_strategic_context", "function", "Writes the project's strategic context.", json!({"parameters": {"project_id": "uuid", "content": "string"}}), true),
        ("research-librarian", "search_research", "retrieval", "Searches the research index.", json!({"index": "research", "top_k": 12}), true),
        ("research-librarian", "fetch_document", "http", "Fetches a research document by id.", json!({"method": "GET", "url": "https://docs.example.com/api/documents/{id}"}), true),
        ("interview-planner", "get_project_state", "function", "Counts, foundation and blockers of the project.", json!({"parameters": {"project_id": "uuid"}}), true),
        ("requirements-drafter", "list_features", "function", "Confirmed features of a project.", json!({"parameters": {"project_id": "uuid", "confirmed": true}}), true),
        ("requirements-drafter", "export_to_tracker", "http", "Creates stories in the issue tracker.", json!({"method": "POST", "url": "https://tracker.example.com/api/issues", "timeout_ms": 8000}), true),
        ("risk-assessor", "get_project_state", "function", "Counts, foundation and blockers of the project.", json!({"parameters": {"project_id": "uuid"}}), true),
        ("competitor-watcher", "fetch_page", "http", "Fetches a competitor page for diffing.", json!({"method": "GET", "timeout_ms": 10000}), true),
        ("competitor-watcher", "legacy_scraper", "http", "Old scraping service, being replaced.", json!({"method": "GET", "url": "https://scraper.example.com/v1/fetch"}), false),
        ("pricing-advisor", "search_market_reports", "retrieval", "Searches licensed market reports.", json!({"index": "market-reports", "top_k": 5}), true),
        ("roadmap-planner", "list_features", "function", "Confirmed features of a project.", json!({"parameters": {"project_id": "uuid", "confirmed": true}}), true),
        ("roadmap-planner", "estimate_effort", "function", "Rough effort estimate of a feature.", json!({"parameters": {"feature_id": "uuid"}}), true),
        ("stakeholder-mapper", "org_chart_lookup", "http", "Reads the client's org chart export.", json!({"method": "GET", "url": "https://hr.example.com/api/orgchart"}), true),
        ("copy-editor", "style_guide", "retrieval", "Searches the client's style guide.", json!({"index": "style-guides", "top_k": 3}), true),
        ("qa-reviewer", "list_signals", "function", "All signals of a project.", json!({"parameters": {"project_id": "uuid"}}), true),
        ("qa-reviewer", "get_project_state", "function", "Counts, foundation and readiness of the project.", json!({"parameters": {"project_id": "uuid"}}), true),
        ("data-analyst", "run_sql", "function", "Runs a read-only query on the client's data export.", json!({"parameters": {"sql": "string"}, "read_only": true, "row_limit": 1000}), true),
        ("data-analyst", "render_chart", "function", "Renders a chart from a result table.", json!({"parameters": {"kind": "string", "data": "array"}}), true),
        ("legacy-report-generator", "render_pdf", "http", "Renders the report to PDF.", json!({"method": "POST", "url": "https://pdf.example.com/render"}), true),
    ]
}

/// (user, agent, instructions, day of the last update).
pub(super) const INSTRUCTIONS: [(UserId, &str, &str, i64); 1] = [(
    DEMO_USER_ID,
    "discovery-intelligence",
    "Our clients are mid-sized B2B companies. Answer in bullet points, \
    flag every assumption, and end with the single most useful next interview question.",
    12,
)];

/// (name, description, members as (agent, role, active)).
pub(super) type CircleSpec = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str, bool)],
);

pub(super) const CIRCLES: [CircleSpec; 4] = [
    (
        "discovery-core",
        "Turns raw signals into a scored, evidence-backed picture of a project.",
        &[
            ("discovery-intelligence", "lead", true),
            ("signal-classifier", "member", true),
            ("persona-builder", "member", true),
            ("feature-scout", "member", true),
            ("meeting-summarizer", "member", true),
            ("interview-planner", "member", true),
            ("research-librarian", "member", true),
            ("qa-reviewer", "reviewer", true),
        ],
    ),
    (
        "foundation-studio",
        "Writes and challenges a project's foundation and value path.",
        &[
            ("foundation-writer", "lead", true),
            ("value-path-mapper", "member", true),
            ("stakeholder-mapper", "member", true),
            ("copy-editor", "reviewer", true),
            ("qa-reviewer", "reviewer", true),
        ],
    ),
    (
        "delivery-planning",
        "Turns confirmed features into a roadmap, stories and a risk register.",
        &[
            ("roadmap-planner", "lead", true),
            ("requirements-drafter", "member", true),
            ("pricing-advisor", "member", true),
            ("data-analyst", "member", true),
            ("risk-assessor", "reviewer", true),
        ],
    ),
    (
        "market-intelligence",
        "Keeps the strategic context current with market and competitor research.",
        &[
            ("strategy-analyst", "lead", true),
            ("research-librarian", "member", true),
            ("competitor-watcher", "member", false),
        ],
    ),
];

/// Day offset (from [`BASE_TIME`]) each demo project was created on; its
/// children's timestamps follow it.
pub(super) fn project_day(project: u128) -> i64 {
    match project {
        1 => 45,
        2 => 20,
        _ => 3,
    }
}

/// (project number, name).
pub(super) const PROJECTS: [(u128, &str); 3] = [
    (1, "Field Service Scheduling"),
    (2, "Clinic Patient Intake"),
    (3, "B2B Invoice Automation"),
];

/// (project, name, description, confirmed).
#[rustfmt::skip]
pub(super) const FEATURES: [(u128, &str, &str, bool); 11] = [
    (1, "Technician route suggestions", "Suggest the day's visit order from job locations and time windows.", false),
    (2, "Online intake form", "Patients fill in history and insurance before the visit.", true),
    (2, "Insurance card scan", "Read member id and payer from a photo of the card.", true),
    (2, "Appointment reminders", "SMS reminders with a link to the intake form.", false),
    (2, "EHR export", "Push completed intake into the clinic's EHR.", false),
    (3, "Invoice capture", "Read supplier invoices from email and PDF uploads.", true),
    (3, "Purchase-order matching", "Match invoice lines to open purchase orders and receipts.", true),
    (3, "Approval workflow", "Route exceptions to the budget owner with a one-click approval.", true),
    (3, "ERP sync", "Post approved invoices to the ERP as payable documents.", true),
    (3, "Duplicate detection", "Flag invoices already paid or submitted twice.", true),
    (3, "Supplier portal", "Let suppliers see the status of their invoices.", false),
];

/// (project, name, description).
#[rustfmt::skip]
pub(super) const PERSONAS: [(u128, &str, &str); 4] = [
    (2, "Front-desk coordinator", "Checks patients in, chases missing forms and insurance details; measured on waiting-room time."),
    (3, "Accounts-payable clerk", "Keys in 40-80 invoices a day and resolves mismatches by email; wants fewer exceptions."),
    (3, "Finance controller", "Owns month-end close and audit; needs every payment traceable to an approved PO."),
    (3, "Budget owner", "Approves spend in a department; approves on mobile between meetings."),
];

/// (project, position, label, description).
#[rustfmt::skip]
pub(super) const STEPS: [(u128, i32, &str, &str); 8] = [
    (2, 0, "Book appointment", "Patient books online or by phone and gets the intake link."),
    (2, 1, "Complete intake", "Patient fills in history and scans the insurance card at home."),
    (2, 2, "Check in", "Front desk confirms identity; no paperwork at the counter."),
    (3, 0, "Invoice arrives", "Supplier emails a PDF invoice to the AP inbox."),
    (3, 1, "Capture", "Header and lines are extracted and validated."),
    (3, 2, "Match", "Lines are matched to the PO and goods receipt."),
    (3, 3, "Approve exceptions", "Mismatches go to the budget owner for approval."),
    (3, 4, "Post and pay", "The invoice is posted to the ERP and scheduled for payment."),
];

/// (project, day after the project's creation, title, notes).
#[rustfmt::skip]
pub(super) const MEETINGS: [(u128, i64, &str, &str); 3] = [
    (2, 5, "Kick-off with clinic operations", "Walked through today's paper intake. Biggest pain: insurance details missing at check-in. Next: shadow the front desk for a morning."),
    (3, 4, "AP process walkthrough", "Controller and two clerks showed the invoice flow end to end. 30% of invoices need a manual PO lookup. Decision: start with PO matching."),
    (3, 18, "Solution review with finance", "Reviewed value path and feature list. Client confirmed capture, matching, approvals, ERP sync and duplicate detection; supplier portal deferred."),
];

/// (project, source, authority, content, analyzed).
#[rustfmt::skip]
pub(super) const SIGNALS: [(u128, &str, SignalAuthority, &str, bool); 21] = {
    use SignalAuthority::{Client, Consultant, Other, Research};
    [
        (1, "email", Client, "Our technicians lose an hour a day driving back and forth between jobs.", false),
        (1, "web", Other, "Competitor launched route optimization for field teams last month.", false),
        (2, "observation", Consultant, "Front desk spent 6 of 10 minutes per check-in on insurance questions.", true),
        (2, "observation", Consultant, "Paper forms are re-typed into the EHR after the visit.", true),
        (2, "workshop", Consultant, "Staff believe most patients would complete forms on their phone.", true),
        (2, "observation", Consultant, "Morning peak: 14 check-ins between 8:00 and 9:00.", false),
        (2, "report", Research, "Industry survey: 62% of patients prefer digital intake.", true),
        (2, "report", Research, "Card OCR accuracy for US payers is above 95% in published benchmarks.", false),
        (2, "forum", Other, "Patients complain about filling in the same history at every visit.", false),
        (3, "interview", Client, "We process about 4,000 supplier invoices a month with three clerks.", true),
        (3, "interview", Client, "Month-end close takes eight working days; AP is the bottleneck.", true),
        (3, "email", Client, "Auditors flagged two duplicate payments last year.", true),
        (3, "meeting", Client, "Budget owners approve late because the approval email gets buried.", true),
        (3, "interview", Client, "We would drop the supplier portal if matching works.", false),
        (3, "workshop", Consultant, "About 30% of invoices lack a PO number on the document.", true),
        (3, "analysis", Consultant, "Top 50 suppliers account for 70% of invoice volume.", true),
        (3, "workshop", Consultant, "ERP accepts payable documents through a documented REST API.", false),
        (3, "report", Research, "Benchmark: best-in-class AP cost is under $3 per invoice.", true),
        (3, "report", Research, "Touchless processing rates of 60-80% are reported after automation.", true),
        (3, "report", Research, "E-invoicing mandates are coming in two of the client's markets.", false),
        (3, "web", Other, "Two incumbents bundle capture with their ERP add-ons.", true),
    ]
};

/// (project, day after the project's creation, content).
pub(super) const STRATEGIC_CONTEXTS: [(u128, i64, &str); 1] = [(
    3,
    10,
    "The client is consolidating finance onto one ERP by next year and wants AP \
    automated before the migration, so the solution must post through the ERP's API \
    and not depend on the legacy system. E-invoicing mandates make structured capture \
    a strategic asset, not only a cost saving.",
)];

/// The five foundation fields, in the order the columns are declared.
pub(super) type FoundationFields = [Option<&'static str>; 5];

/// (project, day after the project's creation, [problem statement, target
/// users, value proposition, business case, constraints]).
#[rustfmt::skip]
pub(super) const FOUNDATIONS: [(u128, i64, FoundationFields); 2] = [
    (2, 6, [
        Some("Check-in takes too long because insurance and history are collected on paper at the counter."),
        Some("Front-desk staff and patients of multi-doctor outpatient clinics."),
        None,
        None,
        None,
    ]),
    (3, 12, [
        Some("Manual keying and PO lookups make invoice processing slow, costly and error-prone, and delay month-end close."),
        Some("Accounts-payable clerks, finance controllers and budget owners at mid-sized distributors."),
        Some("Invoices are captured, matched and approved without keying; clerks handle exceptions only."),
        Some("Cutting cost per invoice from ~$9 to ~$3 saves ~$290k a year at 4,000 invoices a month."),
        Some("Must post through the new ERP's API; data stays in the EU; go-live before the ERP migration."),
    ]),
];

/// (project, day after the project's creation, the stored analysis).
pub(super) fn di_analyses() -> Vec<(u128, i64, Value)> {
    vec![(
        3,
        20,
        json!({
            "summary": "Strong evidence for capture, matching and approvals; ERP integration path confirmed.",
            "gaps": ["Volume of non-PO invoices by supplier", "E-invoicing formats required per market"],
            "next_actions": [
                "Quantify non-PO invoices for the top 50 suppliers",
                "Confirm ERP API rate limits with the client's IT",
                "Validate mobile approval with two budget owners"
            ],
            "signals_analyzed": 9
        }),
    )]
}
