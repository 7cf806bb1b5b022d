//! What the API does, apart from HTTP: every operation on apps and their
//! resources, the LRP sync, the deployment updater and the crash watcher.
//!
//! Writes that read, decide and write (most of them) run one at a time
//! under [`Api::writes`], so two requests never act on the same stale
//! view; each one's rows are applied in one transaction.

pub mod app_log;
mod apps;
mod bits;
mod build_sync;
mod deployments;
pub mod drains;
mod events;
mod processes;
mod revisions;
mod staging;
mod stats;
mod sync;
mod tasks;
mod validate;

pub use build_sync::STAGING_GRACE;
pub use deployments::deployment_loop;
pub use events::watch_crashes;
pub use staging::StagingSettings;
pub use stats::instance_stats;
pub use sync::{sync_loop, SyncReport};
pub use tasks::TaskCallback;

use crate::blobs::Blobs;
use crate::error::{ApiError, ApiResult};
use crate::store::{AppRec, Filter, ProcessRec, Record, Repo};
use std::sync::Arc;

/// Settings the service needs from the config.
#[derive(Debug, Clone)]
pub struct Settings {
    pub external_url: String,
    pub app_domain: String,
    pub default_stack: String,
    pub default_memory_mb: i32,
    pub default_disk_mb: i32,
    pub max_package_bytes: u64,
    pub domain_ttl: std::time::Duration,
    /// The log component's HTTP API (empty: none).
    pub logs_api_url: String,
}

pub struct Api {
    pub settings: Settings,
    pub staging: StagingSettings,
    pub repo: Repo,
    pub bbs: Arc<dyn bbs_client::BbsClient>,
    pub blobs: Blobs,
    /// Clients of the cells' reps (instance usage, logs).
    pub reps: rep_client::RepClientFactory,
    /// The log component's reads (container metrics), when configured.
    pub logs: Option<logs_client::Reader>,
    /// The file server's (published buildpacks and droplets).
    http: reqwest::Client,
    pub writes: tokio::sync::Mutex<()>,
    /// One LRP sync at a time.
    sync_lock: tokio::sync::Mutex<()>,
}

impl Api {
    pub fn new(
        settings: Settings,
        staging: StagingSettings,
        repo: Repo,
        bbs: Arc<dyn bbs_client::BbsClient>,
        blobs: Blobs,
    ) -> anyhow::Result<Arc<Api>> {
        let logs = if settings.logs_api_url.is_empty() {
            None
        } else {
            Some(logs_client::Reader::new(&settings.logs_api_url)?)
        };
        Ok(Arc::new(Api {
            settings,
            staging,
            http: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(30))
                .build()?,
            repo,
            bbs,
            blobs,
            reps: rep_client::RepClientFactory::new(&Default::default())?,
            logs,
            writes: tokio::sync::Mutex::new(()),
            sync_lock: tokio::sync::Mutex::new(()),
        }))
    }

    pub async fn app(&self, guid: &str) -> ApiResult<AppRec> {
        self.repo
            .get::<AppRec>(guid)
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("app {guid} not found")))
    }

    pub async fn app_by_name(&self, name: &str) -> ApiResult<Option<AppRec>> {
        let filter = Filter {
            name: Some(name.to_string()),
            ..Default::default()
        };
        Ok(self.repo.list::<AppRec>(&filter).await?.pop())
    }

    pub async fn process(&self, guid: &str) -> ApiResult<ProcessRec> {
        self.repo
            .get::<ProcessRec>(guid)
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("process {guid} not found")))
    }

    /// A record of `app`, or not found.
    pub async fn owned<R: Record>(&self, guid: &str, what: &str) -> ApiResult<R> {
        self.repo
            .get::<R>(guid)
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("{what} {guid} not found")))
    }

    /// The app's web processes, oldest first (more than one while a
    /// deployment runs).
    pub async fn web_processes(&self, app_guid: &str) -> ApiResult<Vec<ProcessRec>> {
        Ok(self
            .repo
            .of_app::<ProcessRec>(app_guid)
            .await?
            .into_iter()
            .filter(|p| p.kind == models::capi::WEB)
            .collect())
    }

    /// Where cells download a droplet: where staging put it, else this
    /// API.
    pub fn droplet_url(&self, droplet: &crate::store::DropletRec) -> String {
        droplet.download_url.clone().unwrap_or_else(|| {
            format!(
                "{}/internal/v3/droplets/{}/download",
                self.settings.external_url, droplet.guid
            )
        })
    }
}

pub fn new_guid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A process version: short, random.
pub fn new_version() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..8].to_string()
}
