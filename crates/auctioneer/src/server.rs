//! The auctioneer's HTTP API and process wiring.
//!
//! - `POST /v1/lrps`: JSON array of LRP start requests → 202 `{}`.
//! - `POST /v1/tasks`: JSON array of task start requests → 202 `{}`.
//!
//! Invalid entries are logged and dropped (the rest are still queued);
//! malformed JSON is 400 `{"error": "..."}`. With locket configured,
//! [`start`] first waits for the locket lock `auctioneer`. With TLS
//! configured (see the config) the API is served over mutual TLS only.

use crate::config::AuctioneerConfig;
use crate::runner::{Batch, Runner, RunnerStats};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::post;
use axum::{Json, Router};
use bbs_client::HttpBbsClient;
use locket::client::{LockHandle, LockLost, LockRunner};
use models::auctioneer::{LrpStartRequest, TaskStartRequest};
use rep_client::RepClientFactory;
use std::net::SocketAddr;
use std::sync::Arc;
use tlsconfig::ClientTls;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The lock key Diego's auctioneers compete for.
pub const LOCK_KEY: &str = "auctioneer";

fn bad_json(e: serde_json::Error) -> axum::response::Response {
    (
        StatusCode::BAD_REQUEST,
        Json(serde_json::json!({ "error": e.to_string() })),
    )
        .into_response()
}

fn accepted() -> axum::response::Response {
    (StatusCode::ACCEPTED, Json(serde_json::json!({}))).into_response()
}

async fn create_lrps(State(batch): State<Arc<Batch>>, body: Bytes) -> axum::response::Response {
    let starts: Vec<LrpStartRequest> = match serde_json::from_slice(&body) {
        Ok(s) => s,
        Err(e) => return bad_json(e),
    };
    let valid: Vec<LrpStartRequest> = starts
        .into_iter()
        .filter(|s| match s.validate() {
            Ok(()) => true,
            Err(e) => {
                tracing::error!(error = e, process_guid = %s.process_guid, "start-validate-failed");
                false
            }
        })
        .collect();
    tracing::info!(count = valid.len(), "submitted lrp starts");
    batch.add_lrp_starts(valid);
    accepted()
}

async fn create_tasks(State(batch): State<Arc<Batch>>, body: Bytes) -> axum::response::Response {
    let tasks: Vec<TaskStartRequest> = match serde_json::from_slice(&body) {
        Ok(t) => t,
        Err(e) => return bad_json(e),
    };
    let valid: Vec<TaskStartRequest> = tasks
        .into_iter()
        .filter(|t| match t.validate() {
            Ok(()) => true,
            Err(e) => {
                tracing::error!(error = e, task_guid = %t.task.task_guid, "task-validate-failed");
                false
            }
        })
        .collect();
    tracing::info!(count = valid.len(), "submitted tasks");
    batch.add_tasks(valid);
    accepted()
}

pub fn router(batch: Arc<Batch>) -> Router {
    Router::new()
        .route("/v1/lrps", post(create_lrps))
        .route("/v1/tasks", post(create_tasks))
        .with_state(batch)
}

pub struct RunningAuctioneer {
    pub addr: SocketAddr,
    stop: watch::Sender<bool>,
    stats: watch::Receiver<RunnerStats>,
    lock: Option<LockHandle>,
    tasks: Vec<JoinHandle<()>>,
}

impl RunningAuctioneer {
    pub fn stats(&self) -> RunnerStats {
        *self.stats.borrow()
    }

    /// Resolves when the `auctioneer` lock is lost (never without locket).
    pub async fn lock_lost(&mut self) -> LockLost {
        match self.lock.as_mut() {
            Some(l) => l.lost().await,
            None => std::future::pending().await,
        }
    }

    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        for t in self.tasks.drain(..) {
            let _ = t.await;
        }
        if let Some(l) = self.lock.take() {
            l.stop().await;
        }
    }
}

/// Takes the lock (with locket configured), then serves and runs auctions.
pub async fn start(cfg: &AuctioneerConfig) -> anyhow::Result<RunningAuctioneer> {
    cfg.validate()?;
    // Bad TLS material stops the start before the lock is taken, as
    // Diego's `invalid-tls-config` does.
    let tls = cfg.server_tls()?.map(Arc::new);
    let bbs = HttpBbsClient::new(
        &bbs_client::ClientConfig::new(&cfg.bbs_address)
            .with_tls(Some(ClientTls::from_files(
                &cfg.bbs_ca_cert_file,
                &cfg.bbs_client_cert_file,
                &cfg.bbs_client_key_file,
            )))
            .with_request_timeout(cfg.communication_timeout.0),
    )?;
    let reps = RepClientFactory::new(&rep_client::ClientConfig {
        tls: Some(ClientTls::from_files(
            &cfg.rep_ca_cert,
            &cfg.rep_client_cert,
            &cfg.rep_client_key,
        )),
        require_tls: false,
        request_timeout: Some(cfg.communication_timeout.0),
        state_timeout: Some(cfg.cell_state_timeout.0),
    })?;

    let lock = match cfg.locket() {
        Some(lc) => {
            let client = locket::client::connect_lazy(&lc)?;
            let owner = if cfg.uuid.is_empty() {
                uuid::Uuid::new_v4().to_string()
            } else {
                cfg.uuid.clone()
            };
            let mut handle =
                LockRunner::new(client, locket::client::lock_resource(LOCK_KEY, &owner, ""))
                    .ttl_in_seconds(cfg.lock_ttl.0.as_secs().max(1) as i64)
                    .retry_interval(cfg.lock_retry_interval.0)
                    .spawn();
            tracing::info!(owner = %owner, "acquiring-lock");
            handle.acquired().await?;
            tracing::info!("acquired-lock");
            Some(handle)
        }
        None => None,
    };

    let runner = Runner::new(
        Arc::new(bbs),
        reps,
        cfg.scheduler_config(),
        cfg.auction_runner_workers,
    );
    let batch = runner.batch.clone();
    let (stop, stop_rx) = watch::channel(false);
    let (stats_tx, stats) = watch::channel(RunnerStats::default());
    let listener = tokio::net::TcpListener::bind(&cfg.listen_address).await?;
    let addr = listener.local_addr()?;
    let mut server_stop = stop_rx.clone();
    let tls_on = tls.is_some();
    let server = httpserve::Server::new(cfg.server.clone())
        .name("auctioneer")
        .tls(tls);
    let server = tokio::spawn(server.serve(listener, router(batch), async move {
        let _ = server_stop.wait_for(|s| *s).await;
    }));
    let run = tokio::spawn(runner.run(stop_rx, stats_tx));
    tracing::info!(%addr, tls = tls_on, "auctioneer listening");
    Ok(RunningAuctioneer {
        addr,
        stop,
        stats,
        lock,
        tasks: vec![server, run],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn serve() -> (String, Arc<Batch>) {
        let batch = Arc::new(Batch::default());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let app = router(batch.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        (url, batch)
    }

    #[tokio::test]
    async fn accepts_valid_starts_and_drops_invalid_ones() {
        let (url, batch) = serve().await;
        let c = reqwest::Client::new();
        let r = c
            .post(format!("{url}/v1/lrps"))
            .body(
                r#"[{"process_guid":"pg","domain":"d","indices":[0,1],"PlacementTags":null,
                    "VolumeDrivers":[],"RootFs":"preloaded:cflinuxfs4","MemoryMB":1,"DiskMB":1,"MaxPids":0},
                   {"process_guid":"","domain":"d","indices":[0],"RootFs":"x:y"}]"#,
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 202);
        assert_eq!(r.text().await.unwrap(), "{}");
        let r = c
            .post(format!("{url}/v1/tasks"))
            .body(r#"[{"TaskGuid":"tg","Domain":"d","RootFs":"docker:///x","MemoryMB":1,"DiskMB":1,"state":"Pending","failed":false}]"#)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 202);
        let (lrps, tasks) = batch.dedupe_and_drain();
        assert_eq!(lrps.len(), 2);
        assert_eq!(tasks.len(), 1);
        assert_eq!(tasks[0].task.state, "Pending");
    }

    #[tokio::test]
    async fn malformed_json_is_400_with_an_error() {
        let (url, _) = serve().await;
        let r = reqwest::Client::new()
            .post(format!("{url}/v1/tasks"))
            .body("{not json")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 400);
        let v: serde_json::Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
        assert!(v["error"].as_str().is_some_and(|e| !e.is_empty()));
    }
}
