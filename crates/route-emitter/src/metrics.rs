//! Prometheus metrics, served on `healthcheck_address` at `/metrics`
//! (any other path answers 200, the health check).

use prometheus::{Encoder, Gauge, IntCounter, IntCounterVec, IntGauge, Opts, Registry};
use std::net::SocketAddr;

#[derive(Clone)]
pub struct Metrics {
    pub registry: Registry,
    /// Diego's RoutesTotal: (route, instance) registrations in the table.
    pub routes_total: IntGauge,
    /// NATS messages published, by subject.
    pub messages_emitted: IntCounterVec,
    /// Duration of the last full sync with the BBS (Diego's RouteEmitterSyncDuration).
    pub sync_duration_seconds: Gauge,
    pub syncs: IntCounter,
    pub lock_held: IntGauge,
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let routes_total = IntGauge::new(
            "route_emitter_routes_total",
            "HTTP route registrations (route x instance) in the routing table",
        )
        .unwrap();
        let messages_emitted = IntCounterVec::new(
            Opts::new(
                "route_emitter_messages_emitted_total",
                "NATS messages published, by subject",
            ),
            &["subject"],
        )
        .unwrap();
        let sync_duration_seconds = Gauge::new(
            "route_emitter_sync_duration_seconds",
            "Duration of the last full sync with the BBS",
        )
        .unwrap();
        let syncs =
            IntCounter::new("route_emitter_syncs_total", "Full syncs with the BBS").unwrap();
        let lock_held = IntGauge::new(
            "route_emitter_lock_held",
            "1 while this global route-emitter holds the route_emitter lock",
        )
        .unwrap();
        registry.register(Box::new(routes_total.clone())).unwrap();
        registry
            .register(Box::new(messages_emitted.clone()))
            .unwrap();
        registry
            .register(Box::new(sync_duration_seconds.clone()))
            .unwrap();
        registry.register(Box::new(syncs.clone())).unwrap();
        registry.register(Box::new(lock_held.clone())).unwrap();
        Self {
            registry,
            routes_total,
            messages_emitted,
            sync_duration_seconds,
            syncs,
            lock_held,
        }
    }

    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        prometheus::TextEncoder::new()
            .encode(&self.registry.gather(), &mut buf)
            .unwrap_or_default();
        String::from_utf8(buf).unwrap_or_default()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Serves `/metrics` and health until the task is dropped.
pub async fn serve(address: &str, metrics: Metrics) -> anyhow::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(address).await?;
    let addr = listener.local_addr()?;
    let app = axum::Router::new()
        .route(
            "/metrics",
            axum::routing::get(move || {
                let m = metrics.clone();
                async move { m.render() }
            }),
        )
        .fallback(|| async { "ok" });
    let server = httpserve::Server::new(httpserve::ServerSettings::default()).name("route-emitter");
    tokio::spawn(server.serve(listener, app, std::future::pending()));
    Ok(addr)
}
