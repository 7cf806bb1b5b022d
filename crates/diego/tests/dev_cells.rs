//! `diego dev --cells 3`: the first cell on the host, two more each in a
//! network namespace of its own (their own addresses, zones z2 and z3);
//! `diego push -i 6` puts 2 instances in each zone, every one answering
//! through the router; Ctrl-C hands the extra cells' instances over as
//! they stop, logs no error, and removes the cells' network.
//!
//! Uses `diego dev`'s fixed ports: not alongside another `diego dev`.
//! Needs root, runc, nats-server and nsenter; skipped otherwise.

mod dev_support;

use bbs_client::{ActualLrpFilter, BbsClient, HttpBbsClient};
use dev_support::{dev_skip_reason, diego, start_dev, wait_ready, BBS};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

fn netns_of_cells() -> Vec<String> {
    let out = std::process::Command::new("ip")
        .args(["netns", "list"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| n.starts_with("diego-cell-"))
        .map(str::to_string)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_cells_spread_an_app_over_three_zones() {
    testkit::skip_if!(
        dev_skip_reason().or_else(|| testkit::skip::missing_programs(&["nsenter", "ip"]))
    );
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let mut dev = start_dev(&data, &["--busybox-only", "--cells", "3"]);
    let bbs = HttpBbsClient::plain(BBS).unwrap();
    wait_ready(&dev, Duration::from_secs(90), || {
        dev_support::token_saved(&data)
    })
    .await;
    let mut zones: Vec<(String, String)> = bbs
        .cells()
        .await
        .unwrap()
        .into_iter()
        .map(|c| (c.cell_id, c.zone))
        .collect();
    zones.sort();
    assert_eq!(
        zones,
        [
            ("dev-cell-0".to_string(), "z1".to_string()),
            ("dev-cell-1".to_string(), "z2".to_string()),
            ("dev-cell-2".to_string(), "z3".to_string()),
        ],
        "{}",
        dev.log()
    );
    assert_eq!(netns_of_cells().len(), 2);

    let hello = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/hello");
    diego(
        &data,
        &["push", "hello", "-p", hello, "-i", "6", "-s", "busybox"],
    );
    let lrps = bbs.actual_lrps(&ActualLrpFilter::default()).await.unwrap();
    let mut per_cell: BTreeMap<String, usize> = BTreeMap::new();
    for l in lrps
        .iter()
        .filter(|l| l.state == models::actual_lrp_state::RUNNING)
    {
        let cell = &l.actual_lrp_instance_key.as_ref().unwrap().cell_id;
        *per_cell.entry(cell.clone()).or_default() += 1;
    }
    assert_eq!(
        per_cell.values().copied().collect::<Vec<_>>(),
        [2, 2, 2],
        "{per_cell:?}"
    );
    // Every instance answers through the router, the extra cells' at
    // their namespaces' addresses.
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let mut seen = std::collections::BTreeSet::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while seen.len() < 6 {
        assert!(Instant::now() < deadline, "instances answering: {seen:?}");
        let r = dev_support::get(&http, "hello.localhost", "/cgi-bin/instance")
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        seen.insert(
            r.headers()["x-instance-index"]
                .to_str()
                .unwrap()
                .to_string(),
        );
    }

    let t = Instant::now();
    let status = dev.interrupt(Duration::from_secs(60));
    eprintln!("ctrl-c with 3 cells: {:?}", t.elapsed());
    assert!(status.success(), "{status}:\n{}", dev.log());
    let log = dev.log();
    let mut errors: Vec<String> = log
        .lines()
        .filter(|l| l.contains("\"level\":\"ERROR\""))
        .map(str::to_string)
        .collect();
    for i in 1..=2 {
        let cell_log = std::fs::read_to_string(data.join(format!("cell-{i}.log"))).unwrap();
        errors.extend(
            cell_log
                .lines()
                .filter(|l| l.contains("\"level\":\"ERROR\""))
                .map(|l| format!("cell-{i}: {l}")),
        );
    }
    assert!(errors.is_empty(), "error lines on Ctrl-C: {errors:#?}");
    assert_eq!(netns_of_cells(), Vec::<String>::new());
    assert!(!std::path::Path::new("/sys/class/net/diego-cells0").exists());
}
