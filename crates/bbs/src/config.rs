//! The BBS configuration: a JSON file using Diego's bbs field names
//! (`cmd/bbs/config/config.go`) where they exist. Durations accept Go
//! duration strings ("30s", "1m30s", "500ms") or integer nanoseconds.
//!
//! ```json
//! {
//!   "listen_address": "0.0.0.0:8889",
//!   "health_address": "127.0.0.1:8890",
//!   "require_ssl": true,
//!   "ca_file": "ca.crt", "cert_file": "bbs.crt", "key_file": "bbs.key",
//!   "database_driver": "sqlite",
//!   "database_connection_string": "/var/vcap/store/bbs/bbs.db",
//!   "max_open_database_connections": 16,
//!   "encryption_keys": {"key1": "a passphrase"},
//!   "active_key_label": "key1",
//!   "auctioneer_address": "https://auctioneer.service.cf.internal:9016",
//!   "task_callback_workers": 1000,
//!   "max_task_retries": 3,
//!   "locket_address": "locket.service.cf.internal:8891",
//!   "locket_ca_cert_file": "ca.crt",
//!   "locket_client_cert_file": "bbs.crt", "locket_client_key_file": "bbs.key",
//!   "lock_ttl": "15s", "lock_retry_interval": "5s",
//!   "uuid": "bbs-0", "advertise_url": "https://bbs.service.cf.internal:8889"
//! }
//! ```

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use models::go_duration::{parse_go_duration, GoDuration};

fn d(secs: u64) -> GoDuration {
    GoDuration(Duration::from_secs(secs))
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct BbsConfig {
    pub listen_address: String,
    /// Health server (any path answers 200; `/metrics` serves Prometheus text).
    pub health_address: String,
    pub advertise_url: String,
    pub require_ssl: bool,
    pub ca_file: String,
    pub cert_file: String,
    pub key_file: String,

    /// "sqlite" (default), "postgres" or "mysql" (MySQL or MariaDB).
    pub database_driver: String,
    /// SQLite: a file path (or `sqlite://` URL), empty: `bbs.db` in the
    /// working directory. PostgreSQL: a `postgres://` URL or libpq's
    /// `key=value` form. MySQL: Go's DSN `user:pass@tcp(host:port)/db` as
    /// diego-release writes it, or a `mysql://` URL.
    pub database_connection_string: String,
    #[serde(alias = "max_open_connections")]
    pub max_open_database_connections: u32,
    /// TLS to a PostgreSQL or MySQL database: the server's certificate
    /// must be signed by this CA (empty: no TLS), as Diego's bbs.
    pub sql_ca_cert_file: String,
    /// With `sql_ca_cert_file`, also check the server's name.
    pub sql_enable_identity_verification: bool,
    pub encryption_keys: BTreeMap<String, String>,
    pub active_key_label: String,

    /// Empty: no auctioneer; start requests are dropped (see `clients`).
    pub auctioneer_address: String,
    pub auctioneer_ca_cert: String,
    pub auctioneer_client_cert: String,
    pub auctioneer_client_key: String,
    pub auctioneer_require_tls: bool,

    pub rep_ca_cert: String,
    pub rep_client_cert: String,
    pub rep_client_key: String,
    pub rep_require_tls: bool,

    /// Timeout of outgoing calls (auctioneer, reps, task callbacks).
    pub communication_timeout: GoDuration,
    pub converge_repeat_interval: GoDuration,
    pub kick_task_duration: GoDuration,
    pub expire_completed_task_duration: GoDuration,
    pub expire_pending_task_duration: GoDuration,
    pub convergence_workers: usize,
    pub update_workers: usize,
    pub task_callback_workers: usize,
    pub max_task_retries: i32,

    /// Locket (Diego's `ClientLocketConfig`). Empty `locket_address`: no
    /// locket; the BBS serves at once (single-process mode, no lock) and
    /// reports no cells. Set: the BBS serves its API only while it holds
    /// the locket lock `bbs`, and reads cells from locket presences.
    pub locket_address: String,
    pub locket_ca_cert_file: String,
    pub locket_client_cert_file: String,
    pub locket_client_key_file: String,
    /// TTL of the `bbs` lock (whole seconds are sent to locket).
    pub lock_ttl: GoDuration,
    /// How often the lock is (re)asserted.
    pub lock_retry_interval: GoDuration,

    pub session_name: String,
    /// The lock owner. Empty: a random one is generated at start.
    pub uuid: String,
    pub log_level: String,
    /// The API listener's limits and timeouts (ours; Diego's bbs has
    /// none): `max_request_body_bytes`, `header_read_timeout`... beside
    /// the other fields (see [`httpserve::ServerSettings`]).
    #[serde(flatten)]
    pub server: httpserve::ServerSettings,
    /// Largest DesiredLRP (encoded DesireLRP's definition, or an update)
    /// or Task definition accepted (ours; Diego has no limit): every list
    /// and event carries it. Larger ones answer InvalidRequest.
    pub max_definition_bytes: usize,
    /// Ours: the active BBS keeps actual LRPs and desired LRP scheduling
    /// and routing infos in memory (loaded once it holds the lock) and
    /// answers bulk reads and LRP convergence from there.
    pub lrp_cache: bool,
}

impl Default for BbsConfig {
    fn default() -> Self {
        Self {
            listen_address: "0.0.0.0:8889".into(),
            health_address: "127.0.0.1:8890".into(),
            advertise_url: String::new(),
            require_ssl: false,
            ca_file: String::new(),
            cert_file: String::new(),
            key_file: String::new(),
            database_driver: "sqlite".into(),
            database_connection_string: String::new(),
            max_open_database_connections: 16,
            sql_ca_cert_file: String::new(),
            sql_enable_identity_verification: false,
            encryption_keys: BTreeMap::new(),
            active_key_label: String::new(),
            auctioneer_address: String::new(),
            auctioneer_ca_cert: String::new(),
            auctioneer_client_cert: String::new(),
            auctioneer_client_key: String::new(),
            auctioneer_require_tls: false,
            rep_ca_cert: String::new(),
            rep_client_cert: String::new(),
            rep_client_key: String::new(),
            rep_require_tls: false,
            communication_timeout: d(10),
            converge_repeat_interval: d(30),
            kick_task_duration: d(30),
            expire_completed_task_duration: d(120),
            expire_pending_task_duration: d(30 * 60),
            convergence_workers: 20,
            lrp_cache: true,
            update_workers: 1000,
            task_callback_workers: 1000,
            max_task_retries: 3,
            locket_address: String::new(),
            locket_ca_cert_file: String::new(),
            locket_client_cert_file: String::new(),
            locket_client_key_file: String::new(),
            lock_ttl: d(15),
            lock_retry_interval: d(5),
            session_name: "bbs".into(),
            uuid: String::new(),
            log_level: "info".into(),
            server: httpserve::ServerSettings::default(),
            max_definition_bytes: crate::handlers::DEFAULT_MAX_DEFINITION_BYTES,
        }
    }
}

impl BbsConfig {
    pub fn from_file(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("reading config {}: {e}", path.display()))?;
        Self::from_json(&text)
    }

    pub fn from_json(text: &str) -> anyhow::Result<Self> {
        let cfg: Self = serde_json::from_str(text)?;
        cfg.validate()?;
        Ok(cfg)
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        if self.encryption_keys.is_empty() {
            anyhow::bail!("Must have at least one encryption key set (encryption_keys)");
        }
        if !self.encryption_keys.contains_key(&self.active_key_label) {
            anyhow::bail!(
                "active_key_label {:?} is not among encryption_keys",
                self.active_key_label
            );
        }
        match self.database_driver.as_str() {
            "sqlite" | "postgres" | "mysql" => {}
            other => anyhow::bail!(
                "unsupported database_driver {other:?} (want \"sqlite\", \"postgres\" or \"mysql\")"
            ),
        }
        self.database_url()?;
        if self.require_ssl
            && (self.cert_file.is_empty() || self.key_file.is_empty() || self.ca_file.is_empty())
        {
            anyhow::bail!("require_ssl needs ca_file, cert_file and key_file");
        }
        if !self.locket_address.is_empty() {
            if self.lock_ttl.0 < Duration::from_secs(1) {
                anyhow::bail!("lock_ttl must be at least 1s");
            }
            if self.lock_retry_interval.0.is_zero() {
                anyhow::bail!("lock_retry_interval must be positive");
            }
        }
        Ok(())
    }

    /// Whether the BBS runs behind the locket lock (`locket_address` set).
    pub fn uses_locket(&self) -> bool {
        !self.locket_address.is_empty()
    }

    /// The locket client settings.
    pub fn locket_client_config(&self) -> locket::client::ClientLocketConfig {
        locket::client::ClientLocketConfig {
            locket_address: self.locket_address.clone(),
            locket_ca_cert_file: self.locket_ca_cert_file.clone(),
            locket_client_cert_file: self.locket_client_cert_file.clone(),
            locket_client_key_file: self.locket_client_key_file.clone(),
        }
    }

    /// The store URL: `sqlite:///abs/path.db`, or the PostgreSQL or MySQL
    /// connection string as a URL with the `sql_*` TLS settings
    /// (`sqldb::diego_url_with_tls`).
    pub fn database_url(&self) -> anyhow::Result<String> {
        match self.database_driver.as_str() {
            "postgres" | "mysql" => sqldb::diego_url_with_tls(
                &self.database_driver,
                &self.database_connection_string,
                &sqldb::SqlTls {
                    ca_cert_file: self.sql_ca_cert_file.clone(),
                    verify_identity: self.sql_enable_identity_verification,
                },
            ),
            _ => {
                let raw = self.database_connection_string.trim();
                let path = raw
                    .strip_prefix("sqlite://")
                    .or_else(|| raw.strip_prefix("sqlite:"))
                    .unwrap_or(raw);
                let path = if path.is_empty() { "bbs.db" } else { path };
                let mut p = PathBuf::from(path);
                if p.is_relative() {
                    p = std::env::current_dir()?.join(p);
                }
                Ok(format!("sqlite://{}", p.display()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_go_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(
            parse_go_duration("500ms").unwrap(),
            Duration::from_millis(500)
        );
        assert_eq!(parse_go_duration("2h").unwrap(), Duration::from_secs(7200));
        assert!(parse_go_duration("5x").is_err());
    }

    #[test]
    fn diego_field_names_and_defaults() {
        let cfg = BbsConfig::from_json(
            r#"{"listen_address":"127.0.0.1:0","encryption_keys":{"k":"p"},"active_key_label":"k",
                "kick_task_duration":"10s","max_open_database_connections":4,
                "database_connection_string":"/tmp/x.db"}"#,
        )
        .unwrap();
        assert_eq!(cfg.kick_task_duration.0, Duration::from_secs(10));
        assert_eq!(
            cfg.expire_pending_task_duration.0,
            Duration::from_secs(1800)
        );
        assert_eq!(cfg.max_task_retries, 3);
        assert_eq!(cfg.max_open_database_connections, 4);
        assert_eq!(cfg.database_url().unwrap(), "sqlite:///tmp/x.db");
        assert!(BbsConfig::from_json("{}").is_err(), "keys are required");
        assert_eq!(cfg.lock_ttl.0, Duration::from_secs(15));
        assert_eq!(cfg.lock_retry_interval.0, Duration::from_secs(5));
        assert!(!cfg.uses_locket());
    }

    #[test]
    fn locket_fields() {
        let cfg = BbsConfig::from_json(
            r#"{"encryption_keys":{"k":"p"},"active_key_label":"k",
                "locket_address":"locket.service.cf.internal:8891",
                "locket_ca_cert_file":"ca.crt","locket_client_cert_file":"c.crt",
                "locket_client_key_file":"c.key","lock_ttl":"3s","lock_retry_interval":"500ms",
                "uuid":"bbs-0","advertise_url":"https://bbs.service.cf.internal:8889"}"#,
        )
        .unwrap();
        assert!(cfg.uses_locket());
        assert_eq!(cfg.lock_ttl.0, Duration::from_secs(3));
        assert_eq!(cfg.lock_retry_interval.0, Duration::from_millis(500));
        let lc = cfg.locket_client_config();
        assert_eq!(lc.locket_address, "locket.service.cf.internal:8891");
        assert_eq!(lc.locket_client_key_file, "c.key");
        assert!(BbsConfig::from_json(
            r#"{"encryption_keys":{"k":"p"},"active_key_label":"k",
                "locket_address":"l:8891","lock_ttl":"100ms"}"#
        )
        .is_err());
    }

    #[test]
    fn database_connection_strings_as_diego_release_writes_them() {
        let cfg = BbsConfig::from_json(
            r#"{"encryption_keys":{"k":"p"},"active_key_label":"k","database_driver":"mysql",
                "database_connection_string":"diego:p@ss@tcp(10.0.0.5:3306)/diego"}"#,
        )
        .unwrap();
        assert_eq!(
            cfg.database_url().unwrap(),
            "mysql://diego:p%40ss@10.0.0.5:3306/diego?ssl-mode=DISABLED"
        );
        // Diego's TLS to the database.
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("sql-ca.crt");
        std::fs::write(&ca, "pem").unwrap();
        let json = format!(
            r#"{{"encryption_keys":{{"k":"p"}},"active_key_label":"k","database_driver":"mysql",
                "database_connection_string":"diego:pw@tcp(10.0.0.5:3306)/diego",
                "sql_ca_cert_file":{:?}}}"#,
            ca.display().to_string()
        );
        let cfg = BbsConfig::from_json(&json).unwrap();
        let url = cfg.database_url().unwrap();
        assert!(url.contains("ssl-mode=VERIFY_CA&ssl-ca="), "{url}");
        assert!(BbsConfig::from_json(&json.replace("sql-ca.crt", "none.crt")).is_err());
        let cfg = BbsConfig::from_json(
            r#"{"encryption_keys":{"k":"p"},"active_key_label":"k","database_driver":"postgres",
                "database_connection_string":"postgres://diego:pw@10.0.0.5:5524/diego"}"#,
        )
        .unwrap();
        assert_eq!(
            cfg.database_url().unwrap(),
            "postgres://diego:pw@10.0.0.5:5524/diego"
        );
        assert!(BbsConfig::from_json(
            r#"{"encryption_keys":{"k":"p"},"active_key_label":"k","database_driver":"mysql",
                "database_connection_string":"diego:pw@tcp(10.0.0.5:3306)"}"#,
        )
        .is_err());
        assert!(BbsConfig::from_json(
            r#"{"encryption_keys":{"k":"p"},"active_key_label":"k","database_driver":"oracle"}"#,
        )
        .is_err());
    }
}
