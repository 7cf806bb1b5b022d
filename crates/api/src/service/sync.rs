//! Bringing the BBS's LRPs in line with the apps (Cloud Controller's
//! `diego sync`): every process of a started app with a revision has its
//! LRP, with its instance count and routes; every other LRP in the
//! `cf-apps` domain goes. Run after each change and periodically, so an
//! LRP removed behind the API's back comes back.

use super::Api;
use crate::error::{ApiError, ApiResult};
use crate::lrp::{desired_lrp, LrpInput, DOMAIN};
use crate::store::{AppRec, DropletRec, Filter, ProcessRec, RevisionRec};
use bbs_client::DesiredLrpFilter;
use models::capi::STARTED;
use models::{DesiredLrp, DesiredLrpUpdate};
use std::collections::BTreeMap;

/// What a sync did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SyncReport {
    pub desired: usize,
    pub updated: usize,
    pub replaced: usize,
    pub removed: usize,
    /// Processes whose LRP could not be made (and why).
    pub problems: Vec<String>,
}

impl Api {
    /// The LRPs the apps want, by process guid.
    async fn wanted(&self, problems: &mut Vec<String>) -> ApiResult<BTreeMap<String, DesiredLrp>> {
        let apps: BTreeMap<String, AppRec> = self
            .repo
            .list::<AppRec>(&Filter::default())
            .await?
            .into_iter()
            .filter(|a| a.state == STARTED)
            .map(|a| (a.guid.clone(), a))
            .collect();
        let processes = self.repo.list::<ProcessRec>(&Filter::default()).await?;
        let mut wanted = BTreeMap::new();
        for p in processes {
            let Some(app) = apps.get(&p.app_guid) else {
                continue;
            };
            let Some(rev_guid) = &p.revision_guid else {
                continue;
            };
            let Some(rev) = self.repo.get::<RevisionRec>(rev_guid).await? else {
                problems.push(format!("process {}: revision {rev_guid} is gone", p.guid));
                continue;
            };
            match self.lrp_for(app, &p, &rev).await {
                Ok(lrp) => {
                    wanted.insert(lrp.process_guid.clone(), lrp);
                }
                Err(e) => problems.push(format!("{} ({}): {e}", app.name, p.kind)),
            }
        }
        Ok(wanted)
    }

    /// The LRP of process `p` of `app` running revision `rev`.
    pub async fn lrp_for(
        &self,
        app: &AppRec,
        p: &ProcessRec,
        rev: &RevisionRec,
    ) -> ApiResult<DesiredLrp> {
        let droplet = self
            .repo
            .get::<DropletRec>(&rev.droplet_guid)
            .await?
            .ok_or_else(|| ApiError::Internal(format!("droplet {} is gone", rev.droplet_guid)))?;
        let input = LrpInput {
            app,
            process: p,
            revision: rev,
            droplet: &droplet,
            droplet_url: self.droplet_url(&droplet),
            lifecycle_bundle_url: self.staging.lifecycle_bundle_url(),
            facts: recipes::AppFacts {
                process_guid: p.guid.clone(),
                process_type: p.kind.clone(),
                version: rev.guid.clone(),
                ..self.app_facts(app, Some(p))
            },
        };
        desired_lrp(&input).map_err(ApiError::Unprocessable)
    }

    /// One sync; the first BBS error ends it.
    pub async fn sync(&self) -> ApiResult<SyncReport> {
        let _s = self.sync_lock.lock().await;
        let mut report = SyncReport::default();
        self.bbs
            .upsert_domain(DOMAIN, self.settings.domain_ttl)
            .await?;
        let wanted = self.wanted(&mut report.problems).await?;
        let filter = DesiredLrpFilter {
            domain: DOMAIN.into(),
            ..Default::default()
        };
        let existing: BTreeMap<String, models::DesiredLrpSchedulingInfo> = self
            .bbs
            .desired_lrp_scheduling_infos(&filter)
            .await?
            .into_iter()
            .filter_map(|s| s.desired_lrp_key.clone().map(|k| (k.process_guid, s)))
            .collect();
        for (guid, lrp) in &wanted {
            match existing.get(guid) {
                None => {
                    self.bbs.desire_lrp(lrp.clone()).await?;
                    report.desired += 1;
                }
                Some(have) if have.annotation != lrp.annotation => {
                    // Same guid, other definition (e.g. the API's URL
                    // changed): replace it.
                    self.bbs.remove_desired_lrp(guid).await?;
                    self.bbs.desire_lrp(lrp.clone()).await?;
                    report.replaced += 1;
                }
                Some(have) => {
                    let routes_differ = have.routes.as_ref().map(|r| &r.routes)
                        != lrp.routes.as_ref().map(|r| &r.routes);
                    if have.instances != lrp.instances || routes_differ {
                        let update = DesiredLrpUpdate {
                            optional_instances: Some(
                                models::desired_lrp_update::OptionalInstances::Instances(
                                    lrp.instances,
                                ),
                            ),
                            routes: lrp.routes.clone(),
                            ..Default::default()
                        };
                        self.bbs.update_desired_lrp(guid, update).await?;
                        report.updated += 1;
                    }
                }
            }
        }
        for guid in existing.keys() {
            if !wanted.contains_key(guid) {
                match self.bbs.remove_desired_lrp(guid).await {
                    Ok(()) => report.removed += 1,
                    Err(e) if e.is(models::ErrorType::ResourceNotFound) => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
        for p in &report.problems {
            tracing::warn!(problem = %p, "sync");
        }
        Ok(report)
    }
}

/// Runs a sync, then finishes builds whose callback never came, every
/// `interval` for ever.
pub async fn sync_loop(api: std::sync::Arc<Api>, interval: std::time::Duration) {
    loop {
        tokio::time::sleep(interval).await;
        match api.sync().await {
            Ok(r) if r != SyncReport::default() => tracing::info!(?r, "sync"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "sync failed"),
        }
        if let Err(e) = api.reconcile_builds(super::STAGING_GRACE).await {
            tracing::warn!(error = %e, "build reconciliation failed");
        }
    }
}
