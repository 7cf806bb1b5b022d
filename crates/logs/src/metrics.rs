//! What the component exposes as Prometheus text on `GET /metrics`: its
//! own counters (ingress, store, drains, what senders report dropping)
//! and the latest container metrics of every app instance, labelled with
//! the app (`diego_app_cpu_percentage{source_id, instance_id, app_name}`).
//! The latest container metrics per instance are also readable as JSON.

use logs_client::pb::{envelope::Message, Envelope};
use prometheus::{Encoder, GaugeVec, IntCounter, Opts, Registry, TextEncoder};
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Instances silent this long leave the exposition (deleted, moved).
const STALE_AFTER: Duration = Duration::from_secs(300);

/// A gauge computed at scrape time: (name, help, labels, value).
pub type ScrapeGauge<'a> = (&'a str, &'a str, Vec<(&'a str, String)>, f64);

/// The latest gauges of one instance.
#[derive(Debug, Clone, serde::Serialize)]
pub struct InstanceMetrics {
    pub source_id: String,
    pub instance_id: String,
    pub app_name: String,
    pub timestamp: i64,
    /// name → (value, unit)
    pub metrics: BTreeMap<String, (f64, String)>,
    #[serde(skip)]
    seen: Option<Instant>,
}

pub struct Metrics {
    pub ingress_envelopes: IntCounter,
    pub ingress_batches: IntCounter,
    registry: Registry,
    /// (source_id, instance_id) → latest gauges.
    latest: Mutex<HashMap<(String, String), InstanceMetrics>>,
    /// origin → total dropped, as its `dropped` counters report.
    sender_drops: Mutex<BTreeMap<String, u64>>,
}

impl Default for Metrics {
    fn default() -> Self {
        let registry = Registry::new();
        let ingress_envelopes =
            IntCounter::new("logs_ingress_envelopes_total", "Envelopes received").unwrap();
        let ingress_batches =
            IntCounter::new("logs_ingress_batches_total", "Envelope batches received").unwrap();
        registry
            .register(Box::new(ingress_envelopes.clone()))
            .unwrap();
        registry
            .register(Box::new(ingress_batches.clone()))
            .unwrap();
        Self {
            ingress_envelopes,
            ingress_batches,
            registry,
            latest: Mutex::default(),
            sender_drops: Mutex::default(),
        }
    }
}

impl Metrics {
    /// Notes what an envelope says about metrics: an app's gauges, a
    /// sender's drops.
    pub fn observe(&self, env: &Envelope) {
        match &env.message {
            Some(Message::Gauge(g)) if !env.source_id.is_empty() => {
                let mut latest = self.latest.lock().unwrap();
                let e = latest
                    .entry((env.source_id.clone(), env.instance_id.clone()))
                    .or_insert_with(|| InstanceMetrics {
                        source_id: env.source_id.clone(),
                        instance_id: env.instance_id.clone(),
                        app_name: String::new(),
                        timestamp: 0,
                        metrics: BTreeMap::new(),
                        seen: None,
                    });
                if let Some(name) = env.tags.get("app_name") {
                    e.app_name = name.clone();
                }
                e.timestamp = env.timestamp;
                e.seen = Some(Instant::now());
                for (k, v) in &g.metrics {
                    e.metrics.insert(k.clone(), (v.value, v.unit.clone()));
                }
            }
            Some(Message::Counter(c)) if c.name == "dropped" => {
                self.sender_drops
                    .lock()
                    .unwrap()
                    .insert(env.source_id.clone(), c.total);
            }
            _ => {}
        }
    }

    /// The latest container metrics of a source's instances.
    pub fn instances(&self, source_id: &str) -> Vec<InstanceMetrics> {
        let latest = self.latest.lock().unwrap();
        let mut v: Vec<_> = latest
            .values()
            .filter(|m| m.source_id == source_id)
            .cloned()
            .collect();
        v.sort_by(|a, b| a.instance_id.cmp(&b.instance_id));
        v
    }

    pub fn sender_drops(&self) -> BTreeMap<String, u64> {
        self.sender_drops.lock().unwrap().clone()
    }

    /// The Prometheus exposition; `extra` adds gauges computed at scrape
    /// time (store and drain figures).
    pub fn render(&self, extra: &[ScrapeGauge]) -> String {
        let scrape = Registry::new();
        let mut vecs: HashMap<String, GaugeVec> = HashMap::new();
        let mut gauge = |name: &str, help: &str, labels: &[(&str, String)], value: f64| {
            let names: Vec<&str> = labels.iter().map(|(k, _)| *k).collect();
            let vec = vecs.entry(name.to_string()).or_insert_with(|| {
                let v = GaugeVec::new(Opts::new(name, help), &names).expect("valid metric");
                scrape
                    .register(Box::new(v.clone()))
                    .expect("registered once");
                v
            });
            let values: Vec<&str> = labels.iter().map(|(_, v)| v.as_str()).collect();
            if let Ok(g) = vec.get_metric_with_label_values(&values) {
                g.set(value);
            }
        };
        for (name, help, labels, value) in extra {
            gauge(name, help, labels, *value);
        }
        for (origin, total) in self.sender_drops() {
            gauge(
                "logs_sender_dropped_envelopes",
                "Envelopes a sender (cell, router) dropped, as it last reported",
                &[("origin", origin)],
                total as f64,
            );
        }
        {
            let mut latest = self.latest.lock().unwrap();
            latest.retain(|_, m| m.seen.is_some_and(|t| t.elapsed() < STALE_AFTER));
            for m in latest.values() {
                for (name, (value, unit)) in &m.metrics {
                    let metric = format!("diego_app_{}", sanitize(name));
                    gauge(
                        &metric,
                        &format!("Container metric {name} ({unit}) of an app instance"),
                        &[
                            ("source_id", m.source_id.clone()),
                            ("instance_id", m.instance_id.clone()),
                            ("app_name", m.app_name.clone()),
                        ],
                        *value,
                    );
                }
            }
        }
        let mut out = Vec::new();
        let enc = TextEncoder::new();
        let _ = enc.encode(&self.registry.gather(), &mut out);
        let _ = enc.encode(&scrape.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}

fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use logs_client::envelope::{counter, gauge};

    #[test]
    fn app_gauges_and_sender_drops_are_exposed_with_labels() {
        let m = Metrics::default();
        let tags = HashMap::from([("app_name".to_string(), "hello".to_string())]);
        m.observe(&gauge(
            "app-guid",
            "1",
            &[("cpu", 12.5, "percentage"), ("memory", 1024.0, "bytes")],
            &tags,
        ));
        m.observe(&counter("cell-0", "dropped", 5, 7, &HashMap::new()));
        let text = m.render(&[("logs_store_sources", "Sources", vec![], 1.0)]);
        assert!(
            text.contains(
                r#"diego_app_cpu{app_name="hello",instance_id="1",source_id="app-guid"} 12.5"#
            ),
            "{text}"
        );
        assert!(text.contains(r#"logs_sender_dropped_envelopes{origin="cell-0"} 7"#));
        assert!(text.contains("logs_store_sources 1"));
        let inst = m.instances("app-guid");
        assert_eq!(inst[0].metrics["memory"], (1024.0, "bytes".to_string()));
    }
}
