//! The dev router's JSON config. Field names follow gorouter where it has
//! them (`start_response_delay_interval` is what it announces as
//! `minimumRegisterIntervalInSeconds`, `droplet_stale_threshold` as
//! `pruneThresholdInSeconds`); durations are whole seconds here.
//!
//! ```json
//! { "listen_address": "127.0.0.1:8081", "nats_addresses": "127.0.0.1:4222",
//!   "start_response_delay_interval": 20, "droplet_stale_threshold": 120,
//!   "prune_stale_droplets_interval": 30, "endpoint_dial_timeout": 5,
//!   "logs_ingress_address": "127.0.0.1:3458" }
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
    /// How long a connection to an endpoint may take before the attempt
    /// counts as failed and the request goes to another endpoint (an
    /// instance whose network is gone drops the SYN rather than refusing
    /// it); gorouter's name and default.
    pub endpoint_dial_timeout: u64,
    pub log_level: String,
    /// The log component's ingress (`host:port`) for the RTR access lines
    /// of apps' requests; empty: none are shipped.
    pub logs_ingress_address: String,
    /// Mutual TLS to it (all three, or none: plain HTTP/2).
    pub logs_ca_file: String,
    pub logs_cert_file: String,
    pub logs_key_file: String,
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
            endpoint_dial_timeout: 5,
            log_level: "info".into(),
            logs_ingress_address: String::new(),
            logs_ca_file: String::new(),
            logs_cert_file: String::new(),
            logs_key_file: String::new(),
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

    /// The RTR lines' sender, when a log component is configured.
    pub fn access_log(&self) -> Option<crate::access_log::AccessLog> {
        if self.logs_ingress_address.is_empty() {
            return None;
        }
        let mut ic = logs_client::IngressConfig::new(&self.logs_ingress_address, "gorouter");
        if !self.logs_ca_file.is_empty() {
            ic.tls = Some(tlsconfig::ClientTls::from_files(
                &self.logs_ca_file,
                &self.logs_cert_file,
                &self.logs_key_file,
            ));
        }
        Some(crate::access_log::AccessLog {
            sender: logs_client::Sender::start(ic),
        })
    }

    pub fn stale_threshold(&self) -> Duration {
        Duration::from_secs(self.droplet_stale_threshold)
    }

    pub fn dial_timeout(&self) -> Duration {
        Duration::from_secs(self.endpoint_dial_timeout.max(1))
    }

    pub fn prune_interval(&self) -> Duration {
        Duration::from_secs(self.prune_stale_droplets_interval.max(1))
    }
}
