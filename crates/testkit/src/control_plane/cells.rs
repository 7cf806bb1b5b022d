//! Reps for the control plane: the config of a houdini cell (host
//! processes, no root) given the BBS and locket, and starting one.

use rep::config::{Capacity, RepConfig, RootFs};
use std::sync::Arc;
use std::time::Duration;

use super::ControlPlane;
use auctioneer::config::GoDuration;

impl ControlPlane {
    /// A rep config for a houdini cell `cell_id` in `zone`: the BBS and
    /// locket of this control plane (TLS to both when on), 4 GiB memory,
    /// 8 GiB disk, `preloaded:cflinuxfs4` (the host's /) and docker, its
    /// depot in [`ControlPlane::dir`]. Change what the test needs, then
    /// [`ControlPlane::start_rep`].
    pub fn rep_config(&self, cell_id: &str, zone: &str) -> RepConfig {
        let mut cfg = RepConfig {
            cell_id: cell_id.into(),
            zone: zone.into(),
            listen_addr: format!("{}:0", self.bbs().addr.ip()),
            bbs_address: self.bbs_url().into(),
            locket_address: self.locket_addr().into(),
            lock_ttl: GoDuration(Duration::from_secs(5)),
            lock_retry_interval: GoDuration(Duration::from_secs(2)),
            preloaded_root_fs: vec![RootFs {
                name: "cflinuxfs4".into(),
                path: "/".into(),
            }],
            supported_providers: vec!["docker".into()],
            evacuation_polling_interval: GoDuration(Duration::from_millis(300)),
            memory_mb: Capacity::Mb(4096),
            disk_mb: Capacity::Mb(8192),
            container_backend: "houdini".into(),
            depot_dir: self.dir().join(cell_id).display().to_string(),
            ..Default::default()
        };
        if let Some(pki) = self.pki() {
            let c = &pki.client;
            cfg.bbs_ca_cert_file = c.ca_file.clone();
            cfg.bbs_client_cert_file = c.cert_file.clone();
            cfg.bbs_client_key_file = c.key_file.clone();
            cfg.locket_ca_cert_file = c.ca_file.clone();
            cfg.locket_client_cert_file = c.cert_file.clone();
            cfg.locket_client_key_file = c.key_file.clone();
        }
        cfg
    }

    /// Starts a rep on the backend `cfg` names and waits for its presence.
    pub async fn start_rep(&self, cfg: &RepConfig) -> rep::Rep {
        let executor = Arc::new(rep::backend::executor_from_config(cfg).await.unwrap());
        let rep = rep::Rep::start(cfg, executor).await.unwrap();
        tokio::time::timeout(Duration::from_secs(10), rep.presence_registered())
            .await
            .expect("presence registered")
            .unwrap();
        rep
    }
}
