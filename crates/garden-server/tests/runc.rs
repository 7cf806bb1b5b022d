//! Garden's API on the runc backend (a host test: root, runc, netns; run
//! under `flock -o /tmp/diego-host-tests.lock`): a container made, read,
//! relabelled and destroyed over HTTP is a real isolated container, and
//! runs processes with their stdio over Garden's hijacked connections.

mod process_client;
mod serving;
mod stop_cases;

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
    let serving = serving::serve(cfg, Arc::new(backend.clone())).await;
    let base = format!("http://{}", serving.addr);
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
            // As Diego's rep names a stack: by its rootfs's path.
            "image": {"uri": rootfs.display().to_string()},
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

    processes(&process_client::Addr::Tcp(
        base["http://".len()..].to_string(),
    ))
    .await;

    let (s, v) = call(M::DELETE, "/containers/gapi-1", None).await;
    assert_eq!((s, v), (StatusCode::OK, json!({})));
    let (_, list) = call(M::GET, "/containers", None).await;
    assert_eq!(list, json!({"Handles": []}));
    serving.stop().await;
}

/// Garden's Stop on real runc containers: every process but the
/// container's init gets SIGTERM, SIGKILL after the (shortened) wait.
#[tokio::test]
async fn runc_stop_over_gardens_api() {
    testkit::skip_if!(garden::runc_unavailable());
    let dir = tempfile::tempdir().unwrap();
    let rootfs = dir.path().join("busybox-rootfs");
    garden::rootfs::build_busybox_rootfs(&rootfs).unwrap();
    // A tag, subnet and ports apart from the other test's backend: the
    // tests of this file run at the same time.
    let mut rc = backend_config(&dir);
    rc.tag = "gstp".into();
    rc.subnet = Ipv4Addr::new(10, 248, 2, 0);
    rc.port_range = (31050, 31099);
    rc.stop_timeout = stop_cases::STOP_TIMEOUT;
    let backend = garden::RuncBackend::new(rc).await.unwrap();
    let _teardown = garden::DestroyOnDrop(backend.clone());
    let cfg = garden_server::GardenConfig {
        listen_address: "127.0.0.1:0".into(),
        ..Default::default()
    };
    let serving = serving::serve(cfg, Arc::new(backend.clone())).await;
    let addr = process_client::Addr::Tcp(serving.addr.clone());
    let create = |handle: &str| {
        let spec = json!({"handle": handle, "image": {"uri": "preloaded:busybox"}});
        let addr = addr.clone();
        async move {
            let (s, v) = process_client::call(&addr, "POST", "/containers", &spec).await;
            assert_eq!(s, 200, "{v}");
        }
    };
    create("gstp-1").await;
    stop_cases::stop_terminates_then_kills(&addr, "gstp-1").await;
    create("gstp-2").await;
    stop_cases::stop_is_quick_when_all_exit(&addr, "gstp-2").await;
    create("gstp-3").await;
    stop_cases::stop_with_kill(&addr, "gstp-3").await;
    // Its init outlived the stop: processes still run in it.
    let p = process_client::run(&addr, "gstp-3", json!({"path": "true"}))
        .await
        .unwrap();
    assert_eq!(p.wait().await["exit_status"], 0);
    stop_cases::unknown_handles(&addr).await;
    create("gstp-4").await;
    stop_reaches_peas(&addr, "gstp-4").await;
    // The container stays (its init too) until destroyed.
    let (_, list) = process_client::call(&addr, "GET", "/containers", &json!({})).await;
    assert_eq!(
        list,
        json!({"Handles": ["gstp-1", "gstp-2", "gstp-3", "gstp-4"]})
    );
    for h in ["gstp-1", "gstp-2", "gstp-3", "gstp-4"] {
        let (s, v) =
            process_client::call(&addr, "DELETE", &format!("/containers/{h}"), &json!({})).await;
        assert_eq!((s, v), (200, json!({})));
    }
    serving.stop().await;
}

/// Stop reaches a pea with limits of its own (a cgroup apart from the
/// container's): SIGTERM, which it handles.
async fn stop_reaches_peas(addr: &process_client::Addr, handle: &str) {
    use std::time::{Duration, Instant};
    let marks = tempfile::tempdir().unwrap();
    // Writable by the pea's root, an unprivileged uid on the host.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(marks.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let p = process_client::run(
        addr,
        handle,
        json!({
            "path": "sh",
            "args": ["-c", "trap 'exit 42' TERM; touch /marks/ready; while true; do sleep 0.1; done"],
            "limits": {"cpu_limits": {}, "memory_limits": {}},
            "image": {"uri": "preloaded:busybox"},
            "bind_mounts": [{
                "src_path": marks.path().display().to_string(),
                "dst_path": "/marks",
                "mode": 1,
            }],
        }),
    )
    .await
    .unwrap();
    let ready = marks.path().join("ready");
    for _ in 0..200 {
        if ready.exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(ready.exists(), "the pea never started");
    let t = Instant::now();
    let (s, v) = process_client::call(
        addr,
        "PUT",
        &format!("/containers/{handle}/stop"),
        &json!({"kill": false}),
    )
    .await;
    assert_eq!((s, v), (200, json!({})));
    assert!(t.elapsed() < stop_cases::STOP_TIMEOUT, "{:?}", t.elapsed());
    assert_eq!(p.wait().await["exit_status"], 42);
}

/// Run and attach in the runc container `gapi-1`.
async fn processes(addr: &process_client::Addr) {
    use process_client::{attach, run};
    use std::time::Duration;
    let sh = |script: &str| json!({"path": "sh", "args": ["-c", script]});

    let mut p = run(
        addr,
        "gapi-1",
        sh("echo out; echo err >&2; read x; echo got $x; exit 3"),
    )
    .await
    .unwrap();
    assert_eq!(p.head.status_line, "HTTP/1.1 201 Created");
    let stdout = p.output("stdout").await;
    let stderr = p.output("stderr").await;
    p.stdin("hello\n").await;
    p.close_stdin().await;
    let id = p.process_id.clone();
    assert_eq!(p.wait().await, json!({"process_id": id, "exit_status": 3}));
    assert_eq!(stdout.await.unwrap().1, b"out\ngot hello\n");
    assert_eq!(stderr.await.unwrap().1, b"err\n");

    // Output from before any stream connected, and attach by id after the
    // run connection went away.
    let mut spec = sh("echo early; sleep 1; echo late; exit 7");
    spec["id"] = json!("runc-proc");
    let p = run(addr, "gapi-1", spec).await.unwrap();
    let stream = process_client::StreamRef {
        handle: "gapi-1".into(),
        process_id: p.process_id.clone(),
        stream_id: p.stream_id.clone(),
    };
    drop(p);
    let a = attach(addr, "gapi-1", "runc-proc").await.unwrap();
    let late = a.output("stdout").await;
    assert_eq!(a.wait().await["exit_status"], 7);
    // From the attach on (runc may start the script after it: "early" too).
    let late = late.await.unwrap().1;
    assert!(late.ends_with(b"late\n"), "{late:?}");
    let (_, early) = stream.output(addr, "stdout").await;
    assert_eq!(early, b"early\nlate\n");

    let mut p = run(addr, "gapi-1", json!({"path": "sleep", "args": ["1000"]}))
        .await
        .unwrap();
    p.signal(0).await;
    let exit = tokio::time::timeout(Duration::from_secs(10), p.wait())
        .await
        .expect("terminated");
    assert_eq!(exit["exit_status"], 128 + 15);

    let (status, e) = attach(addr, "gapi-1", "nope").await.err().unwrap();
    assert_eq!((status, &e["Type"]), (404, &json!("ProcessNotFoundError")));
    assert_eq!(e["ProcessID"], "nope");

    pea(addr).await;
}

/// A process with an image and bind mounts of its own (a pea), as
/// Diego's executor runs a health check: the JSON Go's client sends for
/// `OverrideContainerLimits: &garden.ProcessLimits{}`.
async fn pea(addr: &process_client::Addr) {
    let assets = tempfile::tempdir().unwrap();
    std::fs::write(assets.path().join("healthcheck"), "asset\n").unwrap();
    let p = process_client::run(
        addr,
        "gapi-1",
        json!({
            "id": "gapi-1-healthcheck-0",
            "path": "sh",
            "args": ["-c", "echo > /tmp/in-the-pea; cat /etc/cf-assets/healthcheck; echo oops >&2; exit 4"],
            "rlimits": {},
            "limits": {"cpu_limits": {}, "memory_limits": {}},
            "image": {"uri": "preloaded:busybox"},
            "bind_mounts": [{
                "src_path": assets.path().display().to_string(),
                "dst_path": "/etc/cf-assets",
            }],
        }),
    )
    .await
    .unwrap();
    assert_eq!(p.head.status_line, "HTTP/1.1 201 Created");
    assert_eq!(p.process_id, "gapi-1-healthcheck-0");
    let stdout = p.output("stdout").await;
    let stderr = p.output("stderr").await;
    assert_eq!(
        p.wait().await,
        json!({"process_id": "gapi-1-healthcheck-0", "exit_status": 4})
    );
    assert_eq!(stdout.await.unwrap().1, b"asset\n");
    assert_eq!(stderr.await.unwrap().1, b"oops\n");
    // What the pea wrote stayed in its own rootfs, gone with it.
    let check = process_client::run(
        addr,
        "gapi-1",
        json!({"path": "sh", "args": ["-c", "test ! -e /tmp/in-the-pea"]}),
    )
    .await
    .unwrap();
    assert_eq!(check.wait().await["exit_status"], 0);
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
