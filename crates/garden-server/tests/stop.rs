//! Garden's Stop and grace times over the API on the houdini backend (no
//! root needed; tests/runc.rs runs the Stop cases on runc).

mod process_client;
mod serving;
mod stop_cases;

use process_client::{call, Addr};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

struct Garden {
    addr: Addr,
    serving: serving::Serving,
    _depot: tempfile::TempDir,
}

async fn start() -> Garden {
    let depot = tempfile::tempdir().unwrap();
    let cfg = garden_server::GardenConfig {
        listen_address: "127.0.0.1:0".into(),
        ..Default::default()
    };
    let capacity = garden::Capacity {
        memory_bytes: 1 << 30,
        disk_bytes: 1 << 30,
        max_containers: 10,
    };
    let backend: Arc<dyn garden::Backend> = Arc::new(
        garden::houdini::HoudiniBackend::new(depot.path().join("houdini"), capacity)
            .unwrap()
            .with_stop_timeout(stop_cases::STOP_TIMEOUT),
    );
    let serving = serving::serve(cfg, backend).await;
    Garden {
        addr: Addr::Tcp(serving.addr.clone()),
        serving,
        _depot: depot,
    }
}

impl Garden {
    async fn create(&self, spec: Value) {
        let (s, v) = call(&self.addr, "POST", "/containers", &spec).await;
        assert_eq!(s, 200, "{v}");
    }

    async fn handles(&self) -> Value {
        let (s, v) = call(&self.addr, "GET", "/containers", &json!({})).await;
        assert_eq!(s, 200, "{v}");
        v["Handles"].clone()
    }

    async fn stop(self) {
        self.serving.stop().await;
    }
}

#[tokio::test]
async fn stop_terms_then_kills_after_the_wait() {
    let g = start().await;
    g.create(json!({"handle": "s1"})).await;
    stop_cases::stop_terminates_then_kills(&g.addr, "s1").await;
    g.create(json!({"handle": "s2"})).await;
    stop_cases::stop_is_quick_when_all_exit(&g.addr, "s2").await;
    g.create(json!({"handle": "s3"})).await;
    stop_cases::stop_with_kill(&g.addr, "s3").await;
    stop_cases::unknown_handles(&g.addr).await;
    // Stopped containers stay until destroyed.
    assert_eq!(g.handles().await, json!(["s1", "s2", "s3"]));
    g.stop().await;
}

#[tokio::test]
async fn stop_bodies_that_do_not_decode_are_gardens_500() {
    let g = start().await;
    g.create(json!({"handle": "b1"})).await;
    let (s, v) = call(
        &g.addr,
        "PUT",
        "/containers/b1/stop",
        &json!({"kill": "yes"}),
    )
    .await;
    assert_eq!(s, 500, "{v}");
    assert_eq!(v["Type"], "");
    let (s, v) = call(&g.addr, "PUT", "/containers/b1/grace_time", &json!("1s")).await;
    assert_eq!(s, 500, "{v}");
    g.stop().await;
}

const SECOND: u64 = 1_000_000_000;

#[tokio::test]
async fn containers_left_alone_for_their_grace_time_are_destroyed() {
    let g = start().await;
    // Grace times of 3 s, touches every 300 ms: a busy host would have
    // to stall a request for over 2 s to make this test wrong.
    g.create(json!({"handle": "idle", "grace_time": 3 * SECOND}))
        .await;
    g.create(json!({"handle": "touched", "grace_time": 3 * SECOND}))
        .await;
    g.create(json!({"handle": "forever"})).await;
    g.create(json!({"handle": "later"})).await;
    // A grace time set after create counts from then.
    let (s, v) = call(
        &g.addr,
        "PUT",
        "/containers/later/grace_time",
        &json!(3 * SECOND),
    )
    .await;
    assert_eq!((s, v), (200, json!({})));
    let touching = std::time::Instant::now();
    while touching.elapsed() < Duration::from_millis(4500) {
        // Any request naming the container touches it.
        let (s, _) = call(&g.addr, "GET", "/containers/touched/info", &json!({})).await;
        assert_eq!(s, 200);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert_eq!(g.handles().await, json!(["forever", "touched"]));
    let (s, v) = call(&g.addr, "GET", "/containers/idle/info", &json!({})).await;
    assert_eq!(s, 404, "{v}");
    assert_eq!(v["Type"], "ContainerNotFoundError");
    // Untouched from now on, it goes too; a grace time of 0 never does.
    let mut left = Value::Null;
    for _ in 0..60 {
        left = g.handles().await;
        if left == json!(["forever"]) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(left, json!(["forever"]));
    g.stop().await;
}

#[tokio::test]
async fn a_grace_time_of_zero_disarms() {
    let g = start().await;
    g.create(json!({"handle": "kept", "grace_time": 3 * SECOND}))
        .await;
    let (s, _) = call(&g.addr, "PUT", "/containers/kept/grace_time", &json!(0)).await;
    assert_eq!(s, 200);
    tokio::time::sleep(Duration::from_millis(3500)).await;
    assert_eq!(g.handles().await, json!(["kept"]));
    g.stop().await;
}
