//! Garden's API on the runc backend (a host test: root, runc, netns; run
//! under `flock -o /tmp/diego-host-tests.lock`): a container made, read,
//! relabelled and destroyed over HTTP is a real isolated container.

use reqwest::StatusCode;
use serde_json::{json, Value};
use std::net::Ipv4Addr;
use std::sync::Arc;

#[tokio::test]
async fn runc_containers_over_gardens_api() {
    testkit::skip_if!(garden::runc_unavailable());
    let dir = tempfile::tempdir().unwrap();
    let rootfs = dir.path().join("busybox-rootfs");
    garden::rootfs::build_busybox_rootfs(&rootfs).unwrap();
    let backend = garden::RuncBackend::new(backend_config(&dir))
        .await
        .unwrap();
    let _teardown = garden::DestroyOnDrop(backend.clone());
    let cfg = garden_server::GardenConfig {
        listen_address: "127.0.0.1:0".into(),
        ..Default::default()
    };
    let (addr_tx, addr_rx) = tokio::sync::oneshot::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let served: Arc<dyn garden::Backend> = Arc::new(backend.clone());
    let task = tokio::spawn(async move {
        garden_server::serve(
            &cfg,
            served,
            |a| {
                let _ = addr_tx.send(a);
            },
            async {
                let _ = stop_rx.await;
            },
        )
        .await
    });
    let base = format!("http://{}", addr_rx.await.unwrap());
    let http = reqwest::Client::new();
    let call = |m: reqwest::Method, path: &str, body: Option<Value>| {
        let mut req = http.request(m, format!("{base}{path}"));
        if let Some(b) = body {
            req = req.json(&b);
        }
        async move {
            let resp = req.send().await.unwrap();
            (resp.status(), resp.json::<Value>().await.unwrap())
        }
    };
    use reqwest::Method as M;

    let (s, v) = call(
        M::POST,
        "/containers",
        Some(json!({
            "handle": "gapi-1",
            "image": {"uri": "preloaded:busybox"},
            "properties": {"executor:owner": "rep"},
            "limits": {"memory_limits": {"limit_in_bytes": 67108864}},
            "netin": [{"host_port": 0, "container_port": 8080}],
        })),
    )
    .await;
    assert_eq!((s, v), (StatusCode::OK, json!({"Handle": "gapi-1"})));

    let (s, info) = call(M::GET, "/containers/gapi-1/info", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(info["State"], "active");
    assert_eq!(info["ContainerIP"], "10.248.1.2");
    let host_port = info["MappedPorts"][0]["HostPort"].as_u64().unwrap();
    assert!((31000..=31049).contains(&host_port), "{info}");
    assert_eq!(info["MappedPorts"][0]["ContainerPort"], 8080);

    // Properties change on runc too, and survive in the container's record.
    let (s, _) = call(
        M::PUT,
        "/containers/gapi-1/properties/executor:state",
        Some(json!({"value": "running"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (_, list) = call(M::GET, "/containers?executor:state=running", None).await;
    assert_eq!(list, json!({"Handles": ["gapi-1"]}));
    let restarted = garden::RuncBackend::new(backend_config(&dir))
        .await
        .unwrap();
    use garden::Backend;
    let props = restarted.info("gapi-1").await.unwrap().properties;
    assert_eq!(
        props.get("executor:state").map(String::as_str),
        Some("running")
    );

    let (s, m) = call(M::GET, "/containers/bulk_metrics?handles=gapi-1", None).await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        m["gapi-1"]["Metrics"]["NetworkStat"]["RxBytes"].is_u64(),
        "{m}"
    );
    let (_, mem) = call(M::GET, "/containers/gapi-1/limits/memory", None).await;
    assert_eq!(mem, json!({"limit_in_bytes": 67108864}));

    let (s, v) = call(M::DELETE, "/containers/gapi-1", None).await;
    assert_eq!((s, v), (StatusCode::OK, json!({})));
    let (_, list) = call(M::GET, "/containers", None).await;
    assert_eq!(list, json!({"Handles": []}));
    let _ = stop_tx.send(());
    task.await.unwrap().unwrap();
}

/// The test's backend (tag, subnet and ports of its own); a second one
/// over the same depot reloads the first's containers.
fn backend_config(dir: &tempfile::TempDir) -> garden::RuncConfig {
    let mut rc = garden::RuncConfig::new(dir.path().join("depot"));
    rc.rootfs
        .insert("busybox".into(), dir.path().join("busybox-rootfs"));
    rc.tag = "gapi".into();
    rc.subnet = Ipv4Addr::new(10, 248, 1, 0);
    rc.subnet_prefix = 24;
    rc.port_range = (31000, 31049);
    rc.external_ip = Ipv4Addr::LOCALHOST;
    rc
}
