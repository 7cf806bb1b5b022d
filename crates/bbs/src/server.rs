//! Running the BBS: the API listener (plain HTTP, or mTLS when
//! `require_ssl`), the health listener (`health_address`: every path
//! answers 200, `GET /metrics` answers Prometheus text), the event hubs and
//! the task callback pool.
//!
//! High availability (Diego's active/passive model): when `locket_address`
//! is configured, [`start`] brings up the health listener, then waits until
//! it holds the locket lock `bbs` (owner = `uuid`, no value, as Diego's,
//! TTL `lock_ttl`, renewed every `lock_retry_interval`), and only then
//! opens the store and the API listener. A passive BBS therefore refuses
//! API connections. If the lock is lost later the BBS stops serving and
//! [`RunningBbs::lock_lost`] resolves; `diego bbs` then exits non-zero, as
//! Diego's bbs does. Cells come from locket presences.
//!
//! Without `locket_address` (embedded single-process mode) there is no
//! lock: the BBS serves at once and reports no cells. Run exactly one BBS
//! per store in that mode.

use crate::clients::{
    client_tls, AuctioneerClient, CellPresences, HttpAuctioneerClient, LocketCells, NoAuctioneer,
    NoCells,
};
use crate::config::BbsConfig;
use crate::controllers::{Controllers, Deps};
use crate::converger::{Converger, ConvergerConfig};
use crate::db::encryption::EncryptionConfig;
use crate::db::{CachedStore, SqlStore, Store, StoreConfig};
use crate::events::Hubs;
use crate::handlers::{router, App};
use crate::metrics::Metrics;
use crate::taskcallback::TaskCompletionPool;
use axum::response::IntoResponse;
use axum::Router;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

/// Replacements for the parts a BBS normally builds from its config.
#[derive(Default)]
pub struct Overrides {
    pub store: Option<Arc<dyn Store>>,
    pub auctioneer: Option<Arc<dyn AuctioneerClient>>,
    pub rep: Option<Arc<dyn rep_client::ClientFactory>>,
    pub cells: Option<Arc<dyn CellPresences>>,
}

/// A running BBS.
pub struct RunningBbs {
    pub addr: SocketAddr,
    pub health_addr: SocketAddr,
    pub app: Arc<App>,
    /// The convergence loop of this (active) BBS; `run_once` runs a pass now.
    pub converger: Arc<Converger>,
    shutdown: Arc<watch::Sender<bool>>,
    tasks: Vec<JoinHandle<()>>,
    lock: Option<HeldLock>,
}

/// The `bbs` lock while the BBS runs: a watcher task that stops the BBS
/// when the lock is lost, and releases the lock when asked to stop.
struct HeldLock {
    stop: Option<oneshot::Sender<()>>,
    lost: watch::Receiver<Option<String>>,
    task: JoinHandle<()>,
}

impl RunningBbs {
    /// Stops accepting connections, ends the event streams and releases
    /// the `bbs` lock (so a passive BBS can take over at once).
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        self.app.hubs.close();
        for t in self.tasks {
            let _ = t.await;
        }
        if let Some(mut lock) = self.lock.take() {
            if let Some(stop) = lock.stop.take() {
                let _ = stop.send(());
            }
            let _ = (&mut lock.task).await;
        }
    }

    /// Whether this BBS runs behind the locket lock.
    pub fn holds_lock(&self) -> bool {
        self.lock.is_some()
    }

    /// Resolves (with the reason) when the `bbs` lock was lost; by then the
    /// BBS has stopped serving. Never resolves without locket.
    pub async fn lock_lost(&self) -> String {
        match &self.lock {
            Some(lock) => {
                let mut rx = lock.lost.clone();
                let reason = rx.wait_for(|l| l.is_some()).await.map(|l| l.clone());
                match reason {
                    Ok(l) => l.unwrap_or_default(),
                    Err(_) => std::future::pending().await,
                }
            }
            None => std::future::pending().await,
        }
    }

    /// Resolves when a request met an Unrecoverable error (Diego exits then).
    pub async fn unrecoverable(&self) {
        self.app.unrecoverable.notified().await
    }
}

/// Connects the SQL store the config names (bringing its schema to
/// Diego's) and runs Diego's encryptor on it (a changed active key
/// re-encrypts what is stored).
pub async fn connect_store(cfg: &BbsConfig) -> anyhow::Result<Arc<dyn Store>> {
    let store = SqlStore::connect(&StoreConfig {
        url: cfg.database_url()?,
        max_open_connections: cfg.max_open_database_connections,
        encryption: EncryptionConfig {
            active_key_label: cfg.active_key_label.clone(),
            keys: cfg.encryption_keys.clone(),
        },
    })
    .await?;
    store.run_encryptor().await?;
    Ok(store.as_store())
}

/// Starts a BBS from its config. With `locket_address` set this waits
/// until the `bbs` lock is held (see the module docs).
pub async fn start(cfg: &BbsConfig, overrides: Overrides) -> anyhow::Result<RunningBbs> {
    cfg.validate()?;
    let hubs = Arc::new(Hubs::new());
    let metrics = Arc::new(Metrics::new());
    let (shutdown, shutdown_rx) = watch::channel(false);
    let shutdown = Arc::new(shutdown);

    // Health first: Diego's ordered group runs it before the lock.
    let health_listener = TcpListener::bind(&cfg.health_address).await?;
    let health_addr = health_listener.local_addr()?;
    let health = health_router(metrics.clone(), hubs.clone());
    let health_task = tokio::spawn(serve(
        "bbs-health",
        health_listener,
        health,
        None,
        cfg.server.clone(),
        shutdown_rx.clone(),
    ));

    let mut locket_client = None;
    let lock = if cfg.uses_locket() {
        let client = locket::client::connect_lazy(&cfg.locket_client_config())?;
        locket_client = Some(client.clone());
        match acquire_lock(cfg, client, shutdown.clone(), hubs.clone()).await {
            Ok(l) => Some(l),
            Err(e) => {
                let _ = shutdown.send(true);
                let _ = health_task.await;
                return Err(e);
            }
        }
    } else {
        tracing::info!("no locket_address configured: serving without the bbs lock");
        None
    };

    match start_active(
        cfg,
        overrides,
        locket_client,
        hubs,
        metrics,
        shutdown.clone(),
        shutdown_rx,
    )
    .await
    {
        Ok((addr, app, api_task, converger, converger_task)) => {
            tracing::info!(%addr, %health_addr, tls = cfg.require_ssl, "bbs started");
            Ok(RunningBbs {
                addr,
                health_addr,
                app,
                converger,
                shutdown,
                tasks: vec![api_task, converger_task, health_task],
                lock,
            })
        }
        Err(e) => {
            let _ = shutdown.send(true);
            let _ = health_task.await;
            if let Some(mut lock) = lock {
                if let Some(stop) = lock.stop.take() {
                    let _ = stop.send(());
                }
                let _ = lock.task.await;
            }
            Err(e)
        }
    }
}

/// Takes the `bbs` lock (retrying until held) and spawns its watcher.
async fn acquire_lock(
    cfg: &BbsConfig,
    client: locket::client::LocketClient,
    shutdown: Arc<watch::Sender<bool>>,
    hubs: Arc<Hubs>,
) -> anyhow::Result<HeldLock> {
    let owner = if cfg.uuid.is_empty() {
        uuid::Uuid::new_v4().to_string()
    } else {
        cfg.uuid.clone()
    };
    let ttl = cfg.lock_ttl.0.as_secs() as i64;
    // Diego's bbs takes its lock with no value (cmd/bbs/main.go).
    let mut handle = locket::client::LockRunner::new(
        client,
        locket::client::lock_resource(BBS_LOCK_KEY, &owner, ""),
    )
    .ttl_in_seconds(ttl)
    .retry_interval(cfg.lock_retry_interval.0)
    .spawn();
    tracing::info!(owner = %owner, ttl, locket = %cfg.locket_address, "acquiring bbs lock");
    handle
        .acquired()
        .await
        .map_err(|e| anyhow::anyhow!("acquiring the bbs lock: {e}"))?;
    tracing::info!(owner = %owner, "bbs lock acquired");
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let (lost_tx, lost_rx) = watch::channel(None);
    let task = tokio::spawn(async move {
        let lost = tokio::select! {
            l = handle.lost() => Some(l),
            _ = stop_rx => None,
        };
        match lost {
            Some(l) => {
                tracing::error!(reason = %l.0, "bbs lock lost: stop serving");
                let _ = shutdown.send(true);
                hubs.close();
                let _ = lost_tx.send(Some(l.0));
            }
            None => {
                handle.stop().await;
                tracing::info!("bbs lock released");
            }
        }
    });
    Ok(HeldLock {
        stop: Some(stop_tx),
        lost: lost_rx,
        task,
    })
}

/// The lock key the active BBS holds.
pub const BBS_LOCK_KEY: &str = "bbs";

/// What the active BBS runs: the API server and the converger.
type Active = (
    SocketAddr,
    Arc<App>,
    JoinHandle<()>,
    Arc<Converger>,
    JoinHandle<()>,
);

/// What the active BBS runs: store, clients, the API listener, the converger.
async fn start_active(
    cfg: &BbsConfig,
    overrides: Overrides,
    locket_client: Option<locket::client::LocketClient>,
    hubs: Arc<Hubs>,
    metrics: Arc<Metrics>,
    shutdown: Arc<watch::Sender<bool>>,
    shutdown_rx: watch::Receiver<bool>,
) -> anyhow::Result<Active> {
    let mut store = match overrides.store {
        Some(s) => s,
        None => connect_store(cfg).await?,
    };
    if cfg.lrp_cache {
        // Only now: this BBS holds the lock, so every LRP write goes through it.
        store = Arc::new(
            CachedStore::load(store)
                .await
                .map_err(|e| anyhow::anyhow!("loading the lrp cache: {e}"))?,
        );
    }
    let timeout = cfg.communication_timeout.0;
    let auctioneer: Arc<dyn AuctioneerClient> = match overrides.auctioneer {
        Some(a) => a,
        None if cfg.auctioneer_address.is_empty() => {
            tracing::info!("no auctioneer_address configured: start requests are dropped");
            Arc::new(NoAuctioneer)
        }
        None => Arc::new(HttpAuctioneerClient::new(
            &cfg.auctioneer_address,
            timeout,
            &client_tls(
                &cfg.auctioneer_ca_cert,
                &cfg.auctioneer_client_cert,
                &cfg.auctioneer_client_key,
            ),
            cfg.auctioneer_require_tls,
        )?),
    };
    let rep: Arc<dyn rep_client::ClientFactory> = match overrides.rep {
        Some(r) => r,
        None => Arc::new(rep_client::RepClientFactory::new(
            &rep_client::ClientConfig {
                tls: Some(client_tls(
                    &cfg.rep_ca_cert,
                    &cfg.rep_client_cert,
                    &cfg.rep_client_key,
                )),
                require_tls: cfg.rep_require_tls,
                request_timeout: Some(timeout),
                state_timeout: Some(timeout),
            },
        )?),
    };
    let cells: Arc<dyn CellPresences> = match (overrides.cells, locket_client) {
        (Some(c), _) => c,
        (None, Some(client)) => Arc::new(LocketCells::new(client, timeout)),
        (None, None) => Arc::new(NoCells),
    };
    // Callbacks use the BBS's own identity and CA, as Diego does.
    let callback_client = crate::clients::http_client(
        timeout,
        &client_tls(&cfg.ca_file, &cfg.cert_file, &cfg.key_file),
    )?;
    let task_completion = Arc::new(TaskCompletionPool::new(
        store.clone(),
        hubs.clone(),
        callback_client,
        cfg.task_callback_workers,
    ));
    let deps = Arc::new(Deps {
        store: store.clone(),
        hubs: hubs.clone(),
        auctioneer,
        rep,
        cells: cells.clone(),
        task_completion,
        max_task_retries: cfg.max_task_retries,
    });
    let converger = Arc::new(Converger::new(
        deps.clone(),
        metrics.clone(),
        ConvergerConfig {
            converge_repeat_interval: cfg.converge_repeat_interval.0,
            kick_task_duration: cfg.kick_task_duration.0,
            expire_pending_task_duration: cfg.expire_pending_task_duration.0,
            expire_completed_task_duration: cfg.expire_completed_task_duration.0,
            convergence_workers: cfg.convergence_workers,
        },
    ));
    let app = Arc::new(App {
        controllers: Controllers::new(deps),
        store,
        hubs: hubs.clone(),
        cells,
        metrics,
        max_body_bytes: cfg.server.max_request_body_bytes,
        max_definition_bytes: cfg.max_definition_bytes,
        unrecoverable: Arc::new(tokio::sync::Notify::new()),
    });

    let api = router(app.clone());
    let tls = if cfg.require_ssl {
        Some(Arc::new(tlsconfig::mutual_tls_server_config(
            &cfg.ca_file,
            &cfg.cert_file,
            &cfg.key_file,
        )?))
    } else {
        None
    };
    // The lock may have been lost while the store was opening.
    if *shutdown.borrow() {
        anyhow::bail!("bbs lock lost before serving");
    }
    let listener = TcpListener::bind(&cfg.listen_address).await?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(serve(
        "bbs",
        listener,
        api,
        tls,
        cfg.server.clone(),
        shutdown_rx.clone(),
    ));
    // Only the lock holder converges; it stops with the BBS (shutdown or
    // lost lock).
    let converger_task = converger.clone().spawn(shutdown_rx);
    Ok((addr, app, task, converger, converger_task))
}

fn health_router(metrics: Arc<Metrics>, hubs: Arc<Hubs>) -> Router {
    Router::new()
        .route(
            "/metrics",
            axum::routing::get(move || {
                let metrics = metrics.clone();
                let hubs = hubs.clone();
                async move {
                    (
                        [(
                            axum::http::header::CONTENT_TYPE,
                            "text/plain; version=0.0.4",
                        )],
                        metrics.render(Some(&hubs)),
                    )
                        .into_response()
                }
            }),
        )
        .fallback(|| async { axum::http::StatusCode::OK })
}

/// Serves until shutdown with the shared server (limits, timeouts,
/// draining), answering refusals in the API's error form.
async fn serve(
    name: &'static str,
    listener: TcpListener,
    app: Router,
    tls: Option<Arc<rustls::ServerConfig>>,
    settings: httpserve::ServerSettings,
    mut shutdown: watch::Receiver<bool>,
) {
    httpserve::Server::new(settings)
        .name(name)
        .tls(tls)
        .rejector(crate::handlers::rejector())
        .serve(listener, app, async move {
            let _ = shutdown.wait_for(|s| *s).await;
        })
        .await
}
