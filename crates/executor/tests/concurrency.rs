//! Many containers at once on one store: every one completes with its own
//! output, and resources all come back. Prints the time taken.

mod common;
use common::*;
use executor::{ContainerStore, ExecutorResources};
use std::time::Instant;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_containers_concurrently() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = fast_config(dir.path());
    config.capacity = Some(ExecutorResources::new(50 * 128, 50 * 256, 50));
    let store = ContainerStore::new(houdini(dir.path()), config)
        .await
        .unwrap();
    let started = Instant::now();
    let runs = (0..50).map(|i| {
        let store = store.clone();
        async move {
            let guid = format!("c{i}");
            start(&store, &guid, run_info(sh(&format!("echo I am {i}")))).await;
            let c = completed(&store, &guid, 30).await;
            assert!(!c.run_result.failed, "{guid}: {:?}", c.run_result);
            assert_eq!(log_texts(&store, &guid)[0], format!("I am {i}"));
            store.delete(&guid).await.unwrap();
        }
    });
    futures::future::join_all(runs).await;
    eprintln!(
        "50 containers allocated, created, run, completed and deleted in {:?}",
        started.elapsed()
    );
    assert_eq!(
        store.remaining_resources(),
        ExecutorResources::new(50 * 128, 50 * 256, 50)
    );
    assert!(store.list().is_empty());
}
