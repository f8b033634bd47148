//! The loaders of a project's state: each relation of every project a
//! request shows costs one statement (paged ones: one per cursor and
//! filter the query asks for).
//!
//! Keys are project ids the viewer was already shown, i.e. owns: a
//! `Project` only exists in the API after an ownership check (against the
//! project owner cache, or a row from [`ProjectLoaders::by_id`]).

use entity::ProjectId;
use std::{collections::HashMap, future::Future, hash::Hash};

use entity::{
    di_analyses, features, foundations, meetings, personas, projects, signals, strategic_contexts,
    vp_steps,
};
use sea_orm::DbErr;

use super::Batcher;
use crate::db::{
    discovery::{self, Unanalyzed, UnanalyzedKey},
    projects::{
        self as projects_db, documents, features::FeaturePageKey, meetings::MeetingPageKey, pages,
        personas::personas_by_project, signals::SignalPageKey, value_path,
    },
    Db,
};

/// One request's loaders of project state.
pub struct ProjectLoaders {
    /// A project's row, by id, whoever owns it: check the owner before
    /// showing it.
    pub by_id: Batcher<ProjectId, projects::Model>,
    /// A page of a project's features.
    pub features: Batcher<FeaturePageKey, Vec<features::Model>>,
    /// All personas of a project, by project id.
    pub personas: Batcher<ProjectId, Vec<personas::Model>>,
    /// The value path of a project, by project id.
    pub value_path: Batcher<ProjectId, Vec<vp_steps::Model>>,
    /// A page of a project's meetings.
    pub meetings: Batcher<MeetingPageKey, Vec<meetings::Model>>,
    /// A page of a project's signals.
    pub signals: Batcher<SignalPageKey, Vec<signals::Model>>,
    /// The foundation of a project, by project id (none: not found).
    pub foundation: Batcher<ProjectId, foundations::Model>,
    /// The strategic context of a project, by project id.
    pub strategic_context: Batcher<ProjectId, strategic_contexts::Model>,
    /// The stored DI analysis of a project, by project id.
    pub analysis: Batcher<ProjectId, di_analyses::Model>,
    /// A project's oldest unanalyzed signals, with their total.
    pub unanalyzed_signals: Batcher<UnanalyzedKey, Unanalyzed>,
}

impl ProjectLoaders {
    pub fn new(db: &Db) -> Self {
        Self {
            by_id: loader(db, |db, ids| async move {
                projects_db::by_id(db.conn(), &ids).await
            }),
            features: loader(db, |db, keys| async move {
                pages::load_pages::<features::Entity>(db.conn(), keys).await
            }),
            personas: loader(db, |db, ids| async move {
                personas_by_project(db.conn(), &ids).await
            }),
            value_path: loader(db, |db, ids| async move {
                value_path::value_path_by_project(db.conn(), &ids).await
            }),
            meetings: loader(db, |db, keys| async move {
                pages::load_pages::<meetings::Entity>(db.conn(), keys).await
            }),
            signals: loader(db, |db, keys| async move {
                pages::load_pages::<signals::Entity>(db.conn(), keys).await
            }),
            foundation: loader(db, |db, ids| async move {
                documents::foundations_by_project(db.conn(), &ids).await
            }),
            strategic_context: loader(db, |db, ids| async move {
                documents::strategic_contexts_by_project(db.conn(), &ids).await
            }),
            analysis: loader(db, |db, ids| async move {
                discovery::analyses_by_project(db.conn(), &ids).await
            }),
            unanalyzed_signals: loader(db, |db, keys| async move {
                discovery::unanalyzed_signals(db.conn(), &keys).await
            }),
        }
    }
}

/// A [`Batcher`] whose batches `fetch` loads from the database.
fn loader<K, V, F, Fut>(db: &Db, fetch: F) -> Batcher<K, V>
where
    K: Clone + Eq + Hash + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    F: Fn(Db, Vec<K>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<HashMap<K, V>, DbErr>> + Send + 'static,
{
    let db = db.clone();
    Batcher::new(move |keys| {
        let loaded = fetch(db.clone(), keys);
        async move { Ok(loaded.await?) }
    })
}
