//! Diego's rep: the cell agent.
//!
//! The rep answers the auctioneer (`GET /state`, `POST /work`: reserve
//! containers in the executor for the instances and tasks placed here),
//! then follows each container through its lifecycle and tells the BBS
//! (claim, start with the instance's addresses, crash, remove; start and
//! complete tasks). A bulk sync every `polling_interval` repairs what
//! events missed. `POST /evacuate` (or SIGTERM through [`run`]) drains
//! the cell: running instances are handed over to replacements before
//! their containers go. The cell's presence is kept in locket.
//!
//! [`Rep::start`] runs a rep on any [`ExecutorClient`]; [`run`] builds the
//! in-process executor from the config and runs until evacuated.

pub mod backend;
pub mod cell;
pub mod config;
pub mod container_metrics;
pub mod delegate;
pub mod evacuation;
pub mod evacuation_context;
pub mod executor_client;
pub mod executor_store;
pub mod generator;
pub mod harmonizer;
pub mod logs_route;
pub mod lrp_processor;
pub mod maintenance;
pub mod operation;
pub mod perform;
pub mod presence;
pub mod queue;
mod rep;
pub mod run_request;
pub mod server;
pub mod state;
pub mod tags;
pub mod task_processor;

pub use config::RepConfig;
pub use executor_client::ExecutorClient;
pub use rep::Rep;

use std::future::Future;
use std::sync::Arc;

/// Runs a rep until `shutdown` resolves (then it evacuates, waiting at most
/// `evacuation_timeout`, unless no other cell is there to take its
/// instances) or until an evacuation asked for over HTTP ends; then
/// deletes its containers and returns.
pub async fn run(config: RepConfig, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    let executor = Arc::new(backend::executor_from_config(&config).await?);
    let housekeeping = maintenance::spawn(
        executor.store().clone(),
        config.container_reap_interval.0,
        config.reserved_expiration_time.0,
    );
    let reporter = executor.store().spawn_metrics_reporter();
    let rep = Rep::start(&config, executor).await?;
    tokio::select! {
        _ = shutdown => {
            if rep.other_cells().await == Some(0) {
                // Evacuation hands instances to other cells: with none, it
                // could only wait out evacuation_timeout.
                tracing::info!("shutdown: no other cell to evacuate to, stopping");
            } else {
                tracing::info!("shutdown: evacuating");
                rep.evacuate();
                rep.evacuated().await;
            }
        }
        _ = rep.evacuated() => {}
    }
    rep.shutdown().await;
    housekeeping.abort();
    reporter.abort();
    Ok(())
}
