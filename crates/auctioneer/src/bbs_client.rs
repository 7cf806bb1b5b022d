//! A minimal BBS client (protobuf over HTTP, Diego's routes) with the calls
//! the auctioneer and the simulated reps make.

use anyhow::Context;
use prost::Message;
use std::time::Duration;

/// TLS material for a client (PEM files; empty: none).
#[derive(Debug, Clone, Default)]
pub struct ClientTlsFiles {
    pub ca_cert_file: String,
    pub client_cert_file: String,
    pub client_key_file: String,
}

/// A reqwest client with `timeout` and optional TLS files.
pub fn http_client(timeout: Duration, tls: &ClientTlsFiles) -> anyhow::Result<reqwest::Client> {
    let mut b = reqwest::Client::builder()
        .timeout(timeout)
        .pool_max_idle_per_host(64)
        .tcp_nodelay(true);
    if !tls.ca_cert_file.is_empty() {
        let pem = std::fs::read(&tls.ca_cert_file)
            .with_context(|| format!("reading {}", tls.ca_cert_file))?;
        for cert in reqwest::Certificate::from_pem_bundle(&pem)? {
            b = b.add_root_certificate(cert);
        }
    }
    if !tls.client_cert_file.is_empty() {
        let mut pem = std::fs::read(&tls.client_cert_file)
            .with_context(|| format!("reading {}", tls.client_cert_file))?;
        pem.extend(
            std::fs::read(&tls.client_key_file)
                .with_context(|| format!("reading {}", tls.client_key_file))?,
        );
        b = b.identity(reqwest::Identity::from_pem(&pem)?);
    }
    Ok(b.build()?)
}

/// Responses carrying a Diego `Error` in field 1.
pub trait WithError: Message + Default {
    fn error(&self) -> Option<&models::Error>;
}

macro_rules! with_error {
    ($($t:ty),*) => {$(
        impl WithError for $t {
            fn error(&self) -> Option<&models::Error> {
                self.error.as_ref()
            }
        }
    )*};
}

with_error!(
    models::CellsResponse,
    models::ActualLrpLifecycleResponse,
    models::TaskLifecycleResponse,
    models::StartTaskResponse,
    models::ActualLrPsResponse
);

/// A BBS error answered in a response body.
#[derive(Debug, Clone)]
pub struct BbsCallError(pub models::Error);

impl std::fmt::Display for BbsCallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "bbs error {}: {}", self.0.r#type, self.0.message)
    }
}

impl std::error::Error for BbsCallError {}

#[derive(Clone)]
pub struct BbsClient {
    base: String,
    http: reqwest::Client,
}

impl BbsClient {
    pub fn new(address: &str, timeout: Duration, tls: &ClientTlsFiles) -> anyhow::Result<Self> {
        Ok(Self {
            base: address.trim_end_matches('/').to_string(),
            http: http_client(timeout, tls)?,
        })
    }

    /// POSTs `req` to `path`; a response `error` becomes [`BbsCallError`].
    pub async fn call<Req: Message, Resp: WithError>(
        &self,
        path: &str,
        req: &Req,
    ) -> anyhow::Result<Resp> {
        let resp = self
            .http
            .post(format!("{}{}", self.base, path))
            .header("Content-Type", "application/x-protobuf")
            .header("Accept", "application/x-protobuf")
            .header(
                "X-Vcap-Request-Id",
                uuid::Uuid::new_v4().simple().to_string(),
            )
            .body(req.encode_to_vec())
            .send()
            .await
            .with_context(|| format!("bbs {path}"))?;
        let status = resp.status();
        let body = resp.bytes().await?;
        if !status.is_success() {
            anyhow::bail!("bbs {path}: HTTP {status}");
        }
        let r = Resp::decode(body.as_ref()).with_context(|| format!("bbs {path}: decoding"))?;
        if let Some(e) = r.error() {
            return Err(BbsCallError(e.clone()).into());
        }
        Ok(r)
    }

    pub async fn cells(&self) -> anyhow::Result<Vec<models::CellPresence>> {
        let r: models::CellsResponse = self.call("/v1/cells/list.r1", &()).await?;
        Ok(r.cells)
    }

    pub async fn fail_actual_lrp(
        &self,
        key: &models::ActualLrpKey,
        error_message: &str,
    ) -> anyhow::Result<()> {
        let req = models::FailActualLrpRequest {
            actual_lrp_key: Some(key.clone()),
            error_message: error_message.to_string(),
        };
        let _: models::ActualLrpLifecycleResponse = self.call("/v1/actual_lrps/fail", &req).await?;
        Ok(())
    }

    pub async fn reject_task(&self, task_guid: &str, reason: &str) -> anyhow::Result<()> {
        let req = models::RejectTaskRequest {
            task_guid: task_guid.to_string(),
            rejection_reason: reason.to_string(),
        };
        let _: models::TaskLifecycleResponse = self.call("/v1/tasks/reject", &req).await?;
        Ok(())
    }

    pub async fn claim_actual_lrp(
        &self,
        key: &models::ActualLrpKey,
        instance: &models::ActualLrpInstanceKey,
    ) -> anyhow::Result<()> {
        let req = models::ClaimActualLrpRequest {
            process_guid: key.process_guid.clone(),
            index: key.index,
            actual_lrp_instance_key: Some(instance.clone()),
        };
        let _: models::ActualLrpLifecycleResponse =
            self.call("/v1/actual_lrps/claim", &req).await?;
        Ok(())
    }

    pub async fn start_actual_lrp(
        &self,
        key: &models::ActualLrpKey,
        instance: &models::ActualLrpInstanceKey,
        net_info: &models::ActualLrpNetInfo,
    ) -> anyhow::Result<()> {
        let req = models::StartActualLrpRequest {
            actual_lrp_key: Some(key.clone()),
            actual_lrp_instance_key: Some(instance.clone()),
            actual_lrp_net_info: Some(net_info.clone()),
            ..Default::default()
        };
        let _: models::ActualLrpLifecycleResponse =
            self.call("/v1/actual_lrps/start.r1", &req).await?;
        Ok(())
    }

    /// CrashActualLRP, as a rep reports a container that exited.
    pub async fn crash_actual_lrp(
        &self,
        key: &models::ActualLrpKey,
        instance: &models::ActualLrpInstanceKey,
        reason: &str,
    ) -> anyhow::Result<()> {
        let req = models::CrashActualLrpRequest {
            actual_lrp_key: Some(key.clone()),
            actual_lrp_instance_key: Some(instance.clone()),
            error_message: reason.to_string(),
        };
        let _: models::ActualLrpLifecycleResponse =
            self.call("/v1/actual_lrps/crash", &req).await?;
        Ok(())
    }

    pub async fn remove_actual_lrp(
        &self,
        key: &models::ActualLrpKey,
        instance: &models::ActualLrpInstanceKey,
    ) -> anyhow::Result<()> {
        let req = models::RemoveActualLrpRequest {
            process_guid: key.process_guid.clone(),
            index: key.index,
            actual_lrp_instance_key: Some(instance.clone()),
        };
        let _: models::ActualLrpLifecycleResponse =
            self.call("/v1/actual_lrps/remove", &req).await?;
        Ok(())
    }

    /// StartTask; Ok(should_start).
    pub async fn start_task(&self, task_guid: &str, cell_id: &str) -> anyhow::Result<bool> {
        let req = models::StartTaskRequest {
            task_guid: task_guid.to_string(),
            cell_id: cell_id.to_string(),
        };
        let r: models::StartTaskResponse = self.call("/v1/tasks/start", &req).await?;
        Ok(r.should_start)
    }

    /// All actual LRPs (optionally of one process).
    pub async fn actual_lrps(&self, process_guid: &str) -> anyhow::Result<Vec<models::ActualLrp>> {
        let req = models::ActualLrPsRequest {
            process_guid: process_guid.to_string(),
            ..Default::default()
        };
        let r: models::ActualLrPsResponse = self.call("/v1/actual_lrps/list", &req).await?;
        Ok(r.actual_lrps)
    }
}
