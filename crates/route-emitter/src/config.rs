//! The route-emitter's JSON config, with Diego's field names:
//!
//! ```json
//! {
//!   "bbs_address": "https://bbs.service.cf.internal:8889",
//!   "bbs_ca_cert_file": "ca.crt", "bbs_client_cert_file": "c.crt", "bbs_client_key_file": "c.key",
//!   "cell_id": "",
//!   "register_direct_instance_routes": false, "enable_internal_emitter": false,
//!   "communication_timeout": "30s", "sync_interval": "60s", "jitter_factor": 0.2,
//!   "nats_addresses": "127.0.0.1:4222", "nats_username": "", "nats_password": "",
//!   "nats_tls_enabled": true, "nats_ca_cert_file": "ca.crt",
//!   "nats_client_cert_file": "c.crt", "nats_client_key_file": "c.key",
//!   "healthcheck_address": "127.0.0.1:17011",
//!   "locket_address": "locket.service.cf.internal:8891",
//!   "lock_ttl": "15s", "lock_retry_interval": "5s", "uuid": "route-emitter-0",
//!   "unregistration_interval": "10s", "unregistration_send_count": 5
//! }
//! ```
//!
//! An empty `cell_id` is global mode (holds the `route_emitter` lock when
//! `locket_address` is set); a `cell_id` is cell-local mode (no lock, only
//! that cell's instances). `register_interval` is ours: how often to
//! re-emit the table until a router announces its interval in
//! `router.start`.

use crate::go_duration::GoDuration;
use anyhow::Context;
use serde::Deserialize;
use std::path::Path;
use std::time::Duration;

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct RouteEmitterConfig {
    pub bbs_address: String,
    pub bbs_ca_cert_file: String,
    pub bbs_client_cert_file: String,
    pub bbs_client_key_file: String,
    pub cell_id: String,
    pub uuid: String,
    pub register_direct_instance_routes: bool,
    pub enable_internal_emitter: bool,
    pub communication_timeout: GoDuration,
    pub healthcheck_address: String,
    pub jitter_factor: f64,
    pub lock_retry_interval: GoDuration,
    pub lock_ttl: GoDuration,
    pub nats_addresses: String,
    pub nats_username: String,
    pub nats_password: String,
    pub nats_tls_enabled: bool,
    pub nats_ca_cert_file: String,
    pub nats_client_cert_file: String,
    pub nats_client_key_file: String,
    pub sync_interval: GoDuration,
    pub register_interval: GoDuration,
    pub unregistration_interval: GoDuration,
    pub unregistration_send_count: u32,
    pub log_level: String,
    #[serde(flatten)]
    pub locket: locket::client::ClientLocketConfig,
}

impl Default for RouteEmitterConfig {
    fn default() -> Self {
        Self {
            bbs_address: "http://127.0.0.1:8889".into(),
            bbs_ca_cert_file: String::new(),
            bbs_client_cert_file: String::new(),
            bbs_client_key_file: String::new(),
            cell_id: String::new(),
            uuid: String::new(),
            register_direct_instance_routes: false,
            enable_internal_emitter: false,
            communication_timeout: GoDuration(Duration::from_secs(30)),
            healthcheck_address: String::new(),
            jitter_factor: 0.2,
            lock_retry_interval: GoDuration(Duration::from_secs(5)),
            lock_ttl: GoDuration(Duration::from_secs(15)),
            nats_addresses: "nats://127.0.0.1:4222".into(),
            nats_username: String::new(),
            nats_password: String::new(),
            nats_tls_enabled: false,
            nats_ca_cert_file: String::new(),
            nats_client_cert_file: String::new(),
            nats_client_key_file: String::new(),
            sync_interval: GoDuration(Duration::from_secs(60)),
            register_interval: GoDuration(Duration::from_secs(20)),
            unregistration_interval: GoDuration(Duration::from_secs(10)),
            unregistration_send_count: 5,
            log_level: "info".into(),
            locket: Default::default(),
        }
    }
}

impl RouteEmitterConfig {
    pub fn from_file(path: &Path) -> anyhow::Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
    }

    /// Diego's NATS addresses are a comma-separated `host:port` list
    /// (optionally with `nats://`).
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

    pub fn local_mode(&self) -> bool {
        !self.cell_id.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_diego_field_names() {
        let cfg: RouteEmitterConfig = serde_json::from_str(
            r#"{"bbs_address":"http://b:8889","cell_id":"cell-1","sync_interval":"5s",
                "nats_addresses":"10.0.0.1:4222, nats://10.0.0.2:4222",
                "register_direct_instance_routes":true,"locket_address":"l:8891"}"#,
        )
        .unwrap();
        assert_eq!(cfg.sync_interval.0, Duration::from_secs(5));
        assert!(cfg.local_mode());
        assert!(cfg.register_direct_instance_routes);
        assert_eq!(cfg.locket.locket_address, "l:8891");
        assert_eq!(
            cfg.nats_urls(),
            vec!["nats://10.0.0.1:4222", "nats://10.0.0.2:4222"]
        );
        assert_eq!(cfg.jitter_factor, 0.2);
    }
}
