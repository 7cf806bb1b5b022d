//! The recent-envelope store (Log Cache's role): per source id, the newest
//! envelopes within a count and a byte bound, oldest out first; at most
//! `max_sources` sources, the one written to longest ago out first. An
//! instance's lines stay after it crashed or its app was deleted, until
//! newer lines or other sources push them out. New envelopes are also
//! broadcast to live streams.

use logs_client::envelope::kind;
use logs_client::pb::Envelope;
use prost::Message;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast;

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_per_source: usize,
    pub max_bytes_per_source: usize,
    pub max_sources: usize,
}

#[derive(Default)]
struct Source {
    items: VecDeque<(Arc<Envelope>, usize)>,
    bytes: usize,
    /// Write sequence of the last put (for evicting whole sources).
    last_write: u64,
    expired: u64,
}

/// What one read asks for (Log Cache's read parameters).
#[derive(Debug, Clone, Default)]
pub struct Query {
    pub start_time: Option<i64>,
    pub end_time: Option<i64>,
    pub limit: Option<usize>,
    /// `LOG`, `GAUGE`, ...; empty: every kind.
    pub envelope_types: Vec<String>,
    pub descending: bool,
}

/// A source's summary (Log Cache's `meta`).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Meta {
    pub source_id: String,
    pub count: usize,
    pub bytes: usize,
    pub expired: u64,
    pub oldest_timestamp: i64,
    pub newest_timestamp: i64,
}

pub struct Store {
    limits: Limits,
    sources: Mutex<(HashMap<String, Source>, u64)>,
    live: broadcast::Sender<Arc<Envelope>>,
    pub stored: AtomicU64,
    pub evicted: AtomicU64,
}

/// Live streams lagging this far behind skip ahead.
const LIVE_BUFFER: usize = 8192;

impl Store {
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            sources: Mutex::new((HashMap::new(), 0)),
            live: broadcast::channel(LIVE_BUFFER).0,
            stored: AtomicU64::new(0),
            evicted: AtomicU64::new(0),
        }
    }

    pub fn put(&self, env: Envelope) -> Arc<Envelope> {
        let size = env.encoded_len();
        let env = Arc::new(env);
        let mut evicted = 0;
        {
            let mut guard = self.sources.lock().unwrap();
            let (sources, seq) = &mut *guard;
            *seq += 1;
            let seq = *seq;
            if !sources.contains_key(&env.source_id) && sources.len() >= self.limits.max_sources {
                let oldest = sources
                    .iter()
                    .min_by_key(|(_, s)| s.last_write)
                    .map(|(k, _)| k.clone());
                if let Some(k) = oldest {
                    evicted += sources.remove(&k).map_or(0, |s| s.items.len() as u64);
                }
            }
            let src = sources.entry(env.source_id.clone()).or_default();
            src.last_write = seq;
            // Usually in time order; a late envelope goes to its place.
            let pos = src
                .items
                .iter()
                .rposition(|(e, _)| e.timestamp <= env.timestamp)
                .map_or(0, |p| p + 1);
            src.items.insert(pos, (env.clone(), size));
            src.bytes += size;
            while src.items.len() > self.limits.max_per_source
                || (src.bytes > self.limits.max_bytes_per_source && src.items.len() > 1)
            {
                let (_, n) = src.items.pop_front().expect("non-empty");
                src.bytes -= n;
                src.expired += 1;
                evicted += 1;
            }
        }
        self.stored.fetch_add(1, Ordering::Relaxed);
        if evicted > 0 {
            self.evicted.fetch_add(evicted, Ordering::Relaxed);
        }
        // Nobody following is fine.
        let _ = self.live.send(env.clone());
        env
    }

    /// The source's envelopes matching `q`, oldest first (newest first
    /// with `descending`); `limit` keeps the newest.
    pub fn read(&self, source_id: &str, q: &Query) -> Vec<Arc<Envelope>> {
        let guard = self.sources.lock().unwrap();
        let Some(src) = guard.0.get(source_id) else {
            return Vec::new();
        };
        let types: Vec<String> = q.envelope_types.iter().map(|t| t.to_uppercase()).collect();
        let limit = q.limit.unwrap_or(usize::MAX);
        let mut out: Vec<Arc<Envelope>> = src
            .items
            .iter()
            .rev()
            .map(|(e, _)| e)
            .filter(|e| q.start_time.is_none_or(|t| e.timestamp >= t))
            .filter(|e| q.end_time.is_none_or(|t| e.timestamp < t))
            .filter(|e| types.is_empty() || types.iter().any(|t| t == kind(e)))
            .take(limit)
            .cloned()
            .collect();
        if !q.descending {
            out.reverse();
        }
        out
    }

    pub fn meta(&self) -> Vec<Meta> {
        let guard = self.sources.lock().unwrap();
        let mut v: Vec<Meta> = guard
            .0
            .iter()
            .map(|(id, s)| Meta {
                source_id: id.clone(),
                count: s.items.len(),
                bytes: s.bytes,
                expired: s.expired,
                oldest_timestamp: s.items.front().map_or(0, |(e, _)| e.timestamp),
                newest_timestamp: s.items.back().map_or(0, |(e, _)| e.timestamp),
            })
            .collect();
        v.sort_by(|a, b| a.source_id.cmp(&b.source_id));
        v
    }

    /// (sources, envelopes, encoded bytes) held.
    pub fn totals(&self) -> (usize, usize, usize) {
        let guard = self.sources.lock().unwrap();
        guard
            .0
            .values()
            .fold((guard.0.len(), 0, 0), |(s, n, b), src| {
                (s, n + src.items.len(), b + src.bytes)
            })
    }

    /// Envelopes put from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Envelope>> {
        self.live.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use logs_client::envelope::{gauge, log};

    fn line(src: &str, text: &str, ts: i64) -> Envelope {
        let mut e = log(src, "0", "APP/PROC/WEB", false, text, &Default::default());
        e.timestamp = ts;
        e
    }

    fn texts(v: &[Arc<Envelope>]) -> Vec<String> {
        v.iter()
            .map(|e| match &e.message {
                Some(logs_client::pb::envelope::Message::Log(l)) => {
                    String::from_utf8_lossy(&l.payload).into_owned()
                }
                _ => "gauge".into(),
            })
            .collect()
    }

    #[test]
    fn bounded_by_count_per_source_oldest_out() {
        let s = Store::new(Limits {
            max_per_source: 3,
            max_bytes_per_source: 1 << 20,
            max_sources: 10,
        });
        for i in 0..5 {
            s.put(line("a", &format!("a{i}"), i));
        }
        s.put(line("b", "b0", 0));
        assert_eq!(texts(&s.read("a", &Query::default())), ["a2", "a3", "a4"]);
        assert_eq!(texts(&s.read("b", &Query::default())), ["b0"]);
        assert_eq!(s.evicted.load(Ordering::Relaxed), 2);
        let m = s.meta();
        assert_eq!((m[0].count, m[0].expired), (3, 2));
    }

    #[test]
    fn bounded_by_bytes_per_source() {
        let s = Store::new(Limits {
            max_per_source: 1000,
            max_bytes_per_source: 2000,
            max_sources: 10,
        });
        for i in 0..100 {
            s.put(line("a", &"x".repeat(100), i));
        }
        let (_, n, bytes) = s.totals();
        assert!(bytes <= 2000, "{bytes}");
        assert!(n < 20 && n > 10, "{n}");
    }

    #[test]
    fn whole_sources_go_when_there_are_too_many() {
        let s = Store::new(Limits {
            max_per_source: 10,
            max_bytes_per_source: 1 << 20,
            max_sources: 2,
        });
        s.put(line("a", "a", 1));
        s.put(line("b", "b", 2));
        s.put(line("a", "a again", 3));
        s.put(line("c", "c", 4));
        let ids: Vec<_> = s.meta().into_iter().map(|m| m.source_id).collect();
        assert_eq!(ids, ["a", "c"], "b was written to longest ago");
    }

    #[test]
    fn reads_filter_by_time_kind_and_limit() {
        let s = Store::new(Limits {
            max_per_source: 100,
            max_bytes_per_source: 1 << 20,
            max_sources: 10,
        });
        for i in 0..10 {
            s.put(line("a", &format!("l{i}"), i * 10));
        }
        let mut g = gauge("a", "0", &[("cpu", 1.0, "percentage")], &Default::default());
        g.timestamp = 55;
        s.put(g);
        // A late line lands in time order.
        s.put(line("a", "late", 25));
        let q = |f: fn(&mut Query)| {
            let mut q = Query::default();
            f(&mut q);
            texts(&s.read("a", &q))
        };
        assert_eq!(
            q(|q| q.envelope_types = vec!["log".into()])[..4],
            ["l0", "l1", "l2", "late"]
        );
        assert_eq!(q(|q| q.envelope_types = vec!["GAUGE".into()]), ["gauge"]);
        assert_eq!(q(|q| q.limit = Some(2)), ["l8", "l9"]);
        assert_eq!(
            q(|q| {
                q.start_time = Some(50);
                q.end_time = Some(70);
            }),
            ["l5", "gauge", "l6"]
        );
        assert_eq!(
            q(|q| {
                q.limit = Some(2);
                q.descending = true;
            }),
            ["l9", "l8"]
        );
        assert!(s.read("nobody", &Query::default()).is_empty());
    }
}
