//! A process's exit status arrives when the process exits, on both
//! backends: a background child still holding its stdout does not hold
//! the status back, and every byte the process wrote before exiting is
//! delivered before the status is (also when that child never lets the
//! pipe reach end-of-file).

mod common;

use std::time::{Duration, Instant};

use common::{skip_unless_able, spawn_sh, Buf};
use garden::houdini::HoudiniBackend;
use garden::{Backend, Capacity, ContainerSpec, ProcessIo, ProcessSpec};

/// Runs `sh -c script`; (exit status, time from run to status, stdout,
/// stderr) — the buffers keep filling with later output.
async fn run_sh(
    b: &dyn Backend,
    handle: &str,
    sh: &str,
    script: &str,
) -> (i32, Duration, Buf, Buf) {
    let started = Instant::now();
    let (p, out, err) = spawn_sh(b, handle, sh, "", script).await;
    let status = tokio::time::timeout(Duration::from_secs(20), p.wait())
        .await
        .expect("exit status within 20s")
        .unwrap();
    (status, started.elapsed(), out, err)
}

/// `seq 1 N`'s output.
fn seq(n: u32) -> String {
    (1..=n).map(|i| format!("{i}\n")).collect()
}

const LINES: u32 = 300_000; // about 2 MB

async fn exit_is_not_held_by_a_background_child(b: &dyn Backend, handle: &str, sh: &str) {
    let (status, took, out, _) = run_sh(
        b,
        handle,
        sh,
        "echo started; sleep 30 & echo $! > bg.pid; (sleep 0.3; echo late) & exit 3",
    )
    .await;
    eprintln!("{handle}: exit status {status} after {took:?}");
    assert_eq!(status, 3);
    assert!(took < Duration::from_secs(2), "exit took {took:?}");
    assert!(out.text().starts_with("started\n"), "{:?}", out.text());
    // What a descendant writes later still gets through (it is not killed
    // by a closed pipe).
    let deadline = Instant::now() + Duration::from_secs(5);
    while out.text() != "started\nlate\n" && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(out.text(), "started\nlate\n");
}

async fn all_output_arrives_before_the_status(b: &dyn Backend, handle: &str, sh: &str) {
    let expected = seq(LINES);
    let script = format!("seq 1 {LINES}; seq 1 1000 >&2; exit 0");
    let (status, took, out, err) = run_sh(b, handle, sh, &script).await;
    eprintln!(
        "{handle}: {} bytes, exit after {took:?}",
        out.0.lock().unwrap().len()
    );
    assert_eq!(status, 0);
    assert!(out.text() == expected, "stdout lost or mangled bytes");
    assert_eq!(err.text(), seq(1000));

    // The same when a background child keeps the pipes from ever reaching
    // end-of-file: the drain after the exit still gets every byte.
    let script = format!("sleep 30 & seq 1 {LINES}; seq 1 1000 >&2; exit 0");
    let (status, took, out, err) = run_sh(b, handle, sh, &script).await;
    eprintln!(
        "{handle}: {} bytes with a background child, exit after {took:?}",
        out.0.lock().unwrap().len()
    );
    assert_eq!(status, 0);
    assert!(took < Duration::from_secs(5), "exit took {took:?}");
    assert!(out.text() == expected, "stdout lost or mangled bytes");
    assert_eq!(err.text(), seq(1000));
}

#[tokio::test]
async fn runc_exit_status_is_not_held_by_a_background_child() {
    skip_unless_able!();
    let t = common::backend(51).await;
    t.backend.create(common::spec("exit-1")).await.unwrap();
    exit_is_not_held_by_a_background_child(&t.backend, "exit-1", "sh").await;

    // The rep's stop of an instance: TERM to a shell whose background
    // server holds its stdout; the status comes when the shell dies.
    let out = Buf::default();
    let p = t
        .backend
        .run(
            "exit-1",
            ProcessSpec {
                path: "sh".into(),
                args: vec![
                    "-c".into(),
                    "sleep 30 & echo up; while true; do sleep 1; done".into(),
                ],
                ..Default::default()
            },
            ProcessIo {
                stdin: None,
                stdout: Some(Box::new(out.clone())),
                stderr: None,
            },
        )
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while out.text().is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let stopping = Instant::now();
    p.signal(garden::Signal::Terminate).await.unwrap();
    let status = tokio::time::timeout(Duration::from_secs(10), p.wait())
        .await
        .expect("exit status within 10s")
        .unwrap();
    let took = stopping.elapsed();
    eprintln!("terminated: status {status} after {took:?}");
    assert_eq!(status, 143);
    assert!(took < Duration::from_secs(2), "stop took {took:?}");
    assert_eq!(out.text(), "up\n");
    t.backend.destroy("exit-1").await.unwrap();
}

#[tokio::test]
async fn runc_delivers_all_output_before_the_exit_status() {
    skip_unless_able!();
    let t = common::backend(52).await;
    t.backend.create(common::spec("exit-2")).await.unwrap();
    all_output_arrives_before_the_status(&t.backend, "exit-2", "sh").await;
    t.backend.destroy("exit-2").await.unwrap();
}

fn houdini(dir: &std::path::Path, handle: &str) -> (HoudiniBackend, ContainerSpec) {
    let b = HoudiniBackend::new(
        dir,
        Capacity {
            memory_bytes: 1 << 30,
            disk_bytes: 1 << 30,
            max_containers: 10,
        },
    )
    .unwrap();
    let spec = ContainerSpec {
        handle: handle.into(),
        ..Default::default()
    };
    (b, spec)
}

#[tokio::test]
async fn houdini_exit_status_is_not_held_by_a_background_child() {
    let tmp = tempfile::tempdir().unwrap();
    let (b, spec) = houdini(tmp.path(), "h-exit-1");
    b.create(spec).await.unwrap();
    exit_is_not_held_by_a_background_child(&b, "h-exit-1", "/bin/sh").await;
    let bg = std::fs::read_to_string(tmp.path().join("h-exit-1/bg.pid")).unwrap();
    b.destroy("h-exit-1").await.unwrap();
    // The child its exited leader left behind goes with the container.
    let stat = format!("/proc/{}/stat", bg.trim());
    let deadline = Instant::now() + Duration::from_secs(2);
    let gone = || {
        std::fs::read_to_string(&stat)
            .map(|s| {
                s.rsplit(')')
                    .next()
                    .unwrap_or("")
                    .trim_start()
                    .starts_with('Z')
            })
            .unwrap_or(true)
    };
    while !gone() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(gone(), "background child {} outlived destroy", bg.trim());
}

#[tokio::test]
async fn houdini_delivers_all_output_before_the_exit_status() {
    let tmp = tempfile::tempdir().unwrap();
    let (b, spec) = houdini(tmp.path(), "h-exit-2");
    b.create(spec).await.unwrap();
    all_output_arrives_before_the_status(&b, "h-exit-2", "/bin/sh").await;
    b.destroy("h-exit-2").await.unwrap();
}

#[tokio::test]
async fn runc_missing_executable_fails_with_the_runtime_error() {
    skip_unless_able!();
    let t = common::backend(53).await;
    t.backend.create(common::spec("exit-3")).await.unwrap();
    let (status, took, _, err) = run_sh(&t.backend, "exit-3", "/no/such/sh", "true").await;
    eprintln!(
        "missing executable: status {status} after {took:?}: {}",
        err.text()
    );
    assert_ne!(status, 0);
    assert!(err.text().contains("no such file"), "{}", err.text());
    // Nothing of the waiter is left behind: no zombie child of ours.
    let zombies = std::process::Command::new("ps")
        .args(["-o", "stat=", "--ppid", &std::process::id().to_string()])
        .output()
        .unwrap();
    let zombies = String::from_utf8_lossy(&zombies.stdout);
    assert!(!zombies.contains('Z'), "zombie children: {zombies}");
    t.backend.destroy("exit-3").await.unwrap();
}
