//! `diego api --config FILE`: a JSON file (Diego's field names where they
//! exist; durations in Go's form, `"30s"`).
//!
//! ```json
//! { "listen_address": "127.0.0.1:9022",
//!   "database_driver": "sqlite", "database_connection_string": "/var/vcap/api.db",
//!   "blobstore_directory": "/var/vcap/api-blobs",
//!   "external_url": "http://127.0.0.1:9022",
//!   "bbs_address": "http://127.0.0.1:8889",
//!   "auth_tokens": ["..."], "token_file": "/var/vcap/api.token",
//!   "app_domain": "localhost", "sync_interval": "30s" }
//! ```

use models::go_duration::GoDuration;
use serde::Deserialize;
use std::time::Duration;

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct ApiConfig {
    pub listen_address: String,
    /// The listener's limits and timeouts (see [`httpserve::ServerSettings`]),
    /// beside the other fields. Its body limit is `max_package_mb` (uploads
    /// stream to disk; JSON bodies are capped at 2 MB by the routes).
    #[serde(flatten)]
    pub server: httpserve::ServerSettings,
    /// sqlite (the embedded default), postgres or mysql.
    pub database_driver: String,
    pub database_connection_string: String,
    pub max_open_database_connections: u32,
    /// Where package and droplet bits are kept.
    pub blobstore_directory: String,
    /// How cells reach this API (droplet downloads, task callbacks); empty:
    /// `http://<listen address>`.
    pub external_url: String,
    pub bbs_address: String,
    pub bbs_ca_cert_file: String,
    pub bbs_client_cert_file: String,
    pub bbs_client_key_file: String,
    /// Bearer tokens accepted (any of them).
    pub auth_tokens: Vec<String>,
    /// A file holding one more token (made with mode 600 when missing).
    pub token_file: String,
    /// Apps are routed as `NAME.<app_domain>` unless they name routes.
    pub app_domain: String,
    /// The rootfs of buildpack apps (`preloaded:<stack>`).
    pub default_stack: String,
    pub default_memory_mb: i32,
    pub default_disk_mb: i32,
    /// How often LRPs are brought in line with the apps (Cloud
    /// Controller's `diego_sync`).
    pub sync_interval: GoDuration,
    /// How often active deployments are moved on (Cloud Controller's
    /// deployment updater).
    pub deployment_interval: GoDuration,
    /// Largest package upload, MB.
    pub max_package_mb: u64,
    /// The file server with the lifecycle bundle and buildpacks, where
    /// staging uploads droplets (empty: no staging, packages run as they
    /// are).
    pub file_server_url: String,
    /// The admin buildpacks in detection order (`<name>_buildpack.zip` on
    /// the file server).
    pub buildpacks: Vec<String>,
    /// Stacks without a lifecycle, whose packages run as they are.
    pub unstaged_stacks: Vec<String>,
    pub staging_memory_mb: i32,
    pub staging_disk_mb: i32,
    /// The log component's ingress (`host:port`), where Cloud Controller's
    /// `API` lines of each app go (empty: none are sent).
    pub logs_ingress_address: String,
    /// Mutual TLS to that ingress (the component's CA, our certificate).
    pub logs_ca_file: String,
    pub logs_cert_file: String,
    pub logs_key_file: String,
    /// The log component's HTTP API (`http://host:port`), where instance
    /// usage is read as Cloud Controller reads it from Log Cache (empty:
    /// from the cells' reps).
    pub logs_api_url: String,
    pub log_level: String,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            listen_address: "127.0.0.1:9022".into(),
            server: httpserve::ServerSettings::default(),
            database_driver: "sqlite".into(),
            database_connection_string: "api.db".into(),
            max_open_database_connections: 8,
            blobstore_directory: "api-blobs".into(),
            external_url: String::new(),
            bbs_address: "http://127.0.0.1:8889".into(),
            bbs_ca_cert_file: String::new(),
            bbs_client_cert_file: String::new(),
            bbs_client_key_file: String::new(),
            auth_tokens: Vec::new(),
            token_file: String::new(),
            app_domain: "localhost".into(),
            default_stack: "busybox".into(),
            default_memory_mb: 64,
            default_disk_mb: 128,
            sync_interval: GoDuration(Duration::from_secs(30)),
            deployment_interval: GoDuration(Duration::from_secs(1)),
            max_package_mb: 1024,
            file_server_url: String::new(),
            buildpacks: ["staticfile", "nodejs", "python", "binary"]
                .map(String::from)
                .to_vec(),
            unstaged_stacks: vec!["busybox".into()],
            staging_memory_mb: 1024,
            staging_disk_mb: 4096,
            logs_ingress_address: String::new(),
            logs_ca_file: String::new(),
            logs_cert_file: String::new(),
            logs_key_file: String::new(),
            logs_api_url: String::new(),
            log_level: "info".into(),
        }
    }
}

impl ApiConfig {
    pub fn from_file(path: &std::path::Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?;
        serde_json::from_str(&text).map_err(|e| anyhow::anyhow!("parsing {}: {e}", path.display()))
    }

    /// The database URL `sqldb` connects to.
    pub fn database_url(&self) -> anyhow::Result<String> {
        if self.database_driver == "sqlite" || self.database_driver.is_empty() {
            let s = &self.database_connection_string;
            return Ok(if s.starts_with("sqlite:") {
                s.clone()
            } else {
                format!("sqlite://{s}")
            });
        }
        sqldb::diego_url(&self.database_driver, &self.database_connection_string)
    }

    /// The sender of the apps' `API` lines, when a log component is
    /// configured (needs a tokio runtime).
    pub fn app_log_sender(&self) -> Option<logs_client::Sender> {
        if self.logs_ingress_address.is_empty() {
            return None;
        }
        let mut ic =
            logs_client::IngressConfig::new(&self.logs_ingress_address, "cloud_controller");
        if !self.logs_cert_file.is_empty() {
            ic.tls = Some(tlsconfig::ClientTls::from_files(
                &self.logs_ca_file,
                &self.logs_cert_file,
                &self.logs_key_file,
            ));
        }
        Some(logs_client::Sender::start(ic))
    }

    pub fn bbs_client(&self) -> anyhow::Result<bbs_client::HttpBbsClient> {
        let tls = (!self.bbs_ca_cert_file.is_empty()).then(|| {
            tlsconfig::ClientTls::from_files(
                &self.bbs_ca_cert_file,
                &self.bbs_client_cert_file,
                &self.bbs_client_key_file,
            )
        });
        let cfg = bbs_client::ClientConfig::new(&self.bbs_address)
            .with_tls(tls)
            .with_request_timeout(Duration::from_secs(30));
        Ok(bbs_client::HttpBbsClient::new(&cfg)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_diegos_forms() {
        let cfg: ApiConfig = serde_json::from_str(
            r#"{"listen_address":"127.0.0.1:1","sync_interval":"5s","auth_tokens":["t"]}"#,
        )
        .unwrap();
        assert_eq!(cfg.sync_interval.0, Duration::from_secs(5));
        assert_eq!(cfg.auth_tokens, ["t"]);
        assert_eq!(cfg.database_url().unwrap(), "sqlite://api.db");
    }

    #[test]
    fn the_example_config_reads() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/api.example.json");
        let cfg = ApiConfig::from_file(&path).unwrap();
        assert_eq!(cfg.listen_address, "127.0.0.1:9022");
        assert_eq!(cfg.sync_interval.0, Duration::from_secs(30));
        let pg = ApiConfig {
            database_driver: "postgres".into(),
            database_connection_string: "host=db port=5432 user=u dbname=api".into(),
            ..Default::default()
        };
        assert!(pg.database_url().unwrap().starts_with("postgres://"));
    }
}
