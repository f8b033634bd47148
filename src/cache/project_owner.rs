//! The project owner cache: whether a viewer owns a project, by (viewer,
//! project id), so an ownership check costs no statement the second time.
//!
//! Keyed by viewer, and a missing project is remembered like another
//! user's: whether a project exists never shows to anyone but its owner,
//! not even in the cache counts of the cost extension (another user's id
//! and an unknown one are both a miss and one statement the first time,
//! and a hit and none after). Nothing evicts an entry but a flush: an
//! owner never changes, projects are not deleted and ids are made by the
//! server.

use entity::{projects, ProjectId, UserId};
use std::{future::Future, time::Duration};

use clap::Args;

use super::{
    fenced::{AfterLoadHook, CacheReport, CacheSettings, FencedCache},
    read_set::{self, ReadKey},
    table::CacheInfo,
    SharedCache,
};
use crate::{changes::Change, config::duration, error::AppError};

pub const INFO: CacheInfo = CacheInfo {
    name: "project_owner",
    keeps: "project owner",
    key: "(viewer, project): whether the viewer owns it",
    capacity_flag: "--project-owner-cache-capacity",
    capacity: 100_000,
    ttl_flag: "--project-owner-cache-ttl",
    ttl: "3600s",
    filled_by: "every ownership check that read the project's row, found or not",
    evicted_by: "nothing but a flush: an owner never changes, projects are not deleted and ids \
                 are made by the server",
};

/// The project owner cache's flags.
#[derive(Clone, Debug, Args)]
pub struct ProjectOwnerSettings {
    /// Project owners kept (a project's owner never changes).
    #[arg(
        long,
        env = "AGENTGRAPH_PROJECT_OWNER_CACHE_CAPACITY",
        default_value_t = INFO.capacity,
        global = true
    )]
    pub project_owner_cache_capacity: u64,

    /// How long a project's owner stays cached.
    #[arg(long, env = "AGENTGRAPH_PROJECT_OWNER_CACHE_TTL", default_value = INFO.ttl, value_parser = duration, global = true)]
    pub project_owner_cache_ttl: Duration,
}

impl ProjectOwnerSettings {
    pub fn sizing(&self) -> CacheSettings {
        CacheSettings {
            capacity: self.project_owner_cache_capacity,
            ttl: self.project_owner_cache_ttl,
        }
    }
}

/// What an ownership check found.
#[derive(Debug)]
pub enum Ownership {
    /// The viewer owns the project; its row, if the check read it.
    Owned(Option<projects::Model>),
    /// Another user's project, or none at all: the two are not told apart.
    NotOwned,
}

/// Ownership by (viewer, project). Cheap to clone.
#[derive(Clone)]
pub struct ProjectOwnerCache {
    entries: FencedCache<(UserId, ProjectId), bool>,
}

impl ProjectOwnerCache {
    pub fn new(settings: &ProjectOwnerSettings, after_load: Option<AfterLoadHook>) -> Self {
        Self {
            entries: FencedCache::new(
                INFO.name,
                settings.sizing(),
                |(_, project): &(UserId, ProjectId)| {
                    read_set::note(ReadKey::ProjectState(*project));
                },
                after_load,
            ),
        }
    }

    /// Whether `viewer` owns project `id`: from memory, else from the row
    /// `read_row` reads (the request's project loader, so the row serves
    /// the request too).
    pub async fn check<F, Fut>(
        &self,
        viewer: UserId,
        id: ProjectId,
        read_row: F,
    ) -> Result<Ownership, AppError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Option<projects::Model>, AppError>>,
    {
        if let Some(owned) = self.entries.get(&(viewer, id)) {
            return Ok(if owned {
                Ownership::Owned(None)
            } else {
                Ownership::NotOwned
            });
        }
        let snapshot = self.entries.snapshot();
        let owned = read_row().await?.filter(|row| row.owner_id == viewer);
        self.entries
            .store_loaded(&snapshot, [((viewer, id), owned.is_some())]);
        Ok(match owned {
            Some(row) => Ownership::Owned(Some(row)),
            None => Ownership::NotOwned,
        })
    }
}

impl SharedCache for ProjectOwnerCache {
    /// Drops what `change` made wrong: only a flush does.
    fn on_change(&self, change: &Change) {
        match change {
            Change::Everything => self.entries.invalidate_all(),
            Change::Agent { .. }
            | Change::Membership { .. }
            | Change::Instructions { .. }
            | Change::ProjectState { .. }
            | Change::Circles => {}
        }
    }

    fn report(&self) -> CacheReport {
        self.entries.report()
    }
}
