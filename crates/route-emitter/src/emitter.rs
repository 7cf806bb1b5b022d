//! Publishes registrations to NATS (`router.register`,
//! `router.unregister`; `service-discovery.*` for internal routes),
//! counting what it sends.

use crate::diff::Emission;
use crate::metrics::Metrics;
use crate::registry_message::RegistryMessage;

pub const REGISTER: &str = "router.register";
pub const UNREGISTER: &str = "router.unregister";
pub const INTERNAL_REGISTER: &str = "service-discovery.register";
pub const INTERNAL_UNREGISTER: &str = "service-discovery.unregister";

#[derive(Clone)]
pub struct NatsEmitter {
    nats: async_nats::Client,
    metrics: Metrics,
}

impl NatsEmitter {
    pub fn new(nats: async_nats::Client, metrics: Metrics) -> Self {
        Self { nats, metrics }
    }

    /// Publishes unregistrations first, then registrations, so a changed
    /// address is never left unregistered.
    pub async fn emit(&self, e: &Emission) {
        self.emit_to(REGISTER, UNREGISTER, e).await;
    }

    /// Internal routes go to service discovery.
    pub async fn emit_internal(&self, e: &Emission) {
        self.emit_to(INTERNAL_REGISTER, INTERNAL_UNREGISTER, e)
            .await;
    }

    async fn emit_to(&self, register: &'static str, unregister: &'static str, e: &Emission) {
        for m in &e.unregister {
            self.publish(unregister, m).await;
        }
        for m in &e.register {
            self.publish(register, m).await;
        }
        if !e.is_empty() {
            if let Err(err) = self.nats.flush().await {
                tracing::warn!(error = %err, "nats-flush-failed");
            }
        }
    }

    async fn publish(&self, subject: &'static str, m: &RegistryMessage) {
        let body = match serde_json::to_vec(m) {
            Ok(b) => b,
            Err(err) => {
                tracing::error!(error = %err, "failed-to-marshal");
                return;
            }
        };
        tracing::debug!(subject, uri = ?m.uris, host = %m.host, port = m.port, "emit");
        match self.nats.publish(subject, body.into()).await {
            Ok(()) => self
                .metrics
                .messages_emitted
                .with_label_values(&[subject])
                .inc(),
            Err(err) => tracing::error!(subject, error = %err, "failed-to-publish"),
        }
    }
}
