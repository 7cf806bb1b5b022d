//! Subscribes to `router.*` and applies register/unregister in order, as a
//! router would, keeping every message for assertions.

use futures::StreamExt;
use route_emitter::RegistryMessage;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

#[derive(Clone, Default)]
pub struct RouterView {
    /// uri → set of "host:port".
    pub routes: Arc<Mutex<BTreeMap<String, BTreeSet<String>>>>,
    pub messages: Arc<Mutex<Vec<(String, RegistryMessage)>>>,
}

impl RouterView {
    pub async fn subscribe(nats_url: &str) -> (RouterView, async_nats::Client) {
        let client = async_nats::connect(nats_url).await.unwrap();
        let mut sub = client.subscribe("router.*").await.unwrap();
        client.flush().await.unwrap();
        let view = RouterView::default();
        let v = view.clone();
        tokio::spawn(async move {
            while let Some(m) = sub.next().await {
                let subject = m.subject.to_string();
                if subject != "router.register" && subject != "router.unregister" {
                    continue;
                }
                let msg: RegistryMessage = serde_json::from_slice(&m.payload).unwrap();
                let addr = format!("{}:{}", msg.host, msg.port);
                {
                    let mut routes = v.routes.lock().unwrap();
                    for uri in &msg.uris {
                        let set = routes.entry(uri.clone()).or_default();
                        if subject == "router.register" {
                            set.insert(addr.clone());
                        } else {
                            set.remove(&addr);
                        }
                        if set.is_empty() {
                            routes.remove(uri);
                        }
                    }
                }
                v.messages.lock().unwrap().push((subject, msg));
            }
        });
        (view, client)
    }

    /// The addresses routed for `uri`.
    pub fn addrs(&self, uri: &str) -> Vec<String> {
        self.routes
            .lock()
            .unwrap()
            .get(uri)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    }

    pub fn count(&self, subject: &str) -> usize {
        self.messages
            .lock()
            .unwrap()
            .iter()
            .filter(|(s, _)| s == subject)
            .count()
    }

    pub fn last(&self, subject: &str) -> Option<RegistryMessage> {
        self.messages
            .lock()
            .unwrap()
            .iter()
            .rev()
            .find(|(s, _)| s == subject)
            .map(|(_, m)| m.clone())
    }

    pub fn clear(&self) {
        self.messages.lock().unwrap().clear();
    }
}
