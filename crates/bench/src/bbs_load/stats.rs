//! What the load generator records: request latencies per kind, failures,
//! bulk loops that overran their interval, and event counts.

use crate::report::Measure;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Default)]
pub struct Recorder {
    samples: Mutex<BTreeMap<&'static str, Vec<Duration>>>,
    failures: Mutex<BTreeMap<&'static str, (u64, String)>>,
    pub overruns: Mutex<Vec<String>>,
    /// Wrong row counts in bulk answers.
    pub mismatches: Mutex<Vec<String>>,
}

impl Recorder {
    pub fn record(&self, kind: &'static str, d: Duration) {
        self.samples
            .lock()
            .unwrap()
            .entry(kind)
            .or_default()
            .push(d);
    }

    pub fn fail(&self, kind: &'static str, e: &anyhow::Error) {
        let mut f = self.failures.lock().unwrap();
        let entry = f.entry(kind).or_insert((0, String::new()));
        entry.0 += 1;
        if entry.1.is_empty() {
            entry.1 = format!("{e:#}");
        }
    }

    /// Times `fut`, recording its latency on success or a failure.
    pub async fn time<T>(
        &self,
        kind: &'static str,
        fut: impl std::future::Future<Output = anyhow::Result<T>>,
    ) -> Option<T> {
        let t = Instant::now();
        match fut.await {
            Ok(v) => {
                self.record(kind, t.elapsed());
                Some(v)
            }
            Err(e) => {
                self.fail(kind, &e);
                None
            }
        }
    }

    pub fn measures(&self) -> Vec<Measure> {
        self.samples
            .lock()
            .unwrap()
            .iter()
            .map(|(k, v)| {
                let mut m = Measure::new(*k);
                m.samples = v.clone();
                let failed = self.failures.lock().unwrap().get(k).map(|f| f.0);
                m.rows = match failed {
                    Some(n) => format!("{n} failed"),
                    None => String::new(),
                };
                m
            })
            .collect()
    }

    pub fn failures(&self) -> Vec<(String, u64, String)> {
        self.failures
            .lock()
            .unwrap()
            .iter()
            .map(|(k, (n, e))| (k.to_string(), *n, e.clone()))
            .collect()
    }

    pub fn p99(&self, kind: &str) -> Option<Duration> {
        let s = self.samples.lock().unwrap();
        let v = s.get(kind)?;
        let mut m = Measure::new(kind);
        m.samples = v.clone();
        Some(m.p99())
    }
}

/// Instance events expected (from the writes made) and received, for the
/// global subscriber and per cell.
pub struct EventCounts {
    pub expected_global: AtomicU64,
    pub received_global: AtomicU64,
    pub expected_by_cell: Vec<AtomicU64>,
    pub received_by_cell: Vec<AtomicU64>,
    /// Events on a cell's stream that name another cell.
    pub foreign: AtomicU64,
    /// Streams that ended before the run did.
    pub streams_ended: AtomicU64,
}

impl EventCounts {
    pub fn new(cells: usize) -> EventCounts {
        EventCounts {
            expected_global: AtomicU64::new(0),
            received_global: AtomicU64::new(0),
            expected_by_cell: (0..cells).map(|_| AtomicU64::new(0)).collect(),
            received_by_cell: (0..cells).map(|_| AtomicU64::new(0)).collect(),
            foreign: AtomicU64::new(0),
            streams_ended: AtomicU64::new(0),
        }
    }

    pub fn expect(&self, cell: usize, n: u64) {
        self.expected_global.fetch_add(n, Ordering::Relaxed);
        self.expected_by_cell[cell].fetch_add(n, Ordering::Relaxed);
    }

    pub fn totals(&self) -> (u64, u64, u64, u64) {
        let sum = |v: &[AtomicU64]| v.iter().map(|a| a.load(Ordering::Relaxed)).sum::<u64>();
        (
            self.expected_global.load(Ordering::Relaxed),
            self.received_global.load(Ordering::Relaxed),
            sum(&self.expected_by_cell),
            sum(&self.received_by_cell),
        )
    }

    /// Cells whose stream received fewer events than expected.
    pub fn cells_short(&self) -> usize {
        self.expected_by_cell
            .iter()
            .zip(&self.received_by_cell)
            .filter(|(e, r)| r.load(Ordering::Relaxed) < e.load(Ordering::Relaxed))
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn records_latency_and_failures() {
        let r = Recorder::default();
        r.time("ok", async { Ok(()) }).await;
        r.time::<()>("bad", async { anyhow::bail!("boom") }).await;
        assert_eq!(r.measures().len(), 1);
        assert_eq!(r.failures()[0].1, 1);
        assert!(r.failures()[0].2.contains("boom"));
    }

    #[test]
    fn counts_cells_short_of_events() {
        let c = EventCounts::new(2);
        c.expect(0, 2);
        c.expect(1, 2);
        c.received_by_cell[1].fetch_add(2, Ordering::Relaxed);
        assert_eq!(c.cells_short(), 1);
        assert_eq!(c.totals(), (4, 0, 4, 2));
    }
}
