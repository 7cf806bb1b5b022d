//! The BBS calls the dev commands make, through cfdot's client (Diego's
//! protobuf-over-HTTP protocol).

use cfdot::client::{BbsClient, ClientConfig};
use cfdot::error::ClientError;
use models::ErrorType;

pub struct Bbs {
    client: BbsClient,
}

fn err(e: ClientError) -> anyhow::Error {
    anyhow::anyhow!("{e}")
}

fn is_not_found(e: &ClientError) -> bool {
    matches!(e, ClientError::Bbs(b) if b.kind == ErrorType::ResourceNotFound as i32)
}

impl Bbs {
    pub fn new(url: &str) -> anyhow::Result<Self> {
        let client = BbsClient::new(&ClientConfig {
            url: url.to_string(),
            timeout_secs: 30,
            ..Default::default()
        })
        .map_err(err)?;
        Ok(Self { client })
    }

    pub async fn upsert_domain(&self, domain: &str) -> anyhow::Result<()> {
        // TTL 0: the domain stays fresh until changed (no nsync here).
        let req = models::UpsertDomainRequest {
            domain: domain.to_string(),
            ttl: 0,
        };
        let _: models::UpsertDomainResponse = self
            .client
            .call("/v1/domains/upsert", Some(&req))
            .await
            .map_err(err)?;
        Ok(())
    }

    pub async fn desired_lrp(&self, guid: &str) -> anyhow::Result<Option<models::DesiredLrp>> {
        let req = models::DesiredLrpByProcessGuidRequest {
            process_guid: guid.to_string(),
        };
        let r: Result<models::DesiredLrpResponse, _> = self
            .client
            .call("/v1/desired_lrps/get_by_process_guid.r3", Some(&req))
            .await;
        match r {
            Ok(resp) => Ok(resp.desired_lrp),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(err(e)),
        }
    }

    pub async fn desired_lrps(&self, domain: &str) -> anyhow::Result<Vec<models::DesiredLrp>> {
        let req = models::DesiredLrPsRequest {
            domain: domain.to_string(),
            ..Default::default()
        };
        let resp: models::DesiredLrPsResponse = self
            .client
            .call("/v1/desired_lrps/list.r3", Some(&req))
            .await
            .map_err(err)?;
        Ok(resp.desired_lrps)
    }

    pub async fn desire(&self, lrp: models::DesiredLrp) -> anyhow::Result<()> {
        let req = models::DesireLrpRequest {
            desired_lrp: Some(lrp),
        };
        let _: models::DesiredLrpLifecycleResponse = self
            .client
            .call("/v1/desired_lrp/desire.r2", Some(&req))
            .await
            .map_err(err)?;
        Ok(())
    }

    pub async fn update(&self, guid: &str, update: models::DesiredLrpUpdate) -> anyhow::Result<()> {
        let req = models::UpdateDesiredLrpRequest {
            process_guid: guid.to_string(),
            update: Some(update),
        };
        let _: models::DesiredLrpLifecycleResponse = self
            .client
            .call("/v1/desired_lrp/update", Some(&req))
            .await
            .map_err(err)?;
        Ok(())
    }

    /// Whether there was one to remove.
    pub async fn remove(&self, guid: &str) -> anyhow::Result<bool> {
        let req = models::RemoveDesiredLrpRequest {
            process_guid: guid.to_string(),
        };
        let r: Result<models::DesiredLrpLifecycleResponse, _> =
            self.client.call("/v1/desired_lrp/remove", Some(&req)).await;
        match r {
            Ok(_) => Ok(true),
            Err(e) if is_not_found(&e) => Ok(false),
            Err(e) => Err(err(e)),
        }
    }

    /// The app's instances (ordinary and evacuating).
    pub async fn actual_lrps(&self, guid: &str) -> anyhow::Result<Vec<models::ActualLrp>> {
        let req = models::ActualLrPsRequest {
            process_guid: guid.to_string(),
            ..Default::default()
        };
        let resp: models::ActualLrPsResponse = self
            .client
            .call("/v1/actual_lrps/list", Some(&req))
            .await
            .map_err(err)?;
        Ok(resp.actual_lrps)
    }

    pub async fn cells(&self) -> anyhow::Result<Vec<models::CellPresence>> {
        let resp: models::CellsResponse = self
            .client
            .call::<(), _>("/v1/cells/list.r1", None)
            .await
            .map_err(err)?;
        Ok(resp.cells)
    }
}
