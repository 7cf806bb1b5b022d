//! The rep's HTTP API in Diego's JSON forms, on a houdini executor with no
//! BBS reachable (reserved containers then stay reserved).

use rep::config::{Capacity, RepConfig, RootFs};
use rep::Rep;
use serde_json::{json, Value};
use std::sync::Arc;

async fn start(dir: &std::path::Path) -> Rep {
    let cfg = RepConfig {
        cell_id: "cell-a".into(),
        cell_index: 3,
        zone: "z9".into(),
        listen_addr: "127.0.0.1:0".into(),
        bbs_address: "http://127.0.0.1:1".into(),
        preloaded_root_fs: vec![RootFs {
            name: "cflinuxfs4".into(),
            path: "/".into(),
        }],
        supported_providers: vec!["docker".into()],
        placement_tags: vec!["req".into()],
        optional_placement_tags: vec!["opt".into()],
        memory_mb: Capacity::Mb(1024),
        disk_mb: Capacity::Mb(2048),
        max_containers: 10,
        container_backend: "houdini".into(),
        depot_dir: dir.display().to_string(),
        ..Default::default()
    };
    let executor = Arc::new(rep::backend::executor_from_config(&cfg).await.unwrap());
    Rep::start(&cfg, executor).await.unwrap()
}

async fn get_json(url: &str) -> (u16, Value) {
    let r = reqwest::get(url).await.unwrap();
    let status = r.status().as_u16();
    (
        status,
        serde_json::from_slice(&r.bytes().await.unwrap()).unwrap(),
    )
}

async fn post(url: &str, body: &str) -> (u16, String) {
    let r = reqwest::Client::new()
        .post(url)
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_and_work_speak_diegos_json() {
    let dir = tempfile::tempdir().unwrap();
    let rep = start(dir.path()).await;

    let (status, state) = get_json(&format!("{}/state", rep.url)).await;
    assert_eq!(status, 200);
    assert_eq!(
        state,
        json!({
            "rep_url": rep.url, "cell_id": "cell-a", "cell_index": 3,
            "RootFSProviders": {
                "docker": {"type": "arbitrary"},
                "preloaded": {"type": "fixed_set", "set": {"cflinuxfs4": {}}},
                "preloaded+layer": {"type": "fixed_set", "set": {"cflinuxfs4": {}}}
            },
            "AvailableResources": {"MemoryMB": 1024, "DiskMB": 2048, "Containers": 10},
            "TotalResources": {"MemoryMB": 1024, "DiskMB": 2048, "Containers": 10},
            "LRPs": [], "Tasks": [], "StartingContainerCount": 0, "Zone": "z9",
            "Evacuating": false, "VolumeDrivers": [], "PlacementTags": ["req"],
            "OptionalPlacementTags": ["opt"], "ProxyMemoryAllocationMB": 0
        })
    );

    // Work as the auctioneer sends it: one LRP and one task fit, one LRP
    // is too big, one LRP names a stack this cell does not have.
    let lrp = |guid: &str, mem: i32, rootfs: &str| {
        json!({"instance_guid": "", "process_guid": guid, "index": 0, "domain": "d",
               "PlacementTags": ["req"], "VolumeDrivers": null, "RootFs": rootfs,
               "MemoryMB": mem, "DiskMB": 10, "MaxPids": 0, "state": ""})
    };
    let work = json!({
        "LRPs": [lrp("small", 100, "preloaded:cflinuxfs4"), lrp("big", 5000, "preloaded:cflinuxfs4"),
                 lrp("other", 10, "preloaded:cflinuxfs3")],
        "Tasks": [{"TaskGuid": "t1", "Domain": "d", "PlacementTags": null, "VolumeDrivers": null,
                   "RootFs": "docker:///busybox", "MemoryMB": 50, "DiskMB": 10, "MaxPids": 0,
                   "state": "Invalid", "failed": false}]
    });
    let (status, body) = post(&format!("{}/work", rep.url), &work.to_string()).await;
    assert_eq!(status, 200);
    let failed: Value = serde_json::from_str(&body).unwrap();
    let failed_guids: Vec<&str> = failed["LRPs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["process_guid"].as_str().unwrap())
        .collect();
    assert_eq!(failed_guids, ["big", "other"]);
    assert_eq!(failed["Tasks"], json!([]));
    assert!(
        failed.get("cell_id").is_none(),
        "cell_id omitted when empty"
    );

    let (_, state) = get_json(&format!("{}/state", rep.url)).await;
    assert_eq!(state["StartingContainerCount"], 2);
    assert_eq!(
        state["AvailableResources"],
        json!({"MemoryMB": 874, "DiskMB": 2028, "Containers": 8})
    );
    let lrps = state["LRPs"].as_array().unwrap();
    assert_eq!(lrps.len(), 1);
    assert_eq!(lrps[0]["process_guid"], "small");
    assert_eq!(lrps[0]["state"], "CLAIMED");
    assert_eq!(lrps[0]["PlacementTags"], json!(["req"]));
    assert_eq!(lrps[0]["instance_guid"].as_str().unwrap().len(), 28);
    assert_eq!(state["Tasks"][0]["TaskGuid"], "t1");
    assert_eq!(state["Tasks"][0]["state"], "Running");

    // Stop and cancel answer 202; the containers go.
    let instance_guid = lrps[0]["instance_guid"].as_str().unwrap();
    let (status, _) = post(
        &format!("{}/v1/lrps/small/instances/{instance_guid}/stop", rep.url),
        "",
    )
    .await;
    assert_eq!(status, 202);
    let (status, _) = post(&format!("{}/v1/tasks/t1/cancel", rep.url), "").await;
    assert_eq!(status, 202);
    let (status, _) = post(
        &format!("{}/v1/lrps/small/instances/nope/stop", rep.url),
        "",
    )
    .await;
    assert_eq!(
        status, 500,
        "stopping an unknown container fails as in Diego"
    );

    // Malformed work, another cell's work, the simulation-only reset.
    assert_eq!(post(&format!("{}/work", rep.url), "{").await.0, 400);
    let other = json!({"LRPs": [], "Tasks": [], "cell_id": "cell-b"});
    assert_eq!(
        post(&format!("{}/work", rep.url), &other.to_string())
            .await
            .0,
        500
    );
    assert_eq!(post(&format!("{}/sim/reset", rep.url), "").await.0, 500);

    let update = json!({"instance_guid": "i", "process_guid": "p", "index": 0, "domain": "d",
                        "internal_routes": [{"hostname": "a.internal"}], "metric_tags": {"k": "v"}});
    let r = reqwest::Client::new()
        .put(format!("{}/v2/lrps/p/instances/i", rep.url))
        .body(update.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);

    assert_eq!(
        reqwest::get(format!("{}/ping", rep.local_url))
            .await
            .unwrap()
            .status(),
        200
    );
    let (status, body) = post(&format!("{}/evacuate", rep.local_url), "").await;
    assert_eq!((status, body.as_str()), (202, r#"{"ping_path":"/ping"}"#));
    let (_, state) = get_json(&format!("{}/state", rep.url)).await;
    assert_eq!(state["Evacuating"], true);

    rep.shutdown().await;
}
