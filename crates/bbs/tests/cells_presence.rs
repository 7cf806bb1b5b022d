//! `/v1/cells/list.r1` backed by a real locket server (SQLite): cell
//! presences registered with PresenceRunner come back as CellPresence.

mod api_support;

use api_support::TestBbs;
use bbs::config::GoDuration;
use bbs::server::Overrides;
use locket::client::{self, presence_resource, ClientLocketConfig, LockHandle, PresenceRunner};
use models::json::GoJson;
use models::{CellCapacity, CellPresence, CellsResponse, Provider};
use std::time::Duration;
use testkit::control_plane::start_locket;

fn cell(id: &str, zone: &str, memory_mb: i32) -> CellPresence {
    CellPresence {
        cell_id: id.into(),
        rep_address: format!("http://{id}.internal:1800"),
        zone: zone.into(),
        capacity: Some(CellCapacity {
            memory_mb,
            disk_mb: 2 * memory_mb,
            containers: 250,
        }),
        rootfs_providers: vec![Provider {
            name: "preloaded".into(),
            properties: vec!["cflinuxfs4".into()],
        }],
        placement_tags: vec!["blue".into()],
        rep_url: format!("https://{id}.internal:1801"),
        ..Default::default()
    }
}

async fn register(addr: &str, key: &str, value: &str) -> LockHandle {
    let c = client::connect(&ClientLocketConfig::insecure(addr))
        .await
        .unwrap();
    let mut h = PresenceRunner::new(c, presence_resource(key, key, value))
        .ttl_in_seconds(5)
        .retry_interval(Duration::from_millis(200))
        .spawn();
    tokio::time::timeout(Duration::from_secs(5), h.acquired())
        .await
        .expect("presence within 5s")
        .expect("presence held");
    h
}

async fn start_bbs(locket_addr: String) -> TestBbs {
    let bbs = TestBbs::start_with(
        |c| {
            c.locket_address = locket_addr;
            c.lock_ttl = GoDuration(Duration::from_secs(2));
            c.lock_retry_interval = GoDuration(Duration::from_millis(200));
            c.uuid = "bbs-under-test".into();
            c.advertise_url = "http://bbs.example:8889".into();
        },
        Overrides::default(),
    );
    tokio::time::timeout(Duration::from_secs(10), bbs)
        .await
        .expect("bbs takes the lock and serves")
}

#[tokio::test]
async fn cells_come_from_locket_presences() {
    let dir = tempfile::tempdir().unwrap();
    let locket = start_locket(dir.path()).await;
    let addr = locket.addr.to_string();
    let bbs = start_bbs(addr.clone()).await;
    assert!(bbs.running().holds_lock());

    let r: CellsResponse = bbs.call("/v1/cells/list.r1", &()).await;
    assert!(r.error.is_none(), "{:?}", r.error);
    assert!(r.cells.is_empty(), "no cells yet: {:?}", r.cells);

    let a = cell("cell-a", "z1", 1024);
    let b = cell("cell-b", "z2", 4096);
    let pa = register(&addr, "cell-a", &a.to_go_json()).await;
    let pb = register(&addr, "cell-b", &b.to_go_json()).await;
    // A presence whose value is not a CellPresence is skipped (Diego logs
    // and skips it).
    let junk = register(&addr, "not-a-cell", "this is not json").await;

    let r: CellsResponse = bbs.call("/v1/cells/list.r1", &()).await;
    assert!(r.error.is_none(), "{:?}", r.error);
    let mut cells = r.cells;
    cells.sort_by(|x, y| x.cell_id.cmp(&y.cell_id));
    assert_eq!(cells, vec![a.clone(), b.clone()]);
    assert_eq!(cells[1].capacity.as_ref().unwrap().memory_mb, 4096);
    assert_eq!(cells[0].zone, "z1");
    assert_eq!(cells[0].rep_url, "https://cell-a.internal:1801");
    assert_eq!(cells[0].rootfs_providers[0].properties, vec!["cflinuxfs4"]);

    // A stopped presence is released, so its cell disappears.
    pb.stop().await;
    let r: CellsResponse = bbs.call("/v1/cells/list.r1", &()).await;
    assert_eq!(r.cells, vec![a]);

    pa.stop().await;
    junk.stop().await;
    bbs.shutdown().await;
    locket.shutdown().await;
}

#[tokio::test]
async fn the_bbs_lock_carries_owner_and_no_value_as_diegos() {
    let dir = tempfile::tempdir().unwrap();
    let locket = start_locket(dir.path()).await;
    let addr = locket.addr.to_string();
    let bbs = start_bbs(addr.clone()).await;

    let mut c = client::connect(&ClientLocketConfig::insecure(addr.as_str()))
        .await
        .unwrap();
    let r = c
        .fetch(locket::proto::FetchRequest { key: "bbs".into() })
        .await
        .unwrap()
        .into_inner()
        .resource
        .unwrap();
    assert_eq!(r.owner, "bbs-under-test");
    assert_eq!(r.type_code, locket::proto::TypeCode::Lock as i32);
    // Diego's bbs takes its lock with no value (cmd/bbs/main.go).
    assert_eq!(r.value, "");

    // Shutting down releases the lock at once.
    bbs.shutdown().await;
    let e = c
        .fetch(locket::proto::FetchRequest { key: "bbs".into() })
        .await
        .expect_err("released");
    assert_eq!(e.code(), tonic::Code::NotFound);
    locket.shutdown().await;
}

#[tokio::test]
async fn losing_the_lock_stops_serving() {
    let dir = tempfile::tempdir().unwrap();
    let locket = start_locket(dir.path()).await;
    let bbs = start_bbs(locket.addr.to_string()).await;
    assert!(bbs.ping().await);

    // Locket going away means renewals fail: the lock is lost.
    locket.shutdown().await;
    let reason = tokio::time::timeout(Duration::from_secs(10), bbs.running().lock_lost())
        .await
        .expect("lock lost within 10s");
    assert!(!reason.is_empty());
    // The API listener is closed.
    let mut refused = false;
    for _ in 0..50 {
        if tokio::net::TcpStream::connect(bbs.running().addr)
            .await
            .is_err()
        {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        refused,
        "the API listener still accepts after the lock was lost"
    );
}

#[tokio::test]
async fn without_locket_there_is_no_lock_and_no_cells() {
    let bbs = TestBbs::start().await;
    assert!(!bbs.running().holds_lock());
    let r: CellsResponse = bbs.call("/v1/cells/list.r1", &()).await;
    assert!(r.error.is_none());
    assert!(r.cells.is_empty());
    bbs.shutdown().await;
}
