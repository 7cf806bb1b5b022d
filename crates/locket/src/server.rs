//! Running a locket server: the store, the expiry machinery and the gRPC
//! listener (mutual TLS when configured).

use crate::config::LocketConfig;
use crate::db::LockDb;
use crate::expiration::{run_burglar, LockPick};
use crate::handler::LocketHandler;
use crate::proto::locket_server::LocketServer;
use anyhow::Context as _;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Knobs that are not part of Diego's config file.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// How often every row is re-registered for expiry (Diego: 5 s).
    pub burglar_interval: Duration,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            burglar_interval: crate::RETRY_INTERVAL,
        }
    }
}

/// A running server. Dropping it does not stop it; call [`shutdown`].
///
/// [`shutdown`]: RunningLocket::shutdown
pub struct RunningLocket {
    /// The address the gRPC listener is bound to.
    pub addr: SocketAddr,
    pub db: LockDb,
    pub lock_pick: LockPick,
    stop: Option<oneshot::Sender<()>>,
    serve: JoinHandle<()>,
    burglar: JoinHandle<()>,
}

impl RunningLocket {
    /// Waits until the gRPC server stops on its own (it does not: it
    /// logs and goes on through accept errors).
    pub async fn wait(&mut self) -> anyhow::Result<()> {
        match (&mut self.serve).await {
            Ok(()) => anyhow::bail!("locket grpc server stopped"),
            Err(e) => Err(anyhow::anyhow!("locket grpc server task: {e}")),
        }
    }

    /// Stops accepting, finishes in-flight requests, stops expiry.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        let _ = tokio::time::timeout(Duration::from_secs(5), &mut self.serve).await;
        self.serve.abort();
        self.burglar.abort();
    }
}

/// The server side of Diego's locket mTLS: present `cert_file`/`key_file`,
/// require client certificates signed by `ca_file` (always: see the
/// config's `validate`), with Diego's suites ([`tlsconfig`]).
pub fn tls_config(cfg: &LocketConfig) -> anyhow::Result<rustls::ServerConfig> {
    if cfg.ca_file.is_empty() {
        anyhow::bail!("ca_file is required with cert_file and key_file");
    }
    tlsconfig::mutual_tls_server_config(&cfg.ca_file, &cfg.cert_file, &cfg.key_file)
        .context("configuring TLS")
}

/// gRPC errors for what the shared server refuses before locket's
/// handler runs.
fn rejector() -> httpserve::Rejector {
    std::sync::Arc::new(|r| {
        let status = match r {
            httpserve::Rejection::BodyTooLarge { limit } => tonic::Status::resource_exhausted(
                format!("request body exceeds the limit of {limit} bytes"),
            ),
            httpserve::Rejection::Busy => tonic::Status::unavailable("server busy"),
        };
        status.into_http::<axum::body::Body>()
    })
}

/// Connects to the database, creates the table, binds `listen_address`
/// and serves. Returns once the listener is bound.
pub async fn start(cfg: &LocketConfig, opts: ServerOptions) -> anyhow::Result<RunningLocket> {
    cfg.validate()?;
    let db = LockDb::connect(&cfg.database_url()?, cfg.max_open_database_connections)
        .await
        .context("opening the locket database")?;
    let pick = LockPick::new(db.clone());
    let handler = LocketHandler::new(db.clone(), pick.clone(), cfg.db_operation_timeout);

    let listener = tokio::net::TcpListener::bind(&cfg.listen_address)
        .await
        .with_context(|| format!("binding {}", cfg.listen_address))?;
    let addr = listener.local_addr()?;

    let tls = match cfg.tls_enabled() {
        true => Some(std::sync::Arc::new(tls_config(cfg)?)),
        false => None,
    };
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    // tonic's routes as an axum router, served like every other server of
    // ours (tonic's own server has no handshake or idle timeouts). gRPC
    // bodies stream into tonic, which caps a message at 4 MiB.
    let app = tonic::service::Routes::new(LocketServer::new(handler)).into_axum_router();
    let server = httpserve::Server::new(cfg.server.clone())
        .name("locket")
        .tls(tls)
        .rejector(rejector())
        .streams_bodies();
    let serve = tokio::spawn(server.serve(listener, app, async {
        let _ = stop_rx.await;
    }));
    let burglar = tokio::spawn(run_burglar(db.clone(), pick.clone(), opts.burglar_interval));
    tracing::info!(%addr, tls = cfg.tls_enabled(), backend = db.backend_name(), "locket started");
    Ok(RunningLocket {
        addr,
        db,
        lock_pick: pick,
        stop: Some(stop_tx),
        serve,
        burglar,
    })
}
