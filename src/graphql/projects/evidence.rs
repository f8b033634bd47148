//! Writes to a project's evidence: meetings, signals, foundation, strategic
//! context and the DI analysis. Owner only: another user's project is
//! `NOT_FOUND` and nothing is written. Each is one transaction; all but
//! `markSignalsAnalyzed` and `storeDiAnalysis` (which change no readiness
//! input) invalidate the project's readiness.

use async_graphql::{Context, InputObject, Json, MaybeUndefined, Object};
use chrono::{DateTime, Utc};
use entity::{ProjectId, SignalId};

use super::state::{DiAnalysis, Foundation, Meeting, Signal, SignalAuthority, StrategicContext};
use crate::{
    db::projects::{
        documents::{self, FoundationPatch},
        meetings::{self, NewMeeting},
        signals::{self, NewSignal},
    },
    error::AppError,
    graphql::{
        context::ContextExt,
        input::{self, MAX_DESCRIPTION_BYTES, MAX_JSON_BYTES, MAX_LIST_ITEMS, MAX_PROMPT_BYTES},
        pagination, Result,
    },
};

#[derive(InputObject)]
pub(super) struct AddMeetingInput {
    title: String,
    held_at: DateTime<Utc>,
    #[graphql(default)]
    notes: String,
}

#[derive(InputObject)]
pub(super) struct AddSignalInput {
    /// Where it was captured ("interview", "email", "survey", ...).
    source: String,
    authority: SignalAuthority,
    content: String,
}

/// Changes to the foundation: omitted fields keep their value, `null`
/// clears one.
#[derive(InputObject)]
pub(super) struct SetFoundationInput {
    problem_statement: MaybeUndefined<String>,
    target_users: MaybeUndefined<String>,
    value_proposition: MaybeUndefined<String>,
    business_case: MaybeUndefined<String>,
    constraints: MaybeUndefined<String>,
}

impl SetFoundationInput {
    fn validate(self) -> Result<FoundationPatch, AppError> {
        Ok(FoundationPatch {
            problem_statement: patch_text("problemStatement", self.problem_statement)?,
            target_users: patch_text("targetUsers", self.target_users)?,
            value_proposition: patch_text("valueProposition", self.value_proposition)?,
            business_case: patch_text("businessCase", self.business_case)?,
            constraints: patch_text("constraints", self.constraints)?,
        })
    }
}

/// `undefined` leaves a field alone, `null` clears it, a text (checked
/// against [`MAX_DESCRIPTION_BYTES`]) sets it.
fn patch_text(
    field: &'static str,
    value: MaybeUndefined<String>,
) -> Result<Option<Option<String>>, AppError> {
    match value {
        MaybeUndefined::Undefined => Ok(None),
        MaybeUndefined::Null => Ok(Some(None)),
        MaybeUndefined::Value(text) => {
            input::max_bytes(field, &text, MAX_DESCRIPTION_BYTES)?;
            Ok(Some(Some(text)))
        }
    }
}

#[derive(Default)]
pub(crate) struct EvidenceMutation;

#[Object]
impl EvidenceMutation {
    async fn add_meeting(
        &self,
        ctx: &Context<'_>,
        project_id: ProjectId,
        input: AddMeetingInput,
    ) -> Result<Meeting> {
        let viewer = ctx.viewer()?;
        input::display_name("title", &input.title)?;
        input::max_bytes("notes", &input.notes, MAX_PROMPT_BYTES)?;
        input::timestamp("heldAt", &input.held_at)?;
        let new = NewMeeting {
            title: input.title,
            held_at: input.held_at,
            notes: input.notes,
        };
        let db = &ctx.services()?.db;
        Ok(meetings::add_meeting(db, viewer.id, project_id, new)
            .await?
            .into())
    }

    async fn add_signal(
        &self,
        ctx: &Context<'_>,
        project_id: ProjectId,
        input: AddSignalInput,
    ) -> Result<Signal> {
        let viewer = ctx.viewer()?;
        input::display_name("source", &input.source)?;
        input::required_text("content", &input.content, MAX_PROMPT_BYTES)?;
        let new = NewSignal {
            source: input.source,
            authority: input.authority.into(),
            content: input.content,
        };
        let db = &ctx.services()?.db;
        Ok(signals::add_signal(db, viewer.id, project_id, new)
            .await?
            .into())
    }

    /// Sets `analyzedAt` on those of the listed signals that are not
    /// analyzed yet and returns all of them, by id (signals analyzed before
    /// keep their time, so a retry is harmless). Every id must be a signal
    /// of this project: otherwise `NOT_FOUND` and nothing is marked. Does
    /// not change readiness.
    #[graphql(complexity = "pagination::list_complexity(signal_ids.len(), child_complexity)")]
    async fn mark_signals_analyzed(
        &self,
        ctx: &Context<'_>,
        project_id: ProjectId,
        signal_ids: Vec<SignalId>,
    ) -> Result<Vec<Signal>> {
        let viewer = ctx.viewer()?;
        input::max_items("signalIds", &signal_ids, MAX_LIST_ITEMS)?;
        let db = &ctx.services()?.db;
        let marked = signals::mark_analyzed(db, viewer.id, project_id, &signal_ids).await?;
        Ok(marked.into_iter().map(Signal::from).collect())
    }

    /// Creates the foundation, or changes the fields given.
    async fn set_foundation(
        &self,
        ctx: &Context<'_>,
        project_id: ProjectId,
        input: SetFoundationInput,
    ) -> Result<Foundation> {
        let viewer = ctx.viewer()?;
        let patch = input.validate()?;
        let db = &ctx.services()?.db;
        Ok(documents::set_foundation(db, viewer.id, project_id, patch)
            .await?
            .into())
    }

    /// Creates or replaces the strategic context.
    async fn set_strategic_context(
        &self,
        ctx: &Context<'_>,
        project_id: ProjectId,
        content: String,
    ) -> Result<StrategicContext> {
        let viewer = ctx.viewer()?;
        input::required_text("content", &content, MAX_PROMPT_BYTES)?;
        let db = &ctx.services()?.db;
        Ok(
            documents::set_strategic_context(db, viewer.id, project_id, content)
                .await?
                .into(),
        )
    }

    /// Stores (replaces) the discovery agent's analysis: a JSON object of
    /// at most 256 KiB. Does not change readiness.
    async fn store_di_analysis(
        &self,
        ctx: &Context<'_>,
        project_id: ProjectId,
        analysis: Json<serde_json::Value>,
    ) -> Result<DiAnalysis> {
        let viewer = ctx.viewer()?;
        input::json_object("analysis", &analysis.0, MAX_JSON_BYTES)?;
        let db = &ctx.services()?.db;
        Ok(
            documents::store_di_analysis(db, viewer.id, project_id, analysis.0)
                .await?
                .into(),
        )
    }
}
