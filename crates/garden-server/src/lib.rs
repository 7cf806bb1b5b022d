//! Garden's HTTP API served from our garden backends, so Diego's own rep
//! (its executor's Garden client, `garden_network`/`garden_addr`) can
//! drive our containers: ping, capacity, containers create/list/destroy,
//! info and bulk info, metrics and bulk metrics, properties, limit reads,
//! files streamed in and out.
//!
//! Not yet served: `POST /containers/:handle/processes` (run) and
//! `GET /containers/:handle/processes/:pid` (attach), `PUT .../stop`,
//! `PUT .../grace_time`. Run and attach need Garden's hijacked-connection
//! protocol; see the crate's README.md.

pub mod config;
pub mod error;
pub mod routes;
mod spec;
pub mod wire;

pub use config::GardenConfig;

use anyhow::Context;
use std::future::Future;
use std::sync::Arc;

/// The API over `backend`, as an axum router.
pub fn app(backend: Arc<dyn garden::Backend>) -> axum::Router {
    routes::router(Arc::new(routes::AppState {
        backend,
        limits: Default::default(),
    }))
}

/// Serves `backend` on the config's listener until `shutdown` resolves.
/// TCP goes through httpserve (its timeouts and caps); a unix socket
/// through axum's own server (httpserve takes TCP listeners only).
pub async fn serve(
    cfg: &GardenConfig,
    backend: Arc<dyn garden::Backend>,
    ready: impl FnOnce(String),
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let app = app(backend);
    if cfg.listen_network == "unix" {
        let path = std::path::Path::new(&cfg.listen_address);
        // A socket left by an earlier run would refuse the bind.
        let _ = std::fs::remove_file(path);
        let listener = tokio::net::UnixListener::bind(path)
            .with_context(|| format!("binding {}", path.display()))?;
        ready(cfg.listen_address.clone());
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await?;
        let _ = std::fs::remove_file(path);
    } else {
        let listener = tokio::net::TcpListener::bind(&cfg.listen_address)
            .await
            .with_context(|| format!("binding {}", cfg.listen_address))?;
        ready(listener.local_addr()?.to_string());
        // Stream-in bodies (tars) go to the backend as they arrive.
        httpserve::Server::new(cfg.server.clone())
            .name("garden")
            .streams_bodies()
            .serve(listener, app, shutdown)
            .await;
    }
    Ok(())
}

/// `diego garden`: the configured backend, served until `shutdown`.
pub async fn run(
    cfg: GardenConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let backend = cfg.backend().await.context("starting the garden backend")?;
    serve(
        &cfg,
        backend.clone(),
        |addr| tracing::info!(network = %cfg.listen_network, addr = %addr, "garden listening"),
        shutdown,
    )
    .await?;
    backend.release_parents().await;
    Ok(())
}
