//! Diego's route-emitter: keeps a routing table of the BBS's desired HTTP
//! routes and routable instances, and publishes it to the routers over
//! NATS (`router.register` / `router.unregister`). Global mode serves the
//! whole BBS while holding the locket lock `route_emitter`; cell-local
//! mode (`cell_id` set) serves only that cell's instances, without a lock.

pub mod broadcast;
pub mod cf_routes;
pub mod config;
pub mod diff;
pub mod emitter;
pub mod events;
pub mod go_duration;
pub mod handler;
pub mod internal_routes;
pub mod metrics;
pub mod nats;
pub mod registry_message;
pub mod routing_table;
pub mod subscription;
pub mod sync;
pub mod unregistration;
pub mod watcher;

pub use config::RouteEmitterConfig;
pub use registry_message::RegistryMessage;

use std::future::Future;
use std::net::SocketAddr;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

pub const LOCK_KEY: &str = "route_emitter";

/// A started route-emitter.
pub struct RunningEmitter {
    /// Where `/metrics` is served (when `healthcheck_address` is set).
    pub metrics_addr: Option<SocketAddr>,
    stop: watch::Sender<bool>,
    task: JoinHandle<anyhow::Result<()>>,
}

impl RunningEmitter {
    /// Stops and waits for the emitter to finish.
    pub async fn stop(self) -> anyhow::Result<()> {
        let _ = self.stop.send(true);
        self.task.await?
    }

    /// Waits until the emitter ends on its own (lost lock, fatal error).
    pub async fn wait(&mut self) -> anyhow::Result<()> {
        (&mut self.task).await?
    }
}

/// Connects to NATS and the BBS, takes the lock in global mode, and starts
/// emitting. Returns once connected (in global mode, once the lock is held).
pub async fn start(cfg: RouteEmitterConfig) -> anyhow::Result<RunningEmitter> {
    let metrics = metrics::Metrics::new();
    let metrics_addr = if cfg.healthcheck_address.is_empty() {
        None
    } else {
        Some(metrics::serve(&cfg.healthcheck_address, metrics.clone()).await?)
    };
    let bbs = std::sync::Arc::new(bbs_client::HttpBbsClient::new(
        &bbs_client::ClientConfig::new(&cfg.bbs_address)
            .with_tls(Some(tlsconfig::ClientTls::from_files(
                &cfg.bbs_ca_cert_file,
                &cfg.bbs_client_cert_file,
                &cfg.bbs_client_key_file,
            )))
            .with_request_timeout(cfg.communication_timeout.0),
    )?);
    let nats = nats::connect(&cfg).await?;

    let lock = if !cfg.local_mode() && !cfg.locket.locket_address.is_empty() {
        let client = locket::client::connect_lazy(&cfg.locket)?;
        let owner = if cfg.uuid.is_empty() {
            uuid::Uuid::new_v4().to_string()
        } else {
            cfg.uuid.clone()
        };
        let mut handle = locket::client::LockRunner::new(
            client,
            locket::client::lock_resource(LOCK_KEY, &owner, ""),
        )
        .ttl_in_seconds(cfg.lock_ttl.0.as_secs().max(1) as i64)
        .retry_interval(cfg.lock_retry_interval.0)
        .spawn();
        tracing::info!(owner = %owner, "acquiring-lock");
        handle.acquired().await?;
        tracing::info!("acquired-lock");
        metrics.lock_held.set(1);
        Some(handle)
    } else {
        None
    };

    let (stop, stop_rx) = watch::channel(false);
    let scheduler = |service, emit_all| broadcast::Broadcast {
        service,
        nats: nats.clone(),
        jitter_factor: cfg.jitter_factor,
        default_interval: cfg.register_interval.0,
        emit_all,
    };
    let (emit_tx, emit_rx) = mpsc::channel(1);
    let broadcast = scheduler(broadcast::ROUTER, emit_tx).subscribe().await?;
    // The internal routes have their own schedule, from service discovery.
    let (internal_tx, internal_rx) = mpsc::channel(1);
    let internal_broadcast = match cfg.enable_internal_emitter {
        true => Some(
            scheduler(broadcast::SERVICE_DISCOVERY, internal_tx)
                .subscribe()
                .await?,
        ),
        false => None,
    };
    let watcher = watcher::Watcher {
        bbs,
        emitter: emitter::NatsEmitter::new(nats, metrics.clone()),
        metrics: metrics.clone(),
        cell_id: cfg.cell_id.clone(),
        direct_instance_routes: cfg.register_direct_instance_routes,
        sync_interval: cfg.sync_interval.0,
        internal_routes: cfg.enable_internal_emitter,
        unregistration_interval: cfg.unregistration_interval.0,
        unregistration_send_count: cfg.unregistration_send_count,
    };
    tracing::info!(cell_id = %cfg.cell_id, "route-emitter started");
    let task = tokio::spawn(async move {
        let b = tokio::spawn(broadcast.run(stop_rx.clone()));
        let ib = internal_broadcast.map(|ib| tokio::spawn(ib.run(stop_rx.clone())));
        let mut lock = lock;
        let lost = async {
            match lock.as_mut() {
                Some(l) => l.lost().await,
                None => std::future::pending().await,
            }
        };
        let outcome = tokio::select! {
            r = watcher.run(emit_rx, internal_rx, stop_rx) => r,
            reason = lost => Err(anyhow::anyhow!("lost the route_emitter lock ({reason})")),
        };
        b.abort();
        if let Some(ib) = ib {
            ib.abort();
        }
        if let Some(l) = lock {
            l.stop().await;
            metrics.lock_held.set(0);
        }
        outcome
    });
    Ok(RunningEmitter {
        metrics_addr,
        stop,
        task,
    })
}

/// Runs the route-emitter until `shutdown` completes or it fails.
pub async fn run(
    cfg: RouteEmitterConfig,
    shutdown: impl Future<Output = ()> + Send,
) -> anyhow::Result<()> {
    tokio::pin!(shutdown);
    let mut running = tokio::select! {
        r = start(cfg) => r?,
        _ = &mut shutdown => return Ok(()),
    };
    tokio::select! {
        r = running.wait() => r,
        _ = &mut shutdown => running.stop().await,
    }
}
