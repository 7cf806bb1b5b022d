//! Each action kind run in a houdini container, composed, and how failures
//! propagate into the run result.

mod common;
use common::*;
use std::time::{Duration, Instant};

#[tokio::test]
async fn run_action_success_and_exit_status() {
    let cell = cell().await;
    let ok = run_to_end(&cell, "ok", sh("echo hello; echo oops >&2")).await;
    assert!(!ok.run_result.failed, "{:?}", ok.run_result);
    let log = process_lines(&cell.store, "ok");
    assert_eq!(log[0].text, "hello");
    assert_eq!(log[0].source, "APP/PROC/WEB");
    assert_eq!(log[1].text, "oops");
    assert_eq!(log[1].stream, executor::logs::Stream::Stderr);
    assert_eq!(log[2].text, "Exit status 0");

    let bad = run_to_end(&cell, "bad", sh("exit 7")).await;
    assert!(bad.run_result.failed);
    assert_eq!(
        bad.run_result.failure_reason,
        "APP/PROC/WEB: Exited with status 7"
    );
    assert!(log_texts(&cell.store, "bad").contains(&"Exit status 7".to_string()));
}

#[tokio::test]
async fn run_action_env_dir_and_nofile() {
    let cell = cell().await;
    let mut action = sh("echo $A $B; pwd; ulimit -n; echo $CF_INSTANCE_PORTS");
    let run = action.run_action.as_mut().unwrap();
    run.env = vec![models::EnvironmentVariable {
        name: "B".into(),
        value: "from-action".into(),
    }];
    run.dir = "/".into();
    run.resource_limits = Some(models::ResourceLimits {
        optional_nofile: Some(models::resource_limits::OptionalNofile::Nofile(321)),
        optional_nproc: None,
    });
    let mut info = run_info(action);
    info.env = vec![("A".into(), "from-container".into())];
    info.ports = vec![executor::PortMapping {
        container_port: 18080,
        host_port: 0,
    }];
    start(&cell.store, "env", info).await;
    let c = completed(&cell.store, "env", 10).await;
    assert!(!c.run_result.failed, "{:?}", c.run_result);
    let log = log_texts(&cell.store, "env");
    assert_eq!(log[0], "from-container from-action");
    assert!(log[1].ends_with("/depot/env"), "{}", log[1]);
    assert_eq!(log[2], "321");
    assert_eq!(log[3], r#"[{"external":18080,"internal":18080}]"#);
}

#[tokio::test]
async fn serial_stops_at_the_first_failure() {
    let cell = cell().await;
    let c = run_to_end(
        &cell,
        "serial",
        serial(vec![sh("echo one"), sh("exit 3"), sh("echo never")]),
    )
    .await;
    assert_eq!(
        c.run_result.failure_reason,
        "APP/PROC/WEB: Exited with status 3"
    );
    let log = log_texts(&cell.store, "serial");
    assert!(log.contains(&"one".to_string()));
    assert!(!log.contains(&"never".to_string()));
}

#[tokio::test]
async fn parallel_runs_all_and_combines_failures() {
    let cell = cell().await;
    let started = Instant::now();
    let c = run_to_end(
        &cell,
        "par",
        parallel(vec![
            sh("sleep 1; exit 1"),
            sh("sleep 1; exit 2"),
            sh("sleep 1"),
        ]),
    )
    .await;
    // One after the other would take 3s.
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "ran in parallel"
    );
    assert_eq!(
        c.run_result.failure_reason,
        "APP/PROC/WEB: Exited with status 1; APP/PROC/WEB: Exited with status 2"
    );
}

#[tokio::test]
async fn codependent_cancels_the_others_when_one_ends() {
    let cell = cell().await;
    let started = Instant::now();
    let c = run_to_end(
        &cell,
        "codep",
        codependent(vec![sh("sleep 30"), sh("sleep 0.2")]),
    )
    .await;
    assert!(started.elapsed() < Duration::from_secs(5));
    // The short one ended (an error for a codependent action); the long one
    // was cancelled, which does not show in the reason.
    assert_eq!(c.run_result.failure_reason, "Codependent step exited");

    let c = run_to_end(
        &cell,
        "codep-fail",
        codependent(vec![sh("sleep 30"), sh("exit 4")]),
    )
    .await;
    assert_eq!(
        c.run_result.failure_reason,
        "APP/PROC/WEB: Exited with status 4"
    );
}

#[tokio::test]
async fn try_ignores_failure() {
    let cell = cell().await;
    let c = run_to_end(
        &cell,
        "try",
        serial(vec![try_(sh("exit 1")), sh("echo after")]),
    )
    .await;
    assert!(!c.run_result.failed, "{:?}", c.run_result);
    assert!(log_texts(&cell.store, "try").contains(&"after".to_string()));
}

#[tokio::test]
async fn timeout_cancels_and_says_so() {
    let cell = cell().await;
    let started = Instant::now();
    let c = run_to_end(&cell, "slow", timeout(300, sh("sleep 30"))).await;
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(c.run_result.failure_reason, "exceeded 300ms timeout");

    let c = run_to_end(&cell, "quick", timeout(5000, sh("exit 2"))).await;
    assert_eq!(
        c.run_result.failure_reason,
        "APP/PROC/WEB: Exited with status 2"
    );
}

#[tokio::test]
async fn timeout_of_a_process_ignoring_term_kills_it() {
    let cell = cell().await;
    let started = Instant::now();
    // TERM is ignored; KILL comes after the 500ms graceful interval.
    let c = run_to_end(
        &cell,
        "stubborn",
        timeout(200, sh("trap '' TERM; sleep 30 & wait; sleep 30")),
    )
    .await;
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(650) && took < Duration::from_secs(5),
        "{took:?}"
    );
    assert_eq!(c.run_result.failure_reason, "exceeded 200ms timeout");
    assert!(log_texts(&cell.store, "stubborn")
        .iter()
        .any(|l| l.ends_with("(exceeded 500ms graceful shutdown interval)")));
}

#[tokio::test]
async fn emit_progress_messages() {
    let cell = cell().await;
    let c = run_to_end(
        &cell,
        "progress",
        serial(vec![
            emit_progress(sh("true"), "Starting", "Worked", "Broke"),
            emit_progress(sh("exit 5"), "Again", "Never", "Failed to run"),
        ]),
    )
    .await;
    assert!(c.run_result.failed);
    let log = log_texts(&cell.store, "progress");
    for line in [
        "Starting",
        "Worked",
        "Again",
        "Failed to run: APP/PROC/WEB: Exited with status 5",
    ] {
        assert!(
            log.contains(&line.to_string()),
            "{line:?} missing from {log:?}"
        );
    }
    assert!(!log.contains(&"Never".to_string()));
}

#[tokio::test]
async fn log_source_of_an_action_overrides_the_containers() {
    let cell = cell().await;
    let mut action = sh("echo staged; exit 1");
    action.run_action.as_mut().unwrap().log_source = "STG".into();
    let c = run_to_end(&cell, "stg", action).await;
    assert_eq!(c.run_result.failure_reason, "STG: Exited with status 1");
    let lines = process_lines(&cell.store, "stg");
    assert_eq!(lines[0].source, "STG");
}
