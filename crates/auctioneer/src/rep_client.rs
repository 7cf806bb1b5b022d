//! The rep calls the auctioneer makes: `GET /state` and `POST /work`.

use crate::bbs_client::{http_client, ClientTlsFiles};
use anyhow::Context;
use models::rep::{CellState, Work};
use std::time::Duration;

#[derive(Clone)]
pub struct RepClient {
    state: reqwest::Client,
    work: reqwest::Client,
}

/// The URL to reach a cell's rep: its `rep_url`, else `rep_address`.
pub fn rep_url(cell: &models::CellPresence) -> String {
    let u = if cell.rep_url.is_empty() {
        &cell.rep_address
    } else {
        &cell.rep_url
    };
    u.trim_end_matches('/').to_string()
}

impl RepClient {
    /// `state_timeout` bounds `GET /state`, `work_timeout` `POST /work`.
    pub fn new(
        state_timeout: Duration,
        work_timeout: Duration,
        tls: &ClientTlsFiles,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            state: http_client(state_timeout, tls)?,
            work: http_client(work_timeout, tls)?,
        })
    }

    pub async fn state(&self, url: &str) -> anyhow::Result<CellState> {
        let resp = self
            .state
            .get(format!("{url}/state"))
            .send()
            .await
            .with_context(|| format!("GET {url}/state"))?;
        if !resp.status().is_success() {
            anyhow::bail!("GET {url}/state: HTTP {}", resp.status());
        }
        let body = resp.bytes().await?;
        serde_json::from_slice(&body).with_context(|| format!("GET {url}/state: decoding"))
    }

    /// Sends `work`; returns what the rep could not take.
    pub async fn perform(&self, url: &str, work: &Work) -> anyhow::Result<Work> {
        let resp = self
            .work
            .post(format!("{url}/work"))
            .header("Content-Type", "application/json")
            .body(serde_json::to_vec(work)?)
            .send()
            .await
            .with_context(|| format!("POST {url}/work"))?;
        if !resp.status().is_success() {
            anyhow::bail!("POST {url}/work: HTTP {}", resp.status());
        }
        let body = resp.bytes().await?;
        serde_json::from_slice(&body).with_context(|| format!("POST {url}/work: decoding"))
    }
}
