//! The dev router's JSON config. Field names follow gorouter where it has
//! them (`start_response_delay_interval` is what it announces as
//! `minimumRegisterIntervalInSeconds`, `droplet_stale_threshold` as
//! `pruneThresholdInSeconds`); durations are whole seconds here.
//!
//! ```json
//! { "listen_address": "127.0.0.1:8081", "nats_addresses": "127.0.0.1:4222",
//!   "start_response_delay_interval": 20, "droplet_stale_threshold": 120,
//!   "prune_stale_droplets_interval": 30 }
//! ```

use anyhow::Context;
use serde::Deserialize;
use std::path::Path;
use std::time::Duration;

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct RouterConfig {
    pub listen_address: String,
    /// Comma-separated `host:port` (or `nats://` URLs).
    pub nats_addresses: String,
    pub start_response_delay_interval: u64,
    pub droplet_stale_threshold: u64,
    pub prune_stale_droplets_interval: u64,
    pub log_level: String,
    /// The listener's timeouts and caps (see
    /// [`httpserve::ServerSettings`]); bodies stream to the backend.
    #[serde(flatten)]
    pub server: httpserve::ServerSettings,
}

impl Default for RouterConfig {
    fn default() -> Self {
        Self {
            listen_address: "127.0.0.1:8081".into(),
            nats_addresses: "nats://127.0.0.1:4222".into(),
            start_response_delay_interval: 20,
            droplet_stale_threshold: 120,
            prune_stale_droplets_interval: 30,
            log_level: "info".into(),
            server: httpserve::ServerSettings {
                // gorouter takes bodies of any size.
                max_request_body_bytes: usize::MAX,
                ..Default::default()
            },
        }
    }
}

impl RouterConfig {
    pub fn from_file(path: &Path) -> anyhow::Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
    }

    pub fn nats_urls(&self) -> Vec<String> {
        self.nats_addresses
            .split(',')
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(|a| {
                if a.contains("://") {
                    a.to_string()
                } else {
                    format!("nats://{a}")
                }
            })
            .collect()
    }

    pub fn stale_threshold(&self) -> Duration {
        Duration::from_secs(self.droplet_stale_threshold)
    }

    pub fn prune_interval(&self) -> Duration {
        Duration::from_secs(self.prune_stale_droplets_interval.max(1))
    }
}
