//! The converger (Diego's `converger/converger.go`): every
//! `converge_repeat_interval` it runs LRP and task convergence
//! concurrently, waits for both, then re-arms. It runs only in the active
//! BBS ([`crate::server`] starts it once the `bbs` lock is held and the
//! store is open; it stops with the BBS, including when the lock is lost).
//! Each pass logs one JSON line (target `converger`) with its counts and
//! duration and records Prometheus metrics.

use crate::clients::TaskStartRequest;
use crate::controllers::lrp_convergence::{
    cell_set, now_ns, LrpConvergenceController, LrpConvergenceReport,
};
use crate::controllers::Deps;
use crate::events::Event;
use crate::metrics::Metrics;
use crate::taskcallback::callback_url;
use models::{TaskChangedEvent, TaskRemovedEvent};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Timing of the converger (Diego's names and defaults come from the config).
#[derive(Debug, Clone, Copy)]
pub struct ConvergerConfig {
    pub converge_repeat_interval: Duration,
    pub kick_task_duration: Duration,
    pub expire_pending_task_duration: Duration,
    pub expire_completed_task_duration: Duration,
    pub convergence_workers: usize,
}

/// What one task convergence pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskConvergenceReport {
    pub changed: usize,
    pub removed: usize,
    pub auctioned: usize,
    pub callbacks: usize,
    pub pending: i64,
    pub running: i64,
    pub completed: i64,
    pub resolving: i64,
    pub kicked: u64,
    pub pruned: u64,
    pub skipped: Option<String>,
}

/// One full pass.
#[derive(Debug, Clone, Default)]
pub struct PassReport {
    pub lrps: LrpConvergenceReport,
    pub tasks: TaskConvergenceReport,
    pub lrp_duration: Duration,
    pub task_duration: Duration,
    pub duration: Duration,
}

pub struct Converger {
    deps: Arc<Deps>,
    lrps: LrpConvergenceController,
    metrics: Arc<Metrics>,
    cfg: ConvergerConfig,
    /// One pass at a time (the loop and `run_once` callers).
    running: tokio::sync::Mutex<()>,
    /// Set while a whole cluster is taken down (`diego dev`'s Ctrl-C): its
    /// cells leaving is no loss to repair.
    paused: std::sync::atomic::AtomicBool,
}

impl Converger {
    pub fn new(deps: Arc<Deps>, metrics: Arc<Metrics>, cfg: ConvergerConfig) -> Self {
        Self {
            lrps: LrpConvergenceController::new(deps.clone(), cfg.convergence_workers),
            deps,
            metrics,
            cfg,
            running: tokio::sync::Mutex::new(()),
            paused: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// The loop runs no more passes (`run_once` still does).
    pub fn pause(&self) {
        self.paused.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn config(&self) -> &ConvergerConfig {
        &self.cfg
    }

    /// Runs one pass now (LRPs and tasks concurrently) and returns what it did.
    pub async fn run_once(&self) -> PassReport {
        let _one = self.running.lock().await;
        let trace_id = uuid::Uuid::new_v4().to_string();
        let started = Instant::now();
        let lrps = async {
            let t = Instant::now();
            let r = self.lrps.converge_lrps(&trace_id).await;
            (r, t.elapsed())
        };
        let tasks = async {
            let t = Instant::now();
            let r = self.converge_tasks(&trace_id).await;
            (r, t.elapsed())
        };
        let ((lrps, lrp_duration), (tasks, task_duration)) = tokio::join!(lrps, tasks);
        let report = PassReport {
            lrps,
            tasks,
            lrp_duration,
            task_duration,
            duration: started.elapsed(),
        };
        self.record(&report).await;
        report
    }

    async fn converge_tasks(&self, trace_id: &str) -> TaskConvergenceReport {
        let d = &self.deps;
        let cells = match cell_set(d).await {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "failed-listing-cells: task convergence skipped");
                return TaskConvergenceReport {
                    skipped: Some(e.to_string()),
                    ..Default::default()
                };
            }
        };
        let r = d
            .store
            .converge_tasks(
                &cells,
                self.cfg.kick_task_duration,
                self.cfg.expire_pending_task_duration,
                self.cfg.expire_completed_task_duration,
                now_ns(),
            )
            .await;
        let mut report = TaskConvergenceReport {
            changed: r.changed.len(),
            removed: r.removed.len(),
            auctioned: r.tasks_to_auction.len(),
            pending: r.metrics.pending,
            running: r.metrics.running,
            completed: r.metrics.completed,
            resolving: r.metrics.resolving,
            kicked: r.metrics.kicked,
            pruned: r.metrics.pruned,
            ..Default::default()
        };
        for (before, after) in r.changed {
            d.hubs.task.emit(Event::TaskChanged(TaskChangedEvent {
                before: Some(before),
                after: Some(after),
            }));
        }
        for task in r.removed {
            d.hubs
                .task
                .emit(Event::TaskRemoved(TaskRemovedEvent { task: Some(task) }));
        }
        if !r.tasks_to_auction.is_empty() {
            let starts: Vec<TaskStartRequest> = r
                .tasks_to_auction
                .iter()
                .map(|t| {
                    TaskStartRequest::from_definition(
                        &t.task_guid,
                        &t.domain,
                        t.task_definition.as_ref().unwrap_or(&Default::default()),
                    )
                })
                .collect();
            if let Err(e) = d.auctioneer.request_task_auctions(trace_id, starts).await {
                let guids: Vec<&str> = r
                    .tasks_to_auction
                    .iter()
                    .map(|t| t.task_guid.as_str())
                    .collect();
                tracing::error!(error = %e, task_guids = ?guids,
                    "failed-to-request-auctions-for-pending-tasks");
            }
        }
        for task in r.tasks_to_complete {
            if !callback_url(&task).is_empty() {
                report.callbacks += 1;
                d.task_completion.submit(task);
            }
        }
        report
    }

    async fn record(&self, r: &PassReport) {
        let m = &self.metrics;
        m.convergence_lrp_duration
            .observe(r.lrp_duration.as_secs_f64());
        m.convergence_task_duration
            .observe(r.task_duration.as_secs_f64());
        m.convergence_runs.inc();
        match self.deps.store.count_actual_lrps_by_state().await {
            Ok(c) => {
                for (state, n) in [
                    ("unclaimed", c.unclaimed),
                    ("claimed", c.claimed),
                    ("running", c.running),
                    ("crashed", c.crashed),
                    ("crashing_desired", c.crashing_desireds),
                ] {
                    m.lrps.with_label_values(&[state]).set(n);
                }
            }
            Err(e) => tracing::error!(error = %e, "failed counting actual LRPs"),
        }
        if let Ok(n) = self.deps.store.count_desired_instances().await {
            m.lrps.with_label_values(&["desired"]).set(n);
        }
        for (state, n) in [
            ("missing", r.lrps.missing),
            ("extra", r.lrps.retired),
            ("suspect_running", r.lrps.suspect_running),
            ("suspect_claimed", r.lrps.suspect_claimed),
        ] {
            m.lrps.with_label_values(&[state]).set(n as i64);
        }
        for (state, n) in [
            ("pending", r.tasks.pending),
            ("running", r.tasks.running),
            ("completed", r.tasks.completed),
            ("resolving", r.tasks.resolving),
        ] {
            m.tasks.with_label_values(&[state]).set(n);
        }
        m.tasks_kicked.inc_by(r.tasks.kicked);
        m.tasks_pruned.inc_by(r.tasks.pruned);
        m.cells
            .with_label_values(&["present"])
            .set(r.lrps.cells as i64);
        m.cells
            .with_label_values(&["missing"])
            .set(r.lrps.missing_cells as i64);
        let line = serde_json::json!({
            "message": "bbs.converger.pass",
            "duration_ms": r.duration.as_secs_f64() * 1000.0,
            "lrp_duration_ms": r.lrp_duration.as_secs_f64() * 1000.0,
            "task_duration_ms": r.task_duration.as_secs_f64() * 1000.0,
            "cells": r.lrps.cells,
            "missing_cells": r.lrps.missing_cells,
            "lrps_missing": r.lrps.missing,
            "lrps_unstarted": r.lrps.unstarted,
            "lrps_retired": r.lrps.retired,
            "suspects_created": r.lrps.suspects_created,
            "suspects_promoted": r.lrps.suspects_promoted,
            "suspects_removed": r.lrps.suspects_removed,
            "evacuating_pruned": r.lrps.evacuating_pruned,
            "rep_updates": r.lrps.rep_updates,
            "lrp_start_requests": r.lrps.start_requests,
            "tasks_changed": r.tasks.changed,
            "tasks_removed": r.tasks.removed,
            "tasks_auctioned": r.tasks.auctioned,
            "task_callbacks": r.tasks.callbacks,
            "lrp_skipped": r.lrps.skipped,
            "task_skipped": r.tasks.skipped,
        });
        tracing::info!(target: "converger", "{line}");
    }

    /// Runs a pass every `converge_repeat_interval` (the first one interval
    /// after the start), and at once when a cell disappears, until
    /// `shutdown` turns true.
    pub fn spawn(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) -> JoinHandle<()> {
        tokio::spawn(async move {
            tracing::info!(interval = ?self.cfg.converge_repeat_interval, "converger started");
            let mut known = cell_set(&self.deps).await.unwrap_or_default();
            loop {
                if *shutdown.borrow() {
                    break;
                }
                tokio::select! {
                    _ = tokio::time::sleep(self.cfg.converge_repeat_interval) => {}
                    gone = cell_disappeared(&self.deps, &mut known) => {
                        tracing::info!(cells = ?gone, "cell-disappeared: converging now");
                    }
                    _ = shutdown.changed() => break,
                }
                if self.paused.load(std::sync::atomic::Ordering::SeqCst) {
                    continue;
                }
                tokio::select! {
                    _ = self.run_once() => {}
                    _ = shutdown.changed() => break,
                }
            }
            tracing::info!("converger stopped");
        })
    }
}

/// How often the converger looks for cells that went away.
const CELL_POLL: Duration = Duration::from_secs(1);

/// Resolves with the cells that were present and no longer are: as Diego's
/// converger does on a cell-disappeared event, their instances are then
/// replaced at once rather than after up to a whole interval.
async fn cell_disappeared(deps: &Deps, known: &mut crate::db::CellSet) -> Vec<String> {
    loop {
        tokio::time::sleep(CELL_POLL).await;
        // A failed listing says nothing about the cells: keep what we knew.
        let Ok(now) = cell_set(deps).await else {
            continue;
        };
        let gone: Vec<String> = known
            .iter()
            .filter(|c| !now.contains(*c))
            .cloned()
            .collect();
        *known = now;
        if !gone.is_empty() {
            return gone;
        }
    }
}
