//! The auctioneer's JSON config file, with Diego's field names:
//!
//! ```json
//! {
//!   "listen_address": "0.0.0.0:9016",
//!   "bbs_address": "https://bbs.service.cf.internal:8889",
//!   "bbs_ca_cert_file": "ca.crt", "bbs_client_cert_file": "c.crt", "bbs_client_key_file": "c.key",
//!   "rep_ca_cert": "ca.crt", "rep_client_cert": "c.crt", "rep_client_key": "c.key",
//!   "cell_state_timeout": "10s", "communication_timeout": "10s",
//!   "starting_container_weight": 0.25, "bin_pack_first_fit_weight": 0.0,
//!   "starting_container_count_maximum": 0,
//!   "locket_address": "locket.service.cf.internal:8891",
//!   "locket_ca_cert_file": "ca.crt", "locket_client_cert_file": "c.crt", "locket_client_key_file": "c.key",
//!   "lock_ttl": "15s", "lock_retry_interval": "5s",
//!   "uuid": "auctioneer-0", "log_level": "info"
//! }
//! ```
//!
//! Durations are Go duration strings (`"10s"`, `"500ms"`) or nanoseconds.
//!
//! With any of `ca_cert_file`, `server_cert_file`, `server_key_file` set
//! the API is served over mutual TLS, as Diego's auctioneer does
//! (`cmd/auctioneer/main.go`): the server presents the certificate and
//! key and serves only clients whose certificate `ca_cert_file` signed;
//! all three are then required.

use anyhow::Context;
use serde::Deserialize;
use std::path::Path;
use std::time::Duration;

pub use models::go_duration::{parse_go_duration, GoDuration};

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct AuctioneerConfig {
    pub listen_address: String,
    pub bbs_address: String,
    pub bbs_ca_cert_file: String,
    pub bbs_client_cert_file: String,
    pub bbs_client_key_file: String,
    pub rep_ca_cert: String,
    pub rep_client_cert: String,
    pub rep_client_key: String,
    /// Timeout of each `GET /state`.
    pub cell_state_timeout: GoDuration,
    /// Timeout of BBS calls and `POST /work`.
    pub communication_timeout: GoDuration,
    pub starting_container_weight: f64,
    pub bin_pack_first_fit_weight: f64,
    /// 0: no limit on containers starting at once.
    pub starting_container_count_maximum: i32,
    /// Parallel rep calls (Diego's work pool size).
    pub auction_runner_workers: usize,
    pub server_cert_file: String,
    pub server_key_file: String,
    pub ca_cert_file: String,
    /// The API listener's limits and timeouts (ours; see
    /// [`httpserve::ServerSettings`]), beside the other fields.
    #[serde(flatten)]
    pub server: httpserve::ServerSettings,
    pub locket_address: String,
    pub locket_ca_cert_file: String,
    pub locket_client_cert_file: String,
    pub locket_client_key_file: String,
    pub lock_ttl: GoDuration,
    pub lock_retry_interval: GoDuration,
    /// Lock owner; empty: a random one.
    pub uuid: String,
    pub log_level: String,
}

impl Default for AuctioneerConfig {
    fn default() -> Self {
        Self {
            listen_address: "0.0.0.0:9016".into(),
            bbs_address: String::new(),
            bbs_ca_cert_file: String::new(),
            bbs_client_cert_file: String::new(),
            bbs_client_key_file: String::new(),
            rep_ca_cert: String::new(),
            rep_client_cert: String::new(),
            rep_client_key: String::new(),
            cell_state_timeout: GoDuration(Duration::from_secs(10)),
            communication_timeout: GoDuration(Duration::from_secs(10)),
            starting_container_weight: 0.25,
            bin_pack_first_fit_weight: 0.0,
            starting_container_count_maximum: 0,
            auction_runner_workers: 1000,
            server_cert_file: String::new(),
            server_key_file: String::new(),
            ca_cert_file: String::new(),
            server: httpserve::ServerSettings::default(),
            locket_address: String::new(),
            locket_ca_cert_file: String::new(),
            locket_client_cert_file: String::new(),
            locket_client_key_file: String::new(),
            lock_ttl: GoDuration(Duration::from_secs(15)),
            lock_retry_interval: GoDuration(Duration::from_secs(5)),
            uuid: String::new(),
            log_level: "info".into(),
        }
    }
}

impl AuctioneerConfig {
    pub fn from_file(path: &Path) -> anyhow::Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let cfg: Self =
            serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        cfg.validate()?;
        Ok(cfg)
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        if self.bbs_address.is_empty() {
            anyhow::bail!("invalid-bbs-address: bbs_address is empty");
        }
        if !self.bbs_address.starts_with("http://") && !self.bbs_address.starts_with("https://") {
            anyhow::bail!(
                "invalid-bbs-address: {} (want http(s)://host:port)",
                self.bbs_address
            );
        }
        if self.serves_tls()
            && (self.server_cert_file.is_empty()
                || self.server_key_file.is_empty()
                || self.ca_cert_file.is_empty())
        {
            anyhow::bail!(
                "invalid-tls-config: serving TLS needs ca_cert_file, server_cert_file and server_key_file"
            );
        }
        if self.starting_container_weight < 0.0 || self.bin_pack_first_fit_weight < 0.0 {
            anyhow::bail!("weights must not be negative");
        }
        Ok(())
    }

    /// Whether the API is served over TLS (any of the three files named).
    pub fn serves_tls(&self) -> bool {
        !self.server_cert_file.is_empty()
            || !self.server_key_file.is_empty()
            || !self.ca_cert_file.is_empty()
    }

    /// The server's mutual-TLS configuration, when it serves TLS.
    pub fn server_tls(&self) -> anyhow::Result<Option<rustls::ServerConfig>> {
        if !self.serves_tls() {
            return Ok(None);
        }
        let cfg = tlsconfig::mutual_tls_server_config(
            &self.ca_cert_file,
            &self.server_cert_file,
            &self.server_key_file,
        )
        .map_err(|e| anyhow::anyhow!("invalid-tls-config: {e}"))?;
        Ok(Some(cfg))
    }

    pub fn scheduler_config(&self) -> crate::SchedulerConfig {
        crate::SchedulerConfig {
            bin_pack_first_fit_weight: self.bin_pack_first_fit_weight,
            starting_container_weight: self.starting_container_weight,
            starting_container_count_maximum: self.starting_container_count_maximum,
        }
    }

    pub fn locket(&self) -> Option<locket::client::ClientLocketConfig> {
        if self.locket_address.is_empty() {
            return None;
        }
        Some(locket::client::ClientLocketConfig {
            locket_address: self.locket_address.clone(),
            locket_ca_cert_file: self.locket_ca_cert_file.clone(),
            locket_client_cert_file: self.locket_client_cert_file.clone(),
            locket_client_key_file: self.locket_client_key_file.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diego_field_names() {
        let cfg: AuctioneerConfig = serde_json::from_str(
            r#"{"listen_address":"127.0.0.1:9016","bbs_address":"http://127.0.0.1:8889",
                "cell_state_timeout":"1s","communication_timeout":500000000,
                "starting_container_weight":0.33,"bin_pack_first_fit_weight":0.1,
                "starting_container_count_maximum":5,"locket_address":"127.0.0.1:8891",
                "lock_ttl":"20s","uuid":"a-1","loggregator":{"loggregator_use_v2_api":true}}"#,
        )
        .unwrap();
        cfg.validate().unwrap();
        assert_eq!(cfg.cell_state_timeout.0, Duration::from_secs(1));
        assert_eq!(cfg.communication_timeout.0, Duration::from_millis(500));
        assert_eq!(cfg.starting_container_count_maximum, 5);
        assert_eq!(cfg.lock_ttl.0, Duration::from_secs(20));
        assert_eq!(cfg.lock_retry_interval.0, Duration::from_secs(5));
        assert_eq!(cfg.locket().unwrap().locket_address, "127.0.0.1:8891");
        let s = cfg.scheduler_config();
        assert_eq!(s.starting_container_weight, 0.33);
        assert_eq!(s.bin_pack_first_fit_weight, 0.1);
    }

    #[test]
    fn defaults_and_validation() {
        let cfg: AuctioneerConfig = serde_json::from_str("{}").unwrap();
        assert_eq!(cfg.starting_container_weight, 0.25);
        assert!(cfg.validate().is_err());
        assert_eq!(parse_go_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert!(parse_go_duration("10").is_err());
    }

    #[test]
    fn serving_tls_needs_all_three_files() {
        let mut cfg: AuctioneerConfig =
            serde_json::from_str(r#"{"bbs_address":"http://127.0.0.1:8889"}"#).unwrap();
        assert!(!cfg.serves_tls());
        assert!(cfg.server_tls().unwrap().is_none());
        cfg.server_cert_file = "server.crt".into();
        assert!(cfg.serves_tls());
        let e = cfg.validate().unwrap_err().to_string();
        assert!(e.starts_with("invalid-tls-config"), "{e}");
        cfg.server_key_file = "server.key".into();
        cfg.ca_cert_file = "/nonexistent/ca.crt".into();
        cfg.validate().unwrap();
        let e = cfg.server_tls().unwrap_err().to_string();
        assert!(e.starts_with("invalid-tls-config"), "{e}");
    }
}
