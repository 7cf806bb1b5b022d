//! `Engine<B>`: the [`Store`] on one SQL backend (see `ctx` for how the
//! state logic is written once for all of them).
//!
//! Every mutation is one transaction, retried (up to 3 attempts) on a
//! deadlock / serialization failure / lock timeout / busy database. On
//! PostgreSQL and MySQL the rows a transaction changes are read
//! `FOR UPDATE`; on SQLite all write transactions of this process run one
//! at a time (readers are not blocked: WAL), so concurrent changes of one
//! record are serialized and SQLITE_BUSY is never returned. A SQLite file
//! must be used by a single store process.

use super::ctx::Ctx;
use super::{actual, desired, domains, evacuation, lrp_convergence, task_convergence, tasks};
use crate::db::{
    ActualLrpCounts, ActualLrpFilter, CellSet, ConvergenceResult, CrashOutcome, DbResult,
    DesiredLrpFilter, RunningInfo, Store, TaskConvergenceResult, TaskFilter,
};
use async_trait::async_trait;
use models::{
    ActualLrp, ActualLrpInstanceKey, ActualLrpKey, DesiredLrp, DesiredLrpSchedulingInfo,
    DesiredLrpUpdate, Task, TaskDefinition,
};
use sqldb::Backend;
use sqlx::pool::PoolConnection;
use std::sync::Arc;
use std::time::Duration;

pub(crate) fn now_ns() -> i64 {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

pub(crate) const WRITE_ATTEMPTS: u32 = 3;

/// Runs `$body` (an async block using `$cx: &Ctx<B>` and `$conn: &mut
/// B::Conn`) in a write transaction: commit on Ok, rollback on Err, retry
/// on Deadlock.
macro_rules! write_tx {
    ($store:expr, |$cx:ident, $conn:ident| $body:expr) => {{
        let store = $store;
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let _guard = match &store.write_lock {
                Some(l) => Some(l.lock().await),
                None => None,
            };
            let res: $crate::db::DbResult<_> = match store.pool.begin().await {
                Err(e) => Err(store.cx.err(e)),
                Ok(mut tx) => {
                    let $cx = &*store.cx;
                    let $conn: &mut B::Conn = &mut *tx;
                    let out = $body.await;
                    match out {
                        Ok(v) => match tx.commit().await {
                            Ok(()) => Ok(v),
                            Err(e) => Err(store.cx.err(e)),
                        },
                        Err(e) => {
                            let _ = tx.rollback().await;
                            Err(e)
                        }
                    }
                }
            };
            match res {
                Err(e)
                    if e.same_kind(&models::BbsError::deadlock())
                        && attempt < $crate::db::sql::engine::WRITE_ATTEMPTS =>
                {
                    drop(_guard);
                    tokio::time::sleep(std::time::Duration::from_millis(20 * u64::from(attempt)))
                        .await;
                }
                other => break other,
            }
        }
    }};
}
pub(crate) use write_tx;

/// Runs `$body` like [`write_tx`] but without BEGIN/COMMIT: for writes of
/// one statement, which are their own transaction (two round trips fewer).
macro_rules! write_one {
    ($store:expr, |$cx:ident, $conn:ident| $body:expr) => {{
        let store = $store;
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let _guard = match &store.write_lock {
                Some(l) => Some(l.lock().await),
                None => None,
            };
            let res: $crate::db::DbResult<_> = match store.pool.acquire().await {
                Err(e) => Err(store.cx.err(e)),
                Ok(mut c) => {
                    let $cx = &*store.cx;
                    let $conn: &mut B::Conn = &mut *c;
                    $body.await
                }
            };
            match res {
                Err(e)
                    if e.same_kind(&models::BbsError::deadlock())
                        && attempt < $crate::db::sql::engine::WRITE_ATTEMPTS =>
                {
                    drop(_guard);
                    tokio::time::sleep(std::time::Duration::from_millis(20 * u64::from(attempt)))
                        .await;
                }
                other => break other,
            }
        }
    }};
}

/// The SQL store on backend `B`.
pub(crate) struct Engine<B: Backend> {
    pub pool: sqlx::Pool<B::Db>,
    pub cx: Arc<Ctx<B>>,
    /// SQLite only: one write transaction at a time.
    pub write_lock: Option<tokio::sync::Mutex<()>>,
}

impl<B: Backend> Engine<B> {
    pub fn new(pool: sqlx::Pool<B::Db>, cx: Ctx<B>) -> Self {
        Engine {
            pool,
            cx: Arc::new(cx),
            write_lock: B::SERIALIZE_WRITERS.then(|| tokio::sync::Mutex::new(())),
        }
    }

    pub(crate) async fn read_conn(&self) -> DbResult<PoolConnection<B::Db>> {
        self.pool.acquire().await.map_err(|e| self.cx.err(e))
    }

    /// Task convergence: fails `list` (tasks in state `from`, created
    /// before `created_before` if given) with `reason`; records each
    /// change in `changed`. Returns the number of rows failed (0 on a
    /// database error, which is logged).
    async fn fail_tasks(
        &self,
        list: &[Task],
        from: models::task::State,
        created_before: Option<i64>,
        reason: &str,
        now_ns: i64,
        changed: &mut Vec<(Task, Task)>,
    ) -> u64 {
        if list.is_empty() {
            return 0;
        }
        match write_tx!(self, |cx, conn| task_convergence::fail_tasks(
            cx,
            conn,
            list,
            from,
            created_before,
            reason,
            now_ns
        )) {
            Ok(n) => {
                for t in list {
                    changed.push((t.clone(), task_convergence::failed(t, reason, now_ns)));
                }
                n
            }
            Err(e) => {
                tracing::error!(error = %e, reason, "cannot fail tasks");
                0
            }
        }
    }
}

#[async_trait]
impl<B: Backend> Store for Engine<B> {
    async fn fresh_domains(&self) -> DbResult<Vec<String>> {
        let mut conn = self.read_conn().await?;
        domains::fresh(&self.cx, &mut conn, now_ns()).await
    }

    async fn upsert_domain(&self, domain: &str, ttl_seconds: u32) -> DbResult<()> {
        write_tx!(self, |cx, conn| domains::upsert(
            cx,
            conn,
            domain,
            ttl_seconds,
            now_ns()
        ))
    }

    async fn desired_lrps(&self, filter: &DesiredLrpFilter) -> DbResult<Vec<DesiredLrp>> {
        let mut conn = self.read_conn().await?;
        desired::list(&self.cx, &mut conn, filter).await
    }

    async fn desired_lrps_page(
        &self,
        filter: &DesiredLrpFilter,
        after: Option<&str>,
        limit: usize,
    ) -> DbResult<crate::db::Page<DesiredLrp>> {
        let mut conn = self.read_conn().await?;
        desired::page(&self.cx, &mut conn, filter, after, limit).await
    }

    async fn desired_lrp_by_process_guid(&self, process_guid: &str) -> DbResult<DesiredLrp> {
        let mut conn = self.read_conn().await?;
        desired::by_process_guid(&self.cx, &mut conn, process_guid, false)
            .await
            .map(|(l, _)| l)
    }

    async fn desired_lrp_scheduling_infos(
        &self,
        filter: &DesiredLrpFilter,
    ) -> DbResult<Vec<DesiredLrpSchedulingInfo>> {
        let mut conn = self.read_conn().await?;
        desired::scheduling_infos(&self.cx, &mut conn, filter).await
    }

    async fn desired_lrp_scheduling_info_by_process_guid(
        &self,
        process_guid: &str,
    ) -> DbResult<DesiredLrpSchedulingInfo> {
        let mut conn = self.read_conn().await?;
        desired::scheduling_info_by_process_guid(&self.cx, &mut conn, process_guid).await
    }

    async fn each_scheduling_info_and_tags(
        &self,
        sink: &mut (dyn FnMut(crate::db::SchedulingInfoAndTags) + Send),
    ) -> DbResult<()> {
        let mut conn = self.read_conn().await?;
        desired::each_scheduling_info_and_tags(&self.cx, &mut conn, sink).await
    }

    async fn desired_lrp_routing_infos(
        &self,
        filter: &DesiredLrpFilter,
    ) -> DbResult<Vec<DesiredLrp>> {
        let mut conn = self.read_conn().await?;
        desired::routing_infos(&self.cx, &mut conn, filter).await
    }

    async fn desire_lrp(&self, lrp: &DesiredLrp) -> DbResult<DesiredLrp> {
        // One INSERT.
        write_one!(self, |cx, conn| desired::desire(cx, conn, lrp, now_ns()))
    }

    async fn update_desired_lrp(
        &self,
        process_guid: &str,
        update: &DesiredLrpUpdate,
    ) -> DbResult<(DesiredLrp, DesiredLrp)> {
        write_tx!(self, |cx, conn| desired::update(
            cx,
            conn,
            process_guid,
            update
        ))
    }

    async fn remove_desired_lrp(&self, process_guid: &str) -> DbResult<DesiredLrp> {
        write_tx!(self, |cx, conn| desired::remove(cx, conn, process_guid))
    }

    async fn actual_lrps(&self, filter: &ActualLrpFilter) -> DbResult<Vec<ActualLrp>> {
        let mut conn = self.read_conn().await?;
        actual::list(&self.cx, &mut conn, filter).await
    }

    async fn actual_lrps_by_process_guids(
        &self,
        process_guids: &[String],
    ) -> DbResult<Vec<ActualLrp>> {
        let mut conn = self.read_conn().await?;
        actual::by_process_guids(&self.cx, &mut conn, process_guids).await
    }

    async fn create_unclaimed_actual_lrp(&self, key: &ActualLrpKey) -> DbResult<ActualLrp> {
        // One INSERT.
        write_one!(self, |cx, conn| actual::create_unclaimed(
            cx,
            conn,
            key,
            now_ns()
        ))
    }

    async fn replace_actual_lrp_if_unchanged(
        &self,
        before: &ActualLrp,
        after: &ActualLrp,
    ) -> DbResult<bool> {
        write_one!(self, |cx, conn| actual::update_if_unchanged(
            cx, conn, before, after
        ))
    }

    async fn unclaim_actual_lrp(
        &self,
        is_stale: bool,
        key: &ActualLrpKey,
    ) -> DbResult<(ActualLrp, ActualLrp)> {
        write_tx!(self, |cx, conn| actual::unclaim(
            cx,
            conn,
            is_stale,
            key,
            now_ns()
        ))
    }

    async fn claim_actual_lrp(
        &self,
        process_guid: &str,
        index: i32,
        instance_key: &ActualLrpInstanceKey,
    ) -> DbResult<(ActualLrp, ActualLrp)> {
        write_tx!(self, |cx, conn| actual::claim(
            cx,
            conn,
            process_guid,
            index,
            instance_key,
            now_ns()
        ))
    }

    async fn start_actual_lrp(
        &self,
        key: &ActualLrpKey,
        instance_key: &ActualLrpInstanceKey,
        running: &RunningInfo,
    ) -> DbResult<(Option<ActualLrp>, ActualLrp)> {
        write_tx!(self, |cx, conn| actual::start(
            cx,
            conn,
            key,
            instance_key,
            running,
            now_ns()
        ))
    }

    async fn crash_actual_lrp(
        &self,
        key: &ActualLrpKey,
        instance_key: &ActualLrpInstanceKey,
        crash_reason: &str,
    ) -> DbResult<CrashOutcome> {
        write_tx!(self, |cx, conn| actual::crash(
            cx,
            conn,
            key,
            instance_key,
            crash_reason,
            now_ns()
        ))
    }

    async fn fail_actual_lrp(
        &self,
        key: &ActualLrpKey,
        placement_error: &str,
    ) -> DbResult<(ActualLrp, ActualLrp)> {
        write_tx!(self, |cx, conn| actual::fail(
            cx,
            conn,
            key,
            placement_error,
            now_ns()
        ))
    }

    async fn remove_actual_lrp(
        &self,
        process_guid: &str,
        index: i32,
        instance_key: Option<&ActualLrpInstanceKey>,
    ) -> DbResult<ActualLrp> {
        write_tx!(self, |cx, conn| actual::remove(
            cx,
            conn,
            process_guid,
            index,
            instance_key
        ))
    }

    async fn change_actual_lrp_presence(
        &self,
        key: &ActualLrpKey,
        from: models::actual_lrp::Presence,
        to: models::actual_lrp::Presence,
    ) -> DbResult<(ActualLrp, ActualLrp)> {
        write_tx!(self, |cx, conn| actual::change_presence(
            cx, conn, key, from, to
        ))
    }

    async fn count_actual_lrps_by_state(&self) -> DbResult<ActualLrpCounts> {
        let mut conn = self.read_conn().await?;
        actual::counts(&self.cx, &mut conn).await
    }

    async fn count_desired_instances(&self) -> DbResult<i64> {
        let mut conn = self.read_conn().await?;
        desired::count_instances(&self.cx, &mut conn).await
    }

    async fn remove_evacuating_actual_lrp(
        &self,
        key: &ActualLrpKey,
        instance_key: &ActualLrpInstanceKey,
    ) -> DbResult<ActualLrp> {
        write_tx!(self, |cx, conn| evacuation::remove_evacuating(
            cx,
            conn,
            key,
            instance_key
        ))
    }

    async fn evacuate_actual_lrp(
        &self,
        key: &ActualLrpKey,
        instance_key: &ActualLrpInstanceKey,
        running: &RunningInfo,
    ) -> DbResult<ActualLrp> {
        write_tx!(self, |cx, conn| evacuation::evacuate(
            cx,
            conn,
            key,
            instance_key,
            running,
            now_ns()
        ))
    }

    async fn remove_suspect_actual_lrp(&self, key: &ActualLrpKey) -> DbResult<ActualLrp> {
        write_tx!(self, |cx, conn| evacuation::remove_suspect(cx, conn, key))
    }

    async fn promote_suspect_actual_lrp(
        &self,
        process_guid: &str,
        index: i32,
    ) -> DbResult<(ActualLrp, ActualLrp, Option<ActualLrp>)> {
        write_tx!(self, |cx, conn| lrp_convergence::promote_suspect(
            cx,
            conn,
            process_guid,
            index
        ))
    }

    fn turn_off_read_caches(&self) {
        self.cx.scheduling_cache.0.turn_off();
        self.cx.drift_cache.turn_off();
    }

    async fn prune_for_lrp_convergence(&self, cells: &CellSet, now_ns: i64) -> Vec<ActualLrp> {
        match write_tx!(self, |cx, conn| lrp_convergence::prune_domains(
            cx, conn, now_ns
        )) {
            Ok(n) if n > 0 => tracing::info!(pruned = n, "pruned expired domains"),
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "cannot prune domains"),
        }
        let evacuating = match self.read_conn().await {
            Ok(mut conn) => {
                lrp_convergence::evacuating_on_absent_cells(&self.cx, &mut conn, cells).await
            }
            Err(e) => Err(e),
        };
        match evacuating {
            Ok(keys) if !keys.is_empty() => {
                match write_tx!(self, |cx, conn| lrp_convergence::delete_evacuating(
                    cx, conn, &keys, cells
                )) {
                    Ok(removed) => removed,
                    Err(e) => {
                        tracing::error!(error = %e, "cannot prune evacuating actual LRPs");
                        Vec::new()
                    }
                }
            }
            Ok(_) => Vec::new(),
            Err(e) => {
                tracing::error!(error = %e, "cannot list evacuating actual LRPs");
                Vec::new()
            }
        }
    }

    async fn converge_lrps(&self, cells: &CellSet, now_ns: i64) -> ConvergenceResult {
        let mut result = ConvergenceResult {
            removed_evacuating: self.prune_for_lrp_convergence(cells, now_ns).await,
            ..Default::default()
        };
        let mut conn = match self.read_conn().await {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "lrp convergence: no database connection");
                return result;
            }
        };
        let fresh = match lrp_convergence::fresh_domain_set(&self.cx, &mut conn, now_ns).await {
            Ok(f) => f,
            Err(e) => {
                tracing::error!(error = %e, "lrp convergence: cannot list domains");
                return result;
            }
        };
        if let Err(e) =
            lrp_convergence::analyze(&self.cx, &mut conn, cells, &fresh, now_ns, &mut result).await
        {
            tracing::error!(error = %e, "lrp convergence: cannot read the actual LRPs");
            let removed = std::mem::take(&mut result.removed_evacuating);
            result = ConvergenceResult {
                removed_evacuating: removed,
                ..Default::default()
            };
        }
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
        let ns = |d: Duration| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX);
        let kick_before = now_ns.saturating_sub(ns(kick_task_duration));
        let pending_before = now_ns.saturating_sub(ns(expire_pending_task_duration));
        let completed_before = now_ns.saturating_sub(ns(expire_completed_task_duration));
        let mut result = TaskConvergenceResult::default();
        let scanned = match self.read_conn().await {
            Ok(mut conn) => tasks::list(&self.cx, &mut conn, &TaskFilter::default()).await,
            Err(e) => Err(e),
        };
        let tasks = match scanned {
            Ok(t) => t,
            Err(e) => {
                tracing::error!(error = %e, "task convergence: cannot list tasks");
                return result;
            }
        };
        let plan =
            task_convergence::plan(tasks, cells, kick_before, pending_before, completed_before);
        let failed = self
            .fail_tasks(
                &plan.expired_pending,
                models::task::State::Pending,
                Some(pending_before),
                task_convergence::EXPIRED_FAILURE_REASON,
                now_ns,
                &mut result.changed,
            )
            .await;
        result.metrics.kicked += failed + plan.to_auction.len() as u64;
        result.tasks_to_auction = plan.to_auction;

        let failed = self
            .fail_tasks(
                &plan.lost_cell,
                models::task::State::Running,
                None,
                task_convergence::CELL_DISAPPEARED_FAILURE_REASON,
                now_ns,
                &mut result.changed,
            )
            .await;
        result.metrics.kicked += failed;

        if !plan.stuck_resolving.is_empty() {
            let list = &plan.stuck_resolving;
            match write_tx!(self, |cx, conn| task_convergence::demote_resolving(
                cx,
                conn,
                list,
                kick_before
            )) {
                Ok(_) => {
                    for t in list {
                        let mut after = t.clone();
                        after.state = models::task::State::Completed as i32;
                        result.changed.push((t.clone(), after));
                    }
                }
                Err(e) => tracing::error!(error = %e, "cannot demote resolving tasks"),
            }
        }

        if !plan.expired_completed.is_empty() {
            let list = &plan.expired_completed;
            match write_tx!(self, |cx, conn| task_convergence::delete_expired_completed(
                cx,
                conn,
                list,
                completed_before
            )) {
                Ok(n) => {
                    result.metrics.pruned += n;
                    result.removed.extend(list.iter().cloned());
                }
                Err(e) => tracing::error!(error = %e, "cannot delete expired completed tasks"),
            }
        }
        result.metrics.kicked += plan.to_complete.len() as u64;
        result.tasks_to_complete = plan.to_complete;

        match self.read_conn().await {
            Ok(mut conn) => {
                if let Err(e) =
                    task_convergence::counts(&self.cx, &mut conn, &mut result.metrics).await
                {
                    tracing::error!(error = %e, "cannot count tasks");
                }
            }
            Err(e) => tracing::error!(error = %e, "cannot count tasks"),
        }
        result
    }

    async fn tasks(&self, filter: &TaskFilter) -> DbResult<Vec<Task>> {
        let mut conn = self.read_conn().await?;
        tasks::list(&self.cx, &mut conn, filter).await
    }

    async fn tasks_page(
        &self,
        filter: &TaskFilter,
        after: Option<&str>,
        limit: usize,
    ) -> DbResult<crate::db::Page<Task>> {
        let mut conn = self.read_conn().await?;
        tasks::page(&self.cx, &mut conn, filter, after, limit).await
    }

    async fn task_by_guid(&self, task_guid: &str) -> DbResult<Task> {
        let mut conn = self.read_conn().await?;
        tasks::by_guid(&self.cx, &mut conn, task_guid, false).await
    }

    async fn desire_task(
        &self,
        definition: &TaskDefinition,
        task_guid: &str,
        domain: &str,
    ) -> DbResult<Task> {
        write_tx!(self, |cx, conn| tasks::desire(
            cx,
            conn,
            definition,
            task_guid,
            domain,
            now_ns()
        ))
    }

    async fn start_task(&self, task_guid: &str, cell_id: &str) -> DbResult<(Task, Task, bool)> {
        write_tx!(self, |cx, conn| tasks::start(
            cx,
            conn,
            task_guid,
            cell_id,
            now_ns()
        ))
    }

    async fn cancel_task(&self, task_guid: &str) -> DbResult<(Task, Task, String)> {
        write_tx!(self, |cx, conn| tasks::cancel(
            cx,
            conn,
            task_guid,
            now_ns()
        ))
    }

    async fn fail_task(&self, task_guid: &str, failure_reason: &str) -> DbResult<(Task, Task)> {
        write_tx!(self, |cx, conn| tasks::fail(
            cx,
            conn,
            task_guid,
            failure_reason,
            now_ns()
        ))
    }

    async fn reject_task(
        &self,
        task_guid: &str,
        rejection_reason: &str,
        max_retries: i32,
    ) -> DbResult<(Task, Task)> {
        write_tx!(self, |cx, conn| tasks::reject(
            cx,
            conn,
            task_guid,
            rejection_reason,
            max_retries,
            now_ns()
        ))
    }

    async fn complete_task(
        &self,
        task_guid: &str,
        cell_id: &str,
        failed: bool,
        failure_reason: &str,
        result: &str,
    ) -> DbResult<(Task, Task)> {
        write_tx!(self, |cx, conn| tasks::complete_task(
            cx,
            conn,
            task_guid,
            cell_id,
            failed,
            failure_reason,
            result,
            now_ns()
        ))
    }

    async fn resolving_task(&self, task_guid: &str) -> DbResult<(Task, Task)> {
        write_tx!(self, |cx, conn| tasks::resolving(
            cx,
            conn,
            task_guid,
            now_ns()
        ))
    }

    async fn delete_task(&self, task_guid: &str) -> DbResult<Task> {
        write_tx!(self, |cx, conn| tasks::delete(cx, conn, task_guid))
    }
}
