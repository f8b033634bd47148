//! The background refresh of the agent config cache: every entry reloaded
//! in one statement, periodically. A failing refresh keeps the cached
//! entries (they expire by TTL), logs once per streak of failures, and
//! retries at the next period.

use std::{sync::Arc, time::Duration};

use tokio::task::JoinHandle;

use super::Caches;

/// Spawns the refresh loop; abort the handle to stop it.
pub fn spawn_agent_config_refresh(caches: Arc<Caches>, period: Duration) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(period);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticker.tick().await; // the first tick is immediate; start-up already loaded
        let mut failing = false;
        loop {
            ticker.tick().await;
            match caches.refresh_agent_configs().await {
                Ok(agents) => {
                    if failing {
                        tracing::info!(agents, "agent config refresh recovered");
                    }
                    failing = false;
                }
                Err(error) => {
                    if !failing {
                        tracing::warn!(%error, "agent config refresh failed; serving cached entries until they expire");
                    }
                    failing = true;
                }
            }
        }
    })
}
