//! The log component's JSON config:
//!
//! ```json
//! {
//!   "ingress_address": "127.0.0.1:3458",
//!   "api_address": "127.0.0.1:8083",
//!   "ca_file": "ca.crt", "cert_file": "logs.crt", "key_file": "logs.key",
//!   "max_per_source": 1000, "max_bytes_per_source": 1048576, "max_sources": 10000,
//!   "drain_buffer_size": 10000, "drain_ca_file": "",
//!   "bindings_api_url": "http://127.0.0.1:9022", "bindings_polling_interval": "15s",
//!   "log_level": "info"
//! }
//! ```
//!
//! With `cert_file` and `key_file` the ingress serves mutual TLS (senders
//! need a certificate signed by `ca_file`), as Loggregator's agents do.
//! `max_per_source` is Log Cache's name; the byte bound is ours.

use anyhow::Context;
use models::go_duration::GoDuration;
use serde::Deserialize;
use std::path::Path;

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct LogsConfig {
    /// gRPC `loggregator.v2.Ingress` (Loggregator's agent port).
    pub ingress_address: String,
    /// HTTP: reads, streams, drains, `/metrics`.
    pub api_address: String,
    /// The HTTP API's limits and timeouts (see
    /// [`httpserve::ServerSettings`]), beside the other fields.
    #[serde(flatten)]
    pub server: httpserve::ServerSettings,
    pub ca_file: String,
    pub cert_file: String,
    pub key_file: String,
    /// Envelopes kept per source; the oldest go first.
    pub max_per_source: usize,
    /// Encoded bytes kept per source.
    pub max_bytes_per_source: usize,
    /// Sources kept; the one written to longest ago goes first.
    pub max_sources: usize,
    /// Messages waiting per syslog drain while it is slow or away.
    pub drain_buffer_size: usize,
    /// CA trusted for `syslog-tls://` and `https://` drains (empty: none,
    /// so such drains fail their handshake and count drops).
    pub drain_ca_file: String,
    /// The app API (`http://host:port`) whose `/internal/v4/syslog_drain_urls`
    /// lists the drains of apps' environments (the syslog binding cache's
    /// `API_URL`; empty: only `diego bind-drain`'s drains).
    pub bindings_api_url: String,
    /// How often that list is read (the binding cache's
    /// `API_POLLING_INTERVAL`).
    pub bindings_polling_interval: GoDuration,
    /// Apps per page of it (`API_BATCH_SIZE`).
    pub bindings_batch_size: usize,
    pub log_level: String,
}

impl Default for LogsConfig {
    fn default() -> Self {
        Self {
            ingress_address: "127.0.0.1:3458".into(),
            api_address: "127.0.0.1:8083".into(),
            server: httpserve::ServerSettings::default(),
            ca_file: String::new(),
            cert_file: String::new(),
            key_file: String::new(),
            max_per_source: 1000,
            max_bytes_per_source: 1024 * 1024,
            max_sources: 10_000,
            drain_buffer_size: 10_000,
            drain_ca_file: String::new(),
            bindings_api_url: String::new(),
            bindings_polling_interval: GoDuration(std::time::Duration::from_secs(15)),
            bindings_batch_size: 1000,
            log_level: "info".into(),
        }
    }
}

impl LogsConfig {
    pub fn from_file(path: &Path) -> anyhow::Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let cfg: Self =
            serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        cfg.validate()?;
        Ok(cfg)
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(self.max_per_source > 0, "max_per_source must be positive");
        anyhow::ensure!(
            self.max_bytes_per_source > 0,
            "max_bytes_per_source must be positive"
        );
        anyhow::ensure!(self.max_sources > 0, "max_sources must be positive");
        if self.tls_enabled() {
            anyhow::ensure!(!self.ca_file.is_empty(), "serving mutual TLS needs ca_file");
        }
        Ok(())
    }

    pub fn tls_enabled(&self) -> bool {
        !self.cert_file.is_empty() && !self.key_file.is_empty()
    }
}
