//! Garden's Stop, the same on every backend (tests/stop.rs: houdini,
//! tests/runc.rs: runc): driven through the API with the Go-free client.
//! The server under test has a stop timeout of [`STOP_TIMEOUT`].

#![allow(dead_code)]

use crate::process_client::{call, run, Addr};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// The backend's wait between SIGTERM and SIGKILL in these tests
/// (Garden's 10 s, shortened through the backend's setting).
pub const STOP_TIMEOUT: Duration = Duration::from_secs(3);

fn sh(script: &str) -> Value {
    json!({"path": "sh", "args": ["-c", script]})
}

/// Runs `script` after it marks itself ready (its traps set) in a
/// relative file `mark`; returns once the mark is there.
async fn started(
    addr: &Addr,
    handle: &str,
    mark: &str,
    script: &str,
) -> crate::process_client::Process {
    let p = run(
        addr,
        handle,
        sh(&format!(
            "{script}; touch {mark}; while true; do sleep 0.1; done"
        )),
    )
    .await
    .unwrap();
    for _ in 0..200 {
        let probe = run(addr, handle, sh(&format!("test -e {mark}")))
            .await
            .unwrap();
        if probe.wait().await["exit_status"] == 0 {
            return p;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{script}: never ready");
}

async fn state(addr: &Addr, handle: &str) -> Value {
    let (s, info) = call(
        addr,
        "GET",
        &format!("/containers/{handle}/info"),
        &json!({}),
    )
    .await;
    assert_eq!(s, 200, "{info}");
    info["State"].clone()
}

/// Stop without kill: a process that handles SIGTERM exits with its own
/// status at once; one that ignores it is killed (137) after the wait.
pub async fn stop_terminates_then_kills(addr: &Addr, handle: &str) {
    assert_eq!(state(addr, handle).await, "active");
    let handler = started(addr, handle, "handler", "trap 'exit 42' TERM").await;
    let stubborn = started(addr, handle, "stubborn", "trap '' TERM").await;
    let t = Instant::now();
    let (s, v) = call(
        addr,
        "PUT",
        &format!("/containers/{handle}/stop"),
        &json!({"kill": false}),
    )
    .await;
    let took = t.elapsed();
    assert_eq!((s, v), (200, json!({})));
    assert!(
        took >= STOP_TIMEOUT,
        "stop waited for the stubborn one: {took:?}"
    );
    assert!(took < STOP_TIMEOUT * 3, "then killed it: {took:?}");
    assert_eq!(handler.wait().await["exit_status"], 42);
    assert_eq!(stubborn.wait().await["exit_status"], 137);
    assert_eq!(state(addr, handle).await, "stopped");
}

/// Stop without kill returns as soon as everything exited on SIGTERM.
pub async fn stop_is_quick_when_all_exit(addr: &Addr, handle: &str) {
    let p = started(addr, handle, "quick", "trap 'exit 7' TERM").await;
    let t = Instant::now();
    let (s, _) = call(
        addr,
        "PUT",
        &format!("/containers/{handle}/stop"),
        &json!({"kill": false}),
    )
    .await;
    assert_eq!(s, 200);
    assert!(t.elapsed() < STOP_TIMEOUT, "{:?}", t.elapsed());
    assert_eq!(p.wait().await["exit_status"], 7);
}

/// Stop with kill: SIGKILL at once, even for a SIGTERM handler.
pub async fn stop_with_kill(addr: &Addr, handle: &str) {
    let p = started(addr, handle, "killed", "trap 'exit 42' TERM").await;
    let t = Instant::now();
    let (s, _) = call(
        addr,
        "PUT",
        &format!("/containers/{handle}/stop"),
        &json!({"kill": true}),
    )
    .await;
    assert_eq!(s, 200);
    assert!(t.elapsed() < STOP_TIMEOUT, "{:?}", t.elapsed());
    assert_eq!(p.wait().await["exit_status"], 137);
    assert_eq!(state(addr, handle).await, "stopped");
}

/// Unknown handles: Garden's ContainerNotFoundError (404).
pub async fn unknown_handles(addr: &Addr) {
    for (path, body) in [
        ("/containers/ghost/stop", json!({"kill": true})),
        ("/containers/ghost/grace_time", json!(1_000_000_000u64)),
    ] {
        let (s, v) = call(addr, "PUT", path, &body).await;
        assert_eq!(s, 404, "{path}: {v}");
        assert_eq!(v["Type"], "ContainerNotFoundError");
        assert_eq!(v["Handle"], "ghost");
        assert_eq!(v["Message"], "unknown handle: ghost");
    }
}
