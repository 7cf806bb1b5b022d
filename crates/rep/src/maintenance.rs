//! The executor's housekeeping, run by the rep that hosts it (Diego runs
//! the registry pruner and container reaper next to the rep): backend
//! containers left by an earlier run are destroyed at start; then every
//! `container_reap_interval` reserved containers older than
//! `reserved_expiration_time` expire, containers whose backend container
//! vanished complete, and orphans go.

use executor::ContainerStore;
use std::time::Duration;
use tokio::task::JoinHandle;

pub fn spawn(
    store: ContainerStore,
    reap_interval: Duration,
    reserved_expiration: Duration,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        match store.destroy_orphans().await {
            Ok(o) if !o.is_empty() => {
                tracing::info!(count = o.len(), "destroyed-orphaned-containers")
            }
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "failed-to-destroy-orphans"),
        }
        loop {
            tokio::time::sleep(reap_interval).await;
            let expired = store.complete_expired(reserved_expiration);
            if !expired.is_empty() {
                tracing::info!(count = expired.len(), "expired-reserved-containers");
            }
            match store.reap_missing().await {
                Ok(m) if !m.is_empty() => {
                    tracing::info!(count = m.len(), "reaped-missing-containers")
                }
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "failed-to-reap"),
            }
            if let Err(e) = store.destroy_orphans().await {
                tracing::error!(error = %e, "failed-to-destroy-orphans");
            }
        }
    })
}
