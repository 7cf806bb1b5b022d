//! The route-emitter's loop (Diego's watcher): applies BBS events to the
//! routing table and emits the difference at once; every `sync_interval`
//! (and after each (re)subscription) rebuilds the table from the BBS,
//! replays the events that arrived meanwhile, and emits the difference;
//! re-emits the whole table when the broadcast scheduler asks.

use crate::diff::{diff, everything, Emission};
use crate::emitter::NatsEmitter;
use crate::events::LrpEvent;
use crate::handler;
use crate::metrics::Metrics;
use crate::routing_table::RoutingTable;
use crate::subscription::{subscribe, Feed};
use crate::sync::{fetch, SyncResult};
use crate::unregistration::UnregistrationCache;
use bbs_client::BbsClient;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

pub struct Watcher {
    pub bbs: std::sync::Arc<dyn BbsClient>,
    pub emitter: NatsEmitter,
    pub metrics: Metrics,
    pub cell_id: String,
    pub direct_instance_routes: bool,
    pub sync_interval: Duration,
    /// Publish internal routes to service discovery (`enable_internal_emitter`).
    pub internal_routes: bool,
    pub unregistration_interval: Duration,
    pub unregistration_send_count: u32,
}

impl Watcher {
    pub async fn run(
        self,
        mut emit_all: mpsc::Receiver<()>,
        mut emit_internal: mpsc::Receiver<()>,
        mut shutdown: watch::Receiver<bool>,
    ) -> anyhow::Result<()> {
        let (feed_tx, mut feed) = mpsc::channel(1024);
        let subscription = tokio::spawn(subscribe(self.bbs.clone(), self.cell_id.clone(), feed_tx));
        let mut table = RoutingTable::new(self.direct_instance_routes);
        let (sync_tx, mut sync_done) = mpsc::channel::<anyhow::Result<SyncResult>>(1);
        // Events seen while a sync is fetching, replayed onto its result.
        let mut buffered: Option<Vec<LrpEvent>> = None;
        // The first sync follows the first subscription.
        let mut sync_tick = tokio::time::interval_at(
            tokio::time::Instant::now() + self.sync_interval,
            self.sync_interval,
        );
        let mut unregistrations = UnregistrationCache::new(self.unregistration_send_count);
        let every = self.unregistration_interval.max(Duration::from_millis(10));
        let mut resend = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        let result = loop {
            tokio::select! {
                Some(f) = feed.recv() => {
                    // Events that arrive together (one BBS change can be a
                    // removal plus a creation) are applied together, so a
                    // route moving between records is not unregistered in between.
                    let mut batch = vec![f];
                    while batch.len() < 256 {
                        match feed.try_recv() {
                            Ok(f) => batch.push(f),
                            Err(_) => break,
                        }
                    }
                    let mut events = Vec::with_capacity(batch.len());
                    for f in batch {
                        match f {
                            Feed::Subscribed => self.start_sync(&mut buffered, &sync_tx),
                            Feed::Event(ev) => events.push(*ev),
                        }
                    }
                    unregistrations.record(&self.handle(&mut table, &events).await);
                    if let Some(b) = buffered.as_mut() {
                        b.extend(events);
                    }
                }
                _ = sync_tick.tick() => self.start_sync(&mut buffered, &sync_tx),
                Some(r) = sync_done.recv() => {
                    let events = buffered.take().unwrap_or_default();
                    match r {
                        Ok(r) => unregistrations.record(&self.finish_sync(&mut table, r, events).await),
                        Err(e) => tracing::error!(error = format!("{e:#}"), "failed-to-sync"),
                    }
                }
                Some(()) = emit_all.recv() => {
                    let e = everything(table.all_messages());
                    tracing::info!(registrations = e.register.len(), "emitting-routes");
                    self.emitter.emit(&e).await;
                }
                Some(()) = emit_internal.recv(), if self.internal_routes => {
                    let e = everything(table.all_internal_messages());
                    tracing::info!(registrations = e.register.len(), "emitting-internal-routes");
                    self.emitter.emit_internal(&e).await;
                }
                _ = resend.tick(), if !unregistrations.is_empty() => {
                    let e = unregistrations.due();
                    tracing::debug!(unregistrations = e.unregister.len(), "resending-unregistrations");
                    self.emitter.emit(&e).await;
                }
                _ = shutdown.changed() => break Ok(()),
            }
        };
        subscription.abort();
        result
    }

    fn start_sync(
        &self,
        buffered: &mut Option<Vec<LrpEvent>>,
        tx: &mpsc::Sender<anyhow::Result<SyncResult>>,
    ) {
        if buffered.is_some() {
            tracing::debug!("sync-already-in-progress");
            return;
        }
        *buffered = Some(Vec::new());
        let bbs = self.bbs.clone();
        let cell_id = self.cell_id.clone();
        let tx = tx.clone();
        tokio::spawn(async move {
            let _ = tx.send(fetch(bbs.as_ref(), &cell_id).await).await;
        });
    }

    /// Swaps in the synced table; returns the HTTP routes emitted.
    async fn finish_sync(
        &self,
        table: &mut RoutingTable,
        r: SyncResult,
        events: Vec<LrpEvent>,
    ) -> Emission {
        let mut fresh = RoutingTable::new(self.direct_instance_routes);
        for d in &r.desired {
            fresh.set_desired(d);
        }
        for a in &r.actuals {
            fresh.add_endpoint(a);
        }
        for ev in &events {
            handler::apply(&mut fresh, ev);
        }
        table.keep_unfresh_routes(&mut fresh, &r.domains);
        let after = fresh.all_messages();
        let e = diff(&table.all_messages(), &after);
        let internal = if self.internal_routes {
            diff(
                &table.all_internal_messages(),
                &fresh.all_internal_messages(),
            )
        } else {
            Emission::default()
        };
        *table = fresh;
        let took = r.started.elapsed();
        tracing::info!(
            registrations = e.register.len(),
            unregistrations = e.unregister.len(),
            duration_ms = took.as_millis() as u64,
            "synced"
        );
        self.emitter.emit(&e).await;
        self.emitter.emit_internal(&internal).await;
        self.metrics.sync_duration_seconds.set(took.as_secs_f64());
        self.metrics.syncs.inc();
        self.metrics.routes_total.set(after.len() as i64);
        e
    }

    /// Applies events; returns the HTTP routes emitted.
    async fn handle(&self, table: &mut RoutingTable, events: &[LrpEvent]) -> Emission {
        if events.is_empty() {
            return Emission::default();
        }
        let mut guids: Vec<String> = events
            .iter()
            .map(|ev| handler::process_guid(ev).to_string())
            .collect();
        guids.sort();
        guids.dedup();
        // A cell-local emitter learns of a process from its instances.
        for ev in events {
            if let Some(a) = handler::running_instance(ev) {
                if !table.has_desired(a.process_guid()) {
                    self.refresh_desired(table, a).await;
                }
            }
        }
        let before: Vec<_> = guids.iter().map(|pg| table.messages_for(pg)).collect();
        let internal_before: Vec<_> = if self.internal_routes {
            guids
                .iter()
                .map(|pg| table.internal_messages_for(pg))
                .collect()
        } else {
            Vec::new()
        };
        for ev in events {
            handler::apply(table, ev);
        }
        let mut e = Emission::default();
        // Counted per change, not recounted: the table can be large.
        let mut delta = 0i64;
        for (pg, before) in guids.iter().zip(&before) {
            let after = table.messages_for(pg);
            delta += after.len() as i64 - before.len() as i64;
            e.extend(diff(before, &after));
        }
        self.metrics.routes_total.add(delta);
        if !e.is_empty() {
            tracing::info!(
                process_guids = ?guids,
                registrations = e.register.len(),
                unregistrations = e.unregister.len(),
                "routes-changed"
            );
            self.emitter.emit(&e).await;
        }
        let mut internal = Emission::default();
        for (pg, before) in guids.iter().zip(&internal_before) {
            internal.extend(diff(before, &table.internal_messages_for(pg)));
        }
        self.emitter.emit_internal(&internal).await;
        e
    }

    async fn refresh_desired(&self, table: &mut RoutingTable, a: &models::ActualLrp) {
        let filter = bbs_client::DesiredLrpFilter {
            process_guids: vec![a.process_guid().to_string()],
            ..Default::default()
        };
        match self.bbs.desired_lrp_routing_infos(&filter).await {
            Ok(ds) => ds.iter().for_each(|d| table.set_desired(d)),
            Err(e) => tracing::error!(
                error = %e,
                "failed-getting-desired-lrp-routing-info"
            ),
        }
    }
}
