//! The clients of benchmarkbbs's workload, each on a 30 s cycle with a
//! random first offset: simulated reps (bulk fetch of their cell's actual
//! LRPs and tasks, then claim+start of a percentage of them), an
//! nsync-like bulker (all scheduling infos), a cell-presence fetcher and
//! cell-local route emitters (their cell's actual LRPs, then the routing
//! infos of those LRPs; plus an event stream per cell, see `events`).

use super::stats::{EventCounts, Recorder};
use bbs_client::{
    ActualLrpFilter, BbsClient, DesiredLrpFilter, EventError, HttpBbsClient, InternalBbsClient,
    RunningInfo, TaskFilter,
};
use futures::StreamExt;
use models::events::Event;
use models::{ActualLrp, DesiredLrPsRequest, DesiredLrpSchedulingInfo};
use rand::{Rng, SeedableRng};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

pub const REP_BULK_FETCH: &str = "rep bulk fetch: actual LRPs of the cell";
pub const REP_TASK_FETCH: &str = "rep bulk fetch: tasks of the cell";
pub const REP_BULK_LOOP: &str = "rep bulk loop (fetches + writes)";
pub const REP_CLAIM: &str = "rep claim actual LRP";
pub const REP_START: &str = "rep start actual LRP";
pub const NSYNC_FETCH: &str = "nsync fetch all scheduling infos";
pub const NSYNC_DECODE: &str = "nsync fetch all scheduling infos: of which decoding";
pub const CELLS_FETCH: &str = "fetch all cell presences";
pub const EMITTER_ACTUALS: &str = "route emitter: actual LRPs of the cell";
pub const EMITTER_ROUTING: &str = "route emitter: routing infos of the cell's LRPs";

/// What every client of the load shares.
pub struct Load {
    pub client: HttpBbsClient,
    pub rec: Recorder,
    pub events: EventCounts,
    pub cells: Vec<String>,
    /// Actual LRPs each cell holds.
    pub expected_per_cell: Vec<usize>,
    pub desired_total: usize,
    pub percent_writes: f64,
    pub cycle: Duration,
    pub cycles: usize,
    /// Bounds the requests in flight (Diego's benchmark bounds them too).
    pub in_flight: Semaphore,
    /// When the load starts (set once the event streams are open).
    pub start: std::sync::OnceLock<Instant>,
}

impl Load {
    /// Times one call of kind `kind` (bounded by `in_flight`).
    async fn call<T>(
        &self,
        kind: &'static str,
        call: impl std::future::Future<Output = bbs_client::Result<T>>,
    ) -> Option<T> {
        self.rec
            .time(kind, async {
                let _permit = self.in_flight.acquire().await?;
                Ok(call.await?)
            })
            .await
    }

    /// Sleeps until cycle `j` of a client whose first cycle starts at `offset`.
    async fn wait_cycle(&self, offset: Duration, j: usize) {
        let start = *self.start.get_or_init(Instant::now);
        let at = start + offset + self.cycle * j as u32;
        tokio::time::sleep_until(at.into()).await;
    }

    fn offset(&self, rng: &mut impl Rng) -> Duration {
        self.cycle.mul_f64(rng.gen::<f64>())
    }
}

/// One simulated rep.
pub async fn rep(load: Arc<Load>, cell: usize, seed: u64) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let offset = load.offset(&mut rng);
    let cell_id = load.cells[cell].clone();
    for j in 0..load.cycles {
        load.wait_cycle(offset, j).await;
        let t = Instant::now();
        let on_cell = ActualLrpFilter::cell(&cell_id);
        let Some(actuals) = load
            .call(REP_BULK_FETCH, load.client.actual_lrps(&on_cell))
            .await
        else {
            continue;
        };
        if actuals.len() != load.expected_per_cell[cell] {
            load.rec.mismatches.lock().unwrap().push(format!(
                "{cell_id}: {} actual LRPs, want {}",
                actuals.len(),
                load.expected_per_cell[cell]
            ));
        }
        let tasks = TaskFilter {
            cell_id: cell_id.clone(),
            ..Default::default()
        };
        load.call(REP_TASK_FETCH, load.client.tasks(&tasks)).await;
        // Claim then start: two writes, hence half the percentage (as Diego's benchmark).
        let chosen: Vec<ActualLrp> = actuals
            .into_iter()
            .filter(|_| rng.gen::<f64>() * 100.0 < load.percent_writes / 2.0)
            .collect();
        let writes = chosen.iter().map(|lrp| claim_and_start(&load, cell, lrp));
        futures::future::join_all(writes).await;
        let took = t.elapsed();
        load.rec.record(REP_BULK_LOOP, took);
        if took > load.cycle {
            load.rec.overruns.lock().unwrap().push(format!(
                "{cell_id} rep bulk loop {j} took {took:?} (> {:?})",
                load.cycle
            ));
        }
    }
}

async fn claim_and_start(load: &Load, cell: usize, lrp: &ActualLrp) {
    let key = lrp.actual_lrp_key.clone().unwrap_or_default();
    let instance_key = lrp.actual_lrp_instance_key.clone().unwrap_or_default();
    if load
        .call(REP_CLAIM, load.client.claim_actual_lrp(&key, &instance_key))
        .await
        .is_none()
    {
        return;
    }
    // RUNNING -> CLAIMED is one instance change.
    load.events.expect(cell, 1);
    let info = RunningInfo {
        net_info: lrp.actual_lrp_net_info.clone().unwrap_or_default(),
        internal_routes: lrp.actual_lrp_internal_routes.clone(),
        metric_tags: lrp.metric_tags.clone(),
        routable: true,
        availability_zone: lrp.availability_zone.clone(),
    };
    if load
        .call(
            REP_START,
            load.client.start_actual_lrp(&key, &instance_key, &info),
        )
        .await
        .is_some()
    {
        load.events.expect(cell, 1);
    }
}

/// nsync's read: every scheduling info, and the time spent decoding them.
async fn all_scheduling_infos(
    load: &Load,
) -> anyhow::Result<(Vec<DesiredLrpSchedulingInfo>, Duration)> {
    Ok(load
        .client
        .list_streaming(
            &models::bbs_routes::DESIRED_LRP_SCHEDULING_INFOS,
            &DesiredLrPsRequest::default(),
        )
        .await?)
}

/// One nsync fetch before the timed load, printed but not timed: the load
/// generator's first decode of every scheduling info faults in the memory
/// it needs (about a second at 250,000), a cost of this process starting,
/// which a long-running nsync pays once.
pub async fn nsync_warm_up(load: &Load) -> anyhow::Result<()> {
    let t = Instant::now();
    let (got, _) = all_scheduling_infos(load).await?;
    eprintln!(
        "nsync warm-up fetch (the load generator's first; not timed): {} scheduling infos in {:?}",
        got.len(),
        t.elapsed()
    );
    Ok(())
}

/// The nsync bulker: every scheduling info, every cycle.
pub async fn nsync(load: Arc<Load>, seed: u64) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let offset = load.offset(&mut rng);
    for j in 0..load.cycles {
        load.wait_cycle(offset, j).await;
        let t = Instant::now();
        let got = load
            .rec
            .time(NSYNC_FETCH, async {
                let _permit = load.in_flight.acquire().await?;
                let (got, decoding) = all_scheduling_infos(&load).await?;
                load.rec.record(NSYNC_DECODE, decoding);
                Ok(got)
            })
            .await;
        if let Some(got) = got {
            if got.len() != load.desired_total {
                load.rec.mismatches.lock().unwrap().push(format!(
                    "nsync: {} scheduling infos, want {}",
                    got.len(),
                    load.desired_total
                ));
            }
        }
        if t.elapsed() > load.cycle {
            load.rec
                .overruns
                .lock()
                .unwrap()
                .push(format!("nsync fetch {j} took {:?}", t.elapsed()));
        }
    }
}

/// Fetches the cell presences every cycle (benchmarkbbs's ensureCellsRegistered).
pub async fn cells(load: Arc<Load>, seed: u64) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let offset = load.offset(&mut rng);
    for j in 0..load.cycles {
        load.wait_cycle(offset, j).await;
        let got = load.call(CELLS_FETCH, load.client.cells()).await;
        if let Some(got) = got {
            if got.len() != load.cells.len() {
                load.rec.mismatches.lock().unwrap().push(format!(
                    "cells: {} presences, want {}",
                    got.len(),
                    load.cells.len()
                ));
            }
        }
    }
}

/// A cell-local route emitter's bulk loop.
pub async fn route_emitter(load: Arc<Load>, cell: usize, seed: u64) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let offset = load.offset(&mut rng);
    let cell_id = load.cells[cell].clone();
    for j in 0..load.cycles {
        load.wait_cycle(offset, j).await;
        let t = Instant::now();
        let on_cell = ActualLrpFilter::cell(&cell_id);
        let Some(actuals) = load
            .call(EMITTER_ACTUALS, load.client.actual_lrps(&on_cell))
            .await
        else {
            continue;
        };
        let guids: Vec<String> = actuals
            .iter()
            .filter_map(|l| l.actual_lrp_key.as_ref().map(|k| k.process_guid.clone()))
            .collect();
        let want = guids.len();
        let filter = DesiredLrpFilter {
            process_guids: guids,
            ..Default::default()
        };
        if let Some(got) = load
            .call(
                EMITTER_ROUTING,
                load.client.desired_lrp_routing_infos(&filter),
            )
            .await
        {
            if got.len() != want {
                load.rec.mismatches.lock().unwrap().push(format!(
                    "{cell_id}: {} routing infos, want {want}",
                    got.len()
                ));
            }
        }
        if t.elapsed() > load.cycle {
            load.rec.overruns.lock().unwrap().push(format!(
                "{cell_id} route emitter loop {j} took {:?}",
                t.elapsed()
            ));
        }
    }
}

/// Counts instance-changed events on the stream of `cell` (None: the
/// global stream); `subscribed` is called once the stream is open.
pub async fn events(
    load: Arc<Load>,
    cell: Option<usize>,
    subscribed: tokio::sync::mpsc::Sender<()>,
) {
    let cell_id = cell.map(|c| load.cells[c].clone()).unwrap_or_default();
    let counts = &load.events;
    let mut stream = match load.client.subscribe_to_instance_events(&cell_id).await {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(cell = %cell_id, error = %e, "event stream failed");
            counts.streams_ended.fetch_add(1, Ordering::Relaxed);
            return;
        }
    };
    let _ = subscribed.try_send(());
    while let Some(item) = stream.next().await {
        let e = match item {
            Ok(Event::ActualLrpInstanceChanged(e)) => e,
            Ok(_) => continue,
            Err(e @ EventError::Source(_)) => {
                tracing::warn!(cell = %cell_id, error = %e, "event stream failed");
                break;
            }
            Err(e) => {
                tracing::warn!(error = %e, "undecodable event");
                continue;
            }
        };
        match cell {
            None => {
                counts.received_global.fetch_add(1, Ordering::Relaxed);
            }
            Some(c) => {
                let on = e
                    .actual_lrp_instance_key
                    .as_ref()
                    .map(|k| k.cell_id.as_str())
                    .unwrap_or("");
                if on == cell_id {
                    counts.received_by_cell[c].fetch_add(1, Ordering::Relaxed);
                } else {
                    counts.foreign.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }
    counts.streams_ended.fetch_add(1, Ordering::Relaxed);
}
