//! Task completion callbacks: a completed task with a
//! `completion_callback_url` is moved to RESOLVING, its result is POSTed as
//! JSON `TaskCallbackResponse` to the URL, and on an answer other than 503
//! or 504 it is deleted (Diego's taskworkpool). Timeouts and 503/504 are
//! retried up to [`MAX_CALLBACK_RETRIES`] times; any other failure leaves the
//! task RESOLVING for convergence to retry later.

use crate::db::Store;
use crate::events::{Event, Hubs};
use models::{Task, TaskChangedEvent, TaskRemovedEvent};
use serde::Serialize;
use std::sync::Arc;
use tokio::sync::Semaphore;

pub const MAX_CALLBACK_RETRIES: usize = 3;

/// The JSON body of a completion callback (Go's json tags of TaskCallbackResponse).
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct TaskCallbackJson {
    pub task_guid: String,
    pub failed: bool,
    pub failure_reason: String,
    pub result: String,
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub annotation: String,
    pub created_at: i64,
}

impl TaskCallbackJson {
    pub fn from_task(t: &Task) -> Self {
        Self {
            task_guid: t.task_guid.clone(),
            failed: t.failed,
            failure_reason: t.failure_reason.clone(),
            result: t.result.clone(),
            annotation: t
                .task_definition
                .as_ref()
                .map(|d| d.annotation.clone())
                .unwrap_or_default(),
            created_at: t.created_at,
        }
    }
}

pub fn callback_url(t: &Task) -> &str {
    t.task_definition
        .as_ref()
        .map(|d| d.completion_callback_url.as_str())
        .unwrap_or("")
}

/// Runs callbacks on at most `workers` concurrent tasks.
pub struct TaskCompletionPool {
    store: Arc<dyn Store>,
    hubs: Arc<Hubs>,
    client: reqwest::Client,
    permits: Arc<Semaphore>,
}

impl TaskCompletionPool {
    pub fn new(
        store: Arc<dyn Store>,
        hubs: Arc<Hubs>,
        client: reqwest::Client,
        workers: usize,
    ) -> Self {
        Self {
            store,
            hubs,
            client,
            permits: Arc::new(Semaphore::new(workers.max(1))),
        }
    }

    /// Queues the callback for a completed task; returns at once.
    pub fn submit(self: &Arc<Self>, task: Task) {
        let this = self.clone();
        tokio::spawn(async move {
            let Ok(_permit) = this.permits.clone().acquire_owned().await else {
                return;
            };
            this.handle_completed_task(task).await;
        });
    }

    pub async fn handle_completed_task(&self, task: Task) {
        let url = callback_url(&task).to_string();
        if url.is_empty() {
            return;
        }
        let guid = task.task_guid.clone();
        let (before, after) = match self.store.resolving_task(&guid).await {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(task_guid = %guid, error = %e, "marking task as resolving failed");
                return;
            }
        };
        self.hubs.task.emit(Event::TaskChanged(TaskChangedEvent {
            before: Some(before),
            after: Some(after),
        }));
        let body = match serde_json::to_vec(&TaskCallbackJson::from_task(&task)) {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(task_guid = %guid, error = %e, "marshalling task failed");
                return;
            }
        };
        let mut last_status = 0u16;
        for _ in 0..MAX_CALLBACK_RETRIES {
            let resp = self
                .client
                .post(&url)
                .header("Content-Type", "application/json")
                .body(body.clone())
                .send()
                .await;
            match resp {
                Err(e) if e.is_timeout() => continue,
                Err(e) => {
                    tracing::warn!(task_guid = %guid, callback_url = %url, error = %e, "callback request failed");
                    return;
                }
                Ok(r) => {
                    last_status = r.status().as_u16();
                    if last_status != 503 && last_status != 504 {
                        match self.store.delete_task(&guid).await {
                            Ok(deleted) => {
                                self.hubs.task.emit(Event::TaskRemoved(TaskRemovedEvent {
                                    task: Some(deleted),
                                }))
                            }
                            Err(e) => {
                                tracing::warn!(task_guid = %guid, error = %e, "delete task failed")
                            }
                        }
                        return;
                    }
                }
            }
        }
        tracing::info!(task_guid = %guid, status_code = last_status, "callback failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callback_json_omits_empty_annotation() {
        let t = Task {
            task_guid: "g".into(),
            failed: true,
            failure_reason: "boom".into(),
            created_at: 7,
            ..Default::default()
        };
        let v = serde_json::to_value(TaskCallbackJson::from_task(&t)).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"task_guid":"g","failed":true,"failure_reason":"boom","result":"","created_at":7})
        );
    }
}
