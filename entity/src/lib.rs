//! SeaORM table models of agentgraph, one module per table (module name =
//! table name).
//!
//! This crate holds only the table models, their relations and the typed
//! ids of their keys ([`ids`]): no GraphQL types, no HTTP, no queries (the
//! `graphql` feature only lets the ids stand for the `UUID` scalar). The server converts these models into its API
//! types, so renaming a column never changes the GraphQL schema by accident.
//! The schema itself (indexes, defaults, checks) lives in the `migration`
//! crate.
//!
//! Tables:
//! - agents: [`providers`], [`models`], [`agents`], [`agent_tools`],
//!   [`user_agent_instructions`];
//! - circles: [`circles`], [`circle_members`];
//! - projects: [`projects`] and its children [`features`], [`personas`],
//!   [`vp_steps`], [`meetings`], [`signals`], and the tables keyed by the
//!   project itself: [`strategic_contexts`], [`foundations`],
//!   [`di_analyses`], [`readiness`].

pub mod agent_tools;
pub mod agents;
pub mod circle_members;
pub mod circles;
pub mod di_analyses;
pub mod features;
pub mod foundations;
pub mod ids;
pub mod meetings;
pub mod models;
pub mod personas;
pub mod projects;
pub mod providers;
pub mod readiness;
pub mod signals;
pub mod strategic_contexts;
pub mod user_agent_instructions;
pub mod vp_steps;

pub use ids::{
    AgentId, CircleId, CircleMemberId, FeatureId, MeetingId, ModelId, PersonaId, ProjectId,
    ProviderId, SignalId, StepId, ToolId, UserId,
};

/// Every table's `Entity` under a readable name, plus the shared column
/// types, for `use entity::prelude::*`.
pub mod prelude {
    pub use crate::agent_tools::Entity as AgentTools;
    pub use crate::agents::{AgentStatus, Entity as Agents, SkillNames};
    pub use crate::circle_members::Entity as CircleMembers;
    pub use crate::circles::Entity as Circles;
    pub use crate::di_analyses::Entity as DiAnalyses;
    pub use crate::features::Entity as Features;
    pub use crate::foundations::Entity as Foundations;
    pub use crate::meetings::Entity as Meetings;
    pub use crate::models::Entity as Models;
    pub use crate::personas::Entity as Personas;
    pub use crate::projects::Entity as Projects;
    pub use crate::providers::Entity as Providers;
    pub use crate::readiness::Entity as Readiness;
    pub use crate::signals::{Entity as Signals, SignalAuthority};
    pub use crate::strategic_contexts::Entity as StrategicContexts;
    pub use crate::user_agent_instructions::Entity as UserAgentInstructions;
    pub use crate::vp_steps::Entity as VpSteps;
}
