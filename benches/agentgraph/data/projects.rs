//! The bench user's projects: each with a little state, and the big one
//! (many signals and features, foundation, strategic context and a stored
//! DI analysis). Child rows are gathered in a [`ProjectState`] so each
//! table is written by one bulk insert.

use entity::{
    di_analyses, features, foundations, meetings, personas, projects,
    signals::{self, SignalAuthority},
    strategic_contexts, vp_steps,
};
use sea_orm::Set;
use serde_json::json;
use uuid::Uuid;

use super::{offset, Loader, Sizes};

impl Loader<'_> {
    /// `sizes.projects` projects; the last one is the big one, so the first
    /// pages list the ordinary ones.
    pub(super) async fn projects(
        &mut self,
        owner: Uuid,
        sizes: &Sizes,
    ) -> anyhow::Result<ProjectIds> {
        let mut state = ProjectState::default();
        let mut project_rows = Vec::with_capacity(sizes.projects);
        let mut ids = ProjectIds {
            big: Uuid::nil(),
            first: Uuid::nil(),
        };
        for p in 0..sizes.projects {
            let id = Uuid::now_v7();
            if p == 0 {
                ids.first = id;
            }
            project_rows.push(projects::ActiveModel {
                id: Set(id.into()),
                owner_id: Set(owner.into()),
                name: Set(format!("bench-project-{p:04}")),
                state_version: Set(1),
                created_at: Set(self.now),
                updated_at: Set(self.now),
            });
            if p + 1 == sizes.projects {
                ids.big = id;
                self.big_project_state(&mut state, id, sizes);
            } else {
                self.small_project_state(&mut state, id, p);
            }
        }
        self.insert(project_rows).await?;
        state.insert(self).await?;
        Ok(ids)
    }

    /// A little of everything: 3 features (2 confirmed), 2 personas, 3
    /// value-path steps, a meeting, 5 signals (2 analyzed); a foundation on
    /// every other project, a strategic context on every third.
    fn small_project_state(&mut self, state: &mut ProjectState, id: Uuid, p: usize) {
        state.features(self, id, 3, |f| f < 2);
        state.personas(self, id, 2);
        state.steps(self, id, 3);
        state.meetings(self, id, 1);
        state.signals(self, id, 5);
        if p % 2 == 0 {
            state.foundation(self, id, p % 4 == 0);
        }
        if p % 3 == 0 {
            state.strategic_context(self, id);
        }
    }

    /// Many signals (authorities mixed, about half unanalyzed) and features
    /// (every third confirmed), a full foundation, a strategic context and
    /// a DI analysis stored ten minutes ago.
    fn big_project_state(&mut self, state: &mut ProjectState, id: Uuid, sizes: &Sizes) {
        state.features(self, id, sizes.features, |f| f % 3 == 0);
        state.personas(self, id, 5);
        state.steps(self, id, 6);
        state.meetings(self, id, 12);
        state.signals(self, id, sizes.signals);
        state.foundation(self, id, true);
        state.strategic_context(self, id);
        state.di_analyses.push(di_analyses::ActiveModel {
            project_id: Set(id.into()),
            analysis: Set(json!({
                "summary": "Synthetic discovery analysis of the big project",
                "themes": ["onboarding", "pricing", "integrations"],
                "signalsAnalyzed": sizes.signals / 2,
            })),
            analyzed_at: Set(self.now - chrono::Duration::minutes(10)),
        });
    }
}

/// The projects the workloads ask for by id.
pub(super) struct ProjectIds {
    pub big: Uuid,
    /// An ordinary project, unless the big one is the only one.
    pub first: Uuid,
}

/// Every project child row, gathered so each table is one bulk insert.
#[derive(Default)]
struct ProjectState {
    features: Vec<features::ActiveModel>,
    personas: Vec<personas::ActiveModel>,
    steps: Vec<vp_steps::ActiveModel>,
    meetings: Vec<meetings::ActiveModel>,
    signals: Vec<signals::ActiveModel>,
    foundations: Vec<foundations::ActiveModel>,
    strategic_contexts: Vec<strategic_contexts::ActiveModel>,
    di_analyses: Vec<di_analyses::ActiveModel>,
}

impl ProjectState {
    fn features(
        &mut self,
        loader: &Loader<'_>,
        project: Uuid,
        count: usize,
        confirmed: impl Fn(usize) -> bool,
    ) {
        self.features
            .extend((0..count).map(|f| features::ActiveModel {
                id: Set(Uuid::now_v7().into()),
                project_id: Set(project.into()),
                name: Set(format!("Feature {f}")),
                description: Set(format!("What feature {f} lets the user do")),
                confirmed: Set(confirmed(f)),
                created_at: Set(loader.now + chrono::Duration::milliseconds(offset(f))),
            }));
    }

    fn personas(&mut self, loader: &Loader<'_>, project: Uuid, count: usize) {
        self.personas
            .extend((0..count).map(|p| personas::ActiveModel {
                id: Set(Uuid::now_v7().into()),
                project_id: Set(project.into()),
                name: Set(format!("Persona {p}")),
                description: Set("Who they are and what they need".to_owned()),
                created_at: Set(loader.now + chrono::Duration::milliseconds(offset(p))),
            }));
    }

    fn steps(&mut self, _loader: &Loader<'_>, project: Uuid, count: usize) {
        self.steps.extend((0..count).map(|s| vp_steps::ActiveModel {
            id: Set(Uuid::now_v7().into()),
            project_id: Set(project.into()),
            position: Set(i32::try_from(s + 1).unwrap_or(i32::MAX)),
            label: Set(format!("Step {}", s + 1)),
            description: Set("What happens at this step".to_owned()),
        }));
    }

    fn meetings(&mut self, loader: &Loader<'_>, project: Uuid, count: usize) {
        self.meetings
            .extend((0..count).map(|m| meetings::ActiveModel {
                id: Set(Uuid::now_v7().into()),
                project_id: Set(project.into()),
                title: Set(format!("Discovery call {m}")),
                held_at: Set(loader.now - chrono::Duration::days(offset(m))),
                notes: Set("Notes of the call".to_owned()),
            }));
    }

    /// Authorities cycle client, consultant, research, other; odd signals
    /// are analyzed, even ones not (about half unanalyzed).
    fn signals(&mut self, loader: &mut Loader<'_>, project: Uuid, count: usize) {
        const AUTHORITIES: [SignalAuthority; 4] = [
            SignalAuthority::Client,
            SignalAuthority::Consultant,
            SignalAuthority::Research,
            SignalAuthority::Other,
        ];
        const SOURCES: [&str; 4] = ["interview", "survey", "support ticket", "analytics"];
        for s in 0..count {
            let created_at = loader.now - chrono::Duration::seconds(offset(count - s));
            let words = 8 + loader.rng.usize(..24);
            self.signals.push(signals::ActiveModel {
                id: Set(Uuid::now_v7().into()),
                project_id: Set(project.into()),
                source: Set(SOURCES[s % SOURCES.len()].to_owned()),
                authority: Set(AUTHORITIES[s % AUTHORITIES.len()]),
                content: Set(format!(
                    "Signal {s}: {}",
                    "the customer said something ".repeat(words / 4 + 1)
                )),
                created_at: Set(created_at),
                analyzed_at: Set((s % 2 == 1).then_some(loader.now)),
            });
        }
    }

    fn foundation(&mut self, loader: &Loader<'_>, project: Uuid, full: bool) {
        let text = |what: &str| Some(format!("The project's {what}"));
        self.foundations.push(foundations::ActiveModel {
            project_id: Set(project.into()),
            problem_statement: Set(text("problem statement")),
            target_users: Set(text("target users")),
            value_proposition: Set(if full {
                text("value proposition")
            } else {
                None
            }),
            business_case: Set(if full { text("business case") } else { None }),
            constraints: Set(if full { text("constraints") } else { None }),
            updated_at: Set(loader.now),
        });
    }

    fn strategic_context(&mut self, loader: &Loader<'_>, project: Uuid) {
        self.strategic_contexts
            .push(strategic_contexts::ActiveModel {
                project_id: Set(project.into()),
                content: Set("Where the business wants to be in two years".to_owned()),
                updated_at: Set(loader.now),
            });
    }

    async fn insert(self, loader: &mut Loader<'_>) -> anyhow::Result<()> {
        loader.insert(self.features).await?;
        loader.insert(self.personas).await?;
        loader.insert(self.steps).await?;
        loader.insert(self.meetings).await?;
        loader.insert(self.signals).await?;
        loader.insert(self.foundations).await?;
        loader.insert(self.strategic_contexts).await?;
        loader.insert(self.di_analyses).await
    }
}
