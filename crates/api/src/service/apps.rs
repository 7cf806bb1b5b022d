//! Apps: create (with their web process, in one go), rename, start,
//! stop, restart, environment variables, delete.

use super::{new_guid, new_version, validate, Api};
use crate::blobs::BlobKind;
use crate::clock::now_ns;
use crate::error::{ApiError, ApiResult};
use crate::store::{delete as del, put, AppRec, Change, DropletRec, Kind, PackageRec, ProcessRec};
use models::capi::{
    health_check_type, CreateApp, EnvVars, HealthCheck, Lifecycle, LifecycleData, UpdateApp,
    BUILDPACK, DOCKER, STARTED, STOPPED, WEB,
};
use std::collections::BTreeMap;

impl Api {
    fn default_routes(&self, name: &str) -> Vec<String> {
        vec![format!("{name}.{}", self.settings.app_domain)]
    }

    fn lifecycle(&self, l: Option<Lifecycle>) -> ApiResult<Lifecycle> {
        let mut l = l.unwrap_or_else(|| Lifecycle {
            kind: BUILDPACK.into(),
            data: LifecycleData::default(),
        });
        match l.kind.as_str() {
            BUILDPACK => {
                if l.data.stack.is_empty() {
                    l.data.stack = self.settings.default_stack.clone();
                }
            }
            DOCKER => l.data = LifecycleData::default(),
            other => {
                return Err(ApiError::Unprocessable(format!(
                    "lifecycle type {other:?} is not one of buildpack, docker"
                )))
            }
        }
        Ok(l)
    }

    pub async fn create_app(&self, req: CreateApp, actor: &str) -> ApiResult<AppRec> {
        validate::app_name(&req.name)?;
        for k in req.environment_variables.keys() {
            validate::env_name(k)?;
        }
        if let Some(v) = req.environment_variables.get(super::drains::DRAIN_VAR) {
            super::drains::validate(v)?;
        }
        let routes = req
            .routes
            .clone()
            .unwrap_or_else(|| self.default_routes(&req.name));
        for r in &routes {
            validate::hostname(r)?;
        }
        let settings = req.process.clone().unwrap_or_default();
        validate::process_settings(&settings)?;
        let lifecycle = self.lifecycle(req.lifecycle)?;

        let _w = self.writes.lock().await;
        if self.app_by_name(&req.name).await?.is_some() {
            return Err(ApiError::Unprocessable(format!(
                "an app named {} exists already (names are unique)",
                req.name
            )));
        }
        let now = now_ns();
        let app = AppRec {
            guid: new_guid(),
            name: req.name.clone(),
            state: STOPPED.into(),
            lifecycle,
            env: req.environment_variables,
            routes,
            droplet_guid: None,
            created_at: now,
            updated_at: now,
        };
        let web = ProcessRec {
            guid: new_guid(),
            app_guid: app.guid.clone(),
            kind: WEB.into(),
            version: new_version(),
            instances: settings.instances.unwrap_or(1),
            memory_mb: settings
                .memory_in_mb
                .unwrap_or(self.settings.default_memory_mb),
            disk_mb: settings.disk_in_mb.unwrap_or(self.settings.default_disk_mb),
            command: settings.command.clone().flatten(),
            health_check: settings.health_check.clone().unwrap_or(HealthCheck {
                kind: health_check_type::PORT.into(),
                ..Default::default()
            }),
            revision_guid: None,
            created_at: now,
            updated_at: now,
        };
        let event = self.event(
            &app,
            "audit.app.create",
            actor,
            serde_json::json!({
                "name": app.name, "lifecycle": app.lifecycle.kind,
            }),
        );
        self.repo
            .store
            .apply(&[put(&app), put(&web), put(&event)])
            .await
            .map_err(|e| match e {
                crate::store::StoreError::Exists(_) => ApiError::Unprocessable(format!(
                    "an app named {} exists already (names are unique)",
                    req.name
                )),
                e => e.into(),
            })?;
        Ok(app)
    }

    pub async fn update_app(&self, guid: &str, req: UpdateApp, actor: &str) -> ApiResult<AppRec> {
        if let Some(n) = &req.name {
            validate::app_name(n)?;
        }
        if let Some(rs) = &req.routes {
            rs.iter().try_for_each(|r| validate::hostname(r))?;
        }
        // Cloud Controller's audit hash: what the request set.
        let request = match serde_json::to_value(&req) {
            Ok(serde_json::Value::Object(m)) => {
                serde_json::Value::Object(m.into_iter().filter(|(_, v)| !v.is_null()).collect())
            }
            _ => serde_json::json!({}),
        };
        let _w = self.writes.lock().await;
        let mut app = self.app(guid).await?;
        if let Some(n) = req.name {
            if n != app.name && self.app_by_name(&n).await?.is_some() {
                return Err(ApiError::Unprocessable(format!(
                    "an app named {n} exists already (names are unique)"
                )));
            }
            app.name = n;
        }
        if let Some(rs) = req.routes {
            app.routes = rs;
        }
        if let Some(l) = req.lifecycle {
            app.lifecycle = self.lifecycle(Some(l))?;
        }
        app.updated_at = now_ns();
        let event = self.event(
            &app,
            "audit.app.update",
            actor,
            serde_json::json!({ "request": request }),
        );
        self.repo.store.apply(&[put(&app), put(&event)]).await?;
        drop(_w);
        self.sync().await?;
        Ok(app)
    }

    /// STARTED: every process runs its revision (made from the current
    /// droplet, environment and commands if they changed).
    pub async fn start_app(&self, guid: &str, actor: &str) -> ApiResult<AppRec> {
        let app = {
            let _w = self.writes.lock().await;
            let mut app = self.app(guid).await?;
            let droplet_guid = app.droplet_guid.clone().ok_or_else(|| {
                ApiError::Unprocessable(format!(
                    "{} has no droplet to start: push its bits (or an image) first",
                    app.name
                ))
            })?;
            let processes = self.repo.of_app::<ProcessRec>(guid).await?;
            let (revision, mut changes) = self
                .revision_for(&app, &droplet_guid, &processes, None)
                .await?;
            for p in &processes {
                // Refused before anything changes when the LRP cannot be made.
                self.lrp_for(&app, p, &revision).await?;
            }
            for mut p in processes {
                if p.revision_guid.as_deref() != Some(revision.guid.as_str())
                    || app.state != STARTED
                {
                    p.revision_guid = Some(revision.guid.clone());
                    p.version = new_version();
                    p.updated_at = now_ns();
                    changes.push(put(&p));
                }
            }
            app.state = STARTED.into();
            app.updated_at = now_ns();
            changes.push(put(&app));
            changes.push(put(&self.event(
                &app,
                "audit.app.start",
                actor,
                serde_json::json!({}),
            )));
            self.repo.store.apply(&changes).await?;
            app
        };
        self.sync().await?;
        Ok(app)
    }

    pub async fn stop_app(&self, guid: &str, actor: &str) -> ApiResult<AppRec> {
        let app = {
            let _w = self.writes.lock().await;
            let mut app = self.app(guid).await?;
            app.state = STOPPED.into();
            app.updated_at = now_ns();
            let mut changes = vec![put(&app)];
            changes.push(put(&self.event(
                &app,
                "audit.app.stop",
                actor,
                serde_json::json!({}),
            )));
            changes.extend(self.finalize_deployments_of(&app.guid, "CANCELED").await?);
            self.repo.store.apply(&changes).await?;
            app
        };
        self.sync().await?;
        Ok(app)
    }

    /// Stop, then start: every instance replaced at once (`--strategy
    /// rolling` restarts through a deployment instead).
    pub async fn restart_app(&self, guid: &str, actor: &str) -> ApiResult<AppRec> {
        self.stop_app(guid, actor).await?;
        self.start_app(guid, actor).await
    }

    pub async fn env(&self, guid: &str) -> ApiResult<BTreeMap<String, String>> {
        Ok(self.app(guid).await?.env)
    }

    /// Sets and unsets variables; running instances keep theirs until a
    /// restart, restage or deployment (as on Cloud Foundry).
    pub async fn patch_env(&self, guid: &str, req: EnvVars, actor: &str) -> ApiResult<AppRec> {
        for k in req.var.keys() {
            validate::env_name(k)?;
        }
        if let Some(Some(v)) = req.var.get(super::drains::DRAIN_VAR) {
            super::drains::validate(v)?;
        }
        let _w = self.writes.lock().await;
        let mut app = self.app(guid).await?;
        for (k, v) in &req.var {
            match v {
                Some(v) => {
                    app.env.insert(k.clone(), v.clone());
                }
                None => {
                    app.env.remove(k);
                }
            }
        }
        app.updated_at = now_ns();
        let keys: Vec<&String> = req.var.keys().collect();
        let event = self.event(
            &app,
            "audit.app.update",
            actor,
            serde_json::json!({
                "environment_variables": keys,
                "request": {"environment_variables": super::app_log::PRIVATE_DATA_HIDDEN},
            }),
        );
        self.repo.store.apply(&[put(&app), put(&event)]).await?;
        Ok(app)
    }

    pub async fn set_current_droplet(
        &self,
        guid: &str,
        droplet: &str,
        actor: &str,
    ) -> ApiResult<AppRec> {
        let _w = self.writes.lock().await;
        let mut app = self.app(guid).await?;
        let d: DropletRec = self.owned(droplet, "droplet").await?;
        if d.app_guid != app.guid {
            return Err(ApiError::Unprocessable(format!(
                "droplet {droplet} belongs to another app"
            )));
        }
        app.droplet_guid = Some(d.guid.clone());
        app.updated_at = now_ns();
        let event = self.event(
            &app,
            "audit.app.droplet.mapped",
            actor,
            serde_json::json!({
                "droplet_guid": d.guid,
                "request": {"droplet_guid": d.guid},
            }),
        );
        self.repo.store.apply(&[put(&app), put(&event)]).await?;
        Ok(app)
    }

    /// Removes the app, its LRPs, resources and bits (its audit events
    /// stay).
    pub async fn delete_app(&self, guid: &str, actor: &str) -> ApiResult<()> {
        {
            let _w = self.writes.lock().await;
            let app = self.app(guid).await?;
            let packages = self.repo.of_app::<PackageRec>(guid).await?;
            let droplets = self.repo.of_app::<DropletRec>(guid).await?;
            let mut changes: Vec<Change> = [
                Kind::Packages,
                Kind::Builds,
                Kind::Droplets,
                Kind::Revisions,
                Kind::Processes,
                Kind::Deployments,
                Kind::Tasks,
            ]
            .into_iter()
            .map(|k| Change::DeleteApp(k, guid.to_string()))
            .collect();
            changes.push(del(&app));
            changes.push(put(&self.event(
                &app,
                "audit.app.delete-request",
                actor,
                serde_json::json!({}),
            )));
            self.repo.store.apply(&changes).await?;
            for p in packages {
                self.blobs.remove(BlobKind::Package, &p.guid).await;
            }
            for d in droplets {
                self.blobs.remove(BlobKind::Droplet, &d.guid).await;
            }
        }
        self.sync().await?;
        Ok(())
    }
}
