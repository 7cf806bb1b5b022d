//! Builds whose staging callback never came: the API was away when the
//! task completed and the BBS gave up calling back, or the task never
//! reached the BBS (it refused the desire, or lost it). The periodic sync
//! finishes each from its task as the callback would have, or fails it
//! when Diego has no such task, so no build stays STAGING for ever.

use super::Api;
use crate::clock::now_ns;
use crate::error::ApiResult;
use crate::store::{BuildRec, Filter};
use models::capi::build_state;
use recipes::{StagingFailure, StagingOutcome};
use std::time::Duration;

/// Younger STAGING builds are left alone: their task may not be desired
/// yet, and their callback may be on its way.
pub const STAGING_GRACE: Duration = Duration::from_secs(30);

impl Api {
    /// Finishes stale STAGING builds; how many it finished.
    pub async fn reconcile_builds(&self, grace: Duration) -> ApiResult<usize> {
        let now = now_ns();
        let stale: Vec<BuildRec> = self
            .repo
            .list::<BuildRec>(&Filter::default())
            .await?
            .into_iter()
            .filter(|b| {
                b.state == build_state::STAGING && now - b.created_at >= grace.as_nanos() as i64
            })
            .collect();
        let mut finished = 0;
        for build in stale {
            let task = match self.bbs.task_by_guid(&build.guid).await {
                Ok(t) => t,
                Err(e) if e.is(models::ErrorType::ResourceNotFound) => None,
                Err(e) => return Err(e.into()),
            };
            let outcome = match task {
                Some(t) if t.state() == models::task::State::Completed => {
                    StagingOutcome::from_parts(t.failed, &t.failure_reason, &t.result)
                }
                Some(_) => continue, // still staging
                None => StagingOutcome::Failed(StagingFailure::staging_error(
                    "the staging task is not in Diego (it was never desired, or was lost)",
                )),
            };
            tracing::info!(build = %build.guid, "finishing a build whose callback never came");
            self.finish_build(&build.guid, outcome).await?;
            finished += 1;
        }
        Ok(finished)
    }
}
