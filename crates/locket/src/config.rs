//! The locket server's JSON configuration, with Diego's field names
//! (`cmd/locket/config`). Fields Diego has that we do not use (loggregator,
//! SQL timeouts, health checks, ...) are accepted and ignored.
//!
//! ```json
//! {
//!   "listen_address": "0.0.0.0:8891",
//!   "database_driver": "postgres",
//!   "database_connection_string": "postgres://locket@127.0.0.1:5432/locket",
//!   "max_open_database_connections": 200,
//!   "ca_file": "/var/vcap/jobs/locket/config/certs/ca.crt",
//!   "cert_file": "/var/vcap/jobs/locket/config/certs/server.crt",
//!   "key_file": "/var/vcap/jobs/locket/config/certs/server.key",
//!   "db_operation_timeout": "10s",
//!   "log_level": "info"
//! }
//! ```
//!
//! `database_driver` is "sqlite" (connection string: a file path or
//! `sqlite://` URL), "postgres" (a `postgres://` URL or libpq's
//! `key=value` form) or "mysql" (Go's DSN `user:pass@tcp(host:port)/db`,
//! as diego-release writes it, or a `mysql://` URL). With no
//! `cert_file`/`key_file` the server speaks plaintext gRPC (development
//! and tests only); with them it requires client certificates signed by
//! `ca_file`, as Diego's locket always does: a certificate without a CA is
//! a start-up error (server-only TLS would let any client take or release
//! any lock or presence).

use serde::{Deserialize, Deserializer};
use std::path::Path;
use std::time::Duration;

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct LocketConfig {
    pub listen_address: String,
    pub database_driver: String,
    pub database_connection_string: String,
    pub max_open_database_connections: u32,
    /// TLS to a PostgreSQL or MySQL database (Diego's fields): the
    /// server's certificate must be signed by this CA (empty: no TLS) ...
    pub sql_ca_cert_file: String,
    /// ... and, with this, name the host connected to.
    pub sql_enable_identity_verification: bool,
    pub ca_file: String,
    pub cert_file: String,
    pub key_file: String,
    #[serde(deserialize_with = "go_duration")]
    pub db_operation_timeout: Duration,
    pub log_level: String,
    pub debug_address: String,
    /// The listener's timeouts and caps (ours; see
    /// [`httpserve::ServerSettings`]), beside the other fields.
    #[serde(flatten)]
    pub server: httpserve::ServerSettings,
}

impl Default for LocketConfig {
    fn default() -> Self {
        LocketConfig {
            listen_address: "0.0.0.0:8891".into(),
            database_driver: "sqlite".into(),
            database_connection_string: String::new(),
            max_open_database_connections: 16,
            sql_ca_cert_file: String::new(),
            sql_enable_identity_verification: false,
            ca_file: String::new(),
            cert_file: String::new(),
            key_file: String::new(),
            db_operation_timeout: Duration::from_secs(10),
            log_level: "info".into(),
            debug_address: String::new(),
            server: httpserve::ServerSettings {
                // gRPC's default largest message.
                max_request_body_bytes: 4 << 20,
                ..Default::default()
            },
        }
    }
}

impl LocketConfig {
    pub fn from_file(path: &Path) -> anyhow::Result<LocketConfig> {
        let raw =
            std::fs::read(path).map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?;
        let cfg: LocketConfig = serde_json::from_slice(&raw)
            .map_err(|e| anyhow::anyhow!("invalid-config-file {}: {e}", path.display()))?;
        cfg.validate()?;
        Ok(cfg)
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        match self.database_driver.as_str() {
            "sqlite" | "postgres" | "mysql" => {}
            other => anyhow::bail!(
                "unsupported database_driver {other:?} (want \"sqlite\", \"postgres\" or \"mysql\")"
            ),
        }
        if self.database_connection_string.is_empty() {
            anyhow::bail!("database_connection_string is required");
        }
        self.database_url()?;
        if self.cert_file.is_empty() != self.key_file.is_empty() {
            anyhow::bail!("cert_file and key_file go together");
        }
        if self.tls_enabled() && self.ca_file.is_empty() {
            anyhow::bail!(
                "ca_file is required with cert_file and key_file: locket only serves clients \
                 with certificates signed by it (without it any client could take or release \
                 any lock or presence)"
            );
        }
        Ok(())
    }

    /// Is the listener mutual TLS?
    pub fn tls_enabled(&self) -> bool {
        !self.cert_file.is_empty()
    }

    /// The database URL for [`crate::db::LockDb::connect`].
    pub fn database_url(&self) -> anyhow::Result<String> {
        let raw = self.database_connection_string.trim();
        match self.database_driver.as_str() {
            "postgres" | "mysql" => sqldb::diego_url_with_tls(
                &self.database_driver,
                raw,
                &sqldb::SqlTls {
                    ca_cert_file: self.sql_ca_cert_file.clone(),
                    verify_identity: self.sql_enable_identity_verification,
                },
            ),
            _ => {
                if raw.starts_with("sqlite:") {
                    Ok(raw.to_string())
                } else {
                    Ok(format!("sqlite://{raw}"))
                }
            }
        }
    }
}

fn go_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    models::go_duration::GoDuration::deserialize(d).map(|g| g.0)
}

/// Go's duration syntax: "10s", "1m30s", "250ms", "0".
pub use models::go_duration::parse_go_duration as parse_duration;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_diego_config() {
        let cfg: LocketConfig = serde_json::from_str(
            r#"{"listen_address":"127.0.0.1:8891","database_driver":"postgres",
                "database_connection_string":"postgres://u@h/db","db_operation_timeout":"1m30s",
                "loggregator":{"loggregator_use_v2_api":true},"ca_file":"ca","cert_file":"c","key_file":"k"}"#,
        )
        .unwrap();
        cfg.validate().unwrap();
        assert_eq!(cfg.db_operation_timeout, Duration::from_secs(90));
        assert_eq!(cfg.database_url().unwrap(), "postgres://u@h/db");
        assert!(cfg.tls_enabled());
    }

    #[test]
    fn sqlite_paths_become_urls() {
        let cfg = LocketConfig {
            database_connection_string: "/tmp/locket.db".into(),
            ..Default::default()
        };
        assert_eq!(cfg.database_url().unwrap(), "sqlite:///tmp/locket.db");
    }

    #[test]
    fn mysql_connection_strings_as_diego_release_writes_them() {
        let cfg = LocketConfig {
            database_driver: "mysql".into(),
            database_connection_string: "locket:pw@tcp(10.0.0.9:3306)/locket".into(),
            ..Default::default()
        };
        cfg.validate().unwrap();
        assert_eq!(
            cfg.database_url().unwrap(),
            "mysql://locket:pw@10.0.0.9:3306/locket?ssl-mode=DISABLED"
        );
        // Diego's TLS to the database: the CA file is read at start-up.
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("sql-ca.crt");
        std::fs::write(&ca, "pem").unwrap();
        let tls = LocketConfig {
            sql_ca_cert_file: ca.display().to_string(),
            sql_enable_identity_verification: true,
            ..cfg.clone()
        };
        let url = tls.database_url().unwrap();
        assert!(url.contains("ssl-mode=VERIFY_IDENTITY&ssl-ca="), "{url}");
        let missing = LocketConfig {
            sql_ca_cert_file: dir.path().join("none.crt").display().to_string(),
            ..cfg.clone()
        };
        assert!(missing.validate().is_err());
        let bad = LocketConfig {
            database_connection_string: "locket:pw@tcp(10.0.0.9:3306)".into(),
            ..cfg
        };
        assert!(bad.validate().is_err());
    }

    #[test]
    fn a_certificate_without_a_ca_is_refused() {
        let cfg = LocketConfig {
            database_connection_string: "/tmp/l.db".into(),
            cert_file: "server.crt".into(),
            key_file: "server.key".into(),
            ..Default::default()
        };
        let err = cfg.validate().unwrap_err().to_string();
        assert!(err.contains("ca_file is required"), "{err}");
        LocketConfig {
            ca_file: "ca.crt".into(),
            ..cfg
        }
        .validate()
        .unwrap();
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("0").unwrap(), Duration::ZERO);
        assert!(parse_duration("10").is_err());
        assert!(parse_duration("x").is_err());
    }
}
