//! The API types of a project's state, converted from their table rows.

use async_graphql::{ComplexObject, Enum, Json, SimpleObject};
use chrono::{DateTime, Utc};
use entity::{
    di_analyses, features, foundations, meetings, personas, signals, strategic_contexts, vp_steps,
};
use entity::{FeatureId, MeetingId, PersonaId, ProjectId, SignalId, StepId};

use super::Project;

/// A candidate feature of a project; confirmed ones count toward readiness.
#[derive(Clone, Debug, SimpleObject)]
#[graphql(complex)]
pub(crate) struct Feature {
    pub id: FeatureId,
    pub project_id: ProjectId,
    pub name: String,
    pub description: String,
    /// Confirmed by the client.
    pub confirmed: bool,
    pub created_at: DateTime<Utc>,
}

impl From<features::Model> for Feature {
    fn from(feature: features::Model) -> Self {
        Self {
            id: feature.id,
            project_id: feature.project_id,
            name: feature.name,
            description: feature.description,
            confirmed: feature.confirmed,
            created_at: feature.created_at,
        }
    }
}

/// A target user archetype of a project.
#[derive(Clone, Debug, SimpleObject)]
#[graphql(complex)]
pub(crate) struct Persona {
    pub id: PersonaId,
    pub project_id: ProjectId,
    pub name: String,
    pub description: String,
    pub created_at: DateTime<Utc>,
}

impl From<personas::Model> for Persona {
    fn from(persona: personas::Model) -> Self {
        Self {
            id: persona.id,
            project_id: persona.project_id,
            name: persona.name,
            description: persona.description,
            created_at: persona.created_at,
        }
    }
}

/// One step of a project's value path.
#[derive(Clone, Debug, SimpleObject)]
#[graphql(complex)]
pub(crate) struct ValuePathStep {
    pub id: StepId,
    pub project_id: ProjectId,
    /// The step's place in the path, from 0.
    pub position: i32,
    pub label: String,
    pub description: String,
}

impl From<vp_steps::Model> for ValuePathStep {
    fn from(step: vp_steps::Model) -> Self {
        Self {
            id: step.id,
            project_id: step.project_id,
            position: step.position,
            label: step.label,
            description: step.description,
        }
    }
}

/// A meeting held about a project.
#[derive(Clone, Debug, SimpleObject)]
#[graphql(complex)]
pub(crate) struct Meeting {
    pub id: MeetingId,
    pub project_id: ProjectId,
    pub title: String,
    pub held_at: DateTime<Utc>,
    pub notes: String,
}

impl From<meetings::Model> for Meeting {
    fn from(meeting: meetings::Model) -> Self {
        Self {
            id: meeting.id,
            project_id: meeting.project_id,
            title: meeting.title,
            held_at: meeting.held_at,
            notes: meeting.notes,
        }
    }
}

/// The parent link of each project child: the project as an object, so a
/// normalized client cache links the child to the project it already holds.
/// The child was shown only to the project's owner, so the project is built
/// from its id without another check; its row is read only if a row field
/// is asked for (through the request's batched loader).
macro_rules! project_link {
    ($($ty:ident),*) => {$(
        #[ComplexObject]
        impl $ty {
            /// The project this belongs to.
            async fn project(&self) -> Project {
                Project::shown(self.project_id)
            }
        }
    )*};
}

project_link!(
    Feature,
    Persona,
    ValuePathStep,
    Meeting,
    Signal,
    Foundation,
    StrategicContext,
    DiAnalysis
);

/// Who a signal comes from; client signals weigh most.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[graphql(remote = "signals::SignalAuthority")]
pub enum SignalAuthority {
    Client,
    Consultant,
    Research,
    Other,
}

/// A piece of evidence about a project, new until the discovery agent
/// analyzes it.
#[derive(Clone, Debug, SimpleObject)]
#[graphql(complex)]
pub(crate) struct Signal {
    pub id: SignalId,
    pub project_id: ProjectId,
    /// Where it was captured ("interview", "email", "survey", ...).
    pub source: String,
    pub authority: SignalAuthority,
    pub content: String,
    pub created_at: DateTime<Utc>,
    /// When the discovery agent analyzed it; null while it is new.
    pub analyzed_at: Option<DateTime<Utc>>,
}

impl From<signals::Model> for Signal {
    fn from(signal: signals::Model) -> Self {
        Self {
            id: signal.id,
            project_id: signal.project_id,
            source: signal.source,
            authority: signal.authority.into(),
            content: signal.content,
            created_at: signal.created_at,
            analyzed_at: signal.analyzed_at,
        }
    }
}

/// A project's foundation; each non-empty field scores `problem` readiness.
#[derive(Clone, Debug, SimpleObject)]
#[graphql(complex)]
pub(crate) struct Foundation {
    pub project_id: ProjectId,
    pub problem_statement: Option<String>,
    pub target_users: Option<String>,
    pub value_proposition: Option<String>,
    pub business_case: Option<String>,
    pub constraints: Option<String>,
    pub updated_at: DateTime<Utc>,
}

impl From<foundations::Model> for Foundation {
    fn from(foundation: foundations::Model) -> Self {
        Self {
            project_id: foundation.project_id,
            problem_statement: foundation.problem_statement,
            target_users: foundation.target_users,
            value_proposition: foundation.value_proposition,
            business_case: foundation.business_case,
            constraints: foundation.constraints,
            updated_at: foundation.updated_at,
        }
    }
}

/// A project's strategic context.
#[derive(Clone, Debug, SimpleObject)]
#[graphql(complex)]
pub(super) struct StrategicContext {
    pub project_id: ProjectId,
    pub content: String,
    pub updated_at: DateTime<Utc>,
}

impl From<strategic_contexts::Model> for StrategicContext {
    fn from(context: strategic_contexts::Model) -> Self {
        Self {
            project_id: context.project_id,
            content: context.content,
            updated_at: context.updated_at,
        }
    }
}

/// The last analysis the project's discovery-intelligence agent stored.
#[derive(Clone, Debug, SimpleObject)]
#[graphql(complex)]
pub(crate) struct DiAnalysis {
    pub project_id: ProjectId,
    /// The agent's output (a JSON object), opaque to the server.
    pub analysis: Json<serde_json::Value>,
    /// When it was stored; older than 60 minutes is stale.
    pub analyzed_at: DateTime<Utc>,
}

impl From<di_analyses::Model> for DiAnalysis {
    fn from(analysis: di_analyses::Model) -> Self {
        Self {
            project_id: analysis.project_id,
            analysis: Json(analysis.analysis),
            analyzed_at: analysis.analyzed_at,
        }
    }
}
