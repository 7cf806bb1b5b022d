//! The shared server against hostile and careless clients, with short
//! timeouts: stalled connections close within them, over-limit bodies are
//! refused unread, the buffered-bytes budget and the in-flight cap hold,
//! event streams outlive the idle timeout, shutdown drains.

use axum::body::Body;
use axum::routing::{get, post};
use axum::Router;
use http_body_util::BodyExt;
use httpserve::{Server, ServerSettings};
use models::go_duration::GoDuration;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

fn settings() -> ServerSettings {
    let s = |ms| GoDuration(Duration::from_millis(ms));
    ServerSettings {
        tls_handshake_timeout: s(1000),
        header_read_timeout: s(1000),
        body_read_timeout: s(1000),
        idle_timeout: s(2000),
        max_connections: 1000,
        max_requests_in_flight: 8,
        max_request_body_bytes: 1 << 20,
        max_buffered_request_bytes: 2 << 20,
        drain_timeout: s(3000),
    }
}

fn app() -> Router {
    Router::new()
        .route("/ping", get(|| async { "pong" }))
        .route(
            "/len",
            post(|body: Body| async move {
                match body.collect().await {
                    Ok(c) => c.to_bytes().len().to_string(),
                    Err(e) if httpserve::is_body_too_large(&e) => "too large".into(),
                    Err(e) => format!("error: {e}"),
                }
            }),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(2)).await;
                "slow"
            }),
        )
        .route(
            "/stream",
            // 8 pieces 0.5 s apart: longer than the idle timeout.
            get(|| async {
                Body::from_stream(futures::stream::unfold(0, |i| async move {
                    if i == 8 {
                        return None;
                    }
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    Some((Ok::<_, std::io::Error>(format!("{i}\n")), i + 1))
                }))
            }),
        )
}

struct Running {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

async fn start(server: Server) -> Running {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(server.serve(listener, app(), async {
        let _ = rx.await;
    }));
    Running {
        addr,
        stop: Some(tx),
        task,
    }
}

async fn plain() -> Running {
    start(Server::new(settings())).await
}

/// Reads until the server closes (or errs); the time it took.
async fn closed_after(mut c: TcpStream) -> Duration {
    let t = Instant::now();
    let mut buf = vec![0u8; 4096];
    loop {
        match c.read(&mut buf).await {
            Ok(0) | Err(_) => return t.elapsed(),
            Ok(_) => {}
        }
    }
}

/// A raw request and the whole answer (status line first).
async fn raw(addr: SocketAddr, request: &[u8]) -> String {
    let mut c = TcpStream::connect(addr).await.unwrap();
    c.write_all(request).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), c.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

async fn ping_ms(addr: SocketAddr) -> u128 {
    let t = Instant::now();
    let r = reqwest::get(format!("http://{addr}/ping")).await.unwrap();
    assert_eq!(r.text().await.unwrap(), "pong");
    t.elapsed().as_millis()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_connections_close_within_the_timeouts_while_pings_answer() {
    // The 100 stalled bodies are requests in flight until they time out.
    let s = start(Server::new(ServerSettings {
        max_requests_in_flight: 200,
        ..settings()
    }))
    .await;
    let mut stalled = Vec::new();
    for i in 0..300 {
        let mut c = TcpStream::connect(s.addr).await.unwrap();
        match i % 3 {
            0 => {} // nothing at all
            1 => c
                .write_all(b"POST /len HTTP/1.1\r\nHost: x\r\n")
                .await
                .unwrap(),
            _ => c
                .write_all(b"POST /len HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc")
                .await
                .unwrap(),
        }
        stalled.push(tokio::spawn(closed_after(c)));
    }
    let mut worst_ping = 0;
    for _ in 0..10 {
        worst_ping = worst_ping.max(ping_ms(s.addr).await);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(worst_ping < 500, "ping took {worst_ping} ms under attack");
    for c in stalled {
        let t = c.await.unwrap();
        // 1 s timeouts; a body stall answers, then closes.
        assert!(t < Duration::from_millis(2500), "closed after {t:?}");
    }
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    let s = plain().await;
    let mut c = TcpStream::connect(s.addr).await.unwrap();
    c.write_all(b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let t = closed_after(c).await;
    assert!(t < Duration::from_millis(2500), "closed after {t:?}");
}

#[tokio::test]
async fn a_body_declared_too_large_is_refused_unread() {
    let s = plain().await;
    let t = Instant::now();
    let answer = raw(
        s.addr,
        b"POST /len HTTP/1.1\r\nHost: x\r\nContent-Length: 10485760\r\n\r\n",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(
        answer.contains("exceeds the limit of 1048576 bytes"),
        "{answer}"
    );
    assert!(
        t.elapsed() < Duration::from_millis(900),
        "{:?}",
        t.elapsed()
    );
}

#[tokio::test]
async fn a_body_without_a_length_is_cut_at_the_limit() {
    let s = plain().await;
    let big = vec![b'a'; (1 << 20) + 10];
    let stream = futures::stream::iter(
        big.chunks(64 * 1024)
            .map(|c| Ok::<_, std::io::Error>(c.to_vec()))
            .collect::<Vec<_>>(),
    );
    let r = reqwest::Client::new()
        .post(format!("http://{}/len", s.addr))
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .unwrap();
    assert_eq!(r.text().await.unwrap(), "too large");
    let r = reqwest::Client::new()
        .post(format!("http://{}/len", s.addr))
        .body(vec![b'a'; 1 << 20])
        .send()
        .await
        .unwrap();
    assert_eq!(r.text().await.unwrap(), (1 << 20).to_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_wait_for_room_in_the_budget() {
    let s = plain().await;
    // Two unfinished 1 MiB bodies, trickling on, hold the whole 2 MiB
    // budget...
    let mut holders = Vec::new();
    for _ in 0..2 {
        let mut c = TcpStream::connect(s.addr).await.unwrap();
        holders.push(tokio::spawn(async move {
            c.write_all(b"POST /len HTTP/1.1\r\nHost: x\r\nContent-Length: 1048576\r\n\r\n")
                .await
                .unwrap();
            c.write_all(&vec![b'a'; 100_000]).await.unwrap();
            loop {
                tokio::time::sleep(Duration::from_millis(300)).await;
                if c.write_all(b"a").await.is_err() {
                    return;
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    // ...so a third waits and, past the body timeout, answers 503.
    let c = reqwest::Client::new();
    let r = c
        .post(format!("http://{}/len", s.addr))
        .body(vec![b'a'; 1 << 20])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    // The two give up; then there is room again.
    for h in &holders {
        h.abort();
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let r = c
        .post(format!("http://{}/len", s.addr))
        .body(vec![b'a'; 1 << 20])
        .send()
        .await
        .unwrap();
    assert_eq!(r.text().await.unwrap(), (1 << 20).to_string());
    // A body-less request never waits for the budget.
    assert!(ping_ms(s.addr).await < 500);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_beyond_the_in_flight_cap_answer_503() {
    let s = plain().await;
    let c = reqwest::Client::new();
    let slow: Vec<_> = (0..8)
        .map(|_| {
            let (c, url) = (c.clone(), format!("http://{}/slow", s.addr));
            tokio::spawn(async move { c.get(url).send().await.unwrap().status() })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let r = c
        .get(format!("http://{}/ping", s.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    for t in slow {
        assert_eq!(t.await.unwrap(), 200);
    }
    assert!(ping_ms(s.addr).await < 500);
}

#[tokio::test]
async fn a_stream_outlives_the_idle_timeout() {
    let s = plain().await;
    let t = Instant::now();
    let body = reqwest::get(format!("http://{}/stream", s.addr))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(body.lines().count(), 8, "{body}");
    assert!(t.elapsed() > Duration::from_secs(3));
}

#[tokio::test]
async fn shutdown_lets_open_requests_finish() {
    let mut s = plain().await;
    let url = format!("http://{}/slow", s.addr);
    let slow = tokio::spawn(async move { reqwest::get(url).await.unwrap().text().await.unwrap() });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let _ = s.stop.take().unwrap().send(());
    assert_eq!(slow.await.unwrap(), "slow");
    tokio::time::timeout(Duration::from_secs(5), s.task)
        .await
        .unwrap()
        .unwrap();
    assert!(TcpStream::connect(s.addr).await.is_err());
}

#[tokio::test]
async fn tls_handshakes_time_out_and_need_a_client_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let ca = testkit::tls::TestCa::new("ca");
    let files = ca.write(dir.path(), "server", &ca.issue("server", &["localhost"]));
    let tls =
        tlsconfig::mutual_tls_server_config(&files.ca_file, &files.cert_file, &files.key_file)
            .unwrap();
    let s = start(Server::new(settings()).tls(Some(std::sync::Arc::new(tls)))).await;

    let silent = TcpStream::connect(s.addr).await.unwrap();
    let t = closed_after(silent).await;
    assert!(t < Duration::from_millis(1800), "closed after {t:?}");

    let client = |id: Option<&testkit::tls::Identity>| {
        let b = reqwest::Client::builder()
            .use_rustls_tls()
            .add_root_certificate(reqwest::Certificate::from_pem(ca.pem().as_bytes()).unwrap());
        match id {
            Some(id) => b.identity(
                reqwest::Identity::from_pem(format!("{}{}", id.cert_pem, id.key_pem).as_bytes())
                    .unwrap(),
            ),
            None => b,
        }
        .build()
        .unwrap()
    };
    let url = format!("https://localhost:{}/ping", s.addr.port());
    let good = ca.issue("client", &["client"]);
    let r = client(Some(&good)).get(&url).send().await.unwrap();
    assert_eq!(r.text().await.unwrap(), "pong");
    assert!(client(None).get(&url).send().await.is_err());
}

/// A request whose body stalls holds an in-flight slot only until the
/// body-read timeout: then it is answered and the slot is free again,
/// while a response stream (an event stream) runs past that timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_body_frees_its_slot_at_the_body_read_timeout() {
    let s = plain().await;
    let stream = tokio::spawn({
        let url = format!("http://{}/stream", s.addr);
        async move { reqwest::get(url).await.unwrap().text().await.unwrap() }
    });
    let mut stalled = Vec::new();
    // The stream holds one slot until its headers are out; the rest stall.
    tokio::time::sleep(Duration::from_millis(100)).await;
    for _ in 0..8 {
        let mut c = TcpStream::connect(s.addr).await.unwrap();
        c.write_all(b"POST /len HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nonly a bit")
            .await
            .unwrap();
        stalled.push(c);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let c = reqwest::Client::new();
    let url = format!("http://{}/ping", s.addr);
    assert_eq!(c.get(&url).send().await.unwrap().status(), 503);
    let t = Instant::now();
    loop {
        if c.get(&url).send().await.unwrap().status() == 200 {
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(3), "slots still held");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let freed = t.elapsed();
    assert!(freed < Duration::from_millis(1500), "freed after {freed:?}");
    for mut c in stalled {
        let mut answer = String::new();
        let _ = c.read_to_string(&mut answer).await;
        assert!(answer.contains("error"), "{answer}");
    }
    assert_eq!(stream.await.unwrap().lines().count(), 8);
}
