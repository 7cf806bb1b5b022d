//! `SqlStore`: the BBS `Store` over SQL, with SQLite (embedded default)
//! and PostgreSQL backends.
//!
//! Layout: `dialect.rs` is what differs per backend (`sqlite.rs`,
//! `postgres.rs`: DDL, locking, upsert, error codes); `domains.rs`,
//! `desired.rs`, `actual.rs`, `evacuation.rs`, `tasks.rs` hold the state
//! logic, written once; `codec.rs` the column encodings.
//!
//! Every mutation is one transaction, retried (up to 3 attempts) on a
//! deadlock / serialization failure / busy database. On PostgreSQL the rows
//! a transaction changes are read `FOR UPDATE`; on SQLite all write
//! transactions of this process run one at a time (readers are not
//! blocked: WAL), so concurrent changes of one record are serialized and
//! SQLITE_BUSY is never returned. A SQLite file must be used by a single
//! store process.
//!
//! Lists are ordered by primary key (Diego's SQL has no ORDER BY; we pick
//! a deterministic order).

mod actual;
mod args;
mod bulk_seed;
mod codec;
mod desired;
mod dialect;
mod domains;
mod evacuation;
pub(crate) mod lrp_convergence;
mod postgres;
mod scheduling_cache;
mod sqlite;
mod task_convergence;
mod tasks;

pub use bulk_seed::{bench_running_info, BenchTask};
pub use dialect::{Dialect, ErrorClass};
pub use postgres::Postgres;
pub use sqlite::Sqlite;

use crate::db::encryption::{Encoder, EncryptionConfig};
use crate::db::{
    ActualLrpCounts, ActualLrpFilter, CellSet, ConvergenceResult, CrashOutcome, DbResult,
    DesiredLrpFilter, RunningInfo, Store, TaskConvergenceResult, TaskFilter,
};
use anyhow::Context as _;
use async_trait::async_trait;
use models::{
    ActualLrp, ActualLrpInstanceKey, ActualLrpKey, BbsError, DesiredLrp, DesiredLrpSchedulingInfo,
    DesiredLrpUpdate, Task, TaskDefinition,
};
use sqlx::any::AnyPoolOptions;
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyPool, Executor};
use std::sync::Arc;
use std::time::Duration;

/// How to reach the database.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// `sqlite:///abs/path/file.db` (created if missing) or
    /// `postgres://user@host:port/db`.
    pub url: String,
    pub max_open_connections: u32,
    pub encryption: EncryptionConfig,
}

/// What the state logic needs: the backend's dialect and the encoder.
pub(crate) struct Ctx {
    pub dialect: Box<dyn Dialect>,
    pub enc: Encoder,
    pub scheduling_cache: scheduling_cache::SchedulingCache,
    /// What LRP convergence compares RUNNING instances with, per desired LRP.
    pub drift_cache:
        scheduling_cache::TagCache<Arc<crate::db::lrp_convergence_rules::DesiredDrift>>,
}

impl Ctx {
    pub fn sql(&self, s: &str) -> String {
        self.dialect.rebind(s)
    }
    /// A SELECT that locks the rows it reads until the transaction ends.
    pub fn for_update(&self, s: &str) -> String {
        self.dialect
            .rebind(&format!("{s}{}", self.dialect.lock_clause()))
    }
    pub fn err(&self, e: sqlx::Error) -> BbsError {
        dialect::convert_error(&*self.dialect, e)
    }
}

pub(crate) fn new_guid() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn now_ns() -> i64 {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

const WRITE_ATTEMPTS: u32 = 3;

/// Runs `$body` (an async block using `$cx: &Ctx` and `$conn: &mut
/// AnyConnection`) in a write transaction: commit on Ok, rollback on Err,
/// retry on Deadlock.
macro_rules! write_tx {
    ($store:expr, |$cx:ident, $conn:ident| $body:expr) => {{
        let store: &SqlStore = $store;
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let _guard = match &store.write_lock {
                Some(l) => Some(l.lock().await),
                None => None,
            };
            let res: DbResult<_> = match store.pool.begin().await {
                Err(e) => Err(store.cx.err(e)),
                Ok(mut tx) => {
                    let $cx: &Ctx = &store.cx;
                    let $conn: &mut sqlx::AnyConnection = &mut *tx;
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
                Err(e) if e.same_kind(&BbsError::deadlock()) && attempt < WRITE_ATTEMPTS => {
                    drop(_guard);
                    tokio::time::sleep(Duration::from_millis(20 * u64::from(attempt))).await;
                }
                other => break other,
            }
        }
    }};
}

/// The SQL implementation of [`Store`].
#[derive(Clone)]
pub struct SqlStore {
    pool: AnyPool,
    cx: Arc<Ctx>,
    /// SQLite only: one write transaction at a time.
    write_lock: Option<Arc<tokio::sync::Mutex<()>>>,
}

impl std::fmt::Debug for SqlStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlStore")
            .field("backend", &self.cx.dialect.name())
            .field("encoder", &self.cx.enc)
            .finish()
    }
}

fn sqlite_url(url: &str) -> String {
    if url.contains(":memory:") || url.contains("mode=") {
        return url.to_string();
    }
    if url.contains('?') {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    }
}

impl SqlStore {
    /// Connects, creates the schema if needed, and returns the store.
    pub async fn connect(cfg: &StoreConfig) -> anyhow::Result<SqlStore> {
        sqlx::any::install_default_drivers();
        let enc = Encoder::new(&cfg.encryption).context("invalid encryption configuration")?;
        let (dialect, url): (Box<dyn Dialect>, String) = if cfg.url.starts_with("sqlite:") {
            (Box::new(Sqlite), sqlite_url(&cfg.url))
        } else if cfg.url.starts_with("postgres://") || cfg.url.starts_with("postgresql://") {
            (Box::new(Postgres), cfg.url.clone())
        } else {
            anyhow::bail!(
                "unsupported database URL {:?} (want sqlite:///path or postgres://...)",
                cfg.url
            );
        };
        let mut max = cfg.max_open_connections.max(1);
        if url.contains(":memory:") {
            // Every connection would otherwise see its own empty database.
            max = 1;
        }
        let setup = dialect.connection_setup();
        let pool = AnyPoolOptions::new()
            .max_connections(max)
            .acquire_timeout(Duration::from_secs(30))
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    for stmt in setup {
                        conn.execute(*stmt).await?;
                    }
                    Ok(())
                })
            })
            .connect(&url)
            .await
            .with_context(|| format!("connecting to {} database", dialect.name()))?;
        if dialect.serialize_writers() {
            // Persistent: the file stays in WAL mode.
            pool.execute("PRAGMA journal_mode = WAL")
                .await
                .context("enabling WAL")?;
        }
        for stmt in dialect.schema() {
            pool.execute(*stmt)
                .await
                .with_context(|| format!("creating schema: {stmt}"))?;
        }
        let write_lock = dialect
            .serialize_writers()
            .then(|| Arc::new(tokio::sync::Mutex::new(())));
        let store = SqlStore {
            pool,
            cx: Arc::new(Ctx {
                dialect,
                enc,
                scheduling_cache: Default::default(),
                drift_cache: Default::default(),
            }),
            write_lock,
        };
        store.record_config().await.map_err(anyhow::Error::new)?;
        Ok(store)
    }

    /// Which backend this store talks to ("sqlite" or "postgres").
    pub fn backend(&self) -> &'static str {
        self.cx.dialect.name()
    }

    /// The pool, for tools and tests that inspect raw rows.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    async fn record_config(&self) -> DbResult<()> {
        let label = self.cx.enc.active_label().unwrap_or("").to_string();
        write_tx!(self, |cx, conn| async {
            let sql =
                cx.sql(
                    &cx.dialect
                        .upsert("configurations", &["id", "value"], &["id"], &["value"]),
                );
            sqlx::query(&sql)
                .bind("encryption_key_label")
                .bind(label.as_str())
                .execute(&mut *conn)
                .await
                .map_err(|e| cx.err(e))?;
            Ok(())
        })
    }

    async fn read_conn(&self) -> DbResult<PoolConnection<Any>> {
        self.pool.acquire().await.map_err(|e| self.cx.err(e))
    }
}

#[async_trait]
impl Store for SqlStore {
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

    async fn desired_lrp_scheduling_infos_and_tags(
        &self,
    ) -> DbResult<Vec<crate::db::SchedulingInfoAndTags>> {
        let mut conn = self.read_conn().await?;
        desired::scheduling_infos_and_tags(&self.cx, &mut conn).await
    }

    async fn desired_lrp_routing_infos(
        &self,
        filter: &DesiredLrpFilter,
    ) -> DbResult<Vec<DesiredLrp>> {
        let mut conn = self.read_conn().await?;
        desired::routing_infos(&self.cx, &mut conn, filter).await
    }

    async fn desire_lrp(&self, lrp: &DesiredLrp) -> DbResult<DesiredLrp> {
        write_tx!(self, |cx, conn| desired::desire(cx, conn, lrp, now_ns()))
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
        write_tx!(self, |cx, conn| actual::create_unclaimed(
            cx,
            conn,
            key,
            now_ns()
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
        let m = &mut result.metrics;

        if !plan.expired_pending.is_empty() {
            let list = &plan.expired_pending;
            match write_tx!(self, |cx, conn| task_convergence::fail_tasks(
                cx,
                conn,
                list,
                models::task::State::Pending,
                Some(pending_before),
                task_convergence::EXPIRED_FAILURE_REASON,
                now_ns
            )) {
                Ok(n) => {
                    m.kicked += n;
                    for t in list {
                        let after = task_convergence::failed(
                            t,
                            task_convergence::EXPIRED_FAILURE_REASON,
                            now_ns,
                        );
                        result.changed.push((t.clone(), after));
                    }
                }
                Err(e) => tracing::error!(error = %e, "cannot fail expired pending tasks"),
            }
        }
        m.kicked += plan.to_auction.len() as u64;
        result.tasks_to_auction = plan.to_auction;

        if !plan.lost_cell.is_empty() {
            let list = &plan.lost_cell;
            match write_tx!(self, |cx, conn| task_convergence::fail_tasks(
                cx,
                conn,
                list,
                models::task::State::Running,
                None,
                task_convergence::CELL_DISAPPEARED_FAILURE_REASON,
                now_ns
            )) {
                Ok(n) => {
                    m.kicked += n;
                    for t in list {
                        let after = task_convergence::failed(
                            t,
                            task_convergence::CELL_DISAPPEARED_FAILURE_REASON,
                            now_ns,
                        );
                        result.changed.push((t.clone(), after));
                    }
                }
                Err(e) => tracing::error!(error = %e, "cannot fail tasks of disappeared cells"),
            }
        }

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
                    m.pruned += n;
                    result.removed.extend(list.iter().cloned());
                }
                Err(e) => tracing::error!(error = %e, "cannot delete expired completed tasks"),
            }
        }
        m.kicked += plan.to_complete.len() as u64;
        result.tasks_to_complete = plan.to_complete;

        match self.read_conn().await {
            Ok(mut conn) => {
                if let Err(e) = task_convergence::counts(&self.cx, &mut conn, m).await {
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
