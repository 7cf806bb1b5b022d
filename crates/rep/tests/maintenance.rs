//! The executor housekeeping the rep runs: backend containers no store
//! holds are destroyed, and reserved containers nobody runs expire.

use garden::Backend;
use std::sync::Arc;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orphans_go_and_reservations_expire() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Arc::new(
        garden::houdini::HoudiniBackend::new(
            dir.path().join("houdini"),
            garden::Capacity {
                memory_bytes: 1 << 30,
                disk_bytes: 1 << 30,
                max_containers: 10,
            },
        )
        .unwrap(),
    );
    // Left by an earlier executor: our owner property, unknown to the store.
    backend
        .create(garden::ContainerSpec {
            handle: "orphan".into(),
            properties: [(
                executor::store::OWNER_PROPERTY.to_string(),
                "executor".to_string(),
            )]
            .into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let store = executor::ContainerStore::new(
        backend.clone(),
        executor::ExecutorConfig {
            temp_dir: dir.path().join("tmp"),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    store
        .allocate(executor::AllocationRequest {
            guid: "reserved".into(),
            ..Default::default()
        })
        .unwrap();
    let housekeeping = rep::maintenance::spawn(
        store.clone(),
        Duration::from_millis(100),
        Duration::from_millis(200),
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let orphans = backend.containers(&Default::default()).await.unwrap();
        let reserved = store.get("reserved").map(|c| c.state);
        if orphans.is_empty()
            && reserved
                .as_ref()
                .is_ok_and(|s| *s == executor::State::Completed)
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{orphans:?} {reserved:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let c = store.get("reserved").unwrap();
    assert_eq!(c.run_result.failure_reason, "expired container");
    housekeeping.abort();
}
