//! Test support: a real nats-server and real HTTP backends on loopback.
#![allow(dead_code)]

pub mod nats;

pub use self::nats::NatsServer;

use std::net::SocketAddr;
use std::time::Duration;

/// An HTTP backend answering every request with its `name`.
pub async fn backend(name: &'static str) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().fallback(move || async move { name });
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// A backend that accepts connections and closes them unanswered: the
/// request reached it, so only idempotent requests may be retried.
pub async fn hangs_up() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                // Read the request, then hang up without an answer.
                let _ = tokio::io::AsyncReadExt::read(&mut conn, &mut buf).await;
            });
        }
    });
    addr
}

/// A backend that reads the request, sends a response head promising a
/// body, and hangs up before the body (an app killed mid-answer).
pub async fn dies_after_head() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            tokio::spawn(async move {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let mut buf = [0u8; 4096];
                let _ = conn.read(&mut buf).await;
                let head = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n";
                let _ = conn.write_all(head).await;
            });
        }
    });
    addr
}

/// An endpoint whose connections are never accepted: a listener whose
/// accept queue (backlog 0) is already full, so the kernel drops further
/// SYNs, as for an instance whose network went away. Kept while alive.
pub struct BlackHole {
    pub addr: SocketAddr,
    _listener: tokio::net::TcpListener,
    _queued: Vec<tokio::net::TcpStream>,
}

pub async fn black_hole() -> BlackHole {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(0).unwrap();
    let addr = listener.local_addr().unwrap();
    let connect = || {
        tokio::time::timeout(
            Duration::from_millis(300),
            tokio::net::TcpStream::connect(addr),
        )
    };
    let mut queued = Vec::new();
    while let Ok(conn) = connect().await {
        queued.push(conn.unwrap());
        assert!(queued.len() < 8, "the accept queue of {addr} never fills");
    }
    assert!(!queued.is_empty());
    BlackHole {
        addr,
        _listener: listener,
        _queued: queued,
    }
}

/// A loopback address nothing listens on.
pub fn dead_addr() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

pub fn router_config(nats_url: &str) -> router::RouterConfig {
    router::RouterConfig {
        listen_address: "127.0.0.1:0".into(),
        nats_addresses: nats_url.into(),
        ..Default::default()
    }
}

pub fn registration(uri: &str, addr: SocketAddr) -> String {
    serde_json::json!({
        "host": addr.ip().to_string(),
        "port": addr.port(),
        "uris": [uri],
        "app": "app-guid",
        "private_instance_id": "ig",
        "tags": {"component": "route-emitter"},
    })
    .to_string()
}

/// GETs `path` through the router with `host` as Host; (status, body).
pub async fn get(router: SocketAddr, host: &str) -> (u16, String) {
    request(router, host, reqwest::Method::GET).await
}

pub async fn request(router: SocketAddr, host: &str, method: reqwest::Method) -> (u16, String) {
    let resp = reqwest::Client::new()
        .request(method, format!("http://{router}/"))
        .header("Host", host)
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

/// Polls `f` until true, for up to 10 s.
pub async fn eventually<F, Fut>(what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..200 {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("not within 10s: {what}");
}

/// A backend that can be stopped (its port then refuses connections).
pub async fn stoppable_backend(
    name: &'static str,
) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let app = axum::Router::new().fallback(move || async move { name });
    tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await
            .unwrap()
    });
    (addr, tx)
}
