//! Health checks against real servers on loopback: the houdini container's
//! address is 127.0.0.1, so a server started here is "in" the container.

mod common;
use axum::http::StatusCode;
use axum::routing::get;
use common::*;
use executor::{Event, State};
use models::{Check, CheckDefinition, HttpCheck, TcpCheck};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::Arc;
use std::time::Duration;

fn tcp(port: u16) -> Check {
    Check {
        tcp_check: Some(TcpCheck {
            port: port.into(),
            connect_timeout_ms: 200,
            interval_ms: 0,
        }),
        http_check: None,
    }
}

fn http(port: u16, path: &str) -> Check {
    Check {
        tcp_check: None,
        http_check: Some(HttpCheck {
            port: port.into(),
            request_timeout_ms: 500,
            path: path.into(),
            interval_ms: 100,
        }),
    }
}

/// An HTTP server answering /health with a status the test can change.
async fn health_server() -> (u16, Arc<AtomicU16>) {
    let status = Arc::new(AtomicU16::new(200));
    let s = status.clone();
    let router = axum::Router::new().route(
        "/health",
        get(move || {
            let s = s.clone();
            async move { StatusCode::from_u16(s.load(Ordering::SeqCst)).unwrap() }
        }),
    );
    (serve(router).await.port(), status)
}

/// A port nothing listens on.
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn with_checks(
    checks: Vec<Check>,
    readiness: Vec<Check>,
    start_timeout_ms: u64,
) -> executor::RunInfo {
    let mut info = run_info(sh("sleep 30"));
    info.check_definition = Some(CheckDefinition {
        checks,
        log_source: String::new(),
        readiness_checks: readiness,
    });
    info.start_timeout_ms = start_timeout_ms;
    info
}

#[tokio::test]
async fn tcp_and_http_checks_make_the_instance_running() {
    let cell = cell().await;
    let mut events = cell.store.subscribe();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let tcp_port = listener.local_addr().unwrap().port();
    let (http_port, _) = health_server().await;
    start(
        &cell.store,
        "healthy",
        with_checks(
            vec![tcp(tcp_port), http(http_port, "/health")],
            vec![],
            5000,
        ),
    )
    .await;
    let c = running(&cell.store, "healthy", 5).await;
    assert!(c.routable);
    let log = log_texts(&cell.store, "healthy");
    assert!(log.contains(&"Starting health monitoring of container".to_string()));
    assert!(log.contains(&"Container became healthy".to_string()));

    let mut seen = Vec::new();
    while let Ok(e) = events.try_recv() {
        seen.push(e);
    }
    assert_eq!(
        events_of(&seen, "healthy"),
        [
            "container_reserved",
            "container_created",
            "container_running"
        ]
    );
    cell.store.delete("healthy").await.unwrap();
    drop(listener);
}

#[tokio::test]
async fn never_healthy_fails_after_the_start_timeout() {
    let cell = cell().await;
    let port = closed_port();
    start(
        &cell.store,
        "never",
        with_checks(vec![tcp(port)], vec![], 500),
    )
    .await;
    let c = completed(&cell.store, "never", 10).await;
    assert!(c.run_result.failed);
    let reason = &c.run_result.failure_reason;
    assert!(
        reason.starts_with("Instance never healthy after "),
        "{reason}"
    );
    eprintln!("crash reason: {reason}");
    assert!(reason.contains(": Timed out after 500ms ("), "{reason}");
    assert!(
        reason.ends_with(&format!(
            "attempts) waiting for startup check to succeed: failed to make TCP connection to 127.0.0.1:{port}: dial tcp 127.0.0.1:{port}: connect: connection refused"
        )),
        "{reason}"
    );
    let lines = cell.store.logs("never").unwrap().lines();
    assert!(lines
        .iter()
        .any(|l| l.source == "HEALTH" && l.text.starts_with("Timed out after 500ms")));
    assert!(lines
        .iter()
        .any(|l| l.text.ends_with("startup health check never passed.")));
}

#[tokio::test]
async fn becoming_unhealthy_is_a_liveness_failure() {
    let cell = cell().await;
    let (port, status) = health_server().await;
    start(
        &cell.store,
        "sick",
        with_checks(vec![http(port, "/health")], vec![], 5000),
    )
    .await;
    running(&cell.store, "sick", 5).await;
    status.store(500, Ordering::SeqCst);
    let c = completed(&cell.store, "sick", 10).await;
    let reason = &c.run_result.failure_reason;
    let prefix = format!(
        "Instance became unhealthy: Liveness check unsuccessful: failed to make HTTP request to '/health' on port {port}: received status code 500 in "
    );
    assert!(
        reason.starts_with(&prefix) && reason.ends_with("ms"),
        "{reason}"
    );
    assert!(log_texts(&cell.store, "sick").contains(&"Container became unhealthy".to_string()));
}

#[tokio::test]
async fn legacy_monitor_action() {
    let cell = cell().await;
    let mut info = run_info(sh("sleep 0.3; touch ready; sleep 30"));
    info.monitor = Some(sh("test -f ready"));
    info.start_timeout_ms = 5000;
    start(&cell.store, "mon", info).await;
    running(&cell.store, "mon", 5).await;
    std::fs::remove_file(cell.dir.path().join("depot/mon/ready")).unwrap();
    let c = completed(&cell.store, "mon", 10).await;
    // The monitor's exit status is left out of its message, as in Diego.
    assert_eq!(c.run_result.failure_reason, "Instance became unhealthy: ");

    let mut info = run_info(sh("sleep 30"));
    info.monitor = Some(sh("false"));
    info.start_timeout_ms = 300;
    start(&cell.store, "mon-never", info).await;
    let c = completed(&cell.store, "mon-never", 10).await;
    assert!(
        c.run_result
            .failure_reason
            .starts_with("Instance never healthy after "),
        "{:?}",
        c.run_result
    );
}

#[tokio::test]
async fn readiness_toggles_routability() {
    let cell = cell().await;
    let mut events = cell.store.subscribe();
    let (port, status) = health_server().await;
    status.store(503, Ordering::SeqCst);
    start(
        &cell.store,
        "ready",
        with_checks(vec![], vec![http(port, "/health")], 0),
    )
    .await;
    let c = running(&cell.store, "ready", 5).await;
    assert!(!c.routable);
    status.store(200, Ordering::SeqCst);
    wait_routable(&cell, true).await;
    status.store(500, Ordering::SeqCst);
    wait_routable(&cell, false).await;
    let mut routable = Vec::new();
    while let Ok(e) = events.try_recv() {
        if let Event::Running(c) = e {
            routable.push(c.routable);
        }
    }
    assert_eq!(routable, [false, true, false]);
    assert_eq!(cell.store.get("ready").unwrap().state, State::Running);
    cell.store.delete("ready").await.unwrap();
}

async fn wait_routable(cell: &Cell, want: bool) {
    tokio::time::timeout(Duration::from_secs(5), async {
        while cell.store.get("ready").unwrap().routable != want {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("routability changed");
}

#[tokio::test]
async fn monitor_parts_fail_with_their_own_output() {
    let cell = cell().await;
    let mut info = run_info(sh("sleep 30"));
    info.monitor = Some(parallel(vec![
        sh("true"),
        sh("echo port 8081 is not answering; exit 1"),
    ]));
    info.start_timeout_ms = 300;
    start(&cell.store, "mon-out", info).await;
    let c = completed(&cell.store, "mon-out", 10).await;
    let reason = &c.run_result.failure_reason;
    assert!(
        reason.starts_with("Instance never healthy after "),
        "{reason}"
    );
    assert!(reason.ends_with(": port 8081 is not answering"), "{reason}");
    // The parts' output is not logged as output (only as the failure).
    let lines = cell.store.logs("mon-out").unwrap().lines();
    assert!(!lines
        .iter()
        .any(|l| l.stream == executor::logs::Stream::Stdout && l.text.contains("not answering")));
}
