//! Tasks: desire (then auction), start, cancel (the rep stops it), fail,
//! reject (back to pending until `max_task_retries`), complete, resolving,
//! delete; completed tasks with a callback URL go to the callback pool.

use super::Deps;
use crate::clients::TaskStartRequest;
use crate::db::TaskFilter;
use crate::events::Event;
use crate::taskcallback::callback_url;
use models::task::State;
use models::{
    BbsError, Task, TaskChangedEvent, TaskCreatedEvent, TaskDefinition, TaskRemovedEvent,
};
use std::sync::Arc;

#[derive(Clone)]
pub struct TaskController {
    deps: Arc<Deps>,
}

impl TaskController {
    pub fn new(deps: Arc<Deps>) -> Self {
        Self { deps }
    }

    fn changed(&self, before: Task, after: Task) {
        self.deps
            .hubs
            .task
            .emit(Event::TaskChanged(TaskChangedEvent {
                before: Some(before),
                after: Some(after),
            }));
    }

    fn submit_callback_if_any(&self, task: &Task) {
        if !callback_url(task).is_empty() && task.state() == State::Completed {
            self.deps.task_completion.submit(task.clone());
        }
    }

    pub async fn tasks(&self, domain: &str, cell_id: &str) -> Result<Vec<Task>, BbsError> {
        self.deps
            .store
            .tasks(&TaskFilter {
                domain: domain.to_string(),
                cell_id: cell_id.to_string(),
            })
            .await
    }

    pub async fn task_by_guid(&self, task_guid: &str) -> Result<Task, BbsError> {
        self.deps.store.task_by_guid(task_guid).await
    }

    pub async fn desire(
        &self,
        trace_id: &str,
        def: &TaskDefinition,
        task_guid: &str,
        domain: &str,
    ) -> Result<(), BbsError> {
        let d = &self.deps;
        let task = d.store.desire_task(def, task_guid, domain).await?;
        d.hubs
            .task
            .emit(Event::TaskCreated(TaskCreatedEvent { task: Some(task) }));
        let start = TaskStartRequest::from_definition(task_guid, domain, def);
        if let Err(e) = d
            .auctioneer
            .request_task_auctions(trace_id, vec![start])
            .await
        {
            tracing::warn!(task_guid, error = %e, "failed requesting task auction");
        }
        Ok(())
    }

    pub async fn start(&self, task_guid: &str, cell_id: &str) -> Result<bool, BbsError> {
        let (before, after, should_start) = self.deps.store.start_task(task_guid, cell_id).await?;
        if should_start {
            self.changed(before, after);
        }
        Ok(should_start)
    }

    pub async fn cancel(&self, trace_id: &str, task_guid: &str) -> Result<(), BbsError> {
        let d = &self.deps;
        let (before, after, cell_id) = d.store.cancel_task(task_guid).await?;
        self.changed(before, after.clone());
        self.submit_callback_if_any(&after);
        if cell_id.is_empty() {
            return Ok(());
        }
        let cell = match d.cells.cell_by_id(&cell_id).await {
            Ok(c) => c,
            Err(e) => {
                tracing::info!(cell_id, error = %e, "failed fetching cell presence");
                return Ok(());
            }
        };
        let cancelled = match crate::clients::rep_of(d.rep.as_ref(), &cell, trace_id) {
            Ok(c) => c.cancel_task(task_guid).await,
            Err(e) => Err(e),
        };
        if let Err(e) = cancelled {
            tracing::warn!(task_guid, error = %e, "failed rep cancel task");
        }
        Ok(())
    }

    pub async fn fail(&self, task_guid: &str, failure_reason: &str) -> Result<(), BbsError> {
        let (before, after) = self.deps.store.fail_task(task_guid, failure_reason).await?;
        self.changed(before, after.clone());
        self.submit_callback_if_any(&after);
        Ok(())
    }

    pub async fn reject(&self, task_guid: &str, rejection_reason: &str) -> Result<(), BbsError> {
        let d = &self.deps;
        d.store.task_by_guid(task_guid).await?;
        let (before, after) = d
            .store
            .reject_task(task_guid, rejection_reason, d.max_task_retries)
            .await?;
        self.changed(before, after.clone());
        self.submit_callback_if_any(&after);
        Ok(())
    }

    pub async fn complete(
        &self,
        task_guid: &str,
        cell_id: &str,
        failed: bool,
        failure_reason: &str,
        result: &str,
    ) -> Result<(), BbsError> {
        let (before, after) = self
            .deps
            .store
            .complete_task(task_guid, cell_id, failed, failure_reason, result)
            .await?;
        self.changed(before, after.clone());
        self.submit_callback_if_any(&after);
        Ok(())
    }

    pub async fn resolving(&self, task_guid: &str) -> Result<(), BbsError> {
        let (before, after) = self.deps.store.resolving_task(task_guid).await?;
        self.changed(before, after);
        Ok(())
    }

    pub async fn delete(&self, task_guid: &str) -> Result<(), BbsError> {
        let task = self.deps.store.delete_task(task_guid).await?;
        self.deps
            .hubs
            .task
            .emit(Event::TaskRemoved(TaskRemovedEvent { task: Some(task) }));
        Ok(())
    }
}
