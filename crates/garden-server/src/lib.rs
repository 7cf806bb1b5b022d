//! Garden's HTTP API served from our garden backends, so Diego's own rep
//! (its executor's Garden client, `garden_network`/`garden_addr`) can
//! drive our containers: ping, capacity, containers create/list/destroy,
//! info and bulk info, metrics and bulk metrics, properties, limit reads,
//! files streamed in and out, and run and attach with their stdio on
//! hijacked connections ([`hijack`], [`run`]), stop, and grace times
//! (containers left alone for theirs are destroyed, [`grace`]).

pub mod config;
pub mod error;
pub mod grace;
pub mod hijack;
pub mod processes;
pub mod routes;
mod run;
mod spec;
mod stdio;
pub mod wire;

pub use config::GardenConfig;

use anyhow::Context;
use std::future::Future;
use std::sync::Arc;

fn state(backend: Arc<dyn garden::Backend>) -> Arc<routes::AppState> {
    Arc::new_cyclic(|me: &std::sync::Weak<routes::AppState>| {
        let me = me.clone();
        // A container whose grace time ran out goes as a client's
        // destroy would (Garden's reapContainer).
        let expire = move |handle: String| {
            let Some(state) = me.upgrade() else { return };
            tokio::spawn(async move { state.reap(&handle).await });
        };
        routes::AppState {
            backend,
            limits: Default::default(),
            processes: Default::default(),
            bombs: Arc::new(grace::Bombs::new(expire)),
        }
    })
}

/// The API over `backend` but run and attach (which need a hijacked
/// connection, see [`serve`]), as an axum router.
pub fn app(backend: Arc<dyn garden::Backend>) -> axum::Router {
    routes::router(state(backend))
}

/// Serves `backend` on the config's listener until `shutdown` resolves,
/// through httpserve (its timeouts and caps) on TCP or a unix socket; run,
/// attach and their output streams on the connections httpserve hands
/// over raw ([`hijack::Hijacker`]).
pub async fn serve(
    cfg: &GardenConfig,
    backend: Arc<dyn garden::Backend>,
    ready: impl FnOnce(String),
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let state = state(backend);
    let app = routes::router(state.clone());
    let hijacker = Arc::new(hijack::Hijacker {
        state,
        settings: cfg.server.clone(),
    });
    // Stream-in bodies (tars) go to the backend as they arrive.
    let server = httpserve::Server::new(cfg.server.clone())
        .name("garden")
        .streams_bodies()
        .hijack(hijacker);
    if cfg.listen_network == "unix" {
        let path = std::path::Path::new(&cfg.listen_address);
        // A socket left by an earlier run would refuse the bind.
        let _ = std::fs::remove_file(path);
        let listener = tokio::net::UnixListener::bind(path)
            .with_context(|| format!("binding {}", path.display()))?;
        ready(cfg.listen_address.clone());
        server.serve_unix(listener, app, shutdown).await;
        let _ = std::fs::remove_file(path);
    } else {
        let listener = tokio::net::TcpListener::bind(&cfg.listen_address)
            .await
            .with_context(|| format!("binding {}", cfg.listen_address))?;
        ready(listener.local_addr()?.to_string());
        server.serve(listener, app, shutdown).await;
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
