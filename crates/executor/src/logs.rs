//! Instance logs: every line a container's processes and steps write, kept
//! in a bounded per-container buffer and broadcast to whoever follows them
//! (the rep's logs route), and, once the container's log config is known,
//! shipped as Loggregator envelopes to the log component ([`Shipping`]).
//! Lines written through a [`LogStreamer`] pass the instance's log rate
//! limit first ([`crate::log_rate`]); the executor's own lines (Diego's
//! "Cell ... creating container ...") do not.

use crate::container::LogConfig;
use crate::log_rate::{RateLimiter, RateLimits, Verdict};
use serde::Serialize;
use std::collections::{HashMap, VecDeque};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::io::AsyncWrite;
use tokio::sync::broadcast;

/// Lines longer than this are split (Diego's log streamer's message limit).
const MAX_LINE_BYTES: usize = 60 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stream {
    Stdout,
    Stderr,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogLine {
    /// e.g. `APP/PROC/WEB`, `HEALTH`, `STG`.
    pub source: String,
    pub stream: Stream,
    pub text: String,
    pub timestamp_ns: i64,
}

pub struct InstanceLog {
    lines: Mutex<VecDeque<LogLine>>,
    capacity: usize,
    tx: broadcast::Sender<LogLine>,
    shipping: Mutex<Option<Shipping>>,
    limiter: Mutex<Option<RateLimiter>>,
}

/// Where an instance's lines go besides its buffer: the log component,
/// labelled as Diego's `GetSourceNameAndTagsForLogging` labels them.
#[derive(Clone)]
pub struct Shipping {
    pub sender: logs_client::Sender,
    pub source_id: String,
    pub instance_id: String,
    pub tags: HashMap<String, String>,
}

impl Shipping {
    /// From the container's log config: `source_id` and `instance_id` from
    /// its tags when set there, else its guid and index. None without a
    /// guid (Diego streams nothing then).
    pub fn new(sender: &logs_client::Sender, cfg: &LogConfig) -> Option<Shipping> {
        let mut tags: HashMap<String, String> = cfg
            .tags
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let source_id = tags.remove("source_id").unwrap_or_else(|| cfg.guid.clone());
        let instance_id = tags
            .remove("instance_id")
            .unwrap_or_else(|| cfg.index.to_string());
        (!source_id.is_empty()).then(|| Shipping {
            sender: sender.clone(),
            source_id,
            instance_id,
            tags,
        })
    }

    fn ship(&self, source: &str, stream: Stream, text: &str) {
        self.sender.send(logs_client::envelope::log(
            &self.source_id,
            &self.instance_id,
            source,
            stream == Stream::Stderr,
            text,
            &self.tags,
        ));
    }
}

impl InstanceLog {
    /// Keeps the last `capacity` lines.
    pub fn new(capacity: usize) -> Arc<Self> {
        let (tx, _) = broadcast::channel(1024);
        Arc::new(Self {
            lines: Mutex::new(VecDeque::with_capacity(capacity.min(1024))),
            capacity: capacity.max(1),
            tx,
            shipping: Mutex::new(None),
            limiter: Mutex::new(None),
        })
    }

    /// From now on lines also go to the log component (None: they stop
    /// going), and streamed lines pass `limits` first.
    pub fn configure(&self, shipping: Option<Shipping>, limits: RateLimits) {
        *self.shipping.lock().unwrap() = shipping;
        *self.limiter.lock().unwrap() = Some(RateLimiter::new(limits));
    }

    /// Where this log's lines are shipped, if anywhere.
    pub fn shipping(&self) -> Option<Shipping> {
        self.shipping.lock().unwrap().clone()
    }

    /// A line the container wrote (through a [`LogStreamer`]): dropped
    /// when over the instance's log rate limit, whose overage line (once a
    /// second) is logged instead.
    pub fn push(&self, source: &str, stream: Stream, text: &str) {
        let verdict = match self.limiter.lock().unwrap().as_mut() {
            Some(l) => l.check(text.len(), std::time::Instant::now()),
            None => Verdict::Pass,
        };
        match verdict {
            Verdict::Pass => self.push_cell(source, stream, text),
            Verdict::Drop => {}
            Verdict::Report(message) => {
                crate::log_rate::count_exceeded(self.shipping().as_ref());
                self.push_cell(source, Stream::Stdout, &message);
            }
        }
    }

    /// A line of the executor's own (Diego's `SendAppLog`): never limited.
    pub fn push_cell(&self, source: &str, stream: Stream, text: &str) {
        if let Some(s) = self.shipping.lock().unwrap().as_ref() {
            s.ship(source, stream, text);
        }
        let line = LogLine {
            source: source.to_string(),
            stream,
            text: text.to_string(),
            timestamp_ns: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos() as i64)
                .unwrap_or(0),
        };
        let mut lines = self.lines.lock().unwrap();
        if lines.len() == self.capacity {
            lines.pop_front();
        }
        lines.push_back(line.clone());
        // Sent under the lock so `history_and_follow` sees each line once.
        // Nobody following is fine.
        let _ = self.tx.send(line);
    }

    /// The buffered lines, oldest first.
    pub fn lines(&self) -> Vec<LogLine> {
        self.lines.lock().unwrap().iter().cloned().collect()
    }

    /// The buffered lines and the lines after them, without gap or
    /// repetition (`diego logs --follow`).
    pub fn history_and_follow(&self) -> (Vec<LogLine>, broadcast::Receiver<LogLine>) {
        let lines = self.lines.lock().unwrap();
        (lines.iter().cloned().collect(), self.tx.subscribe())
    }

    /// Lines pushed from now on (a slow follower misses lines, told by
    /// `RecvError::Lagged`).
    pub fn subscribe(&self) -> broadcast::Receiver<LogLine> {
        self.tx.subscribe()
    }
}

/// Writes into an instance log under one source name.
#[derive(Clone)]
pub struct LogStreamer {
    log: Arc<InstanceLog>,
    source: String,
}

impl LogStreamer {
    pub fn new(log: Arc<InstanceLog>, source: &str) -> Self {
        Self {
            log,
            source: source.to_string(),
        }
    }

    /// The same log under `source`; an empty source keeps the current one
    /// (an action's `log_source` overrides the container's).
    pub fn with_source(&self, source: &str) -> Self {
        if source.is_empty() {
            self.clone()
        } else {
            Self::new(self.log.clone(), source)
        }
    }

    pub fn source_name(&self) -> &str {
        &self.source
    }

    /// Writes `text` to stdout, one log line per line of it.
    pub fn out(&self, text: &str) {
        self.emit(Stream::Stdout, text);
    }

    pub fn err(&self, text: &str) {
        self.emit(Stream::Stderr, text);
    }

    fn emit(&self, stream: Stream, text: &str) {
        if text.is_empty() {
            return;
        }
        for line in text.trim_end_matches('\n').split('\n') {
            self.log.push(&self.source, stream, line);
        }
    }

    pub fn stdout(&self) -> LineWriter {
        LineWriter::new(self.clone(), Stream::Stdout)
    }

    pub fn stderr(&self) -> LineWriter {
        LineWriter::new(self.clone(), Stream::Stderr)
    }
}

/// A process's output stream cut into log lines.
pub struct LineWriter {
    streamer: LogStreamer,
    stream: Stream,
    pending: Vec<u8>,
}

impl LineWriter {
    fn new(streamer: LogStreamer, stream: Stream) -> Self {
        Self {
            streamer,
            stream,
            pending: Vec::new(),
        }
    }

    fn push_line(&mut self, bytes: &[u8]) {
        let text = String::from_utf8_lossy(bytes);
        let text = text.strip_suffix('\r').unwrap_or(&text);
        self.streamer
            .log
            .push(&self.streamer.source, self.stream, text);
    }

    /// A whole line, in pieces of at most MAX_LINE_BYTES (a line can
    /// arrive in one read longer than that).
    fn push_split(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return self.push_line(bytes);
        }
        for piece in bytes.chunks(MAX_LINE_BYTES) {
            self.push_line(piece);
        }
    }

    fn write_bytes(&mut self, mut buf: &[u8]) {
        while let Some(nl) = buf.iter().position(|b| *b == b'\n') {
            if self.pending.is_empty() {
                self.push_split(&buf[..nl]);
            } else {
                let mut line = std::mem::take(&mut self.pending);
                line.extend_from_slice(&buf[..nl]);
                self.push_split(&line);
            }
            buf = &buf[nl + 1..];
        }
        self.pending.extend_from_slice(buf);
        while self.pending.len() >= MAX_LINE_BYTES {
            let rest = self.pending.split_off(MAX_LINE_BYTES);
            let full = std::mem::replace(&mut self.pending, rest);
            self.push_line(&full);
        }
    }

    fn finish(&mut self) {
        if !self.pending.is_empty() {
            let line = std::mem::take(&mut self.pending);
            self.push_line(&line);
        }
    }
}

impl AsyncWrite for LineWriter {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.write_bytes(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.finish();
        Poll::Ready(Ok(()))
    }
}

impl Drop for LineWriter {
    fn drop(&mut self) {
        self.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    #[tokio::test]
    async fn output_becomes_lines_in_a_bounded_buffer() {
        let log = InstanceLog::new(3);
        let mut follow = log.subscribe();
        let app = LogStreamer::new(log.clone(), "APP/PROC/WEB");
        let mut w = app.stdout();
        w.write_all(b"one\ntw").await.unwrap();
        w.write_all(b"o\r\nthree\nfour").await.unwrap();
        w.shutdown().await.unwrap();
        app.with_source("HEALTH").err("five\n");
        let texts: Vec<_> = log.lines().into_iter().map(|l| l.text).collect();
        assert_eq!(texts, ["three", "four", "five"]);
        let first = follow.recv().await.unwrap();
        assert_eq!((first.text.as_str(), first.stream), ("one", Stream::Stdout));
        assert_eq!(log.lines()[2].source, "HEALTH");
        assert_eq!(log.lines()[2].stream, Stream::Stderr);

        let (history, mut rest) = log.history_and_follow();
        app.out("six");
        assert_eq!(history.len(), 3);
        assert_eq!(rest.recv().await.unwrap().text, "six");
        assert!(rest.try_recv().is_err());
    }

    #[test]
    fn long_lines_are_split() {
        let log = InstanceLog::new(10);
        let mut w = LogStreamer::new(log.clone(), "X").stdout();
        w.write_bytes(&vec![b'a'; MAX_LINE_BYTES + 10]);
        drop(w);
        let lines = log.lines();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[1].text.len(), 10);
    }

    #[test]
    fn long_lines_ending_in_one_read_are_split_too() {
        let log = InstanceLog::new(10);
        let mut w = LogStreamer::new(log.clone(), "X").stdout();
        // Whole in one read, newline included.
        let mut line = vec![b'a'; MAX_LINE_BYTES + 10];
        line.push(b'\n');
        w.write_bytes(&line);
        // Partly pending, the rest and its newline in the next read.
        w.write_bytes(&[b'b'; 100]);
        let mut rest = vec![b'b'; MAX_LINE_BYTES];
        rest.push(b'\n');
        w.write_bytes(&rest);
        let lens: Vec<usize> = log.lines().iter().map(|l| l.text.len()).collect();
        assert_eq!(lens, [MAX_LINE_BYTES, 10, MAX_LINE_BYTES, 100]);
    }
}
