//! Loading the demo data set: providers, models, about twenty agents with
//! tools, four circles, and three projects of the demo admin user at three
//! readiness levels, so a fresh server has something real to show. The
//! tables themselves live in `data`; this module turns them into rows.
//!
//! Every row has a fixed id and every insert is `ON CONFLICT DO NOTHING`, so
//! seeding is idempotent: a second run inserts nothing and does not fail.
//! Timestamps are fixed offsets from one base time, so the data set is the
//! same on every machine. Readiness snapshots are not written (they are
//! computed on demand).
//!
//! The expected readiness of the demo projects (SPEC 5):
//! - [`DEMO_PROJECT_INSUFFICIENT`]: score 2.5, `insufficient`, blockers: no
//!   value path steps, no problem statement, no confirmed features, no personas.
//! - [`DEMO_PROJECT_DEVELOPING`]: score 48.5 (value_path 60, problem 40,
//!   solution 44, engagement 50), `developing`, blocker: no client signals.
//! - [`DEMO_PROJECT_EXCELLENT`]: score 100.0, `excellent`, no blockers; it
//!   also has a stored DI analysis and three unanalyzed signals.

mod data;

use entity::agents::SkillNames;
use entity::{
    agent_tools, agents, circle_members, circles, di_analyses, features, foundations, meetings,
    models, personas, projects, providers, signals, strategic_contexts, user_agent_instructions,
    vp_steps,
};
use entity::{AgentId, ProjectId};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait,
    IntoActiveModel, QueryFilter, TryInsertResult,
};

use crate::db::{self, WriteTxn};

use data::{
    agent_specs, at, demo_id, project_day, tool_table, AgentSpec, AGENT, CIRCLE, CIRCLES, FEATURE,
    FEATURES, FOUNDATIONS, INSTRUCTIONS, MEETING, MEETINGS, MEMBER, MODEL, MODELS, PERSONA,
    PERSONAS, PROJECT, PROJECTS, PROVIDER, PROVIDERS, SIGNAL, SIGNALS, STEP, STEPS,
    STRATEGIC_CONTEXTS, TOOL,
};
pub use data::{
    DEMO_PROJECT_DEVELOPING, DEMO_PROJECT_EXCELLENT, DEMO_PROJECT_INSUFFICIENT, DEMO_USER_ID,
};

/// What a [`seed_demo`] run wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SeedReport {
    /// Rows inserted over all tables; 0 when the data set was already there.
    pub rows_inserted: u64,
}

/// Loads the demo data set; rows that already exist are left alone.
///
/// It runs in one write transaction, so a failure leaves nothing
/// half-seeded, and a demo project that existed before and gets rows back
/// (someone deleted some) moves its state version on like any mutation, so
/// no stored readiness describes it as it was.
pub async fn seed_demo(db: &WriteTxn) -> Result<SeedReport, DbErr> {
    let agent_specs = agent_specs();
    let existing_projects = existing_demo_projects(db).await?;
    let mut rows = 0;
    rows += insert_all(db, provider_rows()).await?;
    rows += insert_all(db, model_rows()).await?;
    rows += insert_all(db, agent_rows(&agent_specs)).await?;
    rows += insert_all(db, tool_rows(&agent_specs)?).await?;
    rows += insert_all(db, instruction_rows(&agent_specs)?).await?;
    rows += insert_all(db, circle_rows()).await?;
    rows += insert_all(db, member_rows(&agent_specs)?).await?;
    rows += insert_all(db, project_rows()).await?;
    let rows_before_project_state = rows;
    rows += insert_all(db, feature_rows()).await?;
    rows += insert_all(db, persona_rows()).await?;
    rows += insert_all(db, step_rows()).await?;
    rows += insert_all(db, meeting_rows()).await?;
    rows += insert_all(db, signal_rows()).await?;
    rows += insert_all(db, strategic_context_rows()).await?;
    rows += insert_all(db, foundation_rows()).await?;
    if rows > rows_before_project_state {
        for project_id in existing_projects {
            db::projects::state_changed(db, project_id).await?;
        }
    }
    rows += insert_all(db, di_analysis_rows()).await?;
    Ok(SeedReport {
        rows_inserted: rows,
    })
}

/// The demo projects already in the database.
async fn existing_demo_projects(db: &WriteTxn) -> Result<Vec<ProjectId>, DbErr> {
    let ids = project_rows()
        .into_iter()
        .filter_map(|row| row.id.into_value());
    Ok(projects::Entity::find()
        .filter(projects::Column::Id.is_in(ids))
        .all(db)
        .await?
        .into_iter()
        .map(|project| project.id)
        .collect())
}

/// Inserts `rows` in one statement, skipping any row that conflicts with an
/// existing one; returns how many were inserted.
async fn insert_all<A>(db: &impl ConnectionTrait, rows: Vec<A>) -> Result<u64, DbErr>
where
    A: ActiveModelTrait + Send,
    <A::Entity as EntityTrait>::Model: IntoActiveModel<A>,
{
    if rows.is_empty() {
        return Ok(0);
    }
    let result = A::Entity::insert_many(rows)
        .on_conflict(OnConflict::new().do_nothing().to_owned())
        .do_nothing()
        .exec_without_returning(db)
        .await?;
    Ok(match result {
        TryInsertResult::Inserted(n) => n,
        TryInsertResult::Empty | TryInsertResult::Conflicted => 0,
    })
}

fn provider_rows() -> Vec<providers::ActiveModel> {
    PROVIDERS
        .into_iter()
        .zip(1..)
        .map(|((name, api_type), n)| providers::ActiveModel {
            id: Set(demo_id(PROVIDER, n).into()),
            name: Set(name.to_owned()),
            api_type: Set(api_type.to_owned()),
        })
        .collect()
}

fn model_rows() -> Vec<models::ActiveModel> {
    MODELS
        .iter()
        .map(|&(n, provider, name, alias)| models::ActiveModel {
            id: Set(demo_id(MODEL, n).into()),
            provider_id: Set(demo_id(PROVIDER, provider).into()),
            model_name: Set(name.to_owned()),
            model_alias: Set(alias.map(str::to_owned)),
        })
        .collect()
}

fn agent_rows(specs: &[AgentSpec]) -> Vec<agents::ActiveModel> {
    specs
        .iter()
        .zip(1..)
        .map(|(spec, n)| agents::ActiveModel {
            id: Set(demo_id(AGENT, n).into()),
            name: Set(spec.name.to_owned()),
            description: Set(spec.description.to_owned()),
            system_prompt: Set(spec.system_prompt.to_owned()),
            base_prompt: Set(spec.base_prompt.to_owned()),
            skill_names: Set(SkillNames(
                spec.skills.iter().map(|&s| s.to_owned()).collect(),
            )),
            status: Set(spec.status),
            model_id: Set(spec.model.map(|m| demo_id(MODEL, m)).map(Into::into)),
            temperature: Set(spec.temperature),
            max_tokens: Set(spec.max_tokens),
            created_at: Set(at(0, n as i64)),
            updated_at: Set(at(10, n as i64)),
        })
        .collect()
}

/// The id of the demo agent called `name`.
fn agent_id(specs: &[AgentSpec], name: &str) -> Result<AgentId, DbErr> {
    specs
        .iter()
        .zip(1..)
        .find(|(spec, _)| spec.name == name)
        .map(|(_, n)| demo_id(AGENT, n).into())
        .ok_or_else(|| DbErr::Custom(format!("demo data refers to unknown agent {name}")))
}

fn tool_rows(specs: &[AgentSpec]) -> Result<Vec<agent_tools::ActiveModel>, DbErr> {
    tool_table()
        .into_iter()
        .zip(1..)
        .map(
            |((agent, name, tool_type, description, config, is_active), n)| {
                Ok(agent_tools::ActiveModel {
                    id: Set(demo_id(TOOL, n).into()),
                    agent_id: Set(agent_id(specs, agent)?),
                    name: Set(name.to_owned()),
                    description: Set(description.to_owned()),
                    tool_type: Set(tool_type.to_owned()),
                    config: Set(config),
                    is_active: Set(is_active),
                })
            },
        )
        .collect()
}

fn instruction_rows(
    specs: &[AgentSpec],
) -> Result<Vec<user_agent_instructions::ActiveModel>, DbErr> {
    INSTRUCTIONS
        .into_iter()
        .map(|(user, agent, instructions, day)| {
            Ok(user_agent_instructions::ActiveModel {
                user_id: Set(user),
                agent_id: Set(agent_id(specs, agent)?),
                instructions: Set(instructions.to_owned()),
                updated_at: Set(at(day, 0)),
            })
        })
        .collect()
}

fn circle_rows() -> Vec<circles::ActiveModel> {
    CIRCLES
        .iter()
        .zip(1..)
        .map(|(&(name, description, _), n)| circles::ActiveModel {
            id: Set(demo_id(CIRCLE, n).into()),
            name: Set(name.to_owned()),
            description: Set(description.to_owned()),
            created_at: Set(at(1, n as i64)),
        })
        .collect()
}

fn member_rows(specs: &[AgentSpec]) -> Result<Vec<circle_members::ActiveModel>, DbErr> {
    let mut rows = Vec::new();
    for (&(_, _, members), circle) in CIRCLES.iter().zip(1..) {
        for (&(agent, role, is_active), i) in members.iter().zip(0..) {
            rows.push(circle_members::ActiveModel {
                id: Set(demo_id(MEMBER, circle * 100 + i).into()),
                circle_id: Set(demo_id(CIRCLE, circle).into()),
                agent_id: Set(agent_id(specs, agent)?),
                role: Set(role.to_owned()),
                is_active: Set(is_active),
                joined_at: Set(at(2, i as i64)),
            });
        }
    }
    Ok(rows)
}

fn project_rows() -> Vec<projects::ActiveModel> {
    PROJECTS
        .into_iter()
        .map(|(n, name)| projects::ActiveModel {
            id: Set(demo_id(PROJECT, n).into()),
            owner_id: Set(DEMO_USER_ID),
            name: Set(name.to_owned()),
            state_version: Set(0),
            created_at: Set(at(project_day(n), 0)),
            updated_at: Set(at(project_day(n), 1)),
        })
        .collect()
}

fn feature_rows() -> Vec<features::ActiveModel> {
    FEATURES
        .into_iter()
        .zip(1..)
        .map(
            |((project, name, description, confirmed), n)| features::ActiveModel {
                id: Set(demo_id(FEATURE, n).into()),
                project_id: Set(demo_id(PROJECT, project).into()),
                name: Set(name.to_owned()),
                description: Set(description.to_owned()),
                confirmed: Set(confirmed),
                created_at: Set(at(project_day(project) + 1, n as i64)),
            },
        )
        .collect()
}

fn persona_rows() -> Vec<personas::ActiveModel> {
    PERSONAS
        .into_iter()
        .zip(1..)
        .map(|((project, name, description), n)| personas::ActiveModel {
            id: Set(demo_id(PERSONA, n).into()),
            project_id: Set(demo_id(PROJECT, project).into()),
            name: Set(name.to_owned()),
            description: Set(description.to_owned()),
            created_at: Set(at(project_day(project) + 2, n as i64)),
        })
        .collect()
}

fn step_rows() -> Vec<vp_steps::ActiveModel> {
    STEPS
        .into_iter()
        .zip(1..)
        .map(
            |((project, position, label, description), n)| vp_steps::ActiveModel {
                id: Set(demo_id(STEP, n).into()),
                project_id: Set(demo_id(PROJECT, project).into()),
                position: Set(position),
                label: Set(label.to_owned()),
                description: Set(description.to_owned()),
            },
        )
        .collect()
}

fn meeting_rows() -> Vec<meetings::ActiveModel> {
    MEETINGS
        .into_iter()
        .zip(1..)
        .map(|((project, day, title, notes), n)| meetings::ActiveModel {
            id: Set(demo_id(MEETING, n).into()),
            project_id: Set(demo_id(PROJECT, project).into()),
            title: Set(title.to_owned()),
            held_at: Set(at(project_day(project) + day, 5)),
            notes: Set(notes.to_owned()),
        })
        .collect()
}

fn signal_rows() -> Vec<signals::ActiveModel> {
    SIGNALS
        .into_iter()
        .zip(1..)
        .map(
            |((project, source, authority, content, analyzed), n)| signals::ActiveModel {
                id: Set(demo_id(SIGNAL, n).into()),
                project_id: Set(demo_id(PROJECT, project).into()),
                source: Set(source.to_owned()),
                authority: Set(authority),
                content: Set(content.to_owned()),
                created_at: Set(at(project_day(project) + 2, n as i64)),
                analyzed_at: Set(analyzed.then(|| at(project_day(project) + 20, 0))),
            },
        )
        .collect()
}

fn strategic_context_rows() -> Vec<strategic_contexts::ActiveModel> {
    STRATEGIC_CONTEXTS
        .into_iter()
        .map(|(project, day, content)| strategic_contexts::ActiveModel {
            project_id: Set(demo_id(PROJECT, project).into()),
            content: Set(content.to_owned()),
            updated_at: Set(at(project_day(project) + day, 0)),
        })
        .collect()
}

fn foundation_rows() -> Vec<foundations::ActiveModel> {
    FOUNDATIONS
        .into_iter()
        .map(|(project, day, fields)| {
            let [problem, users, value, business, constraints] =
                fields.map(|f| f.map(str::to_owned));
            foundations::ActiveModel {
                project_id: Set(demo_id(PROJECT, project).into()),
                problem_statement: Set(problem),
                target_users: Set(users),
                value_proposition: Set(value),
                business_case: Set(business),
                constraints: Set(constraints),
                updated_at: Set(at(project_day(project) + day, 0)),
            }
        })
        .collect()
}

fn di_analysis_rows() -> Vec<di_analyses::ActiveModel> {
    data::di_analyses()
        .into_iter()
        .map(|(project, day, analysis)| di_analyses::ActiveModel {
            project_id: Set(demo_id(PROJECT, project).into()),
            analysis: Set(analysis),
            analyzed_at: Set(at(project_day(project) + day, 0)),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use entity::signals::SignalAuthority;

    use super::data::{
        FEATURES, FOUNDATIONS, MEETINGS, PERSONAS, SIGNALS, STEPS, STRATEGIC_CONTEXTS,
    };
    use crate::readiness::{score, Blocker, ReadinessInputs, ReadinessStatus};

    /// Counts a demo project's readiness inputs from the data tables, the
    /// way the aggregate statement counts them from the rows.
    fn inputs_of(project: u128) -> ReadinessInputs {
        let count = |n: usize| i64::try_from(n).expect("small");
        let fields: Vec<&str> = FOUNDATIONS
            .iter()
            .filter(|f| f.0 == project)
            .flat_map(|f| f.2.iter().flatten().copied())
            .filter(|field| !field.trim().is_empty())
            .collect();
        let problem = FOUNDATIONS
            .iter()
            .filter(|f| f.0 == project)
            .any(|f| f.2[0].is_some_and(|p| !p.trim().is_empty()));
        ReadinessInputs {
            features: count(FEATURES.iter().filter(|f| f.0 == project).count()),
            confirmed_features: count(FEATURES.iter().filter(|f| f.0 == project && f.3).count()),
            personas: count(PERSONAS.iter().filter(|p| p.0 == project).count()),
            value_path_steps: count(STEPS.iter().filter(|s| s.0 == project).count()),
            signals: count(SIGNALS.iter().filter(|s| s.0 == project).count()),
            client_signals: count(
                SIGNALS
                    .iter()
                    .filter(|s| s.0 == project && s.2 == SignalAuthority::Client)
                    .count(),
            ),
            meetings: count(MEETINGS.iter().filter(|m| m.0 == project).count()),
            has_strategic_context: STRATEGIC_CONTEXTS.iter().any(|c| c.0 == project),
            foundation_fields: count(fields.len()),
            has_problem_statement: problem,
        }
    }

    #[test]
    fn the_demo_projects_score_as_documented() {
        let insufficient = score(&inputs_of(1));
        assert_eq!(insufficient.score, 2.5);
        assert_eq!(insufficient.status, ReadinessStatus::Insufficient);
        assert_eq!(
            insufficient.blockers,
            [
                Blocker::NoValuePathSteps,
                Blocker::NoProblemStatement,
                Blocker::NoConfirmedFeatures,
                Blocker::NoPersonas
            ]
        );

        let developing = score(&inputs_of(2));
        assert_eq!(developing.score, 48.5);
        assert_eq!(developing.status, ReadinessStatus::Developing);
        let d = developing.dimensions;
        assert_eq!(
            (d.value_path, d.problem, d.solution, d.engagement),
            (60.0, 40.0, 44.0, 50.0)
        );
        assert_eq!(developing.blockers, [Blocker::NoClientSignals]);

        let excellent = score(&inputs_of(3));
        assert_eq!(excellent.score, 100.0);
        assert_eq!(excellent.status, ReadinessStatus::Excellent);
        assert!(excellent.blockers.is_empty());
    }
}
