//! Learns routes from NATS as gorouter does: `router.register` /
//! `router.unregister` bodies name `uris` and an address; `router.greet`
//! is answered on its reply subject with the `router.start` message, which
//! is also published once at startup so emitters re-send their tables.

use crate::registry::{AppInstance, Registry};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tokio::sync::watch;

#[derive(Debug, Deserialize)]
struct Registration {
    #[serde(default)]
    host: String,
    #[serde(default)]
    port: u16,
    #[serde(default)]
    uris: Vec<String>,
    #[serde(default)]
    route_service_url: String,
    /// The app's log guid (route-emitter's `app`): where RTR lines go.
    #[serde(default)]
    app: String,
    #[serde(default)]
    private_instance_id: String,
    #[serde(default)]
    private_instance_index: String,
}

/// gorouter's `router.start` / greet answer.
#[derive(Debug, Clone, Serialize)]
pub struct RouterStart {
    pub id: String,
    pub hosts: Vec<String>,
    #[serde(rename = "minimumRegisterIntervalInSeconds")]
    pub minimum_register_interval_in_seconds: u64,
    #[serde(rename = "pruneThresholdInSeconds")]
    pub prune_threshold_in_seconds: u64,
}

pub struct Subscriber {
    pub nats: async_nats::Client,
    pub registry: Arc<Registry>,
    pub start: RouterStart,
}

/// Subscribed, announced, and ready to run.
pub struct Running {
    sub: Subscriber,
    routes: async_nats::Subscriber,
    greets: async_nats::Subscriber,
    start: Vec<u8>,
}

impl Subscriber {
    /// Subscribes, then announces `router.start`, so no registration sent
    /// in answer can be missed.
    pub async fn subscribe(self) -> anyhow::Result<Running> {
        let routes = self.nats.subscribe("router.*").await?;
        let greets = self.nats.subscribe("router.greet").await?;
        let start = serde_json::to_vec(&self.start)?;
        self.nats
            .publish("router.start", start.clone().into())
            .await?;
        self.nats.flush().await?;
        Ok(Running {
            sub: self,
            routes,
            greets,
            start,
        })
    }
}

impl Running {
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>) -> anyhow::Result<()> {
        loop {
            tokio::select! {
                Some(m) = self.routes.next() => self.sub.handle(m.subject.as_str(), &m.payload),
                Some(m) = self.greets.next() => {
                    if let Some(reply) = m.reply {
                        self.sub.nats.publish(reply, self.start.clone().into()).await?;
                    }
                }
                _ = shutdown.changed() => return Ok(()),
            }
        }
    }
}

impl Subscriber {
    fn handle(&self, subject: &str, payload: &[u8]) {
        let register = match subject {
            "router.register" => true,
            "router.unregister" => false,
            _ => return,
        };
        let msg: Registration = match serde_json::from_slice(payload) {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(subject, error = %e, "validation-error");
                return;
            }
        };
        // gorouter refuses route services that are not https.
        if !msg.route_service_url.is_empty() && !msg.route_service_url.starts_with("https") {
            tracing::warn!(subject, "route_service_url must be https");
            return;
        }
        let addr = format!("{}:{}", msg.host, msg.port);
        let app = AppInstance {
            app_id: msg.app,
            index: msg.private_instance_index,
            instance_id: msg.private_instance_id,
        };
        for uri in &msg.uris {
            if register {
                self.registry.register_instance(uri, &addr, app.clone());
            } else {
                tracing::debug!(uri, addr, "unregister-route");
                self.registry.unregister(uri, &addr);
            }
        }
    }
}
