//! Prometheus metrics: request count and latency per route (Diego's
//! RequestCount / RequestLatency), event subscribers per hub. Served as
//! text at `GET /metrics` on the health address.

use crate::events::Hubs;
use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

pub struct Metrics {
    pub registry: Registry,
    pub request_count: IntCounterVec,
    pub request_latency: HistogramVec,
    pub event_subscribers: IntGaugeVec,
    /// Convergence (Diego's ConvergenceLRPDuration / ConvergenceTaskDuration,
    /// LRP and task counts by state, kicked/pruned tasks, cells).
    pub convergence_lrp_duration: Histogram,
    pub convergence_task_duration: Histogram,
    pub convergence_runs: IntCounter,
    pub lrps: IntGaugeVec,
    pub tasks: IntGaugeVec,
    pub tasks_kicked: IntCounter,
    pub tasks_pruned: IntCounter,
    pub cells: IntGaugeVec,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let request_count = IntCounterVec::new(
            Opts::new("bbs_requests_total", "BBS API requests handled, by route"),
            &["route"],
        )
        .expect("metric");
        let request_latency = HistogramVec::new(
            HistogramOpts::new(
                "bbs_request_latency_seconds",
                "BBS API request latency, by route",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                10.0,
            ]),
            &["route"],
        )
        .expect("metric");
        let event_subscribers = IntGaugeVec::new(
            Opts::new(
                "bbs_event_subscribers",
                "Open event stream subscriptions, by hub",
            ),
            &["hub"],
        )
        .expect("metric");
        registry
            .register(Box::new(request_count.clone()))
            .expect("register");
        registry
            .register(Box::new(request_latency.clone()))
            .expect("register");
        registry
            .register(Box::new(event_subscribers.clone()))
            .expect("register");
        let buckets = vec![
            0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0,
        ];
        let convergence_lrp_duration = Histogram::with_opts(
            HistogramOpts::new(
                "bbs_convergence_lrp_duration_seconds",
                "Duration of LRP convergence passes",
            )
            .buckets(buckets.clone()),
        )
        .expect("metric");
        let convergence_task_duration = Histogram::with_opts(
            HistogramOpts::new(
                "bbs_convergence_task_duration_seconds",
                "Duration of task convergence passes",
            )
            .buckets(buckets),
        )
        .expect("metric");
        let convergence_runs =
            IntCounter::new("bbs_convergence_runs_total", "Convergence passes run")
                .expect("metric");
        let lrps = IntGaugeVec::new(
            Opts::new(
                "bbs_lrps",
                "LRP instances at the last convergence, by state (unclaimed, claimed, running, \
                 crashed, crashing_desired, desired, missing, extra, suspect_running, \
                 suspect_claimed)",
            ),
            &["state"],
        )
        .expect("metric");
        let tasks = IntGaugeVec::new(
            Opts::new("bbs_tasks", "Tasks at the last convergence, by state"),
            &["state"],
        )
        .expect("metric");
        let tasks_kicked = IntCounter::new(
            "bbs_convergence_tasks_kicked_total",
            "Tasks kicked by convergence",
        )
        .expect("metric");
        let tasks_pruned = IntCounter::new(
            "bbs_convergence_tasks_pruned_total",
            "Tasks pruned by convergence",
        )
        .expect("metric");
        let cells = IntGaugeVec::new(
            Opts::new(
                "bbs_cells",
                "Cells at the last convergence (present, missing)",
            ),
            &["state"],
        )
        .expect("metric");
        for c in [
            Box::new(convergence_lrp_duration.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(convergence_task_duration.clone()),
            Box::new(convergence_runs.clone()),
            Box::new(lrps.clone()),
            Box::new(tasks.clone()),
            Box::new(tasks_kicked.clone()),
            Box::new(tasks_pruned.clone()),
            Box::new(cells.clone()),
        ] {
            registry.register(c).expect("register");
        }
        Self {
            registry,
            request_count,
            request_latency,
            event_subscribers,
            convergence_lrp_duration,
            convergence_task_duration,
            convergence_runs,
            lrps,
            tasks,
            tasks_kicked,
            tasks_pruned,
            cells,
        }
    }

    /// The registry in Prometheus text format.
    pub fn render(&self, hubs: Option<&Hubs>) -> String {
        if let Some(h) = hubs {
            for hub in [&h.desired, &h.actual, &h.actual_instance, &h.task] {
                self.event_subscribers
                    .with_label_values(&[hub.name()])
                    .set(hub.subscriber_count() as i64);
            }
        }
        let mut buf = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }
}
