//! The NATS connection, with Diego's options: user/password and, with
//! `nats_tls_enabled`, TLS verified against `nats_ca_cert_file` and a
//! client certificate when the server asks for one.

use crate::config::RouteEmitterConfig;
use anyhow::Context;
use std::path::PathBuf;

/// Reply inboxes of route-emitters start with this, so emitters can tell
/// each other's greetings (meant for routers) from a new subscriber's.
pub const INBOX_PREFIX: &str = "_INBOX_ROUTE_EMITTER";

pub async fn connect(cfg: &RouteEmitterConfig) -> anyhow::Result<async_nats::Client> {
    let mut opts = async_nats::ConnectOptions::new()
        .retry_on_initial_connect()
        .custom_inbox_prefix(INBOX_PREFIX);
    if !cfg.nats_username.is_empty() {
        opts = opts.user_and_password(cfg.nats_username.clone(), cfg.nats_password.clone());
    }
    if cfg.nats_tls_enabled {
        opts = opts.require_tls(true);
        if !cfg.nats_ca_cert_file.is_empty() {
            opts = opts.add_root_certificates(PathBuf::from(&cfg.nats_ca_cert_file));
        }
        if !cfg.nats_client_cert_file.is_empty() {
            opts = opts.add_client_certificate(
                PathBuf::from(&cfg.nats_client_cert_file),
                PathBuf::from(&cfg.nats_client_key_file),
            );
        }
    }
    opts.connect(cfg.nats_urls())
        .await
        .context("connecting to nats")
}
