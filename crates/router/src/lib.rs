//! A small HTTP router for development: learns routes from
//! `router.register` / `router.unregister` on NATS as gorouter does and
//! proxies requests by Host header, round-robin over each route's
//! endpoints. Not a gorouter replacement: no TLS, route services, sticky
//! sessions or path routes.

pub mod access_log;
pub mod config;
pub mod proxy;
pub mod registry;
pub mod subscriber;

pub use config::RouterConfig;

use anyhow::Context;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub struct RunningRouter {
    pub addr: SocketAddr,
    pub registry: Arc<registry::Registry>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<anyhow::Result<()>>>,
}

impl RunningRouter {
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

/// Connects to NATS, announces `router.start`, and serves HTTP.
pub async fn start(cfg: RouterConfig) -> anyhow::Result<RunningRouter> {
    let nats = async_nats::ConnectOptions::new()
        .retry_on_initial_connect()
        .connect(cfg.nats_urls())
        .await
        .context("connecting to nats")?;
    let registry = Arc::new(registry::Registry::default());
    let listener = tokio::net::TcpListener::bind(&cfg.listen_address)
        .await
        .with_context(|| format!("listening on {}", cfg.listen_address))?;
    let addr = listener.local_addr()?;
    let (stop, stop_rx) = watch::channel(false);

    let sub = subscriber::Subscriber {
        nats,
        registry: registry.clone(),
        start: subscriber::RouterStart {
            id: uuid::Uuid::new_v4().to_string(),
            hosts: vec![addr.ip().to_string()],
            minimum_register_interval_in_seconds: cfg.start_response_delay_interval,
            prune_threshold_in_seconds: cfg.droplet_stale_threshold,
        },
    };
    let mut tasks = vec![tokio::spawn(sub.subscribe().await?.run(stop_rx.clone()))];

    let pruning = registry.clone();
    let (threshold, every) = (cfg.stale_threshold(), cfg.prune_interval());
    let mut prune_stop = stop_rx.clone();
    tasks.push(tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    let n = pruning.prune(threshold);
                    if n > 0 {
                        tracing::info!(pruned = n, "pruned-stale-endpoints");
                    }
                }
                _ = prune_stop.changed() => return Ok(()),
            }
        }
    }));

    let proxy =
        proxy::Proxy::new(registry.clone(), cfg.dial_timeout()).with_access_log(cfg.access_log());
    let app = axum::Router::new().fallback(
        move |axum::extract::ConnectInfo(remote): axum::extract::ConnectInfo<SocketAddr>,
              req: axum::extract::Request| {
            let p = proxy.clone();
            async move { p.handle(req, Some(remote)).await }
        },
    );
    let mut serve_stop = stop_rx;
    let server = httpserve::Server::new(cfg.server.clone())
        .name("router")
        .streams_bodies();
    tasks.push(tokio::spawn(async move {
        server
            .serve(listener, app, async move {
                let _ = serve_stop.changed().await;
            })
            .await;
        Ok(())
    }));
    tracing::info!(addr = %addr, "router listening");
    Ok(RunningRouter {
        addr,
        registry,
        stop,
        tasks,
    })
}

/// Runs the router until `shutdown` completes.
pub async fn run(
    cfg: RouterConfig,
    shutdown: impl Future<Output = ()> + Send,
) -> anyhow::Result<()> {
    let running = start(cfg).await?;
    shutdown.await;
    running.stop().await;
    Ok(())
}
