//! The active BBS's LRP cache: a [`Store`] in front of the SQL store that
//! keeps every actual LRP and every desired LRP's scheduling and routing
//! info in memory, and answers the bulk reads (a cell's actual LRPs, all
//! scheduling infos, routing infos) and the LRP convergence pass from
//! memory instead of reading and decrypting rows each time.
//!
//! Why this is safe: only the BBS that holds the `bbs` lock serves the API
//! and runs convergence, and every LRP write goes through it, so after one
//! full read at start the cache sees every change. Each write on a
//! process guid holds that guid's stripe lock from the database
//! transaction until the cache is updated, so the cache applies the writes
//! of one LRP in their commit order. If the cache cannot follow a write
//! (the re-read after it fails) it is dropped: every read goes to the
//! database from then on. Tasks and full desired LRPs are not cached.

mod state;

use crate::db::lrp_convergence_rules::{apply_rules, ConvergenceRow};
use crate::db::sql::lrp_convergence::attach_scheduling_infos;
use crate::db::sql::{self, engine};
use crate::db::{
    ActualLrpCounts, ActualLrpFilter, CellSet, ConvergenceResult, CrashOutcome, DbResult,
    DesiredLrpFilter, EncodedAnswer, KeyWithSchedulingInfo, RunningInfo, Store,
    TaskConvergenceResult, TaskFilter,
};
use async_trait::async_trait;
use models::actual_lrp::Presence;
use models::{
    ActualLrp, ActualLrpInstanceKey, ActualLrpKey, DesiredLrp, DesiredLrpSchedulingInfo,
    DesiredLrpUpdate, Task, TaskDefinition,
};
use state::{actual_key, encode_scheduling_infos, CacheState, DesiredEntry};
use std::collections::BTreeSet;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

const STRIPES: usize = 256;

pub struct CachedStore {
    inner: Arc<dyn Store>,
    state: RwLock<CacheState>,
    stripes: Box<[tokio::sync::Mutex<()>]>,
    /// Set when the cache missed a write: reads go to `inner` from then on.
    dropped: AtomicBool,
}

impl CachedStore {
    /// Reads every actual LRP and desired LRP scheduling/routing info once.
    pub async fn load(inner: Arc<dyn Store>) -> DbResult<CachedStore> {
        let state = read_all(&inner).await?;
        Ok(CachedStore {
            inner,
            state: RwLock::new(state),
            stripes: (0..STRIPES).map(|_| tokio::sync::Mutex::new(())).collect(),
            dropped: AtomicBool::new(false),
        })
    }

    /// Reads everything again (after the database was changed behind the
    /// cache's back: tools, tests); a dropped cache is live again.
    pub async fn reload(&self) -> DbResult<()> {
        let state = read_all(&self.inner).await?;
        *self.write() = state;
        self.dropped.store(false, Ordering::Release);
        Ok(())
    }

    /// The store behind the cache.
    pub fn inner(&self) -> &Arc<dyn Store> {
        &self.inner
    }

    fn live(&self) -> bool {
        !self.dropped.load(Ordering::Acquire)
    }

    async fn stripe(&self, guid: &str) -> tokio::sync::MutexGuard<'_, ()> {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        guid.hash(&mut h);
        self.stripes[(h.finish() as usize) % STRIPES].lock().await
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, CacheState> {
        self.state.write().unwrap_or_else(|p| p.into_inner())
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, CacheState> {
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    fn put(&self, lrp: &ActualLrp) {
        self.write().put_actual(lrp.clone());
    }

    fn drop_cache(&self, why: &str, e: &models::BbsError) {
        tracing::error!(reason = why, error = %e, "lrp cache dropped: reads go to the database");
        self.dropped.store(true, Ordering::Release);
    }

    /// Re-reads one process guid's desired LRP and actual LRPs (after a
    /// write whose effects are not all in its answer). Holds its stripe.
    async fn refresh(&self, guid: &str) {
        let filter = DesiredLrpFilter {
            process_guids: vec![guid.to_string()],
            ..Default::default()
        };
        let read = async {
            let infos = self.inner.desired_lrp_scheduling_infos(&filter).await?;
            let routing = self.inner.desired_lrp_routing_infos(&filter).await?;
            let actuals = self
                .inner
                .actual_lrps_by_process_guids(&filter.process_guids)
                .await?;
            DbResult::Ok((infos, routing, actuals))
        };
        match read.await {
            Ok((infos, routing, actuals)) => {
                let mut s = self.write();
                match (infos.into_iter().next(), routing.into_iter().next()) {
                    (Some(i), Some(r)) => s.put_desired(DesiredEntry::new(&i, r.metric_tags)),
                    _ => s.remove_desired(guid),
                }
                s.replace_actuals_of(guid, actuals);
            }
            Err(e) => self.drop_cache("re-reading an LRP after a write failed", &e),
        }
    }

    /// A state change computed from the cached row, written with one
    /// conditional statement (see `Store::replace_actual_lrp_if_unchanged`).
    /// None: take the locked path (no cached row, a refused transition, so
    /// that the database has the last word on errors, or a row changed
    /// underneath). Called with the guid's stripe held.
    async fn write_from_cache(
        &self,
        key: &state::ActualKey,
        change: impl FnOnce(&ActualLrp) -> DbResult<Option<ActualLrp>>,
    ) -> DbResult<Option<(Option<ActualLrp>, ActualLrp)>> {
        if !self.live() {
            return Ok(None);
        }
        let Some(before) = self.read().actual(key) else {
            return Ok(None);
        };
        let after = match change(&before) {
            Ok(Some(after)) => after,
            Ok(None) => return Ok(Some((Some((*before).clone()), (*before).clone()))),
            Err(_) => return Ok(None),
        };
        match self
            .inner
            .replace_actual_lrp_if_unchanged(&before, &after)
            .await
        {
            Ok(true) => {
                self.put(&after);
                Ok(Some((Some((*before).clone()), after)))
            }
            Ok(false) => Ok(None),
            Err(e) if e.same_kind(&models::BbsError::deadlock()) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Compares the cache with the database (tests and tools).
    pub async fn differences(&self) -> DbResult<Vec<String>> {
        let mut out = Vec::new();
        let db = self.inner.actual_lrps(&ActualLrpFilter::default()).await?;
        let cached = owned(self.read().actuals(&ActualLrpFilter::default()));
        if db != cached {
            out.push(format!(
                "actual LRPs differ: database {} rows, cache {} rows",
                db.len(),
                cached.len()
            ));
        }
        let f = DesiredLrpFilter::default();
        if self.inner.desired_lrp_scheduling_infos(&f).await?
            != self.desired_lrp_scheduling_infos(&f).await?
        {
            out.push("scheduling infos differ".into());
        }
        if self.inner.desired_lrp_routing_infos(&f).await?
            != self.desired_lrp_routing_infos(&f).await?
        {
            out.push("routing infos differ".into());
        }
        Ok(out)
    }
}

async fn read_all(inner: &Arc<dyn Store>) -> DbResult<CacheState> {
    let t = Instant::now();
    inner.turn_off_read_caches();
    // The actual LRPs are read and decoded on another worker meanwhile:
    // the two reads share no state, and the API waits for both.
    let actual_read = {
        let inner = inner.clone();
        tokio::spawn(async move {
            let lrps = inner.actual_lrps(&ActualLrpFilter::default()).await;
            (lrps, t.elapsed())
        })
    };
    let mut state = CacheState::default();
    // Each record made compact as it is read: never every decoded one at
    // once (at 250,000 LRPs they were half a GB, and left the heap
    // fragmented after).
    inner
        .each_scheduling_info_and_tags(&mut |(info, tags)| {
            state.put_desired(DesiredEntry::new(&info, tags))
        })
        .await?;
    let built_desired = t.elapsed();
    let (lrps, read_actual) = actual_read
        .await
        .map_err(|e| crate::errors::unknown(format!("reading actual LRPs: {e}")))?;
    for lrp in lrps? {
        state.put_actual(lrp);
    }
    let (actuals, desired) = state.len();
    tracing::info!(
        actual_lrps = actuals,
        desired_lrps = desired,
        built_desired_ms = built_desired.as_millis() as u64,
        read_actual_ms = read_actual.as_millis() as u64,
        millis = t.elapsed().as_millis() as u64,
        "lrp cache loaded"
    );
    Ok(state)
}

/// Copies shared records (outside the cache's lock).
fn owned(v: Vec<Arc<ActualLrp>>) -> Vec<ActualLrp> {
    v.iter().map(|l| (**l).clone()).collect()
}

fn guid_of_key(k: &ActualLrpKey) -> &str {
    &k.process_guid
}

#[async_trait]
impl Store for CachedStore {
    async fn fresh_domains(&self) -> DbResult<Vec<String>> {
        self.inner.fresh_domains().await
    }
    async fn upsert_domain(&self, domain: &str, ttl_seconds: u32) -> DbResult<()> {
        self.inner.upsert_domain(domain, ttl_seconds).await
    }

    async fn desired_lrps(&self, filter: &DesiredLrpFilter) -> DbResult<Vec<DesiredLrp>> {
        self.inner.desired_lrps(filter).await
    }
    async fn desired_lrps_page(
        &self,
        filter: &DesiredLrpFilter,
        after: Option<&str>,
        limit: usize,
    ) -> DbResult<crate::db::Page<DesiredLrp>> {
        self.inner.desired_lrps_page(filter, after, limit).await
    }
    async fn desired_lrp_by_process_guid(&self, process_guid: &str) -> DbResult<DesiredLrp> {
        self.inner.desired_lrp_by_process_guid(process_guid).await
    }
    async fn desired_lrp_scheduling_infos(
        &self,
        filter: &DesiredLrpFilter,
    ) -> DbResult<Vec<DesiredLrpSchedulingInfo>> {
        if !self.live() {
            return self.inner.desired_lrp_scheduling_infos(filter).await;
        }
        let entries = self.read().desired(&filter.domain, &filter.process_guids);
        Ok(entries.iter().map(|e| e.info()).collect())
    }
    async fn encoded_scheduling_infos(
        &self,
        filter: &DesiredLrpFilter,
    ) -> DbResult<Option<EncodedAnswer>> {
        if !self.live() {
            return Ok(None);
        }
        // The records are shared: the lock is held only to list them.
        let entries = self.read().desired(&filter.domain, &filter.process_guids);
        Ok(Some(encode_scheduling_infos(entries)))
    }
    async fn desired_lrp_scheduling_info_by_process_guid(
        &self,
        process_guid: &str,
    ) -> DbResult<DesiredLrpSchedulingInfo> {
        if self.live() {
            let entry = self.read().desired_one(process_guid);
            if let Some(e) = entry {
                return Ok(e.info());
            }
        }
        // Not found: the store's own error.
        self.inner
            .desired_lrp_scheduling_info_by_process_guid(process_guid)
            .await
    }
    async fn desired_lrp_routing_infos(
        &self,
        filter: &DesiredLrpFilter,
    ) -> DbResult<Vec<DesiredLrp>> {
        if !self.live() {
            return self.inner.desired_lrp_routing_infos(filter).await;
        }
        // Diego filters routing infos by process guids only.
        let entries = self.read().desired("", &filter.process_guids);
        Ok(entries.iter().map(|e| e.routing()).collect())
    }
    // Desired LRP writes update the cache from their own answer (the
    // record as stored) instead of reading it back: the actual LRPs of the
    // guid are already followed write by write.
    async fn desire_lrp(&self, lrp: &DesiredLrp) -> DbResult<DesiredLrp> {
        let _g = self.stripe(&lrp.process_guid).await;
        let out = self.inner.desire_lrp(lrp).await?;
        let entry = DesiredEntry::new(&out.scheduling_info(), out.metric_tags.clone());
        self.write().put_desired(entry);
        Ok(out)
    }
    async fn update_desired_lrp(
        &self,
        process_guid: &str,
        update: &DesiredLrpUpdate,
    ) -> DbResult<(DesiredLrp, DesiredLrp)> {
        let _g = self.stripe(process_guid).await;
        let out = self.inner.update_desired_lrp(process_guid, update).await?;
        let cached = self.read().desired_one(process_guid);
        match cached {
            Some(entry) => {
                // The columns an update writes, over what the cache held.
                let after = &out.1;
                let mut info = entry.info();
                info.annotation = after.annotation.clone();
                info.instances = after.instances;
                info.routes = Some(after.routes.clone().unwrap_or_default());
                info.modification_tag = after.modification_tag.clone();
                let entry = DesiredEntry::new(&info, after.metric_tags.clone());
                self.write().put_desired(entry);
            }
            None => self.refresh(process_guid).await,
        }
        Ok(out)
    }
    async fn remove_desired_lrp(&self, process_guid: &str) -> DbResult<DesiredLrp> {
        let _g = self.stripe(process_guid).await;
        let out = self.inner.remove_desired_lrp(process_guid).await?;
        self.write().remove_desired(process_guid);
        Ok(out)
    }

    async fn actual_lrps(&self, filter: &ActualLrpFilter) -> DbResult<Vec<ActualLrp>> {
        if !self.live() {
            return self.inner.actual_lrps(filter).await;
        }
        let shared = self.read().actuals(filter);
        Ok(owned(shared))
    }
    async fn actual_lrps_shared(&self, filter: &ActualLrpFilter) -> DbResult<Vec<Arc<ActualLrp>>> {
        if !self.live() {
            return self.inner.actual_lrps_shared(filter).await;
        }
        Ok(self.read().actuals(filter))
    }
    async fn actual_lrps_by_process_guids(
        &self,
        process_guids: &[String],
    ) -> DbResult<Vec<ActualLrp>> {
        if !self.live() {
            return self.inner.actual_lrps_by_process_guids(process_guids).await;
        }
        let shared = self.read().actuals_of(process_guids);
        Ok(owned(shared))
    }
    async fn create_unclaimed_actual_lrp(&self, key: &ActualLrpKey) -> DbResult<ActualLrp> {
        let _g = self.stripe(guid_of_key(key)).await;
        let out = self.inner.create_unclaimed_actual_lrp(key).await?;
        self.put(&out);
        Ok(out)
    }
    async fn unclaim_actual_lrp(
        &self,
        is_stale: bool,
        key: &ActualLrpKey,
    ) -> DbResult<(ActualLrp, ActualLrp)> {
        let _g = self.stripe(guid_of_key(key)).await;
        let out = self.inner.unclaim_actual_lrp(is_stale, key).await?;
        self.put(&out.1);
        Ok(out)
    }
    async fn claim_actual_lrp(
        &self,
        process_guid: &str,
        index: i32,
        instance_key: &ActualLrpInstanceKey,
    ) -> DbResult<(ActualLrp, ActualLrp)> {
        let _g = self.stripe(process_guid).await;
        let key = (process_guid.to_string(), index, Presence::Ordinary as i32);
        if let Some(out) = self
            .write_from_cache(&key, |before| {
                sql::actual::claimed(before, instance_key, engine::now_ns())
            })
            .await?
        {
            return Ok((out.0.unwrap_or_else(|| out.1.clone()), out.1));
        }
        let out = self
            .inner
            .claim_actual_lrp(process_guid, index, instance_key)
            .await?;
        self.put(&out.1);
        Ok(out)
    }
    async fn start_actual_lrp(
        &self,
        key: &ActualLrpKey,
        instance_key: &ActualLrpInstanceKey,
        running: &RunningInfo,
    ) -> DbResult<(Option<ActualLrp>, ActualLrp)> {
        let _g = self.stripe(guid_of_key(key)).await;
        let ckey = (
            key.process_guid.clone(),
            key.index,
            Presence::Ordinary as i32,
        );
        if let Some(out) = self
            .write_from_cache(&ckey, |before| {
                sql::actual::started(before, key, instance_key, running, engine::now_ns())
            })
            .await?
        {
            return Ok(out);
        }
        let out = self
            .inner
            .start_actual_lrp(key, instance_key, running)
            .await?;
        self.put(&out.1);
        Ok(out)
    }
    async fn crash_actual_lrp(
        &self,
        key: &ActualLrpKey,
        instance_key: &ActualLrpInstanceKey,
        crash_reason: &str,
    ) -> DbResult<CrashOutcome> {
        let _g = self.stripe(guid_of_key(key)).await;
        let out = self
            .inner
            .crash_actual_lrp(key, instance_key, crash_reason)
            .await?;
        self.put(&out.after);
        Ok(out)
    }
    async fn fail_actual_lrp(
        &self,
        key: &ActualLrpKey,
        placement_error: &str,
    ) -> DbResult<(ActualLrp, ActualLrp)> {
        let _g = self.stripe(guid_of_key(key)).await;
        let out = self.inner.fail_actual_lrp(key, placement_error).await?;
        self.put(&out.1);
        Ok(out)
    }
    async fn remove_actual_lrp(
        &self,
        process_guid: &str,
        index: i32,
        instance_key: Option<&ActualLrpInstanceKey>,
    ) -> DbResult<ActualLrp> {
        let _g = self.stripe(process_guid).await;
        let out = self
            .inner
            .remove_actual_lrp(process_guid, index, instance_key)
            .await?;
        self.write().remove_actual(&actual_key(&out));
        Ok(out)
    }
    async fn change_actual_lrp_presence(
        &self,
        key: &ActualLrpKey,
        from: Presence,
        to: Presence,
    ) -> DbResult<(ActualLrp, ActualLrp)> {
        let _g = self.stripe(guid_of_key(key)).await;
        let out = self.inner.change_actual_lrp_presence(key, from, to).await?;
        let mut s = self.write();
        s.remove_actual(&actual_key(&out.0));
        s.put_actual(out.1.clone());
        Ok(out)
    }
    async fn count_actual_lrps_by_state(&self) -> DbResult<ActualLrpCounts> {
        self.inner.count_actual_lrps_by_state().await
    }
    async fn count_desired_instances(&self) -> DbResult<i64> {
        self.inner.count_desired_instances().await
    }

    async fn remove_evacuating_actual_lrp(
        &self,
        key: &ActualLrpKey,
        instance_key: &ActualLrpInstanceKey,
    ) -> DbResult<ActualLrp> {
        let _g = self.stripe(guid_of_key(key)).await;
        let out = self
            .inner
            .remove_evacuating_actual_lrp(key, instance_key)
            .await?;
        self.write().remove_actual(&actual_key(&out));
        Ok(out)
    }
    async fn evacuate_actual_lrp(
        &self,
        key: &ActualLrpKey,
        instance_key: &ActualLrpInstanceKey,
        running: &RunningInfo,
    ) -> DbResult<ActualLrp> {
        let _g = self.stripe(guid_of_key(key)).await;
        let out = self
            .inner
            .evacuate_actual_lrp(key, instance_key, running)
            .await?;
        self.put(&out);
        Ok(out)
    }
    async fn remove_suspect_actual_lrp(&self, key: &ActualLrpKey) -> DbResult<ActualLrp> {
        let _g = self.stripe(guid_of_key(key)).await;
        let out = self.inner.remove_suspect_actual_lrp(key).await?;
        self.write().remove_actual(&actual_key(&out));
        Ok(out)
    }
    async fn promote_suspect_actual_lrp(
        &self,
        process_guid: &str,
        index: i32,
    ) -> DbResult<(ActualLrp, ActualLrp, Option<ActualLrp>)> {
        let _g = self.stripe(process_guid).await;
        let out = self
            .inner
            .promote_suspect_actual_lrp(process_guid, index)
            .await?;
        let mut s = self.write();
        if let Some(r) = &out.2 {
            s.remove_actual(&actual_key(r));
        }
        s.remove_actual(&actual_key(&out.0));
        s.put_actual(out.1.clone());
        Ok(out)
    }

    fn turn_off_read_caches(&self) {
        self.inner.turn_off_read_caches();
    }

    async fn prune_for_lrp_convergence(&self, cells: &CellSet, now_ns: i64) -> Vec<ActualLrp> {
        let removed = self.inner.prune_for_lrp_convergence(cells, now_ns).await;
        for lrp in &removed {
            let guid = actual_key(lrp).0;
            // After any write of this guid in flight has updated the cache.
            let _g = self.stripe(&guid).await;
            self.write().remove_actual_version(lrp);
        }
        removed
    }

    async fn converge_lrps(&self, cells: &CellSet, now_ns: i64) -> ConvergenceResult {
        if !self.live() {
            return self.inner.converge_lrps(cells, now_ns).await;
        }
        let t = Instant::now();
        let mut result = ConvergenceResult {
            removed_evacuating: self.prune_for_lrp_convergence(cells, now_ns).await,
            ..Default::default()
        };
        let fresh: BTreeSet<String> = match self.inner.fresh_domains().await {
            Ok(d) => d.into_iter().collect(),
            Err(e) => {
                tracing::error!(error = %e, "lrp convergence: cannot list domains");
                return result;
            }
        };
        let snapshot = self.read().snapshot();
        let read = t.elapsed();
        // CPU work over every record: off the async workers.
        let cells = cells.clone();
        let work = tokio::task::spawn_blocking(move || {
            let (desired, rows) = &snapshot;
            // Expired domains were just pruned: the known domains are the fresh ones.
            let lists = apply_rules(
                &fresh,
                desired,
                |e| e.convergence_view(),
                rows,
                |l| ConvergenceRow::of(l),
                &cells,
                &fresh,
                now_ns,
                &mut result,
            );
            (result, lists)
        });
        let (mut result, lists) = match work.await {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, "lrp convergence: the rules failed");
                return ConvergenceResult::default();
            }
        };
        let with_infos = {
            let s = self.read();
            lists.map(|keys| {
                keys.into_iter()
                    .filter_map(|key| {
                        s.desired_one(&key.process_guid)
                            .map(|e| KeyWithSchedulingInfo {
                                key,
                                scheduling_info: e.info(),
                            })
                    })
                    .collect::<Vec<_>>()
            })
        };
        attach_scheduling_infos(&mut result, with_infos);
        tracing::debug!(
            read_ms = read.as_millis() as u64,
            total_ms = t.elapsed().as_millis() as u64,
            "lrp convergence from the cache"
        );
        result
    }
    async fn converge_tasks(
        &self,
        cells: &CellSet,
        kick_task_duration: Duration,
        expire_pending_task_duration: Duration,
        expire_completed_task_duration: Duration,
        now_ns: i64,
    ) -> TaskConvergenceResult {
        self.inner
            .converge_tasks(
                cells,
                kick_task_duration,
                expire_pending_task_duration,
                expire_completed_task_duration,
                now_ns,
            )
            .await
    }

    async fn tasks(&self, filter: &TaskFilter) -> DbResult<Vec<Task>> {
        self.inner.tasks(filter).await
    }
    async fn tasks_page(
        &self,
        filter: &TaskFilter,
        after: Option<&str>,
        limit: usize,
    ) -> DbResult<crate::db::Page<Task>> {
        self.inner.tasks_page(filter, after, limit).await
    }
    async fn task_by_guid(&self, task_guid: &str) -> DbResult<Task> {
        self.inner.task_by_guid(task_guid).await
    }
    async fn desire_task(
        &self,
        definition: &TaskDefinition,
        task_guid: &str,
        domain: &str,
    ) -> DbResult<Task> {
        self.inner.desire_task(definition, task_guid, domain).await
    }
    async fn start_task(&self, task_guid: &str, cell_id: &str) -> DbResult<(Task, Task, bool)> {
        self.inner.start_task(task_guid, cell_id).await
    }
    async fn cancel_task(&self, task_guid: &str) -> DbResult<(Task, Task, String)> {
        self.inner.cancel_task(task_guid).await
    }
    async fn fail_task(&self, task_guid: &str, failure_reason: &str) -> DbResult<(Task, Task)> {
        self.inner.fail_task(task_guid, failure_reason).await
    }
    async fn reject_task(
        &self,
        task_guid: &str,
        rejection_reason: &str,
        max_retries: i32,
    ) -> DbResult<(Task, Task)> {
        self.inner
            .reject_task(task_guid, rejection_reason, max_retries)
            .await
    }
    async fn complete_task(
        &self,
        task_guid: &str,
        cell_id: &str,
        failed: bool,
        failure_reason: &str,
        result: &str,
    ) -> DbResult<(Task, Task)> {
        self.inner
            .complete_task(task_guid, cell_id, failed, failure_reason, result)
            .await
    }
    async fn resolving_task(&self, task_guid: &str) -> DbResult<(Task, Task)> {
        self.inner.resolving_task(task_guid).await
    }
    async fn delete_task(&self, task_guid: &str) -> DbResult<Task> {
        self.inner.delete_task(task_guid).await
    }
}
