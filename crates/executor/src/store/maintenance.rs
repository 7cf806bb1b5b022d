//! Housekeeping (Diego's registry pruner and container reaper): reserved
//! containers nobody ran expire, containers whose backend container
//! vanished complete, backend containers the store does not know go.

use super::*;
use std::time::Duration;

impl ContainerStore {
    /// Completes reserved containers older than `max_age` ("expired
    /// container"); their guids.
    pub fn complete_expired(&self, max_age: Duration) -> Vec<String> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as i64)
            .unwrap_or(0);
        let expired: Vec<String> = {
            let st = self.inner.state.lock().unwrap();
            st.nodes
                .values()
                .filter(|n| {
                    n.container.state == State::Reserved
                        && now - n.container.allocated_at >= max_age.as_nanos() as i64
                })
                .map(|n| n.container.guid.clone())
                .collect()
        };
        for guid in &expired {
            self.complete(guid, true, "expired container", false);
        }
        expired
    }

    /// Completes created or running containers whose backend container is
    /// gone ("missing garden container"); their guids.
    pub async fn reap_missing(&self) -> Result<Vec<String>, ExecutorError> {
        let present = self.backend_handles().await?;
        let missing: Vec<String> = {
            let st = self.inner.state.lock().unwrap();
            st.nodes
                .values()
                .filter(|n| {
                    matches!(n.container.state, State::Created | State::Running)
                        && !present.contains(&n.container.guid)
                })
                .map(|n| n.container.guid.clone())
                .collect()
        };
        for guid in &missing {
            if let Ok(Some(cancel)) = self.node(guid, |n| n.cancel.clone()) {
                cancel.cancel();
            }
            self.complete(guid, true, "missing garden container", false);
        }
        Ok(missing)
    }

    /// Destroys backend containers with our owner name that the store does
    /// not hold (left by an earlier executor, or by a failed delete); their
    /// handles.
    pub async fn destroy_orphans(&self) -> Result<Vec<String>, ExecutorError> {
        let orphans: Vec<String> = {
            let present = self.backend_handles().await?;
            let st = self.inner.state.lock().unwrap();
            present
                .into_iter()
                .filter(|h| !st.nodes.contains_key(h))
                .collect()
        };
        for h in &orphans {
            match self.inner.backend.destroy(h).await {
                Ok(()) | Err(garden::GardenError::ContainerNotFound(_)) => {}
                Err(e) => tracing::warn!(handle = %h, "destroying orphan failed: {e}"),
            }
        }
        Ok(orphans)
    }

    async fn backend_handles(&self) -> Result<Vec<String>, ExecutorError> {
        let filter = [(
            OWNER_PROPERTY.to_string(),
            self.inner.config.owner_name.clone(),
        )]
        .into();
        Ok(self.inner.backend.containers(&filter).await?)
    }
}
