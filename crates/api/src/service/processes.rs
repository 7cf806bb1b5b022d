//! Processes: settings and scaling. A new instance count changes the LRP
//! in place; new memory, disk, command or health check restart the
//! process (a new LRP replaces the old one), as on Cloud Foundry.

use super::{new_version, validate, Api};
use crate::clock::now_ns;
use crate::error::{ApiError, ApiResult};
use crate::store::{put, AppRec, Change, DeploymentRec, ProcessRec};
use models::capi::{ProcessSettings, Scale, ACTIVE, STARTED};

impl Api {
    async fn refuse_during_deployment(&self, app: &AppRec) -> ApiResult<()> {
        let active = self
            .repo
            .of_app::<DeploymentRec>(&app.guid)
            .await?
            .into_iter()
            .any(|d| d.state == ACTIVE);
        if active {
            return Err(ApiError::Unprocessable(format!(
                "{} has a deployment in flight: wait for it, or cancel it (`diego \
                 cancel-deployment {}`), before changing its processes",
                app.name, app.name
            )));
        }
        Ok(())
    }

    /// The change that restarts `p` with what it has now (new revision if
    /// needed, new version), for a started app.
    async fn restart_changes(&self, app: &AppRec, p: &mut ProcessRec) -> ApiResult<Vec<Change>> {
        let mut changes = Vec::new();
        if app.state == STARTED {
            if let Some(droplet) = &app.droplet_guid {
                let mut all = self.repo.of_app::<ProcessRec>(&app.guid).await?;
                for q in all.iter_mut().filter(|q| q.guid == p.guid) {
                    *q = p.clone();
                }
                let (rev, c) = self.revision_for(app, droplet, &all, None).await?;
                changes.extend(c);
                p.revision_guid = Some(rev.guid);
            }
            p.version = new_version();
        }
        Ok(changes)
    }

    pub async fn update_process(
        &self,
        guid: &str,
        req: ProcessSettings,
        actor: &str,
    ) -> ApiResult<ProcessRec> {
        validate::process_settings(&req)?;
        let p = {
            let _w = self.writes.lock().await;
            let mut p = self.process(guid).await?;
            let app = self.app(&p.app_guid).await?;
            self.refuse_during_deployment(&app).await?;
            let before = p.clone();
            if let Some(c) = req.command.clone() {
                p.command = c;
            }
            if let Some(h) = req.health_check.clone() {
                p.health_check = h;
            }
            if let Some(n) = req.instances {
                p.instances = n;
            }
            if let Some(m) = req.memory_in_mb {
                p.memory_mb = m;
            }
            if let Some(d) = req.disk_in_mb {
                p.disk_mb = d;
            }
            let restart = p.command != before.command
                || p.health_check != before.health_check
                || p.memory_mb != before.memory_mb
                || p.disk_mb != before.disk_mb;
            let mut changes = if restart {
                self.restart_changes(&app, &mut p).await?
            } else {
                vec![]
            };
            p.updated_at = now_ns();
            changes.push(put(&p));
            changes.push(put(&self.event(
                &app,
                "audit.app.process.update",
                actor,
                serde_json::json!({
                    "process_guid": p.guid, "type": p.kind, "request": req,
                }),
            )));
            self.repo.store.apply(&changes).await?;
            p
        };
        self.sync().await?;
        Ok(p)
    }

    pub async fn scale_process(
        &self,
        guid: &str,
        req: Scale,
        actor: &str,
    ) -> ApiResult<ProcessRec> {
        let settings = ProcessSettings {
            instances: req.instances,
            memory_in_mb: req.memory_in_mb,
            disk_in_mb: req.disk_in_mb,
            ..Default::default()
        };
        let p = self.update_process(guid, settings, actor).await?;
        let app = self.app(&p.app_guid).await?;
        let ev = self.event(
            &app,
            "audit.app.process.scale",
            actor,
            serde_json::json!({
                "process_guid": p.guid, "type": p.kind, "request": req,
            }),
        );
        self.repo.put(&ev).await?;
        Ok(p)
    }
}
