//! One unit of harmonizing work, keyed by container guid (Diego's
//! generator operations): process a container, or clean up BBS records
//! whose container is gone.

use crate::delegate::Context;
use crate::task_processor::REASON_MISSING_CONTAINER;
use crate::{lrp_processor, tags, task_processor};
use models::{ActualLrpInstanceKey, ActualLrpKey};

#[derive(Debug, Clone, PartialEq)]
pub enum Operation {
    /// Bring the BBS and the container in line with the container's state.
    Container(String),
    /// An ordinary actual LRP on this cell without a container.
    ResidualInstanceLrp(ActualLrpKey, ActualLrpInstanceKey),
    /// An evacuating actual LRP on this cell without a container.
    ResidualEvacuatingLrp(ActualLrpKey, ActualLrpInstanceKey),
    /// Both an ordinary and an evacuating actual LRP, no container.
    ResidualJointLrp(ActualLrpKey, ActualLrpInstanceKey),
    /// A task on this cell without a container.
    ResidualTask(String),
}

impl Operation {
    /// Operations with one key never run at once.
    pub fn key(&self) -> &str {
        match self {
            Operation::Container(g) | Operation::ResidualTask(g) => g,
            Operation::ResidualInstanceLrp(_, ik)
            | Operation::ResidualEvacuatingLrp(_, ik)
            | Operation::ResidualJointLrp(_, ik) => &ik.instance_guid,
        }
    }

    pub async fn execute(self, ctx: &Context) {
        if let Operation::Container(guid) = &self {
            let Some(c) = ctx.get_container(guid).await else {
                return;
            };
            match c.tags.get(tags::LIFECYCLE).map(String::as_str) {
                Some(tags::LRP_LIFECYCLE) => lrp_processor::process(ctx, c).await,
                Some(tags::TASK_LIFECYCLE) => task_processor::process(ctx, c).await,
                other => tracing::error!(guid, lifecycle = ?other, "unknown-lifecycle"),
            }
            return;
        }
        // A residual record: only when there is still no container.
        if ctx.executor.get_container(self.key()).await.is_ok() {
            tracing::info!(guid = self.key(), "skipped-because-container-exists");
            return;
        }
        match self {
            Operation::ResidualInstanceLrp(key, ik) => {
                let _ = ctx.bbs.remove_actual_lrp(&key, &ik).await;
            }
            Operation::ResidualEvacuatingLrp(key, ik) => {
                let _ = ctx.bbs.remove_evacuating_actual_lrp(&key, &ik).await;
            }
            Operation::ResidualJointLrp(key, ik) => {
                let _ = ctx.bbs.remove_actual_lrp(&key, &ik).await;
                let _ = ctx.bbs.remove_evacuating_actual_lrp(&key, &ik).await;
            }
            Operation::ResidualTask(guid) => {
                if let Err(e) = ctx
                    .bbs
                    .complete_task(
                        &guid,
                        &ctx.cell_id,
                        true,
                        REASON_MISSING_CONTAINER,
                        REASON_MISSING_CONTAINER,
                    )
                    .await
                {
                    tracing::error!(guid, error = %e, "failed-to-complete-task");
                }
            }
            Operation::Container(_) => unreachable!("handled above"),
        }
    }
}
