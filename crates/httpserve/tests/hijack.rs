//! Connections handed over raw: a first request line the hijacker wants
//! goes to it with every byte (the line included); others reach the
//! router; a stalled first line still closes within the timeouts; a unix
//! socket serves both.

use axum::routing::get;
use axum::Router;
use httpserve::{Hijack, RawIo, Server, ServerSettings};
use models::go_duration::GoDuration;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Answers a status line, then echoes back what it read, upper-cased.
struct Echo;

impl Hijack for Echo {
    fn wants(&self, method: &str, target: &str) -> bool {
        method == "POST" && target.starts_with("/raw")
    }

    fn serve(&self, mut io: RawIo) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(async move {
            let mut buf = vec![0u8; 4096];
            let _ = io.write_all(b"HTTP/1.1 201 Created\r\n\r\n").await;
            while let Ok(n) = io.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                let up = buf[..n].to_ascii_uppercase();
                if io.write_all(&up).await.is_err() {
                    break;
                }
            }
        })
    }
}

fn settings() -> ServerSettings {
    ServerSettings {
        tls_handshake_timeout: GoDuration(Duration::from_millis(500)),
        header_read_timeout: GoDuration(Duration::from_millis(500)),
        ..Default::default()
    }
}

fn app() -> Router {
    Router::new().route("/ping", get(|| async { "pong" }))
}

async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(mut c: S) {
    c.write_all(b"POST /raw HTTP/1.1\r\nHost: x\r\n\r\nhello")
        .await
        .unwrap();
    let mut got = vec![0u8; 256];
    let mut text = String::new();
    while !text.ends_with("HELLO") {
        let n = c.read(&mut got).await.unwrap();
        assert!(n > 0, "closed early: {text:?}");
        text.push_str(std::str::from_utf8(&got[..n]).unwrap());
    }
    assert_eq!(
        text,
        "HTTP/1.1 201 Created\r\n\r\nPOST /RAW HTTP/1.1\r\nHOST: X\r\n\r\nHELLO"
    );
}

async fn ping<S: AsyncRead + AsyncWrite + Unpin>(mut c: S) -> String {
    c.write_all(b"GET /ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut s = String::new();
    c.read_to_string(&mut s).await.unwrap();
    s
}

#[tokio::test]
async fn hijacked_and_routed_connections_on_tcp_and_unix() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = Server::new(settings()).hijack(Arc::new(Echo));
    let task = tokio::spawn(server.serve(listener, app(), async {
        let _ = stopped.await;
    }));
    exchange(tokio::net::TcpStream::connect(addr).await.unwrap()).await;
    let answer = ping(tokio::net::TcpStream::connect(addr).await.unwrap()).await;
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert!(answer.ends_with("pong"), "{answer}");

    // A first line that never ends closes within the header timeout.
    let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
    c.write_all(b"POST /ra").await.unwrap();
    let t = Instant::now();
    let mut rest = Vec::new();
    let _ = c.read_to_end(&mut rest).await;
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());

    // Shutdown ends a hijacked connection still open.
    let mut held = tokio::net::TcpStream::connect(addr).await.unwrap();
    held.write_all(b"POST /raw HTTP/1.1\r\n\r\n").await.unwrap();
    let mut b = [0u8; 64];
    let _ = held.read(&mut b).await.unwrap();
    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("server stops")
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("s.sock");
    let listener = tokio::net::UnixListener::bind(&sock).unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = Server::new(settings()).hijack(Arc::new(Echo));
    let task = tokio::spawn(server.serve_unix(listener, app(), async {
        let _ = stopped.await;
    }));
    exchange(tokio::net::UnixStream::connect(&sock).await.unwrap()).await;
    let answer = ping(tokio::net::UnixStream::connect(&sock).await.unwrap()).await;
    assert!(answer.ends_with("pong"), "{answer}");
    let _ = stop.send(());
    task.await.unwrap();
}
