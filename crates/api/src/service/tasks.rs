//! One-off tasks of an app (`diego run-task`): run on the BBS as Cloud
//! Controller runs them (domain `cf-tasks`, the app's droplet, a
//! completion callback to this API), their outcome kept here.

use super::{new_guid, Api};
use crate::clock::now_ns;
use crate::error::{ApiError, ApiResult};
use crate::lrp::{APP_DIR, USER};
use crate::store::{put, DropletRec, TaskRec};
use models::capi::{task_state, CreateTask};
use models::{
    Action, DownloadAction, EnvironmentVariable, RunAction, SerialAction, TaskDefinition,
};

pub const TASK_DOMAIN: &str = "cf-tasks";

/// What the BBS posts when a task completes (Diego's
/// `TaskCallbackResponse`).
#[derive(Debug, Clone, serde::Deserialize)]
pub struct TaskCallback {
    pub task_guid: String,
    pub failed: bool,
    #[serde(default)]
    pub failure_reason: String,
}

impl Api {
    pub async fn create_task(
        &self,
        app_guid: &str,
        req: CreateTask,
        actor: &str,
    ) -> ApiResult<TaskRec> {
        if req.command.trim().is_empty() {
            return Err(ApiError::Unprocessable("a task needs a command".into()));
        }
        let (task, definition) = {
            let _w = self.writes.lock().await;
            let app = self.app(app_guid).await?;
            let droplet_guid = app.droplet_guid.clone().ok_or_else(|| {
                ApiError::Unprocessable(format!("{} has no droplet to run a task on", app.name))
            })?;
            let droplet: DropletRec = self.owned(&droplet_guid, "droplet").await?;
            let sequence = self
                .repo
                .of_app::<TaskRec>(app_guid)
                .await?
                .iter()
                .map(|t| t.sequence_id)
                .max()
                .unwrap_or(0)
                + 1;
            let guid = new_guid();
            let task = TaskRec {
                guid: guid.clone(),
                app_guid: app.guid.clone(),
                name: req.name.clone().unwrap_or_else(|| guid[..8].to_string()),
                command: req.command.clone(),
                state: task_state::RUNNING.into(),
                sequence_id: sequence,
                memory_mb: req.memory_in_mb.unwrap_or(self.settings.default_memory_mb),
                disk_mb: req.disk_in_mb.unwrap_or(self.settings.default_disk_mb),
                failure_reason: None,
                droplet_guid: droplet.guid.clone(),
                created_at: now_ns(),
            };
            super::validate::megabytes("memory", task.memory_mb)?;
            super::validate::megabytes("disk", task.disk_mb)?;
            let definition = self.task_definition(&app, &task, &droplet);
            let ev = self.event(
                &app,
                "audit.app.task.create",
                actor,
                serde_json::json!({
                    "task_guid": task.guid, "name": task.name,
                }),
            );
            self.repo.store.apply(&[put(&task), put(&ev)]).await?;
            (task, definition)
        };
        if let Err(e) = self
            .bbs
            .desire_task(&task.guid, TASK_DOMAIN, Some(definition))
            .await
        {
            let mut failed = task.clone();
            failed.state = task_state::FAILED.into();
            failed.failure_reason = Some(format!("the BBS refused it: {e}"));
            self.repo.put(&failed).await?;
            return Err(e.into());
        }
        Ok(task)
    }

    fn task_definition(
        &self,
        app: &crate::store::AppRec,
        task: &TaskRec,
        droplet: &DropletRec,
    ) -> TaskDefinition {
        let env: Vec<EnvironmentVariable> = app
            .env
            .iter()
            .map(|(k, v)| EnvironmentVariable {
                name: k.clone(),
                value: v.clone(),
            })
            .collect();
        let log_source = format!("APP/TASK/{}", task.name);
        if droplet.staged() {
            return self.staged_task_definition(app, task, droplet, log_source);
        }
        let (root_fs, user, dir, mut actions) = match &droplet.image {
            Some(image) => (format!("docker://{image}"), "root", "/", vec![]),
            None => (
                format!("preloaded:{}", droplet.stack),
                USER,
                APP_DIR,
                vec![Action {
                    download_action: Some(DownloadAction {
                        artifact: "droplet".into(),
                        from: self.droplet_url(droplet),
                        to: APP_DIR.into(),
                        cache_key: format!("droplets-{}", droplet.guid),
                        user: USER.into(),
                        checksum_algorithm: droplet.sha256.as_ref().map_or("", |_| "sha256").into(),
                        checksum_value: droplet.sha256.clone().unwrap_or_default(),
                        ..Default::default()
                    }),
                    ..Default::default()
                }],
            ),
        };
        actions.push(Action {
            run_action: Some(RunAction {
                path: "sh".into(),
                args: vec!["-c".into(), task.command.clone()],
                dir: dir.into(),
                user: user.into(),
                env,
                log_source: log_source.clone(),
                ..Default::default()
            }),
            ..Default::default()
        });
        TaskDefinition {
            root_fs,
            action: Some(Action {
                serial_action: Some(SerialAction {
                    actions,
                    log_source: String::new(),
                }),
                ..Default::default()
            }),
            memory_mb: task.memory_mb,
            disk_mb: task.disk_mb,
            log_guid: app.guid.clone(),
            log_source,
            legacy_download_user: USER.into(),
            completion_callback_url: format!(
                "{}/internal/v3/tasks/{}/completed",
                self.settings.external_url, task.guid
            ),
            ..Default::default()
        }
    }

    /// A task on a staged droplet, as Cloud Controller's task recipe:
    /// the droplet in /home/vcap, the command run by the launcher with
    /// the app's environment.
    fn staged_task_definition(
        &self,
        app: &crate::store::AppRec,
        task: &TaskRec,
        droplet: &DropletRec,
        log_source: String,
    ) -> TaskDefinition {
        use recipes::{APP_USER, LIFECYCLE_DIR};
        let facts = recipes::AppFacts {
            memory_mb: task.memory_mb,
            disk_mb: task.disk_mb,
            ..self.app_facts(app, None)
        };
        let user_env: Vec<(String, String)> = app
            .env
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let download = Action {
            download_action: Some(DownloadAction {
                artifact: "droplet".into(),
                from: self.droplet_url(droplet),
                to: ".".into(),
                cache_key: format!("droplets-{}", droplet.guid),
                user: APP_USER.into(),
                checksum_algorithm: droplet.sha256.as_ref().map_or("", |_| "sha256").into(),
                checksum_value: droplet.sha256.clone().unwrap_or_default(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let run = Action {
            run_action: Some(RunAction {
                path: format!("{LIFECYCLE_DIR}/launcher"),
                args: vec![
                    "app".into(),
                    task.command.clone(),
                    droplet.execution_metadata.clone(),
                ],
                user: APP_USER.into(),
                env: recipes::env::running_environment(&facts, 8080, "", &user_env),
                log_source: log_source.clone(),
                ..Default::default()
            }),
            ..Default::default()
        };
        TaskDefinition {
            root_fs: format!("preloaded:{}", droplet.stack),
            action: Some(Action {
                serial_action: Some(SerialAction {
                    actions: vec![download, run],
                    log_source: String::new(),
                }),
                ..Default::default()
            }),
            memory_mb: task.memory_mb,
            disk_mb: task.disk_mb,
            log_guid: app.guid.clone(),
            log_source,
            legacy_download_user: APP_USER.into(),
            cached_dependencies: vec![models::CachedDependency {
                from: self.staging.lifecycle_bundle_url(),
                to: LIFECYCLE_DIR.into(),
                cache_key: format!("buildpack-{}-lifecycle", droplet.stack),
                ..Default::default()
            }],
            completion_callback_url: format!(
                "{}/internal/v3/tasks/{}/completed",
                self.settings.external_url, task.guid
            ),
            ..Default::default()
        }
    }

    /// The BBS says the task finished.
    pub async fn task_completed(&self, cb: TaskCallback) -> ApiResult<()> {
        let _w = self.writes.lock().await;
        let mut task: TaskRec = self.owned(&cb.task_guid, "task").await?;
        task.state = if cb.failed {
            task_state::FAILED
        } else {
            task_state::SUCCEEDED
        }
        .into();
        task.failure_reason = cb.failed.then_some(cb.failure_reason);
        let app = self.app(&task.app_guid).await?;
        let ev = self.event(
            &app,
            "audit.app.task.completed",
            "diego",
            serde_json::json!({
                "task_guid": task.guid, "name": task.name, "state": task.state,
                "failure_reason": task.failure_reason,
            }),
        );
        self.repo.store.apply(&[put(&task), put(&ev)]).await?;
        Ok(())
    }

    pub async fn tasks(&self, app_guid: &str) -> ApiResult<Vec<TaskRec>> {
        Ok(self.repo.of_app::<TaskRec>(app_guid).await?)
    }
}
