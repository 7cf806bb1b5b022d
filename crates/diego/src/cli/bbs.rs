//! The BBS as the dev commands use it: the shared BBS client, with a
//! missing app read as absent rather than as an error.

use bbs_client::{ActualLrpFilter, BbsClient, DesiredLrpFilter, HttpBbsClient};
use models::ErrorType;
use std::time::Duration;

pub struct Bbs {
    client: HttpBbsClient,
}

impl Bbs {
    pub fn new(url: &str) -> anyhow::Result<Self> {
        let cfg = bbs_client::ClientConfig::new(url).with_request_timeout(Duration::from_secs(30));
        Ok(Self {
            client: HttpBbsClient::new(&cfg)?,
        })
    }

    pub async fn upsert_domain(&self, domain: &str) -> anyhow::Result<()> {
        // TTL 0: the domain stays fresh until changed (no nsync here).
        Ok(self.client.upsert_domain(domain, Duration::ZERO).await?)
    }

    pub async fn desired_lrp(&self, guid: &str) -> anyhow::Result<Option<models::DesiredLrp>> {
        match self.client.desired_lrp_by_process_guid(guid).await {
            Ok(lrp) => Ok(lrp),
            Err(e) if e.is(ErrorType::ResourceNotFound) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn desired_lrps(&self, domain: &str) -> anyhow::Result<Vec<models::DesiredLrp>> {
        let filter = DesiredLrpFilter {
            domain: domain.to_string(),
            ..Default::default()
        };
        Ok(self.client.desired_lrps(&filter).await?)
    }

    pub async fn desire(&self, lrp: models::DesiredLrp) -> anyhow::Result<()> {
        Ok(self.client.desire_lrp(lrp).await?)
    }

    pub async fn update(&self, guid: &str, update: models::DesiredLrpUpdate) -> anyhow::Result<()> {
        Ok(self.client.update_desired_lrp(guid, update).await?)
    }

    /// Whether there was one to remove.
    pub async fn remove(&self, guid: &str) -> anyhow::Result<bool> {
        match self.client.remove_desired_lrp(guid).await {
            Ok(()) => Ok(true),
            Err(e) if e.is(ErrorType::ResourceNotFound) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// The app's instances (ordinary and evacuating).
    pub async fn actual_lrps(&self, guid: &str) -> anyhow::Result<Vec<models::ActualLrp>> {
        Ok(self
            .client
            .actual_lrps(&ActualLrpFilter::process(guid))
            .await?)
    }
}
