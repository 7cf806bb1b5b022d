//! Container metrics (Diego's `containermetrics` reporters): every
//! `container_metrics_report_interval` each created container is measured;
//! CPU percentage is the CPU time used since the previous sample over the
//! wall time between them (×100, so two busy cores read 200). The latest
//! sample per container is kept for the rep (`GET /container_metrics`)
//! and sent as a gauge envelope with the instance's tags.

use super::ContainerStore;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// One measurement of a container.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Sample {
    /// 0 on a container's first sample (nothing to compare with yet).
    pub cpu_percentage: f64,
    /// CPU time used since the container started, in nanoseconds.
    pub absolute_cpu_usage_ns: u64,
    pub memory_bytes: u64,
    pub memory_quota_bytes: u64,
    pub disk_bytes: u64,
    pub disk_quota_bytes: u64,
    pub container_age_ns: u64,
    pub rx_bytes: Option<u64>,
    pub tx_bytes: Option<u64>,
    pub timestamp_ns: i64,
}

struct Track {
    created: Instant,
    previous: Option<(Duration, Instant)>,
    latest: Option<Sample>,
}

#[derive(Default)]
pub(crate) struct Reporter {
    tracks: Mutex<HashMap<String, Track>>,
}

impl Reporter {
    pub(crate) fn created(&self, guid: &str) {
        self.tracks.lock().unwrap().insert(
            guid.to_string(),
            Track {
                created: Instant::now(),
                previous: None,
                latest: None,
            },
        );
    }

    pub(crate) fn forget(&self, guid: &str) {
        self.tracks.lock().unwrap().remove(guid);
    }
}

/// CPU percentage between two samples of cumulative CPU time.
pub fn cpu_percentage(before: (Duration, Instant), after: (Duration, Instant)) -> f64 {
    let wall = after.1.saturating_duration_since(before.1).as_secs_f64();
    if wall <= 0.0 {
        return 0.0;
    }
    after.0.saturating_sub(before.0).as_secs_f64() / wall * 100.0
}

impl ContainerStore {
    /// Measures every created container once, keeps the samples and sends
    /// them as gauges.
    pub async fn report_metrics(&self) {
        let guids: Vec<String> = self
            .inner
            .metrics
            .tracks
            .lock()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        for guid in guids {
            let Ok(container) = self.get(&guid) else {
                continue;
            };
            let Ok(m) = self.metrics(&guid).await else {
                continue;
            };
            let now = Instant::now();
            let sample = {
                let mut tracks = self.inner.metrics.tracks.lock().unwrap();
                let Some(t) = tracks.get_mut(&guid) else {
                    continue;
                };
                let cpu = t
                    .previous
                    .map_or(0.0, |p| cpu_percentage(p, (m.cpu_usage, now)));
                t.previous = Some((m.cpu_usage, now));
                let s = Sample {
                    cpu_percentage: cpu,
                    absolute_cpu_usage_ns: m.cpu_usage.as_nanos() as u64,
                    memory_bytes: m.memory_usage_bytes,
                    memory_quota_bytes: container.memory_limit,
                    disk_bytes: m.disk_usage_bytes,
                    disk_quota_bytes: container.disk_limit,
                    container_age_ns: now.saturating_duration_since(t.created).as_nanos() as u64,
                    rx_bytes: m.rx_bytes,
                    tx_bytes: m.tx_bytes,
                    timestamp_ns: logs_client::envelope::now_ns(),
                };
                t.latest = Some(s.clone());
                s
            };
            let shipping = self.logs(&guid).ok().and_then(|l| l.shipping());
            if let Some(s) = shipping {
                let mut gauges = vec![
                    ("cpu", sample.cpu_percentage, "percentage"),
                    ("memory", sample.memory_bytes as f64, "bytes"),
                    ("disk", sample.disk_bytes as f64, "bytes"),
                    ("memory_quota", sample.memory_quota_bytes as f64, "bytes"),
                    ("disk_quota", sample.disk_quota_bytes as f64, "bytes"),
                    (
                        "absolute_usage",
                        sample.absolute_cpu_usage_ns as f64,
                        "nanoseconds",
                    ),
                    (
                        "container_age",
                        sample.container_age_ns as f64,
                        "nanoseconds",
                    ),
                ];
                if let (Some(rx), Some(tx)) = (sample.rx_bytes, sample.tx_bytes) {
                    gauges.push(("rx_bytes", rx as f64, "bytes"));
                    gauges.push(("tx_bytes", tx as f64, "bytes"));
                }
                s.sender.send(logs_client::envelope::gauge(
                    &s.source_id,
                    &s.instance_id,
                    &gauges,
                    &s.tags,
                ));
            }
        }
    }

    /// The container's latest sample, if measured yet.
    pub fn latest_metrics(&self, guid: &str) -> Option<Sample> {
        self.inner
            .metrics
            .tracks
            .lock()
            .unwrap()
            .get(guid)
            .and_then(|t| t.latest.clone())
    }

    /// Reports every `container_metrics_report_interval` until aborted
    /// (or the store is gone).
    pub fn spawn_metrics_reporter(&self) -> tokio::task::JoinHandle<()> {
        let weak = std::sync::Arc::downgrade(&self.inner);
        let every = self.inner.config.container_metrics_report_interval;
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every.max(Duration::from_millis(100)));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(inner) = weak.upgrade() else {
                    return;
                };
                ContainerStore { inner }.report_metrics().await;
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_percentage_is_usage_over_wall_time() {
        let t0 = Instant::now();
        let t1 = t0 + Duration::from_secs(2);
        let p = cpu_percentage(
            (Duration::from_millis(500), t0),
            (Duration::from_millis(1500), t1),
        );
        assert!((p - 50.0).abs() < 1e-9, "{p}");
        // Two busy cores.
        let p = cpu_percentage((Duration::ZERO, t0), (Duration::from_secs(4), t1));
        assert!((p - 200.0).abs() < 1e-9);
        assert_eq!(
            cpu_percentage((Duration::ZERO, t0), (Duration::ZERO, t0)),
            0.0
        );
    }
}
