//! The auctioneer's start API (`POST /v1/lrps`, `POST /v1/tasks`, JSON,
//! answered 202).

use super::{expect_accepted, send_traced};
use async_trait::async_trait;
use models::{DesiredLrp, DesiredLrpSchedulingInfo, TaskDefinition};
use serde::{Deserialize, Serialize};
use std::time::Duration;
use tlsconfig::ClientTls;

/// One LRP start request, in the auctioneer's JSON field names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct LrpStartRequest {
    pub process_guid: String,
    pub domain: String,
    pub indices: Vec<i32>,
    #[serde(rename = "PlacementTags", default)]
    pub placement_tags: Option<Vec<String>>,
    #[serde(rename = "VolumeDrivers", default)]
    pub volume_drivers: Option<Vec<String>>,
    #[serde(rename = "RootFs", default)]
    pub root_fs: String,
    #[serde(rename = "MemoryMB", default)]
    pub memory_mb: i32,
    #[serde(rename = "DiskMB", default)]
    pub disk_mb: i32,
    #[serde(rename = "MaxPids", default)]
    pub max_pids: i32,
}

fn non_empty(v: &[String]) -> Option<Vec<String>> {
    if v.is_empty() {
        None
    } else {
        Some(v.to_vec())
    }
}

impl LrpStartRequest {
    pub fn from_scheduling_info(s: &DesiredLrpSchedulingInfo, indices: Vec<i32>) -> Self {
        let key = s.desired_lrp_key.clone().unwrap_or_default();
        let res = s.desired_lrp_resource.clone().unwrap_or_default();
        let drivers = s
            .volume_placement
            .as_ref()
            .map(|v| v.driver_names.clone())
            .unwrap_or_default();
        Self {
            process_guid: key.process_guid,
            domain: key.domain,
            indices,
            placement_tags: non_empty(&s.placement_tags),
            volume_drivers: Some(drivers),
            root_fs: res.root_fs,
            memory_mb: res.memory_mb,
            disk_mb: res.disk_mb,
            max_pids: res.max_pids,
        }
    }

    pub fn from_desired_lrp(d: &DesiredLrp, indices: Vec<i32>) -> Self {
        Self {
            process_guid: d.process_guid.clone(),
            domain: d.domain.clone(),
            indices,
            placement_tags: non_empty(&d.placement_tags),
            volume_drivers: Some(d.volume_mounts.iter().map(|m| m.driver.clone()).collect()),
            root_fs: d.root_fs.clone(),
            memory_mb: d.memory_mb,
            disk_mb: d.disk_mb,
            max_pids: d.max_pids,
        }
    }
}

/// One task start request (rep.Task's JSON: exported Go field names).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct TaskStartRequest {
    #[serde(rename = "TaskGuid")]
    pub task_guid: String,
    #[serde(rename = "Domain")]
    pub domain: String,
    #[serde(rename = "PlacementTags", default)]
    pub placement_tags: Option<Vec<String>>,
    #[serde(rename = "VolumeDrivers", default)]
    pub volume_drivers: Option<Vec<String>>,
    #[serde(rename = "RootFs", default)]
    pub root_fs: String,
    #[serde(rename = "MemoryMB", default)]
    pub memory_mb: i32,
    #[serde(rename = "DiskMB", default)]
    pub disk_mb: i32,
    #[serde(rename = "MaxPids", default)]
    pub max_pids: i32,
    #[serde(default = "invalid_state")]
    pub state: String,
    #[serde(default)]
    pub failed: bool,
}

fn invalid_state() -> String {
    "Invalid".into()
}

impl TaskStartRequest {
    pub fn from_definition(task_guid: &str, domain: &str, def: &TaskDefinition) -> Self {
        Self {
            task_guid: task_guid.to_string(),
            domain: domain.to_string(),
            placement_tags: non_empty(&def.placement_tags),
            volume_drivers: Some(def.volume_mounts.iter().map(|m| m.driver.clone()).collect()),
            root_fs: def.root_fs.clone(),
            memory_mb: def.memory_mb,
            disk_mb: def.disk_mb,
            max_pids: def.max_pids,
            state: invalid_state(),
            failed: false,
        }
    }
}

#[async_trait]
pub trait AuctioneerClient: Send + Sync + 'static {
    async fn request_lrp_auctions(
        &self,
        trace_id: &str,
        starts: Vec<LrpStartRequest>,
    ) -> anyhow::Result<()>;
    async fn request_task_auctions(
        &self,
        trace_id: &str,
        tasks: Vec<TaskStartRequest>,
    ) -> anyhow::Result<()>;
}

/// Used when no auctioneer is configured: start requests are logged and
/// dropped (nothing gets placed until an auctioneer runs).
#[derive(Debug, Default, Clone)]
pub struct NoAuctioneer;

#[async_trait]
impl AuctioneerClient for NoAuctioneer {
    async fn request_lrp_auctions(
        &self,
        _trace_id: &str,
        starts: Vec<LrpStartRequest>,
    ) -> anyhow::Result<()> {
        tracing::debug!(
            count = starts.len(),
            "no auctioneer configured; dropping LRP start requests"
        );
        Ok(())
    }
    async fn request_task_auctions(
        &self,
        _trace_id: &str,
        tasks: Vec<TaskStartRequest>,
    ) -> anyhow::Result<()> {
        tracing::debug!(
            count = tasks.len(),
            "no auctioneer configured; dropping task start requests"
        );
        Ok(())
    }
}

/// Diego's auctioneer HTTP client. With TLS material it calls the
/// address as configured (normally `https://...`) and, unless
/// `auctioneer_require_tls`, retries a failed call once over plain HTTP,
/// as Diego's `auctioneer.NewSecureClient` does (auctioneer `client.go`):
/// that lets a bbs with certificates reach an auctioneer that has none.
pub struct HttpAuctioneerClient {
    base: String,
    client: reqwest::Client,
    /// The plain-HTTP fallback (TLS configured, TLS not required).
    insecure: Option<reqwest::Client>,
}

impl HttpAuctioneerClient {
    pub fn new(
        address: &str,
        timeout: Duration,
        tls: &ClientTls,
        require_tls: bool,
    ) -> anyhow::Result<Self> {
        let insecure = if tls.is_empty() || require_tls {
            None
        } else {
            Some(super::http_client(timeout, &ClientTls::default())?)
        };
        Ok(Self {
            base: address.trim_end_matches('/').to_string(),
            client: super::http_client(timeout, tls)?,
            insecure,
        })
    }

    async fn post<T: Serialize + Sync>(
        &self,
        path: &str,
        trace_id: &str,
        body: &T,
    ) -> anyhow::Result<()> {
        let body = serde_json::to_vec(body)?;
        let send = |client: &reqwest::Client, base: &str| {
            let req = client
                .post(format!("{base}{path}"))
                .header("Content-Type", "application/json")
                .body(body.clone());
            send_traced(req, trace_id)
        };
        let status = match (send(&self.client, &self.base).await, &self.insecure) {
            (Ok(s), _) => s,
            (Err(e), Some(insecure)) => {
                tracing::warn!(error = %e, "retrying-on-http");
                send(insecure, &plain_http(&self.base)).await?
            }
            (Err(e), None) => return Err(e),
        };
        expect_accepted(status)
    }
}

/// `base` with its scheme replaced by `http` (Go sets `URL.Scheme`).
fn plain_http(base: &str) -> String {
    match base.split_once("://") {
        Some((_, rest)) => format!("http://{rest}"),
        None => format!("http://{base}"),
    }
}

#[async_trait]
impl AuctioneerClient for HttpAuctioneerClient {
    async fn request_lrp_auctions(
        &self,
        trace_id: &str,
        starts: Vec<LrpStartRequest>,
    ) -> anyhow::Result<()> {
        self.post("/v1/lrps", trace_id, &starts).await
    }
    async fn request_task_auctions(
        &self,
        trace_id: &str,
        tasks: Vec<TaskStartRequest>,
    ) -> anyhow::Result<()> {
        self.post("/v1/tasks", trace_id, &tasks).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lrp_start_json_uses_auctioneer_names() {
        let r = LrpStartRequest {
            process_guid: "pg".into(),
            domain: "d".into(),
            indices: vec![0, 1],
            placement_tags: None,
            volume_drivers: Some(vec![]),
            root_fs: "preloaded:cflinuxfs4".into(),
            memory_mb: 128,
            disk_mb: 256,
            max_pids: 0,
        };
        let v: serde_json::Value = serde_json::to_value(&r).unwrap();
        assert_eq!(v["process_guid"], "pg");
        assert_eq!(v["indices"], serde_json::json!([0, 1]));
        assert_eq!(v["PlacementTags"], serde_json::Value::Null);
        assert_eq!(v["RootFs"], "preloaded:cflinuxfs4");
        assert_eq!(v["MemoryMB"], 128);
        assert_eq!(v["DiskMB"], 256);
    }

    #[test]
    fn task_start_json_uses_rep_names() {
        let t = TaskStartRequest::from_definition("tg", "d", &TaskDefinition::default());
        let v: serde_json::Value = serde_json::to_value(&t).unwrap();
        assert_eq!(v["TaskGuid"], "tg");
        assert_eq!(v["Domain"], "d");
        assert_eq!(v["state"], "Invalid");
        assert_eq!(v["failed"], false);
    }
}
