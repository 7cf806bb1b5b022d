//! Connections a server takes over from HTTP: Go's `http.Hijacker`, which
//! Garden's run and attach use to answer a status line and then speak
//! their own protocol on the raw socket. hyper gives up a connection only
//! after a `101 Switching Protocols`, so the choice is made before hyper
//! sees the connection: the first request line is read, and a connection
//! whose first request a [`Hijack`] wants goes to it whole (the bytes read
//! so far put back in front, see [`Prefixed`]).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};

/// A connection handed over raw.
pub trait RawConn: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> RawConn for T {}

pub type RawIo = Box<dyn RawConn>;

/// Takes over connections by their first request line.
pub trait Hijack: Send + Sync + 'static {
    /// Whether a connection whose first request is `method target` is
    /// this hijacker's (`target` as sent, query included).
    fn wants(&self, method: &str, target: &str) -> bool;
    /// Serves the connection from its first byte on; it closes when the
    /// future ends (or is dropped, when the server stops).
    fn serve(&self, io: RawIo) -> Pin<Box<dyn Future<Output = ()> + Send>>;
}

/// The longest first request line looked at; a longer one goes to hyper,
/// which refuses it.
const MAX_LINE: usize = 8192;

/// Reads the first request line: the first byte within `first_byte`, the
/// rest of the line within `line`. None: nothing came in time (the
/// connection is dropped). The bytes read are in `buf`.
pub(crate) async fn first_line<I: AsyncRead + Unpin>(
    io: &mut I,
    buf: &mut Vec<u8>,
    first_byte: Duration,
    line: Duration,
) -> Option<()> {
    let mut chunk = [0u8; 2048];
    let n = match tokio::time::timeout(first_byte, io.read(&mut chunk)).await {
        Ok(Ok(n)) if n > 0 => n,
        _ => return None,
    };
    buf.extend_from_slice(&chunk[..n]);
    let rest = async {
        while !buf.contains(&b'\n') && buf.len() < MAX_LINE {
            match io.read(&mut chunk).await {
                Ok(n) if n > 0 => buf.extend_from_slice(&chunk[..n]),
                _ => return None,
            }
        }
        Some(())
    };
    // A line that does not end in time still goes to hyper with what came:
    // its own header timeout answers it.
    match tokio::time::timeout(line, rest).await {
        Ok(None) => (!buf.is_empty()).then_some(()),
        _ => Some(()),
    }
}

/// `METHOD TARGET` of a request line, if `buf` holds a whole one.
pub(crate) fn request_line(buf: &[u8]) -> Option<(&str, &str)> {
    let end = buf.iter().position(|&b| b == b'\n')?;
    let line = std::str::from_utf8(&buf[..end])
        .ok()?
        .trim_end_matches('\r');
    let mut parts = line.split(' ');
    let (method, target, _version) = (parts.next()?, parts.next()?, parts.next()?);
    Some((method, target))
}

/// An io with bytes already read from it put back in front.
pub struct Prefixed<I> {
    prefix: Vec<u8>,
    at: usize,
    io: I,
}

impl<I> Prefixed<I> {
    pub fn new(prefix: Vec<u8>, io: I) -> Self {
        Prefixed { prefix, at: 0, io }
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for Prefixed<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.at < this.prefix.len() {
            let n = (this.prefix.len() - this.at).min(buf.remaining());
            buf.put_slice(&this.prefix[this.at..this.at + n]);
            this.at += n;
            if this.at == this.prefix.len() {
                this.prefix = Vec::new();
                this.at = 0;
            }
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.io).poll_read(cx, buf)
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Prefixed<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_lines() {
        assert_eq!(
            request_line(b"POST /containers/a/processes HTTP/1.1\r\nHost: x\r\n"),
            Some(("POST", "/containers/a/processes"))
        );
        assert_eq!(request_line(b"GET /ping HTTP/1.1"), None);
        assert_eq!(request_line(b"\r\n"), None);
    }

    #[tokio::test]
    async fn prefixed_reads_the_prefix_first() {
        let (mut a, b) = tokio::io::duplex(64);
        tokio::io::AsyncWriteExt::write_all(&mut a, b" world")
            .await
            .unwrap();
        drop(a);
        let mut p = Prefixed::new(b"hello".to_vec(), b);
        let mut s = String::new();
        p.read_to_string(&mut s).await.unwrap();
        assert_eq!(s, "hello world");
    }
}
