//! The container store: states, resource accounting, stop and delete,
//! events, logs, and what the backend's failures become.

mod common;
use async_trait::async_trait;
use common::*;
use executor::{
    AllocationRequest, ContainerStore, ExecutorError, ExecutorResources, Resource, State,
};
use garden::*;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn req(guid: &str, memory_mb: i32, disk_mb: i32) -> AllocationRequest {
    AllocationRequest {
        guid: guid.into(),
        resource: Resource {
            memory_mb,
            disk_mb,
            max_pids: 0,
        },
        tags: [("lifecycle".to_string(), "lrp".to_string())].into(),
    }
}

#[tokio::test]
async fn allocation_is_refused_when_the_cell_is_full() {
    let cell = cell().await; // 1024 MB, 4096 MB disk, 4 containers
    let s = &cell.store;
    assert_eq!(s.total_resources(), ExecutorResources::new(1024, 4096, 4));
    s.allocate(req("a", 512, 1024)).unwrap();
    s.allocate(req("b", 512, 1024)).unwrap();
    assert!(matches!(
        s.allocate(req("c", 1, 1)),
        Err(ExecutorError::InsufficientResourcesAvailable)
    ));
    assert!(matches!(
        s.allocate(req("a", 0, 0)),
        Err(ExecutorError::ContainerGuidNotAvailable)
    ));
    s.allocate(req("c", 0, 1024)).unwrap();
    s.allocate(req("d", 0, 1024)).unwrap();
    assert_eq!(s.remaining_resources(), ExecutorResources::new(0, 0, 0));
    assert!(matches!(
        s.allocate(req("e", 0, 0)),
        Err(ExecutorError::InsufficientResourcesAvailable)
    ));
    assert_eq!(s.list().len(), 4);
    assert_eq!(
        s.list_with_tags(&[("lifecycle".to_string(), "lrp".to_string())].into())
            .len(),
        4
    );

    // A reserved container stopped completes without running; deleting it
    // gives its resources back.
    s.stop("a").unwrap();
    let a = s.get("a").unwrap();
    assert_eq!(a.state, State::Completed);
    assert_eq!(a.run_result.failure_reason, "stopped-before-running");
    assert!(a.run_result.stopped);
    s.delete("a").await.unwrap();
    assert_eq!(
        s.remaining_resources(),
        ExecutorResources::new(512, 1024, 1)
    );
    assert!(matches!(s.get("a"), Err(ExecutorError::ContainerNotFound)));
}

#[tokio::test]
async fn capacity_comes_from_the_backend_when_not_configured() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = fast_config(dir.path());
    config.capacity = None;
    let s = ContainerStore::new(houdini(dir.path()), config)
        .await
        .unwrap();
    // 8 GiB, 64 GiB and 100 containers, capped at Diego's 250 default.
    assert_eq!(
        s.total_resources(),
        ExecutorResources::new(8192, 65536, 100)
    );
}

#[tokio::test]
async fn states_only_move_forward() {
    let cell = cell().await;
    let s = &cell.store;
    s.allocate(req("x", 1, 1)).unwrap();
    assert!(matches!(
        s.create("x").await,
        Err(ExecutorError::InvalidTransition)
    ));
    assert!(matches!(s.run("x"), Err(ExecutorError::InvalidTransition)));
    s.initialize("x", run_info(sh("true")), Default::default())
        .unwrap();
    assert!(matches!(
        s.initialize("x", run_info(sh("true")), Default::default()),
        Err(ExecutorError::InvalidTransition)
    ));
    let c = s.create("x").await.unwrap();
    assert_eq!(c.state, State::Created);
    assert_eq!(c.internal_ip, "127.0.0.1");
    assert_eq!(c.memory_limit, 1024 * 1024);
    let props = s.backend().info("x").await.unwrap().properties;
    assert_eq!(props["executor:owner"], "executor");

    // No action: the steps are invalid.
    s.allocate(req("y", 1, 1)).unwrap();
    let mut info = run_info(sh("true"));
    info.action = None;
    s.initialize("y", info, Default::default()).unwrap();
    s.create("y").await.unwrap();
    assert!(matches!(s.run("y"), Err(ExecutorError::StepsInvalid(_))));
}

#[tokio::test]
async fn stop_terminates_then_kills_and_delete_cleans_up() {
    let cell = cell().await;
    let mut events = cell.store.subscribe();
    start(
        &cell.store,
        "polite",
        run_info(sh(
            "trap 'echo bye; exit 0' TERM; while true; do sleep 0.05; done",
        )),
    )
    .await;
    running(&cell.store, "polite", 5).await;
    cell.store.stop("polite").unwrap();
    let c = completed(&cell.store, "polite", 5).await;
    assert!(c.run_result.stopped);
    // It ended on TERM: no KILL after the grace time.
    assert!(log_texts(&cell.store, "polite").contains(&"Exit status 0".to_string()));
    assert!(all_log_texts(&cell.store, "polite")
        .contains(&"Cell cell-z1-0 stopping instance polite".to_string()));
    assert!(log_texts(&cell.store, "polite").contains(&"bye".to_string()));

    start(
        &cell.store,
        "stubborn",
        run_info(sh("trap '' TERM; while true; do sleep 0.05; done")),
    )
    .await;
    running(&cell.store, "stubborn", 5).await;
    let t = Instant::now();
    cell.store.stop("stubborn").unwrap();
    let c = completed(&cell.store, "stubborn", 5).await;
    assert!(
        t.elapsed() >= Duration::from_millis(500),
        "KILL after the grace time"
    );
    assert!(c.run_result.stopped);

    let dir = cell.dir.path().join("depot/stubborn");
    assert!(dir.exists());
    cell.store.delete("stubborn").await.unwrap();
    assert!(!dir.exists());
    assert!(cell.store.backend().info("stubborn").await.is_err());

    let mut seen = Vec::new();
    while let Ok(e) = events.try_recv() {
        seen.push(e);
    }
    assert_eq!(
        events_of(&seen, "polite"),
        [
            "container_reserved",
            "container_created",
            "container_running",
            "container_complete"
        ]
    );
}

#[tokio::test]
async fn delete_of_a_running_container_stops_it_first() {
    let cell = cell().await;
    start(&cell.store, "busy", run_info(sh("sleep 30"))).await;
    running(&cell.store, "busy", 5).await;
    let t = Instant::now();
    cell.store.delete("busy").await.unwrap();
    assert!(t.elapsed() < Duration::from_secs(3));
    assert_eq!(
        cell.store.remaining_resources(),
        ExecutorResources::new(1024, 4096, 4)
    );
}

#[tokio::test]
async fn logs_are_buffered_and_followed() {
    let cell = cell().await;
    cell.store.allocate(req("talk", 1, 1)).unwrap();
    let mut follow = cell.store.logs("talk").unwrap().subscribe();
    cell.store
        .initialize(
            "talk",
            run_info(sh("for i in 1 2 3; do echo line $i; done")),
            Default::default(),
        )
        .unwrap();
    cell.store.create("talk").await.unwrap();
    cell.store.run("talk").unwrap();
    completed(&cell.store, "talk", 5).await;
    let mut followed = Vec::new();
    while let Ok(l) = follow.try_recv() {
        followed.push(l.text);
    }
    // Followers get what the buffer holds: the cell's lines, then the process's.
    assert_eq!(all_log_texts(&cell.store, "talk"), followed);
    assert_eq!(
        log_texts(&cell.store, "talk"),
        ["line 1", "line 2", "line 3", "Exit status 0"]
    );
    assert!(followed[0].starts_with("Cell cell-z1-0 creating container"));
}

#[tokio::test]
async fn result_files_come_out_of_the_container() {
    let cell = cell().await;
    let c = run_to_end(&cell, "task", sh("echo 42 > result.json")).await;
    assert!(!c.run_result.failed);
    let tar = cell.store.get_files("task", "/result.json").await.unwrap();
    let mut archive = tar::Archive::new(&tar[..]);
    let mut entry = archive.entries().unwrap().next().unwrap().unwrap();
    let mut s = String::new();
    std::io::Read::read_to_string(&mut entry, &mut s).unwrap();
    assert_eq!(s, "42\n");
}

#[tokio::test]
async fn failed_creation_completes_the_container_retryably() {
    let cell = cell().await;
    // The handle is taken in the backend already.
    cell.store
        .backend()
        .create(ContainerSpec {
            handle: "taken".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    cell.store.allocate(req("taken", 1, 1)).unwrap();
    cell.store
        .initialize("taken", run_info(sh("true")), Default::default())
        .unwrap();
    assert!(cell.store.create("taken").await.is_err());
    let c = cell.store.get("taken").unwrap();
    assert_eq!(c.state, State::Completed);
    assert!(c.run_result.failed && c.run_result.retryable);
    assert_eq!(
        c.run_result.failure_reason,
        "failed to create container: handle already exists: taken"
    );
}

/// Houdini, except that its containers report Garden's "out of memory"
/// event (houdini enforces no memory limit, so it never sees one itself).
struct OomReporting(Arc<dyn Backend>);

#[async_trait]
impl Backend for OomReporting {
    async fn ping(&self) -> Result<(), GardenError> {
        self.0.ping().await
    }
    async fn create(&self, spec: ContainerSpec) -> Result<ContainerInfo, GardenError> {
        self.0.create(spec).await
    }
    async fn destroy(&self, handle: &str) -> Result<(), GardenError> {
        self.0.destroy(handle).await
    }
    async fn containers(&self, filter: &Properties) -> Result<Vec<String>, GardenError> {
        self.0.containers(filter).await
    }
    async fn info(&self, handle: &str) -> Result<ContainerInfo, GardenError> {
        let mut info = self.0.info(handle).await?;
        info.events.push("out of memory".into());
        Ok(info)
    }
    async fn metrics(&self, handle: &str) -> Result<ContainerMetrics, GardenError> {
        self.0.metrics(handle).await
    }
    async fn run(
        &self,
        handle: &str,
        spec: ProcessSpec,
        io: ProcessIo,
    ) -> Result<Box<dyn Process>, GardenError> {
        self.0.run(handle, spec, io).await
    }
    async fn stream_in(
        &self,
        handle: &str,
        dst_path: &str,
        user: &str,
        tar: Box<dyn tokio::io::AsyncRead + Send + Unpin>,
    ) -> Result<(), GardenError> {
        self.0.stream_in(handle, dst_path, user, tar).await
    }
    async fn stream_out(&self, handle: &str, src_path: &str) -> Result<bytes::Bytes, GardenError> {
        self.0.stream_out(handle, src_path).await
    }
    async fn capacity(&self) -> Result<Capacity, GardenError> {
        self.0.capacity().await
    }
}

#[tokio::test]
async fn out_of_memory_is_in_the_failure_reason() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Arc::new(OomReporting(houdini(dir.path())));
    let store = ContainerStore::new(backend, fast_config(dir.path()))
        .await
        .unwrap();
    start(&store, "oom", run_info(sh("exit 137"))).await;
    let c = completed(&store, "oom", 5).await;
    assert_eq!(
        c.run_result.failure_reason,
        "APP/PROC/WEB: Exited with status 137 (out of memory)"
    );
    assert!(log_texts(&store, "oom").contains(&"Exit status 137 (out of memory)".to_string()));
}

#[tokio::test]
async fn housekeeping_expires_reaps_and_removes_orphans() {
    let cell = cell().await;
    let s = &cell.store;
    s.allocate(req("idle", 1, 1)).unwrap();
    assert!(s.complete_expired(Duration::from_secs(60)).is_empty());
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(s.complete_expired(Duration::from_millis(10)), ["idle"]);
    assert_eq!(
        s.get("idle").unwrap().run_result.failure_reason,
        "expired container"
    );

    // Created, then its backend container disappears. (A running one's
    // processes would die with it and complete it first.)
    s.allocate(req("vanishing", 1, 1)).unwrap();
    s.initialize("vanishing", run_info(sh("true")), Default::default())
        .unwrap();
    s.create("vanishing").await.unwrap();
    s.backend().destroy("vanishing").await.unwrap();
    assert_eq!(s.reap_missing().await.unwrap(), ["vanishing"]);
    let c = s.get("vanishing").unwrap();
    assert_eq!(c.run_result.failure_reason, "missing garden container");

    // Ours but unknown to the store; someone else's is left alone.
    let owned = |handle: &str, owner: &str| ContainerSpec {
        handle: handle.into(),
        properties: [("executor:owner".to_string(), owner.to_string())].into(),
        ..Default::default()
    };
    s.backend()
        .create(owned("orphan", "executor"))
        .await
        .unwrap();
    s.backend()
        .create(owned("other", "someone-else"))
        .await
        .unwrap();
    assert_eq!(s.destroy_orphans().await.unwrap(), ["orphan"]);
    assert!(s.backend().info("orphan").await.is_err());
    assert!(s.backend().info("other").await.is_ok());
}
