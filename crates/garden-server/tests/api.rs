//! Garden's HTTP API on the houdini backend (no root needed), driven by a
//! Go-free client of our own (reqwest, and raw HTTP over the unix socket)
//! the way Garden's Go client calls it (client/connection/connection.go).

mod serving;

use garden_server::GardenConfig;
use reqwest::StatusCode;
use serde_json::{json, Value};

struct Garden {
    base: String,
    http: reqwest::Client,
    serving: serving::Serving,
    _depot: tempfile::TempDir,
}

fn houdini_config(depot: &std::path::Path) -> GardenConfig {
    GardenConfig {
        container_backend: "houdini".into(),
        depot_dir: depot.display().to_string(),
        listen_address: "127.0.0.1:0".into(),
        max_containers: 7,
        ..Default::default()
    }
}

impl Garden {
    async fn start() -> Garden {
        let depot = tempfile::tempdir().unwrap();
        let serving = serving::serve_configured(houdini_config(depot.path())).await;
        Garden {
            base: format!("http://{}", serving.addr),
            http: reqwest::Client::new(),
            serving,
            _depot: depot,
        }
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self.http.request(method, format!("{}{}", self.base, path));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let ct = resp
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string());
        let text = resp.text().await.unwrap();
        let value = if text.is_empty() {
            Value::Null
        } else {
            assert_eq!(ct.as_deref(), Some("application/json"), "{path}: {text}");
            assert!(
                text.ends_with('\n'),
                "Go's json.Encoder ends with a newline"
            );
            serde_json::from_str(&text).unwrap()
        };
        (status, value)
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(reqwest::Method::GET, path, None).await
    }

    async fn create(&self, spec: Value) -> (StatusCode, Value) {
        self.call(reqwest::Method::POST, "/containers", Some(spec))
            .await
    }

    async fn stop(self) {
        self.serving.stop().await;
    }
}

fn not_found(v: &Value, handle: &str) {
    assert_eq!(v["Type"], "ContainerNotFoundError", "{v}");
    assert_eq!(v["Handle"], handle);
    assert_eq!(v["Message"], format!("unknown handle: {handle}"));
}

#[tokio::test]
async fn ping_and_capacity() {
    let g = Garden::start().await;
    assert_eq!(g.get("/ping").await, (StatusCode::OK, json!({})));
    let (s, c) = g.get("/capacity").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(c["max_containers"], 7);
    assert!(c["memory_in_bytes"].as_u64().unwrap() > 0, "{c}");
    assert!(c["disk_in_bytes"].as_u64().unwrap() > 0, "{c}");
    g.stop().await;
}

#[tokio::test]
async fn create_list_info_destroy() {
    let g = Garden::start().await;
    let host_dir = tempfile::tempdir().unwrap();
    // The shape Diego's executor sends (garden.ContainerSpec's json tags),
    // with Go's explicit nulls for empty lists.
    let (s, v) = g
        .create(json!({
            "handle": "web-1",
            "image": {"uri": "preloaded:busybox"},
            "bind_mounts": [{"src_path": host_dir.path(), "dst_path": "/mnt/data", "mode": 1}],
            "properties": {"executor:owner": "rep", "app": "web"},
            "env": ["A=1"],
            "limits": {"memory_limits": {"limit_in_bytes": 67108864}, "cpu_limits": {"weight": 512}},
            "netin": [{"host_port": 0, "container_port": 8080}],
            "netout_rules": [{"protocol": 1, "networks": [{"start": "10.0.0.1", "end": "10.0.0.9"}],
                              "ports": [{"start": 80, "end": 443}]}],
            "grace_time": null,
        }))
        .await;
    assert_eq!((s, v), (StatusCode::OK, json!({"Handle": "web-1"})));
    let (s, v) = g
        .create(json!({"handle": "worker-1", "properties": {"executor:owner": "rep"}}))
        .await;
    assert_eq!(
        (s, v["Handle"].clone()),
        (StatusCode::OK, json!("worker-1"))
    );
    // No handle: garden names the container.
    let (s, v) = g.create(json!({})).await;
    assert_eq!(s, StatusCode::OK);
    let generated = v["Handle"].as_str().unwrap().to_string();
    assert!(!generated.is_empty());
    // A handle in use is an error (500, untyped), as in guardian.
    let (s, v) = g.create(json!({"handle": "web-1"})).await;
    assert_eq!(s, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(v["Message"].as_str().unwrap().contains("web-1"), "{v}");

    let (_, all) = g.get("/containers").await;
    let mut handles: Vec<String> = serde_json::from_value(all["Handles"].clone()).unwrap();
    handles.sort();
    let mut want = vec![generated.clone(), "web-1".into(), "worker-1".into()];
    want.sort();
    assert_eq!(handles, want);
    let (_, owned) = g.get("/containers?executor:owner=rep").await;
    assert_eq!(owned, json!({"Handles": ["web-1", "worker-1"]}));
    let (_, web) = g.get("/containers?executor:owner=rep&app=web").await;
    assert_eq!(web, json!({"Handles": ["web-1"]}));
    let (_, none) = g.get("/containers?app=nope").await;
    assert_eq!(none, json!({"Handles": []}));

    let (s, info) = g.get("/containers/web-1/info").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(info["State"], "active");
    assert_eq!(info["Properties"]["app"], "web");
    assert_eq!(
        info["MappedPorts"],
        json!([{"HostPort": 8080, "ContainerPort": 8080}])
    );
    assert_eq!(info["ExternalIP"], "127.0.0.1");
    assert!(info["Events"].is_array() && info["ProcessIDs"].is_array());

    let (s, v) = g
        .call(reqwest::Method::DELETE, "/containers/web-1", None)
        .await;
    assert_eq!((s, v), (StatusCode::OK, json!({})));
    let (s, v) = g
        .call(reqwest::Method::DELETE, "/containers/web-1", None)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    not_found(&v, "web-1");
    let (_, owned) = g.get("/containers?executor:owner=rep").await;
    assert_eq!(owned, json!({"Handles": ["worker-1"]}));
    assert!(
        host_dir.path().exists(),
        "destroy leaves a bind mount's source"
    );
    g.stop().await;
}

#[tokio::test]
async fn unknown_handles_answer_garden_errors() {
    let g = Garden::start().await;
    for path in [
        "/containers/ghost/info",
        "/containers/ghost/metrics",
        "/containers/ghost/properties",
        "/containers/ghost/properties/k",
        "/containers/ghost/limits/memory",
        "/containers/ghost/limits/cpu",
        "/containers/ghost/limits/disk",
        "/containers/ghost/limits/bandwidth",
    ] {
        let (s, v) = g.get(path).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{path}");
        not_found(&v, "ghost");
    }
    for (method, path, body) in [
        (
            reqwest::Method::PUT,
            "/containers/ghost/properties/k",
            Some(json!({"value": "v"})),
        ),
        (
            reqwest::Method::DELETE,
            "/containers/ghost/properties/k",
            None,
        ),
        (
            reqwest::Method::POST,
            "/containers/ghost/net/in",
            Some(json!({"host_port": 1})),
        ),
        (
            reqwest::Method::POST,
            "/containers/ghost/net/out",
            Some(json!({})),
        ),
        (
            reqwest::Method::PUT,
            "/containers/ghost/stop",
            Some(json!({"kill": false})),
        ),
        (
            reqwest::Method::PUT,
            "/containers/ghost/grace_time",
            Some(json!(1_000_000_000u64)),
        ),
    ] {
        let (s, v) = g.call(method, path, body).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{path}");
        not_found(&v, "ghost");
    }
    // A body that does not decode: 500 with the decoder's message.
    let resp = g
        .http
        .post(format!("{}/containers", g.base))
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["Type"], "");
    assert!(!v["Message"].as_str().unwrap().is_empty());
    g.stop().await;
}

#[tokio::test]
async fn bulk_info_and_bulk_metrics() {
    let g = Garden::start().await;
    for h in ["a", "b"] {
        let (s, _) = g
            .create(json!({"handle": h, "properties": {"name": h}}))
            .await;
        assert_eq!(s, StatusCode::OK);
    }
    let (s, v) = g.get("/containers/bulk_info?handles=a%2Cb%2Cghost").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["a"]["Info"]["Properties"]["name"], "a");
    assert_eq!(v["a"]["Err"], Value::Null);
    assert_eq!(v["b"]["Info"]["State"], "active");
    assert_eq!(v["ghost"]["Info"], Value::Null);
    not_found(&v["ghost"]["Err"], "ghost");
    assert_eq!(g.get("/containers/bulk_info?handles=").await.1, json!({}));
    assert_eq!(g.get("/containers/bulk_info").await.1, json!({}));

    let (s, v) = g.get("/containers/bulk_metrics?handles=a,ghost").await;
    assert_eq!(s, StatusCode::OK);
    let m = &v["a"]["Metrics"];
    assert!(m["MemoryStat"]["TotalUsageTowardLimit"].is_u64(), "{m}");
    assert!(m["CPUStat"]["Usage"].is_u64(), "{m}");
    assert!(m["DiskStat"]["TotalBytesUsed"].is_u64(), "{m}");
    assert_eq!(
        m["NetworkStat"],
        Value::Null,
        "houdini has no network of its own"
    );
    not_found(&v["ghost"]["Err"], "ghost");
    let (s, one) = g.get("/containers/b/metrics").await;
    assert_eq!(s, StatusCode::OK);
    assert!(one["DiskStat"]["ExclusiveBytesUsed"].is_u64(), "{one}");
    g.stop().await;
}

#[tokio::test]
async fn properties_get_set_remove() {
    let g = Garden::start().await;
    g.create(json!({"handle": "p", "properties": {"k1": "v1"}}))
        .await;
    assert_eq!(
        g.get("/containers/p/properties").await.1,
        json!({"k1": "v1"})
    );
    assert_eq!(
        g.get("/containers/p/properties/k1").await.1,
        json!({"value": "v1"})
    );
    let (s, v) = g
        .call(
            reqwest::Method::PUT,
            "/containers/p/properties/k2",
            Some(json!({"value": "v2"})),
        )
        .await;
    assert_eq!((s, v), (StatusCode::OK, json!({})));
    assert_eq!(
        g.get("/containers/p/properties").await.1,
        json!({"k1": "v1", "k2": "v2"})
    );
    // A set property filters the list like one given at create.
    assert_eq!(
        g.get("/containers?k2=v2").await.1,
        json!({"Handles": ["p"]})
    );
    let (s, _) = g
        .call(reqwest::Method::DELETE, "/containers/p/properties/k1", None)
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        g.get("/containers/p/properties").await.1,
        json!({"k2": "v2"})
    );
    let (s, v) = g.get("/containers/p/properties/k1").await;
    assert_eq!(s, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(v["Type"], "");
    let (s, _) = g
        .call(reqwest::Method::DELETE, "/containers/p/properties/k1", None)
        .await;
    assert_eq!(s, StatusCode::INTERNAL_SERVER_ERROR);
    g.stop().await;
}

#[tokio::test]
async fn limits_read_back_as_created() {
    let g = Garden::start().await;
    g.create(json!({"handle": "l", "limits": {
        "memory_limits": {"limit_in_bytes": 134217728},
        "cpu_limits": {"limit_in_shares": 256},
        "disk_limits": {"byte_hard": 1073741824, "inode_hard": 200000, "scope": 1},
        "bandwidth_limits": {"rate": 1000, "burst": 2000},
        "pid_limits": {"max": 100}
    }}))
    .await;
    g.create(json!({"handle": "none"})).await;
    let read = |k: &'static str| {
        let g = &g;
        async move { g.get(&format!("/containers/l/limits/{k}")).await }
    };
    assert_eq!(
        read("memory").await,
        (StatusCode::OK, json!({"limit_in_bytes": 134217728}))
    );
    assert_eq!(read("cpu").await.1, json!({"limit_in_shares": 256}));
    assert_eq!(
        read("disk").await.1,
        json!({"byte_hard": 1073741824, "inode_hard": 200000, "scope": 1})
    );
    assert_eq!(
        read("bandwidth").await.1,
        json!({"rate": 1000, "burst": 2000})
    );
    // No limits: Go's omitempty leaves an empty object.
    assert_eq!(g.get("/containers/none/limits/memory").await.1, json!({}));
    g.stop().await;
}

#[tokio::test]
async fn net_in_and_out_after_create_are_refused_in_garden_form() {
    let g = Garden::start().await;
    g.create(json!({"handle": "n"})).await;
    for path in ["/containers/n/net/in", "/containers/n/net/out"] {
        let (s, v) = g
            .call(
                reqwest::Method::POST,
                path,
                Some(json!({"host_port": 0, "container_port": 8080})),
            )
            .await;
        assert_eq!(s, StatusCode::INTERNAL_SERVER_ERROR, "{path}");
        assert!(
            v["Message"].as_str().unwrap().contains("container spec"),
            "{v}"
        );
    }
    g.stop().await;
}

#[tokio::test]
async fn serves_on_a_unix_socket() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let depot = tempfile::tempdir().unwrap();
    let sock = depot.path().join("garden.sock");
    let mut cfg = houdini_config(depot.path());
    cfg.listen_network = "unix".into();
    cfg.listen_address = sock.display().to_string();
    let serving = serving::serve_configured(cfg).await;
    assert_eq!(serving.addr, sock.display().to_string());
    // What Garden's Go client sends over `garden_network: unix`: Host "api".
    let mut conn = tokio::net::UnixStream::connect(&sock).await.unwrap();
    conn.write_all(b"GET /ping HTTP/1.1\r\nHost: api\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    conn.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert!(answer.ends_with("\r\n\r\n{}\n"), "{answer}");
    serving.stop().await;
    assert!(!sock.exists(), "the socket is removed on shutdown");
}

#[test]
fn config_defaults_and_validation() {
    let cfg: GardenConfig = serde_json::from_str("{}").unwrap();
    assert_eq!(cfg.listen_network, "tcp");
    assert_eq!(cfg.listen_address, "127.0.0.1:7777");
    assert_eq!(cfg.container_backend, "runc");
    // Garden's own connection cap unless the file sets one.
    let cfg = GardenConfig::parse(r#"{"idle_timeout":"5s"}"#).unwrap();
    assert_eq!(cfg.server.max_connections, 32768);
    assert_eq!(cfg.server.idle_timeout.0, std::time::Duration::from_secs(5));
    let cfg = GardenConfig::parse(r#"{"max_connections":9}"#).unwrap();
    assert_eq!(cfg.server.max_connections, 9);
    assert_eq!(GardenConfig::default().server.max_connections, 32768);
    let bad = GardenConfig {
        listen_network: "udp".into(),
        ..Default::default()
    };
    assert!(bad.validate().is_err());
    assert!(serde_json::from_str::<GardenConfig>(r#"{"listen_adress":"x"}"#).is_err());
}

#[tokio::test]
async fn files_stream_in_and_out_as_tar() {
    let g = Garden::start().await;
    g.create(json!({"handle": "f"})).await;
    let mut b = tar::Builder::new(Vec::new());
    let data = b"hello from a tar\n";
    let mut h = tar::Header::new_gnu();
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    b.append_data(&mut h, "greeting.txt", &data[..]).unwrap();
    let tar = b.into_inner().unwrap();
    // As Garden's client sends it: a PUT of application/x-tar.
    let resp = g
        .http
        .put(format!(
            "{}/containers/f/files?user=vcap&destination=/app",
            g.base
        ))
        .header("content-type", "application/x-tar")
        .body(tar)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.text().await.unwrap(), "{}\n");

    let resp = g
        .http
        .get(format!(
            "{}/containers/f/files?source=/app/greeting.txt",
            g.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let out = resp.bytes().await.unwrap();
    let mut archive = tar::Archive::new(&out[..]);
    let mut entry = archive.entries().unwrap().next().unwrap().unwrap();
    let mut text = String::new();
    std::io::Read::read_to_string(&mut entry, &mut text).unwrap();
    assert_eq!(text, "hello from a tar\n");

    let resp = g
        .http
        .get(format!("{}/containers/ghost/files?source=/x", g.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    not_found(&resp.json().await.unwrap(), "ghost");
    g.stop().await;
}
