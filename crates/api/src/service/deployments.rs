//! Deployments (Cloud Controller's deployment updater): a new revision
//! gets a new web process; its instances come up `max_in_flight` at a
//! time, and each time all of them run and are routable the old web
//! processes give up as many; when the new process has every instance the
//! old ones go. Routes point at both meanwhile, so no request fails.
//!
//! `canary` pauses once the first new instance is routable, until the
//! user continues or cancels. A new instance that crashes holds the
//! deployment where it is (the old instances keep serving), with the
//! crash in its status details. A new deployment supersedes an active
//! one: its new process is then one of the old ones.

use super::{new_guid, new_version, Api};
use crate::clock::now_ns;
use crate::error::{ApiError, ApiResult};
use crate::store::{
    delete, put, AppRec, Change, DeploymentRec, DropletRec, ProcessRec, RevisionRec,
};
use bbs_client::ActualLrpFilter;
use models::actual_lrp::Presence;
use models::actual_lrp_state::RUNNING;
use models::capi::{
    status_reason as reason, CreateDeployment, ProcessSettings, ACTIVE, CANARY, FINALIZED, ROLLING,
    STARTED,
};
use std::sync::Arc;
use std::time::Duration;

impl Api {
    pub async fn deployments(&self, app_guid: &str) -> ApiResult<Vec<DeploymentRec>> {
        Ok(self.repo.of_app::<DeploymentRec>(app_guid).await?)
    }

    pub async fn create_deployment(
        &self,
        req: CreateDeployment,
        settings: Option<ProcessSettings>,
        actor: &str,
    ) -> ApiResult<DeploymentRec> {
        let strategy = req.strategy.clone().unwrap_or_else(|| ROLLING.into());
        if strategy != ROLLING && strategy != CANARY {
            return Err(ApiError::Unprocessable(format!(
                "strategy {strategy:?} is not one of rolling, canary"
            )));
        }
        let max_in_flight = req.options.as_ref().map_or(1, |o| o.max_in_flight);
        if max_in_flight < 1 {
            return Err(ApiError::Unprocessable(
                "max_in_flight must be at least 1".into(),
            ));
        }
        if let Some(s) = &settings {
            super::validate::process_settings(s)?;
        }
        let dep = {
            let _w = self.writes.lock().await;
            let mut app = self.app(&req.relationships.app.data.guid).await?;
            let webs = self.web_processes(&app.guid).await?;
            let current = webs
                .last()
                .cloned()
                .ok_or_else(|| ApiError::Internal(format!("{} has no web process", app.name)))?;
            let mut changes: Vec<Change> = Vec::new();

            // The new process: the current one's settings, changed as asked.
            let now = now_ns();
            let mut new = current.clone();
            new.guid = new_guid();
            new.version = new_version();
            new.created_at = now;
            new.updated_at = now;
            if let Some(s) = &settings {
                if let Some(c) = s.command.clone() {
                    new.command = c;
                }
                if let Some(h) = s.health_check.clone() {
                    new.health_check = h;
                }
                if let Some(m) = s.memory_in_mb {
                    new.memory_mb = m;
                }
                if let Some(d) = s.disk_in_mb {
                    new.disk_mb = d;
                }
            }

            // What it runs.
            let previous_droplet = app.droplet_guid.clone();
            let revision = match &req.revision {
                Some(r) => {
                    let old: RevisionRec = self.owned(&r.guid, "revision").await?;
                    if old.app_guid != app.guid {
                        return Err(ApiError::Unprocessable(format!(
                            "revision {} belongs to another app",
                            r.guid
                        )));
                    }
                    new.command = old.commands.get(&new.kind).cloned().flatten();
                    app.droplet_guid = Some(old.droplet_guid.clone());
                    let (rev, c) = self
                        .revision_with(
                            &app,
                            &old.droplet_guid,
                            old.env.clone(),
                            old.commands.clone(),
                            Some(format!("Rolled back to revision {}.", old.version)),
                        )
                        .await?;
                    changes.extend(c);
                    rev
                }
                None => {
                    let droplet = match &req.droplet {
                        Some(d) => d.guid.clone(),
                        None => app.droplet_guid.clone().ok_or_else(|| {
                            ApiError::Unprocessable(format!(
                                "{} has no droplet to deploy: push its bits (or an image) first",
                                app.name
                            ))
                        })?,
                    };
                    let d: DropletRec = self.owned(&droplet, "droplet").await?;
                    if d.app_guid != app.guid {
                        return Err(ApiError::Unprocessable(format!(
                            "droplet {droplet} belongs to another app"
                        )));
                    }
                    app.droplet_guid = Some(droplet.clone());
                    let mut procs = vec![new.clone()];
                    procs.extend(
                        self.repo
                            .of_app::<ProcessRec>(&app.guid)
                            .await?
                            .into_iter()
                            .filter(|p| p.kind != new.kind),
                    );
                    let (rev, c) = self.revision_for(&app, &droplet, &procs, None).await?;
                    changes.extend(c);
                    rev
                }
            };
            new.revision_guid = Some(revision.guid.clone());
            // Refused before anything changes when the LRP cannot be made.
            self.lrp_for(&app, &new, &revision).await?;

            // An active deployment is superseded; its target stays the target.
            let mut target = current.instances;
            let mut previous_process = Some(current.guid.clone());
            for mut d in self.deployments(&app.guid).await? {
                if d.state == ACTIVE {
                    target = d.instances_wanted;
                    previous_process = d.previous_process_guid.clone();
                    d.state = FINALIZED.into();
                    d.reason = reason::SUPERSEDED.into();
                    d.updated_at = now;
                    changes.push(put(&d));
                }
            }
            if let Some(n) = settings.as_ref().and_then(|s| s.instances) {
                target = n;
            }

            let started = app.state == STARTED;
            let mut dep = DeploymentRec {
                guid: new_guid(),
                app_guid: app.guid.clone(),
                state: ACTIVE.into(),
                reason: reason::DEPLOYING.into(),
                details: String::new(),
                strategy: strategy.clone(),
                max_in_flight,
                droplet_guid: revision.droplet_guid.clone(),
                previous_droplet_guid: previous_droplet,
                revision_guid: revision.guid.clone(),
                revision_version: revision.version,
                process_guid: new.guid.clone(),
                instances_wanted: target,
                previous_process_guid: previous_process,
                continued: false,
                routable: 0,
                created_at: now,
                updated_at: now,
            };
            if !started || target == 0 {
                // Nothing serves yet: the new process takes over at once.
                new.instances = target;
                for old in &webs {
                    changes.push(delete(old));
                }
                dep.state = FINALIZED.into();
                dep.reason = reason::DEPLOYED.into();
            } else {
                new.instances = if strategy == CANARY {
                    1
                } else {
                    max_in_flight.min(target)
                };
            }
            app.state = STARTED.into();
            app.updated_at = now;
            changes.push(put(&new));
            changes.push(put(&app));
            changes.push(put(&dep));
            changes.push(put(&self.event(
                &app,
                "audit.app.deployment.create",
                actor,
                serde_json::json!({
                    "deployment_guid": dep.guid, "strategy": strategy,
                    "revision": revision.version, "droplet_guid": revision.droplet_guid,
                }),
            )));
            self.repo.store.apply(&changes).await?;
            dep
        };
        self.sync().await?;
        Ok(dep)
    }

    /// The changes that end the app's active deployments as `why`
    /// (CANCELED: the previous process gets its instances back and the
    /// new one goes).
    pub(super) async fn finalize_deployments_of(
        &self,
        app_guid: &str,
        why: &str,
    ) -> ApiResult<Vec<Change>> {
        let mut changes = Vec::new();
        for d in self.deployments(app_guid).await? {
            if d.state == ACTIVE {
                changes.extend(self.cancel_changes(d, why).await?);
            }
        }
        Ok(changes)
    }

    async fn cancel_changes(&self, mut d: DeploymentRec, why: &str) -> ApiResult<Vec<Change>> {
        let mut changes = Vec::new();
        let webs = self.web_processes(&d.app_guid).await?;
        let restore = d
            .previous_process_guid
            .as_ref()
            .and_then(|g| webs.iter().find(|p| &p.guid == g))
            .or_else(|| webs.iter().rev().find(|p| p.guid != d.process_guid))
            .cloned();
        if let Some(mut keep) = restore {
            for p in &webs {
                if p.guid != keep.guid {
                    changes.push(delete(p));
                }
            }
            keep.instances = d.instances_wanted;
            keep.updated_at = now_ns();
            changes.push(put(&keep));
            if let Some(mut app) = self.repo.get::<AppRec>(&d.app_guid).await? {
                if let Some(prev) = &d.previous_droplet_guid {
                    app.droplet_guid = Some(prev.clone());
                    changes.push(put(&app));
                }
            }
        }
        d.state = FINALIZED.into();
        d.reason = why.into();
        d.updated_at = now_ns();
        changes.push(put(&d));
        Ok(changes)
    }

    pub async fn cancel_deployment(&self, guid: &str, actor: &str) -> ApiResult<DeploymentRec> {
        let d = {
            let _w = self.writes.lock().await;
            let d: DeploymentRec = self.owned(guid, "deployment").await?;
            if d.state != ACTIVE {
                return Err(ApiError::Unprocessable(format!(
                    "deployment {guid} is {} ({}): nothing to cancel",
                    d.state, d.reason
                )));
            }
            let app = self.app(&d.app_guid).await?;
            let mut changes = self.cancel_changes(d.clone(), reason::CANCELED).await?;
            changes.push(put(&self.event(
                &app,
                "audit.app.deployment.cancel",
                actor,
                serde_json::json!({
                    "deployment_guid": d.guid,
                }),
            )));
            self.repo.store.apply(&changes).await?;
            self.owned::<DeploymentRec>(guid, "deployment").await?
        };
        self.sync().await?;
        Ok(d)
    }

    pub async fn continue_deployment(&self, guid: &str, actor: &str) -> ApiResult<DeploymentRec> {
        let _w = self.writes.lock().await;
        let mut d: DeploymentRec = self.owned(guid, "deployment").await?;
        if d.state != ACTIVE || d.reason != reason::PAUSED {
            return Err(ApiError::Unprocessable(format!(
                "deployment {guid} is not paused ({} {})",
                d.state, d.reason
            )));
        }
        let app = self.app(&d.app_guid).await?;
        d.reason = reason::DEPLOYING.into();
        d.continued = true;
        d.updated_at = now_ns();
        let ev = self.event(
            &app,
            "audit.app.deployment.continue",
            actor,
            serde_json::json!({
                "deployment_guid": d.guid,
            }),
        );
        self.repo.store.apply(&[put(&d), put(&ev)]).await?;
        Ok(d)
    }

    /// How many of `p`'s instances run and are routable, and the latest
    /// crash among them.
    async fn routable_instances(&self, p: &ProcessRec) -> ApiResult<(i32, Option<String>)> {
        let actual = self
            .bbs
            .actual_lrps(&ActualLrpFilter::process(&p.lrp_guid()))
            .await?;
        let mut routable = std::collections::BTreeSet::new();
        let mut crash = None;
        for a in &actual {
            let index = a.actual_lrp_key.as_ref().map_or(-1, |k| k.index);
            if a.presence != Presence::Ordinary as i32 || index >= p.instances {
                continue;
            }
            if a.state == RUNNING && a.routable() != Some(false) {
                routable.insert(index);
            }
            if a.crash_count > 0 && !a.crash_reason.is_empty() {
                crash = Some(format!(
                    "instance {index} crashed {} time(s): {}",
                    a.crash_count, a.crash_reason
                ));
            }
        }
        Ok((routable.len() as i32, crash))
    }

    /// One step of every active deployment.
    pub async fn update_deployments(&self) -> ApiResult<()> {
        let active: Vec<DeploymentRec> = self
            .repo
            .list::<DeploymentRec>(&Default::default())
            .await?
            .into_iter()
            .filter(|d| d.state == ACTIVE)
            .collect();
        let mut changed = false;
        for d in active {
            changed |= self.step(d).await?;
        }
        if changed {
            self.sync().await?;
        }
        Ok(())
    }

    /// Moves one deployment on; whether processes changed.
    async fn step(&self, d: DeploymentRec) -> ApiResult<bool> {
        let Some(new) = self.repo.get::<ProcessRec>(&d.process_guid).await? else {
            return Ok(false);
        };
        let (routable, crash) = self.routable_instances(&new).await?;
        let _w = self.writes.lock().await;
        // Re-read under the lock: a cancel or new push may have come first.
        let mut d: DeploymentRec = self.owned(&d.guid, "deployment").await?;
        if d.state != ACTIVE {
            return Ok(false);
        }
        let Some(mut new) = self.repo.get::<ProcessRec>(&d.process_guid).await? else {
            return Ok(false);
        };
        let app = self.app(&d.app_guid).await?;
        let mut changes = Vec::new();
        let before = (d.routable, d.details.clone(), d.reason.clone());
        d.routable = routable;
        d.details = if routable < new.instances {
            crash.unwrap_or_default()
        } else {
            String::new()
        };
        let mut processes_changed = false;
        if d.reason == reason::DEPLOYING && routable >= new.instances {
            if d.strategy == CANARY && !d.continued {
                d.reason = reason::PAUSED.into();
            } else if new.instances >= d.instances_wanted {
                for old in self.web_processes(&app.guid).await? {
                    if old.guid != new.guid {
                        changes.push(delete(&old));
                    }
                }
                d.state = FINALIZED.into();
                d.reason = reason::DEPLOYED.into();
                changes.push(put(&self.event(
                    &app,
                    "audit.app.deployment.finalized",
                    "diego",
                    serde_json::json!({
                        "deployment_guid": d.guid, "revision": d.revision_version,
                    }),
                )));
                processes_changed = true;
            } else {
                // Retire as many old instances as new ones come up.
                let mut retire = d.max_in_flight;
                for mut old in self.web_processes(&app.guid).await? {
                    if old.guid == new.guid || retire == 0 {
                        continue;
                    }
                    let n = retire.min(old.instances);
                    old.instances -= n;
                    retire -= n;
                    old.updated_at = now_ns();
                    changes.push(if old.instances == 0 {
                        delete(&old)
                    } else {
                        put(&old)
                    });
                }
                new.instances = (new.instances + d.max_in_flight).min(d.instances_wanted);
                new.updated_at = now_ns();
                changes.push(put(&new));
                processes_changed = true;
            }
        }
        if (d.routable, d.details.clone(), d.reason.clone()) != before || !changes.is_empty() {
            d.updated_at = now_ns();
            changes.push(put(&d));
            self.repo.store.apply(&changes).await?;
        }
        Ok(processes_changed)
    }
}

/// Moves active deployments on every `interval`, for ever.
pub async fn deployment_loop(api: Arc<Api>, interval: Duration) {
    loop {
        tokio::time::sleep(interval).await;
        if let Err(e) = api.update_deployments().await {
            tracing::warn!(error = %e, "updating deployments");
        }
    }
}
