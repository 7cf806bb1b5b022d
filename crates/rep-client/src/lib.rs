//! The one client of the rep's HTTP JSON API, as Diego's `rep` package
//! offers it: a [`RepClientFactory`] (Diego's `ClientFactory`, holding the
//! pooled connections and the TLS settings) makes a [`HttpRepClient`] per
//! cell, picking the cell's address as Diego's `pickURL` does; the
//! [`RepClient`] trait is Diego's `rep.Client`.
//!
//! The auctioneer asks cells for their state and sends them work, the
//! bbs stops instances, cancels tasks and updates instances, cfdot reads
//! cell states; operators and the drain hook use the rep's local routes
//! (`/ping`, `/evacuate`).

mod error;
mod http;

pub use error::Error;
pub use http::HttpRepClient;

use async_trait::async_trait;
use models::rep::container_metrics::ContainerMetricsCollection;
use models::rep::{CellState, LrpUpdate, Work};
use models::{ActualLrpInstanceKey, ActualLrpKey, CellPresence};
use std::sync::Arc;
use std::time::Duration;

pub type Result<T> = std::result::Result<T, Error>;

/// Diego's `rep.Client`: one cell's rep.
#[async_trait]
pub trait RepClient: Send + Sync {
    /// `GET /state`.
    async fn state(&self) -> Result<CellState>;
    /// `POST /work`: answers the work the cell could not take.
    async fn perform(&self, work: &Work) -> Result<Work>;
    /// `PUT /v2/lrps/:process_guid/instances/:instance_guid` (an old rep
    /// without it: the v1 route for internal routes, else nothing).
    async fn update_lrp_instance(&self, update: &LrpUpdate) -> Result<()>;
    /// `POST /v1/lrps/:process_guid/instances/:instance_guid/stop`.
    async fn stop_lrp_instance(
        &self,
        key: &ActualLrpKey,
        instance: &ActualLrpInstanceKey,
    ) -> Result<()>;
    /// `POST /v1/tasks/:task_guid/cancel`.
    async fn cancel_task(&self, task_guid: &str) -> Result<()>;
    /// `GET /container_metrics`.
    async fn container_metrics(&self) -> Result<ContainerMetricsCollection>;
}

/// Diego's `rep.ClientFactory`: a client for the rep at a cell's
/// `rep_address` / `rep_url`, sending `trace_id` (when not empty).
pub trait ClientFactory: Send + Sync {
    fn create_client(&self, address: &str, url: &str, trace_id: &str)
        -> Result<Arc<dyn RepClient>>;
}

/// How the factory reaches reps (Diego's `rep.TLSConfig` and its two
/// HTTP clients).
#[derive(Debug, Clone, Default)]
pub struct ClientConfig {
    /// The CA that signed the reps and the client's own certificate.
    pub tls: Option<tlsconfig::ClientTls>,
    /// Only `https` rep URLs are used (Diego's `RequireTLS`).
    pub require_tls: bool,
    /// Bounds `/work`, stops, cancels and updates (None: no bound).
    pub request_timeout: Option<Duration>,
    /// Bounds `GET /state` (the auctioneer's `cell_state_timeout`).
    pub state_timeout: Option<Duration>,
}

/// Makes clients for cells; clients share its pooled connections.
#[derive(Clone)]
pub struct RepClientFactory {
    http: reqwest::Client,
    request_timeout: Option<Duration>,
    state_timeout: Option<Duration>,
    require_tls: bool,
    has_creds: bool,
}

impl RepClientFactory {
    pub fn new(cfg: &ClientConfig) -> Result<RepClientFactory> {
        let tls = cfg.tls.clone().filter(|t| !t.is_empty());
        let has_creds = tls
            .as_ref()
            .is_some_and(|t| t.ca.is_some() && t.identity.is_some());
        let http = cfhttp::Config {
            tls,
            ..Default::default()
        }
        .client()
        .map_err(|e| Error::Config(e.to_string()))?;
        Ok(RepClientFactory {
            http,
            request_timeout: cfg.request_timeout,
            state_timeout: cfg.state_timeout,
            require_tls: cfg.require_tls,
            has_creds,
        })
    }

    /// Diego's `TLSConfig.pickURL`: prefer the presence's `rep_url` over
    /// its `rep_address`, as the TLS settings allow.
    pub fn pick_url(&self, address: &str, rep_url: &str) -> Result<String> {
        let secure = !rep_url.is_empty()
            && reqwest::Url::parse(rep_url).is_ok_and(|u| u.scheme() == "https");
        if self.require_tls {
            if !secure {
                return Err(Error::Address(
                    "https scheme is required but none of the addresses support it".into(),
                ));
            }
            return Ok(rep_url.to_string());
        }
        if secure && !self.has_creds {
            return Err(Error::Address(
                "https scheme not supported since certificates aren't provided".into(),
            ));
        }
        Ok(if rep_url.is_empty() { address } else { rep_url }.to_string())
    }

    /// A client for the rep at `address` / `url`, as picked by
    /// [`RepClientFactory::pick_url`].
    pub fn client(&self, address: &str, url: &str, trace_id: &str) -> Result<HttpRepClient> {
        let url = self.pick_url(address, url)?;
        if url.is_empty() {
            return Err(Error::Address("the cell has no rep address".into()));
        }
        Ok(self.client_at(&url).with_trace_id(trace_id))
    }

    /// A client for the rep of a registered cell.
    pub fn client_for(&self, cell: &CellPresence) -> Result<HttpRepClient> {
        self.client(&cell.rep_address, &cell.rep_url, "")
    }

    /// A client for the rep at exactly `url` (its network or its local
    /// listener).
    pub fn client_at(&self, url: &str) -> HttpRepClient {
        HttpRepClient::new(
            self.http.clone(),
            url,
            self.request_timeout,
            self.state_timeout,
        )
    }
}

impl ClientFactory for RepClientFactory {
    fn create_client(
        &self,
        address: &str,
        url: &str,
        trace_id: &str,
    ) -> Result<Arc<dyn RepClient>> {
        Ok(Arc::new(self.client(address, url, trace_id)?))
    }
}

#[cfg(test)]
mod tests;
