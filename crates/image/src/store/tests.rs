use super::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// A fetch writing one file and reporting `bytes`, counting its calls.
fn writer(calls: Arc<AtomicUsize>, bytes: u64, delay_ms: u64) -> Fetch {
    Box::new(move |dir: PathBuf| {
        async move {
            calls.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(delay_ms)).await;
            std::fs::write(dir.join("file"), b"content").unwrap();
            Ok(bytes)
        }
        .boxed()
    })
}

fn failing(msg: &'static str) -> Fetch {
    Box::new(move |dir: PathBuf| {
        async move {
            std::fs::write(dir.join("partial"), b"half").unwrap();
            tokio::time::sleep(Duration::from_millis(100)).await;
            Err(ImageError::Registry {
                image: "x".into(),
                detail: msg.into(),
            })
        }
        .boxed()
    })
}

fn key(n: u32) -> LayerKey {
    LayerKey::new(&format!("sha256:{n:064x}"), &IdShift::none())
}

fn dir_entries(p: &Path) -> usize {
    std::fs::read_dir(p).map(|r| r.count()).unwrap_or(0)
}

#[tokio::test]
async fn concurrent_requests_share_one_fetch() {
    let t = tempfile::tempdir().unwrap();
    let store = LayerStore::open(t.path(), None).unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let k = key(1);
    let (a, b, c) = tokio::join!(
        store.layer(&k, writer(calls.clone(), 10, 100)),
        store.layer(&k, writer(calls.clone(), 10, 100)),
        store.layer(&k, writer(calls.clone(), 10, 100)),
    );
    let (a, b, c) = (a.unwrap(), b.unwrap(), c.unwrap());
    assert_eq!(calls.load(Ordering::SeqCst), 1, "fetched once");
    assert_eq!(a.path(), b.path());
    assert_eq!(b.path(), c.path());
    assert!(a.path().join("file").is_file());
    assert!(a.path().ends_with(format!("layers/{}/rootfs", k.id())));
    // A later request finds it in the store.
    let d = store.layer(&k, writer(calls.clone(), 10, 0)).await.unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(d.path(), a.path());
    assert_eq!(store.usage().layers, 1);
}

#[tokio::test]
async fn a_failed_fetch_leaves_nothing_and_is_reported_to_all() {
    let t = tempfile::tempdir().unwrap();
    let store = LayerStore::open(t.path(), None).unwrap();
    let k = key(2);
    let calls = Arc::new(AtomicUsize::new(0));
    let (a, b) = tokio::join!(store.layer(&k, failing("connection reset")), async {
        tokio::time::sleep(Duration::from_millis(1)).await;
        store.layer(&k, writer(calls.clone(), 1, 0)).await
    });
    let ea = a.unwrap_err();
    assert!(ea.to_string().contains("connection reset"), "{ea}");
    // The second asked while the first fetch ran: it shares its outcome.
    assert_eq!(b.unwrap_err(), ea);
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    assert!(!store.contains(&k));
    assert_eq!(
        dir_entries(&t.path().join("tmp")),
        0,
        "no half-pulled layer"
    );
    assert_eq!(dir_entries(&t.path().join("layers")), 0);
    // A later request tries again.
    store.layer(&k, writer(calls.clone(), 1, 0)).await.unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_waiter_giving_up_does_not_stop_the_fetch() {
    let t = tempfile::tempdir().unwrap();
    let store = LayerStore::open(t.path(), None).unwrap();
    let k = key(3);
    let calls = Arc::new(AtomicUsize::new(0));
    let r = tokio::time::timeout(
        Duration::from_millis(20),
        store.layer(&k, writer(calls.clone(), 1, 200)),
    )
    .await;
    assert!(r.is_err(), "timed out");
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(store.contains(&k), "the fetch finished on its own");
}

#[tokio::test]
async fn reopening_keeps_layers_and_leases_and_drops_leftovers() {
    let t = tempfile::tempdir().unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    {
        let store = LayerStore::open(t.path(), None).unwrap();
        let l = store
            .layer(&key(4), writer(calls.clone(), 5, 0))
            .await
            .unwrap();
        store.lease("c1", &[l]).unwrap();
    }
    // What a crash mid-unpack and mid-commit would leave.
    std::fs::create_dir_all(t.path().join("tmp/abc.1.0/rootfs/usr")).unwrap();
    std::fs::create_dir_all(t.path().join("layers/0123456789abcdef01234567/rootfs")).unwrap();
    let store = LayerStore::open(t.path(), None).unwrap();
    assert!(store.contains(&key(4)));
    assert_eq!(store.leased_handles(), vec!["c1".to_string()]);
    assert_eq!(dir_entries(&t.path().join("tmp")), 0);
    assert_eq!(dir_entries(&t.path().join("layers")), 1);
    store
        .layer(&key(4), writer(calls.clone(), 5, 0))
        .await
        .unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 1, "not fetched again");
    assert_eq!(
        store.usage(),
        StoreUsage {
            layers: 1,
            bytes: 5,
            leased_layers: 1
        }
    );
}

#[tokio::test]
async fn gc_removes_least_recently_used_unleased_layers_down_to_the_cap() {
    let t = tempfile::tempdir().unwrap();
    let store = LayerStore::open(t.path(), Some(250)).unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let mut ids = Vec::new();
    for n in 10..14 {
        let l = store
            .layer(&key(n), writer(calls.clone(), 100, 0))
            .await
            .unwrap();
        ids.push(l.id().to_string());
        tokio::time::sleep(Duration::from_millis(5)).await;
        drop(l);
    }
    // 10 is the oldest but leased; 13 is pinned.
    let leased = store
        .layer(&key(10), writer(calls.clone(), 100, 0))
        .await
        .unwrap();
    store.lease("web-0", &[leased]).unwrap();
    let pinned = store
        .layer(&key(13), writer(calls.clone(), 100, 0))
        .await
        .unwrap();
    let report = store.gc().await;
    assert_eq!(report.removed_layers, vec![ids[1].clone(), ids[2].clone()]);
    assert_eq!((report.removed_bytes, report.bytes), (200, 200));
    assert!(store.contains(&key(10)) && store.contains(&key(13)));
    assert!(!store.contains(&key(11)) && !store.contains(&key(12)));
    assert!(!t.path().join("layers").join(&ids[1]).exists());
    assert_eq!(dir_entries(&t.path().join("trash")), 0, "deleted after");
    drop(pinned);

    // Under the cap: nothing goes.
    assert!(store.gc().await.removed_layers.is_empty());
    // Released and unpinned: everything may go.
    store.release("web-0").unwrap();
    let report = store.gc_to(0).await;
    assert_eq!(report.removed_layers.len(), 2);
    assert_eq!(store.usage().layers, 0);
    assert!(store.leased_handles().is_empty());
}

#[tokio::test]
async fn no_cap_no_gc() {
    let t = tempfile::tempdir().unwrap();
    let store = LayerStore::open(t.path(), None).unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    drop(
        store
            .layer(&key(20), writer(calls, 1 << 40, 0))
            .await
            .unwrap(),
    );
    assert!(store.gc().await.removed_layers.is_empty());
}

#[tokio::test]
async fn a_shift_is_part_of_the_key() {
    let t = tempfile::tempdir().unwrap();
    let store = LayerStore::open(t.path(), None).unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let digest = format!("sha256:{:064x}", 7);
    let plain = LayerKey::new(&digest, &IdShift::none());
    let shifted = LayerKey::new(&digest, &IdShift::offset(100_000, 65536));
    assert_ne!(plain.id(), shifted.id());
    let a = store
        .layer(&plain, writer(calls.clone(), 1, 0))
        .await
        .unwrap();
    let b = store
        .layer(&shifted, writer(calls.clone(), 1, 0))
        .await
        .unwrap();
    assert_ne!(a.path(), b.path());
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[test]
fn handles_are_names() {
    let t = tempfile::tempdir().unwrap();
    let store = LayerStore::open(t.path(), None).unwrap();
    for bad in ["../x", "a/b", "", ".hidden"] {
        assert!(store.lease(bad, &[]).is_err(), "{bad}");
    }
}
