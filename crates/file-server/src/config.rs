//! The file server's JSON config (Diego's field names).

use serde::Deserialize;
use std::path::Path;

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct FileServerConfig {
    /// Address to listen on (Diego's default `0.0.0.0:8080`).
    pub server_address: String,
    /// Directory whose files are served under `/v1/static/`.
    pub static_directory: String,
    pub log_level: String,
    /// The largest droplet or build artifacts upload taken.
    pub max_upload_bytes: u64,
}

/// 4 GiB: Cloud Controller's droplets are limited well below this.
pub const DEFAULT_MAX_UPLOAD_BYTES: u64 = 4 << 30;

impl Default for FileServerConfig {
    fn default() -> Self {
        Self {
            server_address: "0.0.0.0:8080".into(),
            static_directory: String::new(),
            log_level: "info".into(),
            max_upload_bytes: DEFAULT_MAX_UPLOAD_BYTES,
        }
    }
}

impl FileServerConfig {
    pub fn from_file(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?;
        let cfg: Self = serde_json::from_str(&text)
            .map_err(|e| anyhow::anyhow!("parsing {}: {e}", path.display()))?;
        anyhow::ensure!(
            !cfg.static_directory.is_empty(),
            "static_directory is required"
        );
        Ok(cfg)
    }
}
