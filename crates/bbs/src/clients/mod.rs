//! Calls out of the BBS: the auctioneer (start requests), reps (stop an
//! instance, cancel a task, update an instance: through `rep_client`) and
//! the cell registry.
//!
//! The HTTP implementations speak Diego's JSON APIs. Without a configured
//! auctioneer the BBS uses [`NoAuctioneer`], which accepts and drops every
//! start request: instances stay UNCLAIMED and tasks PENDING until a
//! scheduler exists (the real scheduling arrives with the auctioneer; the
//! convergence loop re-requests auctions for them then).

pub mod auctioneer;
pub mod cells;

pub use auctioneer::{
    AuctioneerClient, HttpAuctioneerClient, LrpStartRequest, NoAuctioneer, TaskStartRequest,
};
pub use cells::{CellPresences, LocketCells, NoCells, StaticCells};
pub use cfhttp::REQUEST_ID_HEADER;
pub use models::rep::LrpUpdate;

use models::CellPresence;
use rep_client::{ClientFactory, RepClient};
use std::sync::Arc;
use tlsconfig::ClientTls;

/// TLS material from the config's file names (empty: unset).
pub fn client_tls(ca_file: &str, cert_file: &str, key_file: &str) -> ClientTls {
    ClientTls::from_files(ca_file, cert_file, key_file)
}

/// A pooled client with the given timeout and TLS material.
pub fn http_client(
    timeout: std::time::Duration,
    tls: &ClientTls,
) -> anyhow::Result<reqwest::Client> {
    Ok(cfhttp::Config {
        request_timeout: Some(timeout),
        tls: (!tls.is_empty()).then(|| tls.clone()),
        ..Default::default()
    }
    .client()?)
}

/// The rep of `cell`, as Diego's BBS reaches it (its rep client factory
/// picks the cell's `rep_url` or `rep_address`).
pub fn rep_of(
    reps: &dyn ClientFactory,
    cell: &CellPresence,
    trace_id: &str,
) -> rep_client::Result<Arc<dyn RepClient>> {
    reps.create_client(&cell.rep_address, &cell.rep_url, trace_id)
}

/// Sends a request to the rep or the auctioneer, with the trace header
/// when there is a trace id; returns the answer's status.
async fn send_traced(
    req: reqwest::RequestBuilder,
    trace_id: &str,
) -> anyhow::Result<reqwest::StatusCode> {
    let req = if trace_id.is_empty() {
        req
    } else {
        req.header(REQUEST_ID_HEADER, trace_id)
    };
    Ok(req.send().await?.status())
}

/// The rep and the auctioneer answer 202; any other status is an error.
fn expect_accepted(status: reqwest::StatusCode) -> anyhow::Result<()> {
    if status != reqwest::StatusCode::ACCEPTED {
        anyhow::bail!(
            "http error: status code {} ({})",
            status.as_u16(),
            status.canonical_reason().unwrap_or("")
        );
    }
    Ok(())
}
