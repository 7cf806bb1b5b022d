//! The BBS calls the route-emitter makes (protobuf over HTTP, Diego's
//! routes): routing infos, actual LRPs, domains and the LRP instance event
//! stream.

use anyhow::Context;
use prost::Message;
use std::time::Duration;

#[derive(Debug, Clone, Default)]
pub struct BbsTls {
    pub ca_cert_file: String,
    pub client_cert_file: String,
    pub client_key_file: String,
}

#[derive(Clone)]
pub struct BbsClient {
    base: String,
    http: reqwest::Client,
    /// Event streams stay open indefinitely: no overall timeout.
    streaming: reqwest::Client,
}

fn builder(tls: &BbsTls) -> anyhow::Result<reqwest::ClientBuilder> {
    let mut b = reqwest::Client::builder().tcp_nodelay(true);
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
    Ok(b)
}

/// Responses whose field 1 is a Diego `Error`.
pub trait WithError: Message + Default {
    fn error(&self) -> Option<&models::Error>;
}

impl WithError for models::DesiredLrPsResponse {
    fn error(&self) -> Option<&models::Error> {
        self.error.as_ref()
    }
}

impl WithError for models::ActualLrPsResponse {
    fn error(&self) -> Option<&models::Error> {
        self.error.as_ref()
    }
}

impl WithError for models::DomainsResponse {
    fn error(&self) -> Option<&models::Error> {
        self.error.as_ref()
    }
}

impl BbsClient {
    pub fn new(address: &str, timeout: Duration, tls: &BbsTls) -> anyhow::Result<Self> {
        Ok(Self {
            base: address.trim_end_matches('/').to_string(),
            http: builder(tls)?.timeout(timeout).build()?,
            streaming: builder(tls)?.connect_timeout(timeout).build()?,
        })
    }

    async fn call<Req: Message, Resp: WithError>(
        &self,
        path: &str,
        req: &Req,
    ) -> anyhow::Result<Resp> {
        let resp = self
            .http
            .post(format!("{}{path}", self.base))
            .header("Content-Type", "application/x-protobuf")
            .header("Accept", "application/x-protobuf")
            .body(req.encode_to_vec())
            .send()
            .await
            .with_context(|| format!("bbs {path}"))?;
        let status = resp.status();
        if !status.is_success() {
            anyhow::bail!("bbs {path}: HTTP {status}");
        }
        let body = resp.bytes().await?;
        let r = Resp::decode(body.as_ref()).with_context(|| format!("bbs {path}: decoding"))?;
        if let Some(e) = r.error() {
            anyhow::bail!("bbs {path}: error {}: {}", e.r#type, e.message);
        }
        Ok(r)
    }

    /// DesiredLRP routing infos (key, instances, routes, tags), all or of
    /// the given processes.
    pub async fn routing_infos(
        &self,
        process_guids: Vec<String>,
    ) -> anyhow::Result<Vec<models::DesiredLrp>> {
        let req = models::DesiredLrPsRequest {
            process_guids,
            ..Default::default()
        };
        let r: models::DesiredLrPsResponse = self
            .call("/v1/desired_lrp_routing_infos/list", &req)
            .await?;
        Ok(r.desired_lrps)
    }

    /// ActualLRPs, all or those on one cell.
    pub async fn actual_lrps(&self, cell_id: &str) -> anyhow::Result<Vec<models::ActualLrp>> {
        let req = models::ActualLrPsRequest {
            cell_id: cell_id.to_string(),
            ..Default::default()
        };
        let r: models::ActualLrPsResponse = self.call("/v1/actual_lrps/list", &req).await?;
        Ok(r.actual_lrps)
    }

    /// The fresh domains.
    pub async fn domains(&self) -> anyhow::Result<Vec<String>> {
        let r: models::DomainsResponse = self.call("/v1/domains/list", &()).await?;
        Ok(r.domains)
    }

    /// Opens the LRP instance event stream (only `cell_id`'s instance
    /// events when it is not empty).
    pub async fn subscribe_lrp_instances(
        &self,
        cell_id: &str,
    ) -> anyhow::Result<reqwest::Response> {
        let req = models::EventsByCellId {
            cell_id: cell_id.to_string(),
        };
        let resp = self
            .streaming
            .post(format!("{}/v1/events/lrp_instances.r1", self.base))
            .header("Content-Type", "application/x-protobuf")
            .body(req.encode_to_vec())
            .send()
            .await
            .context("bbs event stream")?;
        if !resp.status().is_success() {
            anyhow::bail!("bbs event stream: HTTP {}", resp.status());
        }
        Ok(resp)
    }
}
