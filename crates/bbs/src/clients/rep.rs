//! The rep's HTTP JSON API as the BBS uses it: stop an LRP instance
//! (`POST /v1/lrps/:process_guid/instances/:instance_guid/stop`), cancel a
//! task (`POST /v1/tasks/:task_guid/cancel`) and update an instance's
//! internal routes / metric tags (`PUT /v2/lrps/:process_guid/instances/:instance_guid`).
//! All answer 202. The address is the cell presence's `rep_url`, else its
//! `rep_address` (Diego's pickURL).

use super::{expect_accepted, send_traced, ClientTls};
use async_trait::async_trait;
use models::{ActualLrpInstanceKey, ActualLrpKey, CellPresence};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// rep.LRPUpdate in JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct LrpUpdate {
    pub instance_guid: String,
    pub process_guid: String,
    pub index: i32,
    pub domain: String,
    pub internal_routes: Option<Vec<InternalRoute>>,
    pub metric_tags: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct InternalRoute {
    pub hostname: String,
}

#[async_trait]
pub trait RepClient: Send + Sync + 'static {
    async fn stop_lrp_instance(
        &self,
        cell: &CellPresence,
        trace_id: &str,
        key: &ActualLrpKey,
        instance_key: &ActualLrpInstanceKey,
    ) -> anyhow::Result<()>;
    async fn cancel_task(
        &self,
        cell: &CellPresence,
        trace_id: &str,
        task_guid: &str,
    ) -> anyhow::Result<()>;
    async fn update_lrp_instance(
        &self,
        cell: &CellPresence,
        trace_id: &str,
        update: &LrpUpdate,
    ) -> anyhow::Result<()>;
}

/// The rep client over HTTP(S).
pub struct HttpRepClient {
    client: reqwest::Client,
    require_tls: bool,
    has_creds: bool,
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl HttpRepClient {
    pub fn new(timeout: Duration, tls: &ClientTls, require_tls: bool) -> anyhow::Result<Self> {
        Ok(Self {
            client: super::http_client(timeout, tls)?,
            require_tls,
            has_creds: tls.has_identity() && tls.ca_file.is_some(),
        })
    }

    /// Diego's pickURL.
    pub fn pick_url(&self, cell: &CellPresence) -> anyhow::Result<String> {
        let secure = cell.rep_url.starts_with("https://");
        let url = if !self.require_tls {
            if secure && !self.has_creds {
                anyhow::bail!("https scheme not supported since certificates aren't provided");
            }
            if !cell.rep_url.is_empty() {
                cell.rep_url.clone()
            } else {
                cell.rep_address.clone()
            }
        } else {
            if !secure {
                anyhow::bail!("https scheme is required but none of the addresses support it");
            }
            cell.rep_url.clone()
        };
        if url.is_empty() {
            anyhow::bail!("cell {} has no rep address", cell.cell_id);
        }
        Ok(url.trim_end_matches('/').to_string())
    }
}

#[async_trait]
impl RepClient for HttpRepClient {
    async fn stop_lrp_instance(
        &self,
        cell: &CellPresence,
        trace_id: &str,
        key: &ActualLrpKey,
        instance_key: &ActualLrpInstanceKey,
    ) -> anyhow::Result<()> {
        let url = format!(
            "{}/v1/lrps/{}/instances/{}/stop",
            self.pick_url(cell)?,
            escape(&key.process_guid),
            escape(&instance_key.instance_guid)
        );
        let req = self
            .client
            .post(url)
            .header("Content-Type", "application/json");
        let status = send_traced(req, trace_id).await?;
        expect_accepted(status)
    }

    async fn cancel_task(
        &self,
        cell: &CellPresence,
        trace_id: &str,
        task_guid: &str,
    ) -> anyhow::Result<()> {
        let url = format!(
            "{}/v1/tasks/{}/cancel",
            self.pick_url(cell)?,
            escape(task_guid)
        );
        let status = send_traced(self.client.post(url), trace_id).await?;
        expect_accepted(status)
    }

    async fn update_lrp_instance(
        &self,
        cell: &CellPresence,
        trace_id: &str,
        update: &LrpUpdate,
    ) -> anyhow::Result<()> {
        let url = format!(
            "{}/v2/lrps/{}/instances/{}",
            self.pick_url(cell)?,
            escape(&update.process_guid),
            escape(&update.instance_guid)
        );
        let req = self
            .client
            .put(url)
            .header("Content-Type", "application/json")
            .body(serde_json::to_vec(update)?);
        let status = send_traced(req, trace_id).await?;
        // An old rep without the v2 route: Diego treats 404 as "will roll soon".
        if status == reqwest::StatusCode::NOT_FOUND {
            return Ok(());
        }
        expect_accepted(status)
    }
}
