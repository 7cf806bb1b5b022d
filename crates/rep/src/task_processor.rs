//! What the rep does with a task container (Diego's task processor):
//! start the task in the BBS and run it; when it completes, report the
//! result (or reject it when another cell might do better) and delete it.

use crate::delegate::Context;
use crate::run_request;
use crate::tags;
use executor::{Container, State};
use models::ErrorType;

pub const REASON_MISSING_CONTAINER: &str = "task container does not exist";
pub const REASON_FAILED_TO_RUN_CONTAINER: &str = "failed to run container";
pub const REASON_INVALID_TRANSITION: &str = "invalid state transition";
pub const REASON_FAILED_TO_FETCH_RESULT: &str = "failed to fetch result";

pub async fn process(ctx: &Context, c: Container) {
    match c.state {
        State::Completed => {
            complete(ctx, &c).await;
            ctx.delete_container(&c.guid).await;
        }
        _ => active(ctx, &c).await,
    }
}

async fn active(ctx: &Context, c: &Container) {
    match ctx.bbs.start_task(&c.guid, &ctx.cell_id).await {
        Ok(true) => {}
        Ok(false) => {
            tracing::info!(guid = %c.guid, "task-already-started");
            return;
        }
        Err(e) => {
            tracing::error!(guid = %c.guid, error = %e, "failed-starting-task");
            if matches!(
                e.error_type(),
                Some(ErrorType::InvalidStateTransition | ErrorType::ResourceNotFound)
            ) {
                ctx.delete_container(&c.guid).await;
            }
            return;
        }
    }
    let task = match ctx.bbs.task_by_guid(&c.guid).await {
        Ok(Some(t)) => t,
        Ok(None) => {
            tracing::error!(guid = %c.guid, "failed-fetching-task: bbs answered no task");
            return;
        }
        Err(e) => {
            tracing::error!(guid = %c.guid, error = %e, "failed-fetching-task");
            return;
        }
    };
    let (info, tags) = run_request::task_run_info(&task);
    if !ctx.run_container(&c.guid, info, tags).await {
        if let Err(e) = ctx
            .bbs
            .complete_task(
                &c.guid,
                &ctx.cell_id,
                true,
                REASON_FAILED_TO_RUN_CONTAINER,
                "",
            )
            .await
        {
            tracing::error!(guid = %c.guid, error = %e, "failed-completing-task");
        }
    }
}

async fn complete(ctx: &Context, c: &Container) {
    let rr = &c.run_result;
    if rr.failed && rr.retryable {
        if let Err(e) = ctx.bbs.reject_task(&c.guid, &rr.failure_reason).await {
            tracing::error!(guid = %c.guid, error = %e, "failed-rejecting-task");
        }
        return;
    }
    let mut result = String::new();
    let result_file = c.tags.get(tags::RESULT_FILE).cloned().unwrap_or_default();
    if !result_file.is_empty() {
        match ctx.fetch_result_file(&c.guid, &result_file).await {
            Ok(r) => result = r,
            Err(e) if !rr.failed => {
                tracing::error!(guid = %c.guid, error = %e, "failed-fetching-result");
                if let Err(e) = ctx
                    .bbs
                    .complete_task(
                        &c.guid,
                        &ctx.cell_id,
                        true,
                        REASON_FAILED_TO_FETCH_RESULT,
                        "",
                    )
                    .await
                {
                    tracing::error!(guid = %c.guid, error = %e, "failed-completing-task");
                }
                return;
            }
            Err(_) => {}
        }
    }
    if let Err(e) = ctx
        .bbs
        .complete_task(
            &c.guid,
            &ctx.cell_id,
            rr.failed,
            &rr.failure_reason,
            &result,
        )
        .await
    {
        tracing::error!(guid = %c.guid, error = %e, "failed-completing-task");
        if e.is(ErrorType::InvalidStateTransition) {
            let _ = ctx
                .bbs
                .complete_task(&c.guid, &ctx.cell_id, true, REASON_INVALID_TRANSITION, "")
                .await;
        }
    }
}
