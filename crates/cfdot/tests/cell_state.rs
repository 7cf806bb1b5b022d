//! `cell-state` and `cell-states` end to end: a real locket and BBS
//! (testkit's control plane, SQLite), simulated cells that hold presences
//! in locket and serve the rep's `/state`; our cfdot binary finds each
//! cell's rep through the BBS's cell list and prints its state as Diego's
//! cfdot prints it.

use rep_client::RepClient;
use std::process::{Command, Output};
use std::time::Duration;

use auctioneer::sim::{SimCell, SimCellConfig};
use models::rep::Resources;
use testkit::control_plane::ControlPlane;

fn cfdot(args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cfdot"));
    cmd.args(args);
    for k in [
        "BBS_URL",
        "CA_CERT_FILE",
        "CLIENT_CERT_FILE",
        "CLIENT_KEY_FILE",
        "SKIP_CERT_VERIFY",
        "CFDOT_TIMEOUT",
    ] {
        cmd.env_remove(k);
    }
    cmd.output().unwrap()
}

/// Runs cfdot with `args` whose first two are `--bbsURL URL`: cobra wants
/// the command's own flags after the command, so they move to the end.
async fn run(mut args: Vec<String>) -> Output {
    let flags: Vec<String> = args.drain(..2).collect();
    args.extend(flags);
    tokio::task::spawn_blocking(move || {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        cfdot(&a)
    })
    .await
    .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// What Diego's cfdot prints for one simulated cell's state.
fn expected_line(cell: &SimCell) -> String {
    // Written out by hand in Go's field order; the sim cell sends its
    // empty lists as `[]`, which Go keeps as empty (not nil) slices.
    let s = cell.state();
    let mut lrps: Vec<String> = s
        .lrps
        .iter()
        .map(|l| {
            format!(
                r#"{{"instance_guid":"{}","process_guid":"{}","index":{},"domain":"{}","PlacementTags":[],"VolumeDrivers":[],"RootFs":"{}","MemoryMB":{},"DiskMB":{},"MaxPids":{},"state":"{}"}}"#,
                l.instance_guid,
                l.process_guid,
                l.index,
                l.domain,
                l.placement_constraint.root_fs,
                l.resource.memory_mb,
                l.resource.disk_mb,
                l.resource.max_pids,
                l.state
            )
        })
        .collect();
    lrps.sort();
    format!(
        concat!(
            r#"{{"rep_url":"{url}","cell_id":"{id}","cell_index":{idx},"#,
            r#""RootFSProviders":{{"docker":{{"type":"arbitrary"}},"preloaded":{{"set":{{"cflinuxfs4":{{}}}},"type":"fixed_set"}}}},"#,
            r#""AvailableResources":{{"MemoryMB":{am},"DiskMB":{ad},"Containers":{ac}}},"#,
            r#""TotalResources":{{"MemoryMB":{tm},"DiskMB":{td},"Containers":{tc}}},"#,
            r#""LRPs":[{lrps}],"Tasks":[],"StartingContainerCount":0,"Zone":"{zone}","Evacuating":false,"#,
            r#""VolumeDrivers":[],"PlacementTags":[],"OptionalPlacementTags":[],"ProxyMemoryAllocationMB":0}}"#,
            "\n"
        ),
        url = s.rep_url,
        id = s.cell_id,
        idx = s.cell_index,
        am = s.available_resources.memory_mb,
        ad = s.available_resources.disk_mb,
        ac = s.available_resources.containers,
        tm = s.total_resources.memory_mb,
        td = s.total_resources.disk_mb,
        tc = s.total_resources.containers,
        lrps = lrps.join(","),
        zone = s.zone,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cell_state_and_cell_states_read_each_reps_state() {
    let control = ControlPlane::builder()
        .locket(true)
        .bbs_config(|c| c.lock_retry_interval = bbs::config::GoDuration(Duration::from_millis(500)))
        .start()
        .await;
    let bbs_url = control.bbs_url().to_string();

    // Two cells in two zones, one of them holding an LRP instance (taken
    // through the rep's /work, as the auctioneer would give it).
    let mut cells = Vec::new();
    for (i, zone) in ["z1", "z2"].iter().enumerate() {
        let mut c = SimCellConfig::new(&format!("cell-{i}"), zone, Resources::new(4096, 8192, 10));
        c.cell_index = i as i32;
        c.locket = Some(control.locket_client_config());
        let mut cell = SimCell::start(c).await.unwrap();
        cell.presence_registered().await.unwrap();
        cells.push(cell);
    }
    let work = models::rep::Work {
        lrps: vec![models::rep::Lrp::new(
            "",
            &models::ActualLrpKey {
                process_guid: "web".into(),
                index: 0,
                domain: "d".into(),
            },
            models::rep::Resource::new(256, 512, 0),
            models::rep::PlacementConstraint::new("preloaded:cflinuxfs4", vec![], vec![]),
        )],
        ..Default::default()
    };
    let failed = rep_client::RepClientFactory::new(&Default::default())
        .unwrap()
        .client_at(&cells[1].url)
        .perform(&work)
        .await
        .unwrap();
    assert!(failed.is_empty());
    assert_eq!(cells[1].state().lrps.len(), 1);

    // One cell's state.
    let out = run(vec![
        "--bbsURL".into(),
        bbs_url.clone(),
        "cell-state".into(),
        "cell-1".into(),
    ])
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), expected_line(&cells[1]));
    assert!(text(&out.stdout).contains(r#""LRPs":[{"instance_guid":""#));
    assert!(text(&out.stdout)
        .contains(r#""AvailableResources":{"MemoryMB":3840,"DiskMB":7680,"Containers":9}"#));

    // Every cell's state, one line each, in the BBS's cell order.
    let out = run(vec![
        "--bbsURL".into(),
        bbs_url.clone(),
        "cell-states".into(),
    ])
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let mut lines: Vec<String> = text(&out.stdout)
        .lines()
        .map(|l| format!("{l}\n"))
        .collect();
    lines.sort();
    let mut want = vec![expected_line(&cells[0]), expected_line(&cells[1])];
    want.sort();
    assert_eq!(lines, want);

    // An unknown cell: cfdot's "Cell not found", exit 5.
    let out = run(vec![
        "--bbsURL".into(),
        bbs_url.clone(),
        "cell-state".into(),
        "cell-9".into(),
    ])
    .await;
    assert_eq!(out.status.code(), Some(5));
    assert_eq!(text(&out.stderr), "Error: Cell not found\n");
    assert!(out.stdout.is_empty());

    // Argument validation: exit 3 with usage.
    let out = run(vec![
        "--bbsURL".into(),
        bbs_url.clone(),
        "cell-state".into(),
    ])
    .await;
    assert_eq!(out.status.code(), Some(3));
    assert!(text(&out.stderr).starts_with("Error: Missing arguments\n"));
    let out = run(vec![
        "--bbsURL".into(),
        bbs_url.clone(),
        "cell-states".into(),
        "x".into(),
    ])
    .await;
    assert_eq!(out.status.code(), Some(3));
    assert!(text(&out.stderr).starts_with("Error: Too many arguments specified\n"));

    // A registered cell whose rep does not answer: a rep error, exit 4;
    // cell-states still prints the cells that answer.
    cells[0].stop_serving();
    let rep0 = cells[0].url.clone();
    let addr0 = rep0.trim_start_matches("http://").to_string();
    let refused = format!(
        "Rep error: Failed to get cell state for cell cell-0: Get \"{rep0}/state\": dial tcp {addr0}: connect: connection refused"
    );
    let out = run(vec![
        "--bbsURL".into(),
        bbs_url.clone(),
        "cell-state".into(),
        "cell-0".into(),
    ])
    .await;
    assert_eq!(out.status.code(), Some(4));
    assert_eq!(text(&out.stderr), format!("Error: {refused}\n"));
    assert!(out.stdout.is_empty());

    let out = run(vec![
        "--bbsURL".into(),
        bbs_url.clone(),
        "cell-states".into(),
    ])
    .await;
    assert_eq!(out.status.code(), Some(4));
    assert_eq!(text(&out.stdout), expected_line(&cells[1]));
    // The collected errors end in a newline, and cobra adds its own.
    assert_eq!(text(&out.stderr), format!("Error: {refused}\n\n"));

    // A cell announcing an https rep while cfdot has no certificates: the
    // rep client factory refuses it (rep's `TLSConfig.pickURL`).
    let tls_cell = SimCellConfig::new("cell-tls", "z3", Resources::new(1024, 1024, 1))
        .presence("https://127.0.0.1:1");
    let resource = locket::client::presence_resource(
        "cell-tls",
        "owner-tls",
        &models::json::GoJson::to_go_json(&tls_cell),
    );
    let client = locket::client::connect_lazy(&control.locket_client_config()).unwrap();
    let mut tls_presence = locket::client::PresenceRunner::new(client, resource).spawn();
    tls_presence.acquired().await.unwrap();
    let out = run(vec![
        "--bbsURL".into(),
        bbs_url.clone(),
        "cell-state".into(),
        "cell-tls".into(),
    ])
    .await;
    assert_eq!(out.status.code(), Some(4));
    assert_eq!(
        text(&out.stderr),
        "Error: Rep error: Failed to get cell state for cell cell-tls: https scheme not supported since certificates aren't provided\n"
    );
    tls_presence.stop().await;

    // The BBS unreachable: cell-states reports it as a BBS error, exit 4.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let out = run(vec![
        "--bbsURL".into(),
        format!("http://{dead}"),
        "cell-states".into(),
    ])
    .await;
    assert_eq!(out.status.code(), Some(4));
    assert_eq!(
        text(&out.stderr),
        format!("Error: BBS error: Failed to get cell registrations from BBS: Post \"http://{dead}/v1/cells/list.r1\": dial tcp {dead}: connect: connection refused\n")
    );

    for c in cells {
        c.stop().await;
    }
    control.shutdown().await;
}
