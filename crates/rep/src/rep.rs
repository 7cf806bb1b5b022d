//! A running rep: its HTTP listeners, the event consumer and bulker that
//! keep the BBS in line with the containers, the evacuator and the cell's
//! presence in locket.

use crate::cell::CellInfo;
use crate::config::RepConfig;
use crate::delegate::Context;
use crate::evacuation_context::EvacuationContext;
use crate::executor_client::ExecutorClient;
use crate::queue::OperationQueue;
use crate::server::{local_routes, network_routes, Api};
use crate::{evacuation, harmonizer, presence};
use anyhow::Context as _;
use bbs_client::HttpBbsClient;
use locket::client::{LockHandle, LockState};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub struct Rep {
    pub cell_id: String,
    /// Where the auctioneer and BBS reach this rep (its presence's rep_url).
    pub url: String,
    /// The localhost routes (`/ping`, `/evacuate`); the same as `url`
    /// without `listen_addr_securable`.
    pub local_url: String,
    ctx: Context,
    queue: OperationQueue,
    stop: watch::Sender<bool>,
    /// Some(drained) once the evacuator has finished.
    evacuated: watch::Receiver<Option<bool>>,
    presence: Option<LockHandle>,
    tasks: Vec<JoinHandle<()>>,
}

/// How long a stopping rep waits for its operations under way (a
/// container's stop takes up to its grace period, 10 s).
const OPERATIONS_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

async fn bind(addr: &str) -> anyhow::Result<(tokio::net::TcpListener, SocketAddr)> {
    let l = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("listening on {addr}"))?;
    let a = l.local_addr()?;
    Ok((l, a))
}

/// Diego's rep URL: `https://<cell id with - for _>.<advertise_domain>:<port>`,
/// or the listener's own address without an advertise domain.
fn rep_url(cfg: &RepConfig, addr: SocketAddr) -> String {
    if cfg.advertise_domain.is_empty() {
        let scheme = if cfg.serves_tls() { "https" } else { "http" };
        format!("{scheme}://{addr}")
    } else {
        format!(
            "https://{}.{}:{}",
            cfg.cell_id.replace('_', "-"),
            cfg.advertise_domain,
            addr.port()
        )
    }
}

/// Serves `app` until `stop` with the shared server (mutual TLS with
/// `tls`, as Diego's rep always serves).
fn serve(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    tls: Option<Arc<rustls::ServerConfig>>,
    settings: &httpserve::ServerSettings,
    mut stop: watch::Receiver<bool>,
) -> JoinHandle<()> {
    let server = httpserve::Server::new(settings.clone())
        .name("rep")
        .tls(tls);
    tokio::spawn(server.serve(listener, app, async move {
        let _ = stop.wait_for(|s| *s).await;
    }))
}

impl Rep {
    pub async fn start(cfg: &RepConfig, executor: Arc<dyn ExecutorClient>) -> anyhow::Result<Rep> {
        cfg.validate()?;
        let bbs = Arc::new(HttpBbsClient::new(
            &bbs_client::ClientConfig::new(&cfg.bbs_address)
                .with_tls(Some(cfg.bbs_tls()))
                .with_request_timeout(cfg.communication_timeout.0),
        )?);
        let (local, local_addr) = bind(&cfg.listen_addr).await?;
        let secure = if cfg.listen_addr_securable.is_empty() {
            None
        } else {
            Some(bind(&cfg.listen_addr_securable).await?)
        };
        let url = rep_url(cfg, secure.as_ref().map_or(local_addr, |s| s.1));
        let tls = if cfg.serves_tls() {
            Some(Arc::new(tlsconfig::mutual_tls_server_config(
                &cfg.ca_cert_file,
                &cfg.cert_file,
                &cfg.key_file,
            )?))
        } else {
            None
        };
        let scheme = if tls.is_some() { "https" } else { "http" };
        let local_url = format!("{scheme}://{local_addr}");
        // The presence's `rep_address` is `http://IP:PORT` even when the
        // listener serves TLS, as Diego's rep writes it (cmd/rep/main.go,
        // `repAddress`); clients then take `rep_url`.
        let rep_address = format!("http://{local_addr}");
        let cell = Arc::new(CellInfo::from_config(cfg, &url, &rep_address));
        let ctx = Context {
            cell_id: cfg.cell_id.clone(),
            zone: cfg.zone.clone(),
            bbs,
            executor: executor.clone(),
            evacuation: EvacuationContext::default(),
        };
        let queue = OperationQueue::new(ctx.clone());
        let (stop, stop_rx) = watch::channel(false);
        let mut tasks = Vec::new();

        // Subscribed before serving /work, so no reservation goes unseen.
        let events = executor.subscribe().await?;
        tasks.push(tokio::spawn(harmonizer::consume_events(
            events,
            queue.clone(),
            stop_rx.clone(),
        )));
        tasks.push(tokio::spawn(harmonizer::bulk_loop(
            ctx.clone(),
            queue.clone(),
            cfg.polling_interval.0,
            cfg.evacuation_polling_interval.0,
            stop_rx.clone(),
        )));
        let (evacuated_tx, evacuated) = watch::channel(None);
        {
            let ctx = ctx.clone();
            let (timeout, poll) = (cfg.evacuation_timeout.0, cfg.evacuation_polling_interval.0);
            tasks.push(tokio::spawn(async move {
                let drained = evacuation::evacuate(&ctx, timeout, poll).await;
                let _ = evacuated_tx.send(Some(drained));
            }));
        }

        let api = Api {
            cell: cell.clone(),
            ctx: ctx.clone(),
        };
        match secure {
            Some((l, _)) => {
                let app = network_routes(api.clone());
                tasks.push(serve(l, app, tls.clone(), &cfg.server, stop_rx.clone()));
                tasks.push(serve(
                    local,
                    local_routes(api),
                    tls,
                    &cfg.server,
                    stop_rx.clone(),
                ));
            }
            None => {
                let app = network_routes(api.clone()).merge(local_routes(api));
                tasks.push(serve(local, app, tls, &cfg.server, stop_rx.clone()));
            }
        }

        let total = executor.total_resources().await?;
        let capacity =
            models::rep::Resources::new(total.memory_mb, total.disk_mb, total.containers);
        let presence = presence::start(cfg, &cell, capacity)?;
        tracing::info!(cell_id = %cfg.cell_id, url = %url, "rep started");
        Ok(Rep {
            cell_id: cfg.cell_id.clone(),
            url,
            local_url,
            ctx,
            queue,
            stop,
            evacuated,
            presence,
            tasks,
        })
    }

    pub fn executor(&self) -> &Arc<dyn ExecutorClient> {
        &self.ctx.executor
    }

    /// How many other cells the BBS knows of (None when it can't be asked).
    pub async fn other_cells(&self) -> Option<usize> {
        match self.ctx.bbs.cells().await {
            Ok(cells) => Some(cells.iter().filter(|c| c.cell_id != self.cell_id).count()),
            Err(e) => {
                tracing::warn!(error = %e, "failed-to-list-cells");
                None
            }
        }
    }

    /// Starts evacuating (as `POST /evacuate` does).
    pub fn evacuate(&self) {
        self.ctx.evacuation.evacuate();
    }

    pub fn evacuating(&self) -> bool {
        self.ctx.evacuation.evacuating()
    }

    /// Waits until the evacuator has finished; whether every container was
    /// handed over before `evacuation_timeout`.
    pub async fn evacuated(&self) -> bool {
        let mut rx = self.evacuated.clone();
        let r = rx.wait_for(|d| d.is_some()).await.map(|d| *d);
        matches!(r, Ok(Some(true)))
    }

    /// Runs a bulk sync now (besides the periodic ones).
    pub async fn sync_now(&self) {
        harmonizer::sync(&self.ctx, &self.queue).await;
    }

    /// Waits until the presence is registered (no-op without locket).
    pub async fn presence_registered(&self) -> anyhow::Result<()> {
        if let Some(p) = &self.presence {
            let mut rx = p.subscribe();
            rx.wait_for(|s| *s == LockState::Held).await?;
        }
        Ok(())
    }

    /// Stops serving, deletes every container, releases the backend's
    /// parent cgroups (if no container is left) and the presence.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        // No new operations (the event and bulk loops end)...
        for t in self.tasks.drain(..) {
            t.abort();
        }
        // ...and those under way finish: a destroy cut short by the
        // process's exit would leave the container's mounts behind.
        if !self.queue.wait_idle(OPERATIONS_WAIT).await {
            tracing::warn!(
                left = self.queue.len(),
                "operations-still-running-at-shutdown"
            );
        }
        evacuation::cleanup(&self.ctx).await;
        self.ctx.executor.release_backend().await;
        if let Some(p) = self.presence.take() {
            p.stop().await;
        }
        tracing::info!(cell_id = %self.cell_id, "rep stopped");
    }
}
