//! The auction loop: start requests accumulate in a [`Batch`]; each time
//! there is work the runner fetches the cells from the BBS and their states
//! from the reps, drains and dedupes the batch, schedules it, sends the
//! work to the reps and reports what failed to the BBS.

use crate::scheduler::{
    build_zones, dedupe, AuctionResults, Cell, LrpAuction, Scheduler, SchedulerConfig, TaskAuction,
    Zones,
};
use bbs_client::InternalBbsClient;
use futures::stream::{self, StreamExt};
use models::auctioneer::{LrpStartRequest, TaskStartRequest};
use models::rep::{Lrp, Work};
use rep_client::{RepClient, RepClientFactory};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{watch, Notify};

#[derive(Default)]
struct BatchInner {
    lrps: Vec<LrpAuction>,
    tasks: Vec<TaskAuction>,
    has_work: bool,
}

/// Pending auctions.
#[derive(Default)]
pub struct Batch {
    inner: Mutex<BatchInner>,
    notify: Notify,
}

impl Batch {
    pub fn add_lrp_starts(&self, starts: Vec<LrpStartRequest>) {
        let mut auctions = Vec::new();
        for s in starts {
            for &index in &s.indices {
                let key = models::ActualLrpKey {
                    process_guid: s.process_guid.clone(),
                    index,
                    domain: s.domain.clone(),
                };
                auctions.push(LrpAuction::new(Lrp::new(
                    "",
                    &key,
                    s.resource,
                    s.placement_constraint.clone(),
                )));
            }
        }
        let mut g = self.inner.lock().unwrap();
        g.lrps.extend(auctions);
        g.has_work = true;
        drop(g);
        self.notify.notify_one();
    }

    pub fn add_tasks(&self, tasks: Vec<TaskStartRequest>) {
        let mut g = self.inner.lock().unwrap();
        g.tasks
            .extend(tasks.into_iter().map(|t| TaskAuction::new(t.task)));
        g.has_work = true;
        drop(g);
        self.notify.notify_one();
    }

    /// Waits until something was added since the last drain.
    pub async fn wait(&self) {
        loop {
            let n = self.notify.notified();
            if self.inner.lock().unwrap().has_work {
                return;
            }
            n.await;
        }
    }

    pub fn dedupe_and_drain(&self) -> (Vec<LrpAuction>, Vec<TaskAuction>) {
        let mut g = self.inner.lock().unwrap();
        let lrps = std::mem::take(&mut g.lrps);
        let tasks = std::mem::take(&mut g.tasks);
        g.has_work = false;
        drop(g);
        dedupe(lrps, tasks)
    }
}

pub struct Runner {
    pub batch: Arc<Batch>,
    bbs: Arc<dyn InternalBbsClient>,
    reps: RepClientFactory,
    cfg: SchedulerConfig,
    workers: usize,
}

/// Totals since start, for logs and tests.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RunnerStats {
    pub auctions: u64,
    pub placed_lrps: u64,
    pub placed_tasks: u64,
    pub failed_lrps: u64,
    pub failed_tasks: u64,
}

impl Runner {
    pub fn new(
        bbs: Arc<dyn InternalBbsClient>,
        reps: RepClientFactory,
        cfg: SchedulerConfig,
        workers: usize,
    ) -> Self {
        Self {
            batch: Arc::new(Batch::default()),
            bbs,
            reps,
            cfg,
            workers: workers.max(1),
        }
    }

    /// Runs until `stop` becomes true.
    pub async fn run(self, mut stop: watch::Receiver<bool>, stats: watch::Sender<RunnerStats>) {
        loop {
            tokio::select! {
                _ = self.batch.wait() => {}
                _ = stop.wait_for(|s| *s) => return,
            }
            let cells = loop {
                match self.bbs.cells().await {
                    Ok(c) => break c,
                    Err(e) => {
                        tracing::error!(error = %e, "failed-to-fetch-reps");
                        tokio::select! {
                            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                            _ = stop.wait_for(|s| *s) => return,
                        }
                    }
                }
            };
            let started = Instant::now();
            let zones = self.fetch_state_and_build_zones(&cells).await;
            let cell_count: usize = zones.values().map(Vec::len).sum();
            tracing::info!(
                cell_state_count = cell_count,
                num_failed_requests = cells.len() - cell_count,
                duration_ms = started.elapsed().as_millis() as u64,
                "fetched-zone-state"
            );
            let (lrps, tasks) = self.batch.dedupe_and_drain();
            if lrps.is_empty() && tasks.is_empty() {
                tracing::info!("nothing-to-auction");
                continue;
            }
            let results = self.auction(zones, lrps, tasks).await;
            tracing::info!(
                successful_lrp_start_auctions = results.successful_lrps.len(),
                successful_task_auctions = results.successful_tasks.len(),
                failed_lrp_start_auctions = results.failed_lrps.len(),
                failed_task_auctions = results.failed_tasks.len(),
                "scheduled"
            );
            stats.send_modify(|s| {
                s.auctions += 1;
                s.placed_lrps += results.successful_lrps.len() as u64;
                s.placed_tasks += results.successful_tasks.len() as u64;
                s.failed_lrps += results.failed_lrps.len() as u64;
                s.failed_tasks += results.failed_tasks.len() as u64;
            });
            self.report(&results).await;
        }
    }

    /// Every cell's `GET /state`, in parallel; evacuating cells and cells
    /// answering with another cell id are left out. Retried up to four
    /// times while no cell answers.
    pub async fn fetch_state_and_build_zones(&self, cells: &[models::CellPresence]) -> Zones {
        for attempt in 0..4 {
            let fetched: Vec<Cell> = stream::iter(cells.iter().cloned())
                .map(|c| {
                    let rep = self.reps.client_for(&c);
                    async move {
                    let rep = match rep {
                        Ok(rep) => rep,
                        Err(e) => {
                            tracing::error!(cell_guid = %c.cell_id, error = %e, "failed-to-get-state");
                            return None;
                        }
                    };
                    match rep.state().await {
                        Ok(state) if state.evacuating => {
                            tracing::info!(cell_guid = %c.cell_id, "ignored-evacuating-cell");
                            None
                        }
                        Ok(state) if !state.cell_id.is_empty() && state.cell_id != c.cell_id => {
                            tracing::error!(cell_guid = %c.cell_id, cell_state_guid = %state.cell_id, "cell-id-mismatch");
                            None
                        }
                        Ok(state) => Some(Cell::new(&c.cell_id, rep.url(), state)),
                        Err(e) => {
                            tracing::error!(cell_guid = %c.cell_id, error = %e, "failed-to-get-state");
                            None
                        }
                    }
                    }
                })
                .buffer_unordered(self.workers)
                .filter_map(|c| async move { c })
                .collect()
                .await;
            let zones = build_zones(fetched, self.cfg.bin_pack_first_fit_weight);
            if !zones.is_empty() {
                return zones;
            }
            if attempt == 3 {
                tracing::info!("failed-to-communicate-to-cells-abort");
            } else {
                tracing::info!("failed-to-communicate-to-cells-retry");
            }
        }
        Zones::new()
    }

    /// Schedules and commits one batch.
    pub async fn auction(
        &self,
        zones: Zones,
        lrps: Vec<LrpAuction>,
        tasks: Vec<TaskAuction>,
    ) -> AuctionResults {
        let mut scheduler = Scheduler::new(zones, self.cfg);
        let scheduled = scheduler.schedule(lrps, tasks);
        let failed: Vec<Work> = stream::iter(scheduler.into_cells().filter(|c| !c.work.is_empty()))
            .map(|c| {
                let rep = self.reps.client_at(&c.rep_url);
                async move {
                    match rep.perform(&c.work).await {
                        Ok(failed) => failed,
                        Err(e) => {
                            // Not rescheduled: convergence retries it.
                            tracing::error!(cell_guid = %c.guid, error = %e, "failed-to-commit");
                            Work::default()
                        }
                    }
                }
            })
            .buffer_unordered(self.workers)
            .collect()
            .await;
        scheduled.finish(failed)
    }

    /// FailActualLRP / RejectTask for what was not placed.
    pub async fn report(&self, results: &AuctionResults) {
        stream::iter(results.failed_tasks.iter().cloned())
            .for_each_concurrent(32, |t| {
                let bbs = self.bbs.clone();
                async move {
                if let Err(e) = bbs
                    .reject_task(&t.task.task_guid, &t.placement_error)
                    .await
                {
                    tracing::error!(task_guid = %t.task.task_guid, error = %e, "failed-to-reject-task");
                }
                }
            })
            .await;
        stream::iter(results.failed_lrps.iter().cloned())
            .for_each_concurrent(32, |l| {
                let bbs = self.bbs.clone();
                async move {
                if let Err(e) = bbs
                    .fail_actual_lrp(&l.lrp.actual_lrp_key(), &l.placement_error)
                    .await
                {
                    tracing::error!(lrp_guid = %l.lrp.identifier(), error = %e, "failed-to-fail-LRP");
                }
                }
            })
            .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use models::rep::{PlacementConstraint, Resource, Task};

    #[tokio::test]
    async fn batch_expands_indices_dedupes_and_clears() {
        let b = Batch::default();
        b.add_lrp_starts(vec![LrpStartRequest::new(
            "pg",
            "d",
            vec![0, 1, 1],
            Resource::new(1, 1, 0),
            PlacementConstraint::new("docker:///x", vec![], vec![]),
        )]);
        b.add_tasks(vec![
            TaskStartRequest::new(Task::new("t", "d", Resource::default(), Default::default())),
            TaskStartRequest::new(Task::new("t", "d", Resource::default(), Default::default())),
        ]);
        b.wait().await;
        let (l, t) = b.dedupe_and_drain();
        assert_eq!(l.len(), 2);
        assert_eq!(t.len(), 1);
        let waited = tokio::time::timeout(Duration::from_millis(50), b.wait()).await;
        assert!(waited.is_err(), "no work left after a drain");
    }
}
