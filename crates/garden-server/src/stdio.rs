//! A process's stdio as Garden's server wires it: each output goes to
//! every connection attached to the process (guardian's
//! DynamicMultiWriter), through a buffered channel per connection that
//! drops what a slow reader leaves behind instead of stalling the process
//! (garden's `chanWriter`, 4000 chunks); stdin is fed by the attached
//! connections and ends once all of them closed theirs.

use axum::body::Bytes;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;

/// Garden's per-stream channel depth (`make(chan []byte, 4000)`).
pub const STREAM_CHUNKS: usize = 4000;

/// One output (stdout or stderr) of a process and who reads it.
#[derive(Default)]
pub struct Output {
    state: Mutex<OutputState>,
}

#[derive(Default)]
struct OutputState {
    readers: Vec<mpsc::Sender<Bytes>>,
    /// The process's end of the pipe is gone: no more output.
    closed: bool,
}

impl Output {
    /// A new reader, fed from now on (one that ends at once if the output
    /// already ended).
    pub fn subscribe(&self) -> mpsc::Receiver<Bytes> {
        let (tx, rx) = mpsc::channel(STREAM_CHUNKS);
        let mut s = self.state.lock().unwrap();
        if !s.closed {
            s.readers.push(tx);
        }
        rx
    }

    fn send(&self, chunk: Bytes) {
        let mut s = self.state.lock().unwrap();
        s.readers.retain(|r| match r.try_send(chunk.clone()) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                tracing::debug!("garden-stream-full-output-dropped");
                true
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        });
    }

    fn close(&self) {
        let mut s = self.state.lock().unwrap();
        s.closed = true;
        s.readers.clear();
    }
}

/// The writer the backend copies a process's output into.
pub struct OutputWriter(pub Arc<Output>);

impl AsyncWrite for OutputWriter {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.0.send(Bytes::copy_from_slice(buf));
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.0.close();
        Poll::Ready(Ok(()))
    }
}

impl Drop for OutputWriter {
    /// The backend is done with the output: every reader sees its end.
    fn drop(&mut self) {
        self.0.close();
    }
}

/// The process's stdin: what the attached connections send, ended when
/// every sender is gone.
pub fn stdin() -> (mpsc::Sender<Bytes>, Box<dyn AsyncRead + Send + Unpin>) {
    let (tx, rx) = mpsc::channel::<Bytes>(16);
    let chunks = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<_, io::Error>(b), rx))
    });
    let reader = tokio_util::io::StreamReader::new(Box::pin(chunks));
    (tx, Box::new(reader))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn output_reaches_every_reader_until_closed() {
        let out = Arc::new(Output::default());
        let mut a = out.subscribe();
        let mut w = OutputWriter(out.clone());
        w.write_all(b"one").await.unwrap();
        let mut b = out.subscribe();
        w.write_all(b"two").await.unwrap();
        drop(w);
        assert_eq!(a.recv().await.unwrap(), "one");
        assert_eq!(a.recv().await.unwrap(), "two");
        assert!(a.recv().await.is_none());
        assert_eq!(b.recv().await.unwrap(), "two");
        assert!(b.recv().await.is_none());
        // After the end a reader gets nothing.
        assert!(out.subscribe().recv().await.is_none());
    }

    #[tokio::test]
    async fn stdin_ends_when_all_senders_are_gone() {
        let (tx, mut rd) = stdin();
        let tx2 = tx.clone();
        tx.send(Bytes::from_static(b"a")).await.unwrap();
        drop(tx);
        tx2.send(Bytes::from_static(b"b")).await.unwrap();
        drop(tx2);
        let mut s = String::new();
        rd.read_to_string(&mut s).await.unwrap();
        assert_eq!(s, "ab");
    }
}
