//! Prometheus metrics: request count and latency per route (Diego's
//! RequestCount / RequestLatency), event subscribers per hub. Served as
//! text at `GET /metrics` on the health address.

use crate::events::Hubs;
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder,
};

pub struct Metrics {
    pub registry: Registry,
    pub request_count: IntCounterVec,
    pub request_latency: HistogramVec,
    pub event_subscribers: IntGaugeVec,
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
        Self {
            registry,
            request_count,
            request_latency,
            event_subscribers,
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
