//! Calls out of the BBS: the auctioneer (start requests), reps (stop an
//! instance, cancel a task, update an instance) and the cell registry.
//!
//! The HTTP implementations speak Diego's JSON APIs. Without a configured
//! auctioneer the BBS uses [`NoAuctioneer`], which accepts and drops every
//! start request: instances stay UNCLAIMED and tasks PENDING until a
//! scheduler exists (the real scheduling arrives with the auctioneer; the
//! convergence loop re-requests auctions for them then).

pub mod auctioneer;
pub mod cells;
pub mod rep;

pub use auctioneer::{
    AuctioneerClient, HttpAuctioneerClient, LrpStartRequest, NoAuctioneer, TaskStartRequest,
};
pub use cells::{CellPresences, LocketCells, NoCells, StaticCells};
pub use rep::{HttpRepClient, LrpUpdate, RepClient};

use std::path::Path;

/// TLS material for an outgoing client (all optional).
#[derive(Debug, Clone, Default)]
pub struct ClientTls {
    pub ca_file: Option<String>,
    pub cert_file: Option<String>,
    pub key_file: Option<String>,
}

impl ClientTls {
    pub fn has_identity(&self) -> bool {
        self.cert_file.is_some() && self.key_file.is_some()
    }
}

/// A reqwest client with the given timeout and TLS material.
pub fn http_client(
    timeout: std::time::Duration,
    tls: &ClientTls,
) -> anyhow::Result<reqwest::Client> {
    let mut b = reqwest::Client::builder().timeout(timeout).use_rustls_tls();
    if let Some(ca) = &tls.ca_file {
        let pem = std::fs::read(Path::new(ca))?;
        for cert in reqwest::Certificate::from_pem_bundle(&pem)? {
            b = b.add_root_certificate(cert);
        }
    }
    if let (Some(cert), Some(key)) = (&tls.cert_file, &tls.key_file) {
        let mut pem = std::fs::read(cert)?;
        pem.push(b'\n');
        pem.extend(std::fs::read(key)?);
        b = b.identity(reqwest::Identity::from_pem(&pem)?);
    }
    Ok(b.build()?)
}

/// Diego's trace header.
pub const REQUEST_ID_HEADER: &str = "X-Vcap-Request-Id";

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
