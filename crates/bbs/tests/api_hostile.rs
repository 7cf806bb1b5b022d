//! Hostile and careless clients against the BBS (issue 21), with short
//! timeouts: hundreds of half-sent connections and concurrent large
//! unfinished bodies. Stalled connections close within the timeouts, the
//! process's memory stays bounded, ping keeps answering; an over-limit
//! body and an over-limit definition answer Diego's InvalidRequest naming
//! the limit.

mod api_support;

use api_support::*;
use models::go_duration::GoDuration;
use models::*;
use prost::Message;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const MIB: usize = 1024 * 1024;

async fn start() -> TestBbs {
    TestBbs::start_with(
        |cfg| {
            let s = |ms| GoDuration(Duration::from_millis(ms));
            cfg.server.tls_handshake_timeout = s(1000);
            cfg.server.header_read_timeout = s(1000);
            cfg.server.body_read_timeout = s(2000);
            cfg.server.max_request_body_bytes = 8 * MIB;
            cfg.server.max_buffered_request_bytes = 16 * MIB;
            cfg.max_definition_bytes = 64 * 1024;
        },
        Default::default(),
    )
    .await
}

fn addr(bbs: &TestBbs) -> SocketAddr {
    bbs.base.trim_start_matches("http://").parse().unwrap()
}

/// This process's resident memory (the BBS runs in it), MiB.
fn rss_mib() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kib: usize = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap();
    kib / 1024
}

/// Reads until the server closes; the time it took.
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

/// Sends the head of a `declared`-byte body, then `sent` zero bytes (from
/// one shared buffer: the client holds no copies), then stalls.
async fn unfinished_body(addr: SocketAddr, declared: usize, sent: usize) -> TcpStream {
    static ZEROS: [u8; 64 * 1024] = [0; 64 * 1024];
    let mut c = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /v1/desired_lrp/desire.r2 HTTP/1.1\r\nHost: bbs\r\n\
         Content-Type: application/x-protobuf\r\nContent-Length: {declared}\r\n\r\n"
    );
    c.write_all(head.as_bytes()).await.unwrap();
    let mut left = sent;
    while left > 0 {
        let n = left.min(ZEROS.len());
        // The server may not read (waiting for budget): give up quietly.
        match tokio::time::timeout(Duration::from_millis(500), c.write_all(&ZEROS[..n])).await {
            Ok(Ok(())) => left -= n,
            _ => break,
        }
    }
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bbs_holds_up_under_stalled_connections_and_large_bodies() {
    let bbs = start().await;
    let a = addr(&bbs);
    assert!(bbs.ping().await);
    let before = rss_mib();

    let mut stalled = Vec::new();
    for i in 0..300 {
        let mut c = TcpStream::connect(a).await.unwrap();
        if i % 2 == 1 {
            c.write_all(b"POST /v1/ping HTTP/1.1\r\nHost: bbs\r\n")
                .await
                .unwrap();
        }
        stalled.push(tokio::spawn(closed_after(c)));
    }
    // 16 connections each holding 7 MiB of an unfinished 7.5 MiB body:
    // 112 MiB if buffered; the budget admits 16 MiB.
    let bodies: Vec<_> = (0..16)
        .map(|_| tokio::spawn(unfinished_body(a, 7 * MIB + MIB / 2, 7 * MIB)))
        .collect();

    let mut worst = Duration::ZERO;
    let mut peak = before;
    for _ in 0..20 {
        let t = Instant::now();
        assert!(bbs.ping().await);
        worst = worst.max(t.elapsed());
        peak = peak.max(rss_mib());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for s in stalled {
        let t = s.await.unwrap();
        assert!(
            t < Duration::from_millis(2500),
            "stalled connection closed after {t:?}"
        );
    }
    let mut held = Vec::new();
    for b in bodies {
        held.push(b.await.unwrap());
        peak = peak.max(rss_mib());
    }
    eprintln!("rss {before} MiB before, peak {peak} MiB; slowest ping {worst:?} during the attack");
    assert!(worst < Duration::from_secs(1), "ping took {worst:?}");
    assert!(
        peak - before < 80,
        "memory grew from {before} to {peak} MiB"
    );
    // The unfinished bodies are answered (timed out or refused) and closed.
    for c in held {
        let t = tokio::time::timeout(Duration::from_secs(10), closed_after(c)).await;
        assert!(t.is_ok(), "an unfinished body's connection stayed open");
    }
    assert!(bbs.ping().await);
    bbs.shutdown().await;
}

#[tokio::test]
async fn an_over_limit_body_answers_invalid_request_unread() {
    let bbs = start().await;
    let mut c = TcpStream::connect(addr(&bbs)).await.unwrap();
    let head = format!(
        "POST /v1/desired_lrp/desire.r2 HTTP/1.1\r\nHost: bbs\r\nContent-Length: {}\r\n\r\n",
        40 * MIB
    );
    c.write_all(head.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(1), c.read_to_end(&mut out))
        .await
        .expect("answered without the body being sent")
        .unwrap();
    let text = String::from_utf8_lossy(&out);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    let body = &out[text.find("\r\n\r\n").unwrap() + 4..];
    let r = DesiredLrpLifecycleResponse::decode(body).unwrap();
    let e = r.error.unwrap();
    assert_eq!(e.r#type, ErrorType::InvalidRequest as i32);
    assert_eq!(
        e.message,
        format!("request body exceeds the limit of {} bytes", 8 * MIB)
    );

    // The event stream routes answer too (they used to never answer).
    let (status, body) = bbs.post_raw("/v1/events/tasks.r1", vec![0; 9 * MIB]).await;
    assert_eq!(status, 200);
    let e = TaskLifecycleResponse::decode(body).unwrap().error.unwrap();
    assert_eq!(e.r#type, ErrorType::InvalidRequest as i32);
    bbs.shutdown().await;
}

#[tokio::test]
async fn definitions_over_the_limit_are_invalid_requests() {
    let bbs = start().await;
    // Valid but for its size (an annotation is capped at 10 KiB by
    // validation; environment variables are not).
    let big = || EnvironmentVariable {
        name: "BIG".into(),
        value: "x".repeat(70 * 1024),
    };
    let mut lrp = desired_lrp("big", 1);
    lrp.environment_variables.push(big());
    let r: DesiredLrpLifecycleResponse = bbs
        .call(
            "/v1/desired_lrp/desire.r2",
            &DesireLrpRequest {
                desired_lrp: Some(lrp),
            },
        )
        .await;
    let e = r.error.expect("refused");
    assert_eq!(e.r#type, ErrorType::InvalidRequest as i32);
    assert!(e.message.contains("limit of 65536 bytes"), "{}", e.message);

    let mut def = task_definition();
    def.environment_variables.push(big());
    let r: TaskLifecycleResponse = bbs
        .call(
            "/v1/tasks/desire.r2",
            &DesireTaskRequest {
                task_definition: Some(def),
                task_guid: "big".into(),
                domain: "d".into(),
            },
        )
        .await;
    let e = r.error.expect("refused");
    assert_eq!(e.r#type, ErrorType::InvalidRequest as i32);
    // Nothing was stored.
    let d: DesiredLrPsResponse = bbs
        .call("/v1/desired_lrps/list.r3", &DesiredLrPsRequest::default())
        .await;
    assert!(d.desired_lrps.is_empty());
    bbs.shutdown().await;
}
