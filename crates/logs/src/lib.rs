//! The log component (Loggregator and Log Cache's role): cells and routers
//! stream envelopes to its gRPC `loggregator.v2.Ingress` (mutual TLS when
//! configured); it keeps each source's recent envelopes in a bounded
//! [`store`], serves them and live streams over HTTP ([`api`]), forwards
//! them to syslog drains ([`drains`]) and exposes container metrics with
//! app labels as Prometheus text ([`metrics`]).

pub mod api;
pub mod bindings;
pub mod config;
pub mod drains;
pub mod ingress;
mod killable;
pub mod metrics;
pub mod store;
mod tls;

pub use config::LogsConfig;

use anyhow::Context;
use futures::StreamExt;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::task::JoinHandle;

/// What ingress feeds: the store, the drains, the metrics.
pub struct Hub {
    pub store: store::Store,
    pub drains: drains::Drains,
    pub metrics: metrics::Metrics,
}

pub struct RunningLogs {
    pub ingress_addr: SocketAddr,
    pub api_addr: SocketAddr,
    pub hub: Arc<Hub>,
    tasks: Vec<JoinHandle<()>>,
    connections: tokio_util::sync::CancellationToken,
}

impl RunningLogs {
    /// Stops at once: open streams are cut (senders reconnect elsewhere or
    /// buffer until the component is back).
    pub async fn stop(self) {
        self.connections.cancel();
        for t in &self.tasks {
            t.abort();
        }
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

/// Binds both listeners and serves; returns once they are bound.
pub async fn start(cfg: &LogsConfig) -> anyhow::Result<RunningLogs> {
    cfg.validate()?;
    let hub = Arc::new(Hub {
        store: store::Store::new(store::Limits {
            max_per_source: cfg.max_per_source,
            max_bytes_per_source: cfg.max_bytes_per_source,
            max_sources: cfg.max_sources,
        }),
        drains: drains::Drains::new(drains::DrainSettings {
            buffer: cfg.drain_buffer_size,
            tls: tlsconfig::ClientTls::from_files(&cfg.drain_ca_file, "", ""),
            hostname: "diego-logs".into(),
        }),
        metrics: metrics::Metrics::default(),
    });
    let ingress = tokio::net::TcpListener::bind(&cfg.ingress_address)
        .await
        .with_context(|| format!("listening on {}", cfg.ingress_address))?;
    let ingress_addr = ingress.local_addr()?;
    let api = tokio::net::TcpListener::bind(&cfg.api_address)
        .await
        .with_context(|| format!("listening on {}", cfg.api_address))?;
    let api_addr = api.local_addr()?;

    let service = logs_client::grpc::ingress_server::IngressServer::new(ingress::IngressService {
        hub: hub.clone(),
    })
    .max_decoding_message_size(16 * 1024 * 1024);
    let router = tonic::transport::Server::builder()
        .tcp_nodelay(true)
        .add_service(service);
    let connections = tokio_util::sync::CancellationToken::new();
    let token = connections.clone();
    let grpc = if cfg.tls_enabled() {
        let tls = tlsconfig::mutual_tls_server_config(&cfg.ca_file, &cfg.cert_file, &cfg.key_file)
            .context("ingress TLS")?;
        let incoming = tls::incoming(ingress, Arc::new(tls))
            .map(move |c| c.map(|io| killable::Killable::new(io, &token)));
        tokio::spawn(async move {
            if let Err(e) = router.serve_with_incoming(incoming).await {
                tracing::error!(error = %e, "log-ingress-failed");
            }
        })
    } else {
        let incoming = tokio_stream::wrappers::TcpListenerStream::new(ingress)
            .map(move |c| c.map(|io| killable::Killable::new(io, &token)));
        tokio::spawn(async move {
            if let Err(e) = router.serve_with_incoming(incoming).await {
                tracing::error!(error = %e, "log-ingress-failed");
            }
        })
    };
    let app = api::routes(hub.clone());
    // The shared server (timeouts, caps); live streams are responses, so
    // no timeout cuts them.
    let stopping = connections.clone();
    let http = tokio::spawn(
        httpserve::Server::new(cfg.server.clone())
            .name("logs")
            .serve(api, app, async move { stopping.cancelled().await }),
    );
    let mut tasks = vec![grpc, http];
    if !cfg.bindings_api_url.is_empty() {
        tasks.push(tokio::spawn(bindings::poll_forever(
            hub.clone(),
            cfg.bindings_api_url.clone(),
            cfg.bindings_polling_interval
                .0
                .max(std::time::Duration::from_millis(50)),
            cfg.bindings_batch_size,
        )));
    }
    tracing::info!(%ingress_addr, %api_addr, tls = cfg.tls_enabled(), "log component started");
    Ok(RunningLogs {
        ingress_addr,
        api_addr,
        hub,
        tasks,
        connections,
    })
}

/// Runs until `shutdown` resolves.
pub async fn run(cfg: LogsConfig, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    let running = start(&cfg).await?;
    shutdown.await;
    running.stop().await;
    Ok(())
}
