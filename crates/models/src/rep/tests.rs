use super::*;
use serde_json::json;

fn diego_cell_state_json() -> serde_json::Value {
    json!({
        "rep_url": "http://cell-1.node.dc1.consul:1800",
        "cell_id": "cell-1",
        "cell_index": 3,
        "RootFSProviders": {
            "docker": {"type": "arbitrary"},
            "preloaded": {"type": "fixed_set", "set": {"cflinuxfs4": {}}}
        },
        "AvailableResources": {"MemoryMB": 1024, "DiskMB": 2048, "Containers": 9},
        "TotalResources": {"MemoryMB": 2048, "DiskMB": 4096, "Containers": 10},
        "LRPs": [{
            "instance_guid": "ig", "process_guid": "pg", "index": 1, "domain": "d",
            "PlacementTags": null, "VolumeDrivers": null, "RootFs": "preloaded:cflinuxfs4",
            "MemoryMB": 1024, "DiskMB": 2048, "MaxPids": 0, "state": "RUNNING"
        }],
        "Tasks": null,
        "StartingContainerCount": 1,
        "Zone": "z1",
        "Evacuating": false,
        "VolumeDrivers": ["nfs"],
        "PlacementTags": ["req"],
        "OptionalPlacementTags": ["opt"],
        "ProxyMemoryAllocationMB": 32
    })
}

#[test]
fn cell_state_round_trips_diego_json() {
    let s: CellState = serde_json::from_value(diego_cell_state_json()).unwrap();
    assert_eq!(s.cell_id, "cell-1");
    assert_eq!(s.cell_index, 3);
    assert_eq!(s.available_resources, Resources::new(1024, 2048, 9));
    assert_eq!(s.lrps.len(), 1);
    assert_eq!(s.lrps[0].identifier(), "pg.1");
    assert_eq!(s.lrps[0].resource.memory_mb, 1024);
    assert_eq!(s.lrps[0].state, "RUNNING");
    assert!(s.tasks.is_empty());
    assert_eq!(s.proxy_memory_allocation_mb, 32);
    assert_eq!(
        s.root_fs_providers["preloaded"],
        RootFsProvider::fixed_set(["cflinuxfs4"])
    );
    let mut expected = diego_cell_state_json();
    expected["Tasks"] = json!([]);
    expected["LRPs"][0]["PlacementTags"] = json!([]);
    expected["LRPs"][0]["VolumeDrivers"] = json!([]);
    assert_eq!(serde_json::to_value(&s).unwrap(), expected);
}

#[test]
fn work_json_names() {
    let w = Work {
        lrps: vec![],
        tasks: vec![Task::new(
            "tg",
            "d",
            Resource::new(1, 2, 3),
            PlacementConstraint::new("docker:///x", vec![], vec![]),
        )],
        cell_id: "c".into(),
    };
    let v = serde_json::to_value(&w).unwrap();
    assert_eq!(v["cell_id"], "c");
    assert_eq!(v["LRPs"], json!([]));
    assert_eq!(v["Tasks"][0]["TaskGuid"], "tg");
    assert_eq!(v["Tasks"][0]["state"], "Invalid");
    assert_eq!(serde_json::from_value::<Work>(v).unwrap(), w);
    let empty: Work = serde_json::from_str(r#"{"LRPs":null,"Tasks":null}"#).unwrap();
    assert!(empty.is_empty());
    assert!(serde_json::to_value(&empty)
        .unwrap()
        .get("cell_id")
        .is_none());
}

#[test]
fn rootfs_matching_follows_diego_url_rules() {
    let s: CellState = serde_json::from_value(diego_cell_state_json()).unwrap();
    assert!(s.match_root_fs("preloaded:cflinuxfs4"));
    assert!(!s.match_root_fs("preloaded:cflinuxfs3"));
    assert!(s.match_root_fs("docker:///busybox"));
    assert!(s.match_root_fs("docker://registry/x#tag"));
    assert!(!s.match_root_fs("preloaded+layer:cflinuxfs4?layer=http://x/y.tgz"));
    assert!(!s.match_root_fs("cflinuxfs4"));
    let mut s2 = s.clone();
    s2.root_fs_providers.insert(
        "preloaded+layer".into(),
        RootFsProvider::fixed_set(["cflinuxfs4"]),
    );
    assert!(s2.match_root_fs("preloaded+layer:cflinuxfs4?layer=http://x/y.tgz&layer_digest=a"));
    assert!(s2.match_root_fs("PRELOADED:cflinuxfs4"));
}

#[test]
fn placement_tags_and_volume_drivers() {
    let s: CellState = serde_json::from_value(diego_cell_state_json()).unwrap();
    let t = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert!(s.match_placement_tags(&t(&["req"])));
    assert!(s.match_placement_tags(&t(&["req", "opt"])));
    assert!(!s.match_placement_tags(&t(&[])));
    assert!(!s.match_placement_tags(&t(&["opt"])));
    assert!(!s.match_placement_tags(&t(&["req", "other"])));
    assert!(s.match_volume_drivers(&t(&[])));
    assert!(s.match_volume_drivers(&t(&["nfs"])));
    assert!(!s.match_volume_drivers(&t(&["nfs", "smb"])));
}

#[test]
fn resource_match_and_error_text() {
    let s: CellState = serde_json::from_value(diego_cell_state_json()).unwrap();
    assert!(s.resource_match(&Resource::new(1024, 2048, 0)).is_ok());
    let e = s.resource_match(&Resource::new(1025, 4000, 0)).unwrap_err();
    assert_eq!(e.to_string(), "insufficient resources: disk, memory");
    assert_eq!(
        InsufficientResources::all().to_string(),
        "insufficient resources: containers, disk, memory"
    );
    assert_eq!(
        InsufficientResources::default().to_string(),
        "insufficient resources"
    );
}

#[test]
fn compute_score_matches_diego_formula() {
    let s: CellState = serde_json::from_value(diego_cell_state_json()).unwrap();
    // After placing 512 MB / 1024 MB: mem 512/2048 left, disk 1024/4096,
    // containers 8/10; mean used = (0.75 + 0.75 + 0.2) / 3; plus 1 × 0.25.
    let score = s.compute_score(&Resource::new(512, 1024, 0), 0.25);
    assert!((score - ((0.75 + 0.75 + 0.2) / 3.0 + 0.25)).abs() < 1e-12);
}

#[test]
fn lrp_update_json() {
    let u: LrpUpdate = serde_json::from_str(
        r#"{"instance_guid":"ig","process_guid":"pg","index":0,"domain":"d",
            "internal_routes":[{"hostname":"a.apps.internal"}],"metric_tags":null}"#,
    )
    .unwrap();
    assert_eq!(u.internal_routes.unwrap()[0].hostname, "a.apps.internal");
    assert!(u.metric_tags.is_none());
}
