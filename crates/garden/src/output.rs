//! Copying a process's stdout or stderr out of its pipe, and saying when
//! the output it wrote before exiting has all arrived.
//!
//! The pipe reaches end-of-file only when every holder of its write end
//! has gone, and a background child (`cmd &`) inherits it: waiting for
//! end-of-file would hold a process's exit status hostage to its
//! descendants. Everything the process wrote is already in the pipe when
//! it exits, so after the exit the copy only waits a moment for more.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{oneshot, watch};
use tokio::time::Instant;

/// After the exit, a read that finds nothing for this long ends the drain:
/// output written before the exit is readable at once, so only a lingering
/// descendant can keep the pipe quiet-but-open.
const DRAIN_IDLE: Duration = Duration::from_millis(200);

/// A descendant that keeps writing does not hold the exit longer than this.
const DRAIN_MAX: Duration = Duration::from_secs(1);

/// Tells the copies of one process that it has exited.
pub(crate) struct Exit(watch::Sender<bool>);

impl Exit {
    pub(crate) fn new() -> Self {
        Exit(watch::channel(false).0)
    }

    pub(crate) fn exited(&self) {
        self.0.send_replace(true);
    }

    /// Copies `from` to `to` (or discards it) until end-of-file; the
    /// returned receiver fires when the output is drained: at end-of-file,
    /// or once the process has exited and the pipe stays quiet
    /// [`DRAIN_IDLE`] (at most [`DRAIN_MAX`] after the exit). Later output
    /// of descendants is still copied, so they never write to a closed
    /// pipe (SIGPIPE).
    pub(crate) fn copy(
        &self,
        from: impl AsyncRead + Unpin + Send + 'static,
        to: Option<Box<dyn AsyncWrite + Send + Unpin>>,
    ) -> oneshot::Receiver<()> {
        let (tx, rx) = oneshot::channel();
        tokio::spawn(copy(from, to, self.0.subscribe(), tx));
        rx
    }
}

/// Waits until every copy is drained.
pub(crate) async fn drained(copies: Vec<oneshot::Receiver<()>>) {
    for c in copies {
        // A copy that went away has nothing more to deliver either.
        let _ = c.await;
    }
}

async fn copy(
    mut from: impl AsyncRead + Unpin,
    mut to: Option<Box<dyn AsyncWrite + Send + Unpin>>,
    mut exit: watch::Receiver<bool>,
    drained: oneshot::Sender<()>,
) {
    let mut drained = Some(drained);
    // When the drain must end, once the process has exited.
    let mut give_up: Option<Instant> = None;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let read = match (&drained, give_up) {
            (None, _) => from.read(&mut buf).await,
            (Some(_), None) => tokio::select! {
                // Reading is cancel safe: nothing is lost if the exit wins.
                r = from.read(&mut buf) => r,
                _ = exit.wait_for(|e| *e) => {
                    give_up = Some(Instant::now() + DRAIN_MAX);
                    continue;
                }
            },
            (Some(_), Some(limit)) => {
                let quiet_until = (Instant::now() + DRAIN_IDLE).min(limit);
                match tokio::time::timeout_at(quiet_until, from.read(&mut buf)).await {
                    Ok(r) => r,
                    Err(_) => {
                        finish_drain(&mut to, &mut drained).await;
                        continue;
                    }
                }
            }
        };
        let n = match read {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if let Some(w) = to.as_mut() {
            // A destination that fails is dropped; the pipe is still read
            // so the writer is not killed by SIGPIPE.
            if w.write_all(&buf[..n]).await.is_err() {
                to = None;
            }
        }
        if give_up.is_some_and(|limit| Instant::now() >= limit) {
            finish_drain(&mut to, &mut drained).await;
        }
    }
    if let Some(mut w) = to {
        let _ = w.shutdown().await;
    }
    if let Some(d) = drained {
        let _ = d.send(());
    }
}

async fn finish_drain(
    to: &mut Option<Box<dyn AsyncWrite + Send + Unpin>>,
    drained: &mut Option<oneshot::Sender<()>>,
) {
    if let Some(w) = to.as_mut() {
        let _ = w.flush().await;
    }
    if let Some(d) = drained.take() {
        let _ = d.send(());
    }
}
