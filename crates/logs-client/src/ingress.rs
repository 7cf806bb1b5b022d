//! The cell's side of log delivery (the Loggregator agent's role): a
//! bounded buffer that [`Sender::send`] fills without ever waiting, and a
//! task streaming it in batches to the log component's
//! `loggregator.v2.Ingress/BatchSender`, reconnecting while the component
//! is away. When the buffer is full the oldest envelopes go first; every
//! drop is counted and, once the component is back, reported to it as a
//! `dropped` counter (Loggregator's name) from `origin`.

use crate::grpc::ingress_client::IngressClient;
use models::loggregator::v2::{Envelope, EnvelopeBatch};
use prost::Message;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, Notify};
use tokio_util_shim::CancelOnDrop;

/// Where and how a cell sends its envelopes.
#[derive(Debug, Clone)]
pub struct IngressConfig {
    /// The log component's ingress, `host:port`.
    pub address: String,
    /// Mutual TLS (the component's CA, the cell's certificate); None:
    /// plain HTTP/2.
    pub tls: Option<tlsconfig::ClientTls>,
    /// Names this sender in its own counters (the cell id).
    pub origin: String,
    pub max_buffered_envelopes: usize,
    pub max_buffered_bytes: usize,
    pub batch_size: usize,
    /// How long a partial batch waits for more.
    pub flush_interval: Duration,
}

impl IngressConfig {
    pub fn new(address: &str, origin: &str) -> Self {
        Self {
            address: address.into(),
            tls: None,
            origin: origin.into(),
            max_buffered_envelopes: 10_000,
            max_buffered_bytes: 16 * 1024 * 1024,
            batch_size: 100,
            flush_interval: Duration::from_millis(50),
        }
    }
}

/// What a sender has done so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SenderStats {
    pub sent: u64,
    pub dropped: u64,
    pub buffered: usize,
    pub connected: bool,
}

#[derive(Default)]
struct Queue {
    items: VecDeque<(Envelope, usize)>,
    bytes: usize,
}

struct Shared {
    cfg: IngressConfig,
    queue: Mutex<Queue>,
    wake: Notify,
    sent: AtomicU64,
    dropped: AtomicU64,
    connected: AtomicBool,
}

/// A handle on the buffer; clones share it. The streaming task stops when
/// the last handle goes.
#[derive(Clone)]
pub struct Sender {
    shared: Arc<Shared>,
    _task: Arc<CancelOnDrop>,
}

impl Sender {
    /// Starts the streaming task (needs a tokio runtime).
    pub fn start(cfg: IngressConfig) -> Sender {
        let shared = Arc::new(Shared {
            cfg,
            queue: Mutex::new(Queue::default()),
            wake: Notify::new(),
            sent: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            connected: AtomicBool::new(false),
        });
        let task = tokio::spawn(stream_forever(shared.clone()));
        Sender {
            shared,
            _task: Arc::new(CancelOnDrop(task)),
        }
    }

    /// Queues an envelope; never waits. Over the buffer's bounds the
    /// oldest envelopes are dropped (and counted).
    pub fn send(&self, env: Envelope) {
        let size = env.encoded_len();
        let s = &self.shared;
        let mut dropped = 0;
        {
            let mut q = s.queue.lock().unwrap();
            q.bytes += size;
            q.items.push_back((env, size));
            while q.items.len() > s.cfg.max_buffered_envelopes
                || (q.bytes > s.cfg.max_buffered_bytes && q.items.len() > 1)
            {
                if let Some((_, n)) = q.items.pop_front() {
                    q.bytes -= n;
                    dropped += 1;
                }
            }
        }
        if dropped > 0 {
            s.dropped.fetch_add(dropped, Ordering::Relaxed);
        }
        s.wake.notify_one();
    }

    /// The sender's name in its own envelopes (the cell id).
    pub fn origin(&self) -> &str {
        &self.shared.cfg.origin
    }

    pub fn stats(&self) -> SenderStats {
        let s = &self.shared;
        SenderStats {
            sent: s.sent.load(Ordering::Relaxed),
            dropped: s.dropped.load(Ordering::Relaxed),
            buffered: s.queue.lock().unwrap().items.len(),
            connected: s.connected.load(Ordering::Relaxed),
        }
    }

    /// Waits until everything queued so far has been handed to the stream
    /// (or `timeout` passes); whether the buffer emptied.
    pub async fn flush(&self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        while tokio::time::Instant::now() < deadline {
            if self.shared.queue.lock().unwrap().items.is_empty() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        false
    }
}

impl std::fmt::Debug for Sender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sender")
            .field("address", &self.shared.cfg.address)
            .field("stats", &self.stats())
            .finish()
    }
}

mod tokio_util_shim {
    /// Aborts the task when dropped.
    pub struct CancelOnDrop(pub tokio::task::JoinHandle<()>);
    impl Drop for CancelOnDrop {
        fn drop(&mut self) {
            self.0.abort();
        }
    }
}

fn take_batch(s: &Shared) -> Vec<Envelope> {
    let mut q = s.queue.lock().unwrap();
    let n = q.items.len().min(s.cfg.batch_size);
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let (e, size) = q.items.pop_front().expect("counted");
        q.bytes -= size;
        out.push(e);
    }
    out
}

async fn stream_forever(s: Arc<Shared>) {
    let mut backoff = Duration::from_millis(100);
    loop {
        match crate::grpc_channel(&s.cfg.address, s.cfg.tls.as_ref()).await {
            Ok(channel) => {
                backoff = Duration::from_millis(100);
                s.connected.store(true, Ordering::Relaxed);
                let why = stream_once(&s, IngressClient::new(channel)).await;
                s.connected.store(false, Ordering::Relaxed);
                // The queue outlives the stream and the sender reconnects:
                // a stream ending with nothing waiting (the log component
                // restarting or stopping first) loses no envelope.
                let waiting = s.queue.lock().unwrap().items.len();
                if waiting > 0 {
                    tracing::warn!(address = %s.cfg.address, error = %why, waiting, "log-ingress-stream-ended");
                } else {
                    tracing::info!(address = %s.cfg.address, error = %why, "log-ingress-stream-ended");
                }
            }
            Err(e) => {
                tracing::debug!(address = %s.cfg.address, error = %format!("{e:#}"), "log-ingress-unreachable");
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}

/// Streams batches until the call fails; why it ended.
async fn stream_once(
    s: &Arc<Shared>,
    mut client: IngressClient<tonic::transport::Channel>,
) -> String {
    let (tx, rx) = mpsc::channel::<EnvelopeBatch>(4);
    let mut call = tokio::spawn(async move {
        client
            .batch_sender(tokio_stream::wrappers::ReceiverStream::new(rx))
            .await
    });
    let mut reported_drops = 0u64;
    let mut tick = tokio::time::interval(s.cfg.flush_interval);
    loop {
        // Drops since the last report, as Loggregator's agents count them.
        let dropped = s.dropped.load(Ordering::Relaxed);
        if dropped > reported_drops {
            let tags = HashMap::from([("direction".to_string(), "ingress".to_string())]);
            let c = crate::envelope::counter(
                &s.cfg.origin,
                "dropped",
                dropped - reported_drops,
                dropped,
                &tags,
            );
            if tx.send(EnvelopeBatch { batch: vec![c] }).await.is_err() {
                break;
            }
            reported_drops = dropped;
        }
        let batch = take_batch(s);
        if batch.is_empty() {
            tokio::select! {
                _ = s.wake.notified() => {
                    // Let a burst gather into one batch.
                    if s.queue.lock().unwrap().items.len() < s.cfg.batch_size {
                        tokio::time::sleep(s.cfg.flush_interval.min(Duration::from_millis(5))).await;
                    }
                }
                _ = tick.tick() => {}
                r = &mut call => return format!("{r:?}"),
            }
            continue;
        }
        let n = batch.len() as u64;
        tokio::select! {
            r = tx.send(EnvelopeBatch { batch }) => {
                if r.is_err() {
                    break;
                }
                s.sent.fetch_add(n, Ordering::Relaxed);
            }
            r = &mut call => {
                // The batch never reached the stream: it is lost.
                s.dropped.fetch_add(n, Ordering::Relaxed);
                return format!("{r:?}");
            }
        }
    }
    drop(tx);
    match call.await {
        Ok(r) => format!("{r:?}"),
        Err(e) => e.to_string(),
    }
}
