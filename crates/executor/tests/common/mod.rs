//! Test support: a store on a houdini backend in a temp dir, action
//! builders, and a wait for a container's completion.
#![allow(dead_code)]

use executor::checks::CheckConfig;
use executor::{
    AllocationRequest, Container, ContainerStore, Event, ExecutorConfig, ExecutorResources,
    LogConfig, Resource, RunInfo, State,
};
use garden::houdini::HoudiniBackend;
use garden::{Backend, Capacity};
use models::*;
use std::sync::Arc;
use std::time::Duration;

pub struct Cell {
    pub store: ContainerStore,
    pub dir: tempfile::TempDir,
}

pub fn fast_config(dir: &std::path::Path) -> ExecutorConfig {
    ExecutorConfig {
        cell_id: "cell-z1-0".into(),
        capacity: Some(ExecutorResources::new(1024, 4096, 4)),
        graceful_shutdown_interval: Duration::from_millis(500),
        checks: CheckConfig {
            healthy_interval: Duration::from_millis(200),
            unhealthy_interval: Duration::from_millis(50),
            default_timeout: Duration::from_millis(500),
        },
        temp_dir: dir.join("tmp"),
        ..Default::default()
    }
}

pub fn houdini(dir: &std::path::Path) -> Arc<dyn Backend> {
    Arc::new(
        HoudiniBackend::new(
            dir.join("depot"),
            Capacity {
                memory_bytes: 8 << 30,
                disk_bytes: 64 << 30,
                max_containers: 100,
            },
        )
        .unwrap(),
    )
}

pub async fn cell() -> Cell {
    let dir = tempfile::tempdir().unwrap();
    let store = ContainerStore::new(houdini(dir.path()), fast_config(dir.path()))
        .await
        .unwrap();
    Cell { store, dir }
}

pub fn run_info(action: Action) -> RunInfo {
    RunInfo {
        action: Some(action),
        log_config: LogConfig {
            guid: "app-guid".into(),
            index: 0,
            source_name: "APP/PROC/WEB".into(),
            ..Default::default()
        },
        ..Default::default()
    }
}

/// Allocates, initializes, creates and runs; the container as created.
pub async fn start(store: &ContainerStore, guid: &str, info: RunInfo) -> Container {
    store
        .allocate(AllocationRequest {
            guid: guid.into(),
            resource: Resource {
                memory_mb: 128,
                disk_mb: 256,
                max_pids: 0,
            },
            tags: Default::default(),
        })
        .unwrap();
    store.initialize(guid, info, Default::default()).unwrap();
    let c = store.create(guid).await.unwrap();
    store.run(guid).unwrap();
    c
}

/// Waits (at most `secs`) for the container to complete.
pub async fn completed(store: &ContainerStore, guid: &str, secs: u64) -> Container {
    tokio::time::timeout(Duration::from_secs(secs), async {
        loop {
            let c = store.get(guid).unwrap();
            if c.state == State::Completed {
                return c;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{guid} did not complete within {secs}s"))
}

pub async fn running(store: &ContainerStore, guid: &str, secs: u64) -> Container {
    tokio::time::timeout(Duration::from_secs(secs), async {
        loop {
            let c = store.get(guid).unwrap();
            if c.state == State::Running {
                return c;
            }
            assert_ne!(c.state, State::Completed, "completed: {:?}", c.run_result);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{guid} did not start running within {secs}s"))
}

/// Runs one action to completion.
pub async fn run_to_end(cell: &Cell, guid: &str, action: Action) -> Container {
    start(&cell.store, guid, run_info(action)).await;
    completed(&cell.store, guid, 20).await
}

pub fn log_texts(store: &ContainerStore, guid: &str) -> Vec<String> {
    store
        .logs(guid)
        .unwrap()
        .lines()
        .into_iter()
        .map(|l| l.text)
        .collect()
}

pub fn events_of(events: &[Event], guid: &str) -> Vec<&'static str> {
    events
        .iter()
        .filter(|e| e.container().guid == guid)
        .map(|e| e.event_type())
        .collect()
}

// Action builders.

pub fn sh(script: &str) -> Action {
    Action {
        run_action: Some(RunAction {
            path: "/bin/sh".into(),
            args: vec!["-c".into(), script.into()],
            ..Default::default()
        }),
        ..Default::default()
    }
}

pub fn serial(actions: Vec<Action>) -> Action {
    Action {
        serial_action: Some(SerialAction {
            actions,
            ..Default::default()
        }),
        ..Default::default()
    }
}

pub fn parallel(actions: Vec<Action>) -> Action {
    Action {
        parallel_action: Some(ParallelAction {
            actions,
            ..Default::default()
        }),
        ..Default::default()
    }
}

pub fn codependent(actions: Vec<Action>) -> Action {
    Action {
        codependent_action: Some(CodependentAction {
            actions,
            ..Default::default()
        }),
        ..Default::default()
    }
}

pub fn timeout(ms: i64, action: Action) -> Action {
    Action {
        timeout_action: Some(Box::new(TimeoutAction {
            action: Some(Box::new(action)),
            timeout_ms: ms,
            ..Default::default()
        })),
        ..Default::default()
    }
}

pub fn try_(action: Action) -> Action {
    Action {
        try_action: Some(Box::new(TryAction {
            action: Some(Box::new(action)),
            ..Default::default()
        })),
        ..Default::default()
    }
}

pub fn emit_progress(action: Action, start: &str, success: &str, failure: &str) -> Action {
    Action {
        emit_progress_action: Some(Box::new(EmitProgressAction {
            action: Some(Box::new(action)),
            start_message: start.into(),
            success_message: success.into(),
            failure_message_prefix: failure.into(),
            ..Default::default()
        })),
        ..Default::default()
    }
}

pub fn download(artifact: &str, from: &str, to: &str, algorithm: &str, value: &str) -> Action {
    Action {
        download_action: Some(DownloadAction {
            artifact: artifact.into(),
            from: from.into(),
            to: to.into(),
            checksum_algorithm: algorithm.into(),
            checksum_value: value.into(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

pub fn upload(artifact: &str, from: &str, to: &str) -> Action {
    Action {
        upload_action: Some(UploadAction {
            artifact: artifact.into(),
            from: from.into(),
            to: to.into(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Serves `router` on 127.0.0.1 at a free port.
pub async fn serve(router: axum::Router) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    addr
}
