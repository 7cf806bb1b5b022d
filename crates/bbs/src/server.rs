//! Running the BBS: the API listener (plain HTTP, or mTLS when
//! `require_ssl`), the health listener (`health_address`: every path
//! answers 200, `GET /metrics` answers Prometheus text), the event hubs and
//! the task callback pool.

use crate::clients::{
    AuctioneerClient, CellPresences, ClientTls, HttpAuctioneerClient, HttpRepClient, NoAuctioneer,
    NoCells, RepClient,
};
use crate::config::BbsConfig;
use crate::controllers::{Controllers, Deps};
use crate::db::encryption::EncryptionConfig;
use crate::db::{SqlStore, Store, StoreConfig};
use crate::events::Hubs;
use crate::handlers::{router, App};
use crate::metrics::Metrics;
use crate::taskcallback::TaskCompletionPool;
use axum::extract::Request;
use axum::response::IntoResponse;
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Replacements for the parts a BBS normally builds from its config.
#[derive(Default)]
pub struct Overrides {
    pub store: Option<Arc<dyn Store>>,
    pub auctioneer: Option<Arc<dyn AuctioneerClient>>,
    pub rep: Option<Arc<dyn RepClient>>,
    pub cells: Option<Arc<dyn CellPresences>>,
}

/// A running BBS.
pub struct RunningBbs {
    pub addr: SocketAddr,
    pub health_addr: SocketAddr,
    pub app: Arc<App>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl RunningBbs {
    /// Stops accepting connections and ends the event streams.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        self.app.hubs.close();
        for t in self.tasks {
            let _ = t.await;
        }
    }

    /// Resolves when a request met an Unrecoverable error (Diego exits then).
    pub async fn unrecoverable(&self) {
        self.app.unrecoverable.notified().await
    }
}

/// Connects the SQL store the config names.
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
    Ok(Arc::new(store))
}

fn opt(s: &str) -> Option<String> {
    if s.is_empty() {
        None
    } else {
        Some(s.to_string())
    }
}

/// Starts a BBS from its config.
pub async fn start(cfg: &BbsConfig, overrides: Overrides) -> anyhow::Result<RunningBbs> {
    cfg.validate()?;
    let store = match overrides.store {
        Some(s) => s,
        None => connect_store(cfg).await?,
    };
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
            &ClientTls {
                ca_file: opt(&cfg.auctioneer_ca_cert),
                cert_file: opt(&cfg.auctioneer_client_cert),
                key_file: opt(&cfg.auctioneer_client_key),
            },
        )?),
    };
    let rep: Arc<dyn RepClient> = match overrides.rep {
        Some(r) => r,
        None => Arc::new(HttpRepClient::new(
            timeout,
            &ClientTls {
                ca_file: opt(&cfg.rep_ca_cert),
                cert_file: opt(&cfg.rep_client_cert),
                key_file: opt(&cfg.rep_client_key),
            },
            cfg.rep_require_tls,
        )?),
    };
    let cells: Arc<dyn CellPresences> = overrides.cells.unwrap_or_else(|| Arc::new(NoCells));
    let hubs = Arc::new(Hubs::new());
    // Callbacks use the BBS's own identity and CA, as Diego does.
    let callback_client = crate::clients::http_client(
        timeout,
        &ClientTls {
            ca_file: opt(&cfg.ca_file),
            cert_file: opt(&cfg.cert_file),
            key_file: opt(&cfg.key_file),
        },
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
    let metrics = Arc::new(Metrics::new());
    let app = Arc::new(App {
        controllers: Controllers::new(deps),
        store,
        hubs: hubs.clone(),
        cells,
        metrics: metrics.clone(),
        max_body_bytes: cfg.max_request_body_bytes,
        unrecoverable: Arc::new(tokio::sync::Notify::new()),
    });

    let (shutdown, shutdown_rx) = watch::channel(false);
    let api = router(app.clone());
    let listener = TcpListener::bind(&cfg.listen_address).await?;
    let addr = listener.local_addr()?;
    let tls = if cfg.require_ssl {
        Some(Arc::new(crate::tls::server_config(
            Path::new(&cfg.ca_file),
            Path::new(&cfg.cert_file),
            Path::new(&cfg.key_file),
        )?))
    } else {
        None
    };
    let health_listener = TcpListener::bind(&cfg.health_address).await?;
    let health_addr = health_listener.local_addr()?;
    let health = health_router(metrics, hubs);

    let tasks = vec![
        tokio::spawn(serve(listener, api, tls, shutdown_rx.clone())),
        tokio::spawn(serve(health_listener, health, None, shutdown_rx)),
    ];
    tracing::info!(%addr, %health_addr, tls = cfg.require_ssl, "bbs started");
    Ok(RunningBbs {
        addr,
        health_addr,
        app,
        shutdown,
        tasks,
    })
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

/// Accepts connections until shutdown; each connection is served by hyper
/// (HTTP/1.1 and HTTP/2), after a TLS handshake when `tls` is given.
async fn serve(
    listener: TcpListener,
    app: Router,
    tls: Option<Arc<rustls::ServerConfig>>,
    mut shutdown: watch::Receiver<bool>,
) {
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    loop {
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => return,
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let acceptor = acceptor.clone();
        let mut conn_shutdown = shutdown.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                let mut app = app.clone();
                async move {
                    use tower::Service;
                    app.call(req.map(axum::body::Body::new)).await
                }
            });
            let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            match acceptor {
                Some(acceptor) => {
                    let tls_stream = match acceptor.accept(stream).await {
                        Ok(s) => s,
                        Err(e) => {
                            tracing::info!(%peer, error = %e, "TLS handshake failed");
                            return;
                        }
                    };
                    let conn = builder.serve_connection(TokioIo::new(tls_stream), service);
                    tokio::select! {
                        _ = conn => {}
                        _ = conn_shutdown.changed() => {}
                    }
                }
                None => {
                    let conn = builder.serve_connection(TokioIo::new(stream), service);
                    tokio::select! {
                        _ = conn => {}
                        _ = conn_shutdown.changed() => {}
                    }
                }
            }
        });
    }
}
