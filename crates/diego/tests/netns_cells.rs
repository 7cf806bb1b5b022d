//! Two cells in network namespaces of their own (root only): locket, the
//! BBS (SQLite) and the auctioneer run in the test process on the host
//! end of a test bridge (10.253.0.1); each cell is a `diego rep` process
//! in its namespace (10.253.0.2, 10.253.0.3) running real runc containers
//! from a busybox rootfs, advertising its namespace's address.
//!
//! One test, four acts: a 3-instance busybox httpd LRP is placed over
//! both cells and every instance answers from the host at its net info's
//! address (the cell's) and host port; on the cells, an instance whose
//! liveness check starts failing, one whose process is killed from the
//! host and one over its memory limit are crashed with Diego's reasons
//! (the first two restarted), and a task's result file comes back with
//! its completion; evacuating cell A moves every
//! instance to cell B while every 50 ms poll finds at least 3 RUNNING
//! copies answering; deleting the LRP and stopping the reps leaves no
//! overlay mount, container cgroup, container namespace, container veth or
//! iptables rule, each rep having removed its parent cgroup, bridge, NAT
//! chains and firewall tables on exit, and removing the test network
//! leaves nothing of it.

mod netns_support;

use bbs_client::{ActualLrpFilter, BbsClient};
use netns_support::cell::{Cell, REP_PORT};
use netns_support::control::{self, ControlPlane};
use netns_support::leftovers;
use netns_support::net::{self, CellNet, TestNet, CELL_A, CELL_B};
use netns_support::{eventually, skip_reason, Sweep, DIR_PREFIX};
use netns_support::{processes, work};
use std::time::{Duration, Instant};

const GUID: &str = "netns-pages";
const INSTANCES: usize = 3;
const PAGE: &str = "served from a cell namespace\n";

fn cell_of(l: &models::ActualLrp) -> &str {
    &l.actual_lrp_instance_key.as_ref().unwrap().cell_id
}

fn is_evacuating(l: &models::ActualLrp) -> bool {
    l.presence == models::actual_lrp::Presence::Evacuating as i32
}

fn is_running(l: &models::ActualLrp) -> bool {
    l.state == models::actual_lrp_state::RUNNING
}

fn address_of(l: &models::ActualLrp) -> &str {
    l.actual_lrp_net_info
        .as_ref()
        .map_or("", |n| n.address.as_str())
}

fn httpd_lrp() -> models::DesiredLrp {
    let script = format!(
        "mkdir -p www && printf '{}' > www/index.html && exec httpd -f -p 8080 -h www",
        PAGE.replace('\n', "\\n")
    );
    models::DesiredLrp {
        instances: INSTANCES as i32,
        ports: vec![8080],
        check_definition: Some(work::tcp_check(8080)),
        ..work::lrp(GUID, &script)
    }
}

/// Whether the instance's container answers with the page, from the host,
/// at the address and host port the BBS gives for it.
async fn answers(http: &reqwest::Client, l: &models::ActualLrp) -> bool {
    let Some(net) = l.actual_lrp_net_info.as_ref() else {
        return false;
    };
    let Some(p) = net.ports.first() else {
        return false;
    };
    let url = format!("http://{}:{}/", net.address, p.host_port);
    match http.get(url).send().await {
        Ok(r) => r.text().await.map(|t| t == PAGE).unwrap_or(false),
        Err(_) => false,
    }
}

/// RUNNING rows (ordinary or evacuating) whose containers answer.
async fn serving(
    control: &ControlPlane,
    http: &reqwest::Client,
) -> (usize, Vec<models::ActualLrp>) {
    let all = control
        .bbs_client()
        .actual_lrps(&ActualLrpFilter::process(GUID))
        .await
        .unwrap_or_default();
    let mut n = 0;
    for l in all.iter().filter(|l| is_running(l)) {
        if answers(http, l).await {
            n += 1;
        }
    }
    (n, all)
}

/// Nothing of a cell's containers is left, on the host or in the cell's
/// namespace (checked before the namespace is deleted), and none of the
/// backend's chains are in the host's.
fn assert_no_container_leftovers(cell: &Cell) {
    let what = &cell.cell_id;
    let ns = Some(cell.net.netns);
    assert_eq!(cell.containers_on_disk(), Vec::<String>::new(), "{what}");
    assert_eq!(
        leftovers::mounts_under(&cell.depot),
        Vec::<String>::new(),
        "{what}: mounts"
    );
    assert_eq!(
        leftovers::container_cgroups(cell.tag),
        Vec::<std::path::PathBuf>::new(),
        "{what}: cgroups"
    );
    assert_eq!(
        leftovers::netns_named(&format!("{}-", cell.tag)),
        Vec::<String>::new(),
        "{what}: container namespaces"
    );
    assert_eq!(
        leftovers::container_rules(ns),
        Vec::<String>::new(),
        "{what}: rules in the cell's namespace"
    );
    assert_eq!(
        leftovers::links(ns, Some("veth")),
        ["eth0"],
        "{what}: veths in the cell's namespace"
    );
    assert_eq!(
        leftovers::chains_of(cell.tag, None),
        Vec::<String>::new(),
        "{what}: the backend touched the host's tables"
    );
    let host_veths: Vec<String> = leftovers::links(None, Some("veth"))
        .into_iter()
        .filter(|l| l.starts_with(&format!("{}-", cell.tag)))
        .collect();
    assert_eq!(
        host_veths,
        Vec::<String>::new(),
        "{what}: veths on the host"
    );
}

/// The backend's host setup (bridge, NAT chains, firewall tables) is in
/// the cell's namespace while its rep runs (so it did run there), and
/// gone once the rep stopped with no container left.
fn assert_host_setup(cell: &Cell, running: bool) {
    let what = &cell.cell_id;
    let ns = Some(cell.net.netns);
    let bridge = leftovers::links(ns, None).contains(&format!("{}-br0", cell.tag));
    let chains = !leftovers::chains_of(cell.tag, ns).is_empty();
    let tables = leftovers::nft_tables(ns)
        .iter()
        .any(|t| t.ends_with(&format!("garden-{}", cell.tag)));
    assert_eq!(
        (bridge, chains, tables),
        (running, running, running),
        "{what}: (bridge, chains, firewall tables) in the cell's namespace, running: {running}"
    );
}

/// A rep that exited with no container left removed its backend's parent
/// cgroup `garden-TAG` from every hierarchy.
fn assert_parents_released(cell: &Cell) {
    assert_eq!(
        leftovers::parent_cgroups(cell.tag),
        Vec::<std::path::PathBuf>::new(),
        "{}: the rep left its parent cgroups\n{}",
        cell.cell_id,
        cell.log()
    );
}

fn assert_presence(cells: &[models::CellPresence], id: &str, net: CellNet) {
    let c = cells
        .iter()
        .find(|c| c.cell_id == id)
        .unwrap_or_else(|| panic!("{id} not registered: {cells:?}"));
    let url = format!("http://{}:{REP_PORT}", net.ip);
    assert_eq!(
        c.rep_address, url,
        "{id} advertises its namespace's address"
    );
    assert_eq!(c.rep_url, url);
}

/// The cell an instance (or task) was placed on.
fn cell_named<'c>(cells: &[&'c Cell], id: &str) -> &'c Cell {
    cells
        .iter()
        .find(|c| c.cell_id == id)
        .unwrap_or_else(|| panic!("placed on {id:?}, not one of the test's cells"))
}

fn instance_guid(l: &models::ActualLrp) -> &str {
    &l.actual_lrp_instance_key.as_ref().unwrap().instance_guid
}

/// The RUNNING ordinary instance of a one-instance LRP, once there is one
/// other than `not` (the instance that crashed).
async fn running_instance(control: &ControlPlane, guid: &str, not: &str) -> models::ActualLrp {
    eventually(
        &format!("{guid}: an instance RUNNING (not {not:?})"),
        30,
        || async {
            let all = control
                .bbs_client()
                .actual_lrps(&ActualLrpFilter::process(guid))
                .await
                .ok()?;
            all.into_iter()
                .find(|l| is_running(l) && !is_evacuating(l) && instance_guid(l) != not)
        },
    )
    .await
}

/// A restarted instance runs on one of the cells, at that cell's address.
fn assert_runs_on_a_cell(cells: &[&Cell], l: &models::ActualLrp) {
    let cell = cell_named(cells, cell_of(l));
    assert_eq!(address_of(l), cell.net.ip, "{l:?}");
}

const FLAKY: &str = "netns-flaky";
const KILLED: &str = "netns-killed";
const HOG: &str = "netns-hog";
const REPORT: &str = "netns-report";
/// The action of the instance killed from the host: found by it.
const SLEEPER: &str = "while true; do sleep 0.2; done";

/// httpd dies while the action (a shell loop) stays up: the liveness
/// check fails, and the instance is crashed and restarted.
async fn liveness_failure_is_a_crash(control: &ControlPlane, cells: &[&Cell]) {
    let t = Instant::now();
    // httpd's output goes elsewhere: a background child holding the
    // action's stdout would keep its stop waiting for the kill, 10 s on.
    let script = format!(
        "mkdir -p www && echo up > www/index.html && \
         httpd -f -p 8080 -h www >/dev/null 2>&1 & {SLEEPER}"
    );
    control
        .desire_lrp(models::DesiredLrp {
            ports: vec![8080],
            check_definition: Some(work::tcp_check(8080)),
            ..work::lrp(FLAKY, &script)
        })
        .await;
    let first = running_instance(control, FLAKY, "").await;
    let cell = cell_named(cells, cell_of(&first));
    let procs = processes::in_container(cell.tag, instance_guid(&first));
    let httpd = procs
        .iter()
        .find(|p| p.argv[0] == "httpd")
        .unwrap_or_else(|| panic!("no httpd in {first:?}: {procs:#?}"));
    processes::kill(httpd);
    let again = running_instance(control, FLAKY, instance_guid(&first)).await;
    assert_eq!(again.crash_count, 1, "{again:?}");
    let reason = &again.crash_reason;
    // The check dials the container's address (the backend's subnet in
    // the cell's namespace).
    assert!(
        reason.starts_with("Instance became unhealthy: ")
            && reason.contains("failed to make TCP connection to 10.254.")
            && reason.contains(":8080"),
        "crash reason: {reason:?}"
    );
    assert_runs_on_a_cell(cells, &again);
    eprintln!(
        "liveness: crashed on {} ({reason}), running again on {} in {:?}",
        cell.cell_id,
        cell_of(&again),
        t.elapsed()
    );
}

/// The instance's process killed from the host is a crash.
async fn killed_process_is_a_crash(control: &ControlPlane, cells: &[&Cell]) {
    let t = Instant::now();
    control.desire_lrp(work::lrp(KILLED, SLEEPER)).await;
    let first = running_instance(control, KILLED, "").await;
    let cell = cell_named(cells, cell_of(&first));
    // Without a check, RUNNING is reported as the process is started, maybe
    // before `runc exec` has put it in the container.
    let action = eventually("the action's process in its container", 10, || async {
        let procs = processes::in_container(cell.tag, instance_guid(&first));
        procs.into_iter().find(|p| p.argv == ["sh", "-c", SLEEPER])
    })
    .await;
    processes::kill(&action);
    let again = running_instance(control, KILLED, instance_guid(&first)).await;
    assert_eq!(again.crash_count, 1, "{again:?}");
    let reason = &again.crash_reason;
    assert!(
        reason.ends_with(": Exited with status 137"),
        "crash reason: {reason:?}"
    );
    assert_runs_on_a_cell(cells, &again);
    eprintln!(
        "kill -9: crashed on {} ({reason}), running again on {} in {:?}",
        cell.cell_id,
        cell_of(&again),
        t.elapsed()
    );
}

/// dd's 100 MB block, filled from /dev/zero, is three times the limit.
async fn memory_hog_crashes_out_of_memory(control: &ControlPlane) {
    let t = Instant::now();
    control
        .desire_lrp(models::DesiredLrp {
            memory_mb: 32,
            ..work::lrp(HOG, "dd if=/dev/zero of=/dev/null bs=100M count=1")
        })
        .await;
    let crashed = eventually("crashed out of memory", 30, || async {
        let all = control
            .bbs_client()
            .actual_lrps(&ActualLrpFilter::process(HOG))
            .await
            .ok()?;
        all.into_iter().find(|l| l.crash_count >= 1)
    })
    .await;
    let reason = &crashed.crash_reason;
    assert!(
        reason.ends_with(": Exited with status 137 (out of memory)"),
        "crash reason: {reason:?}"
    );
    eprintln!("memory hog: {reason} in {:?}", t.elapsed());
}

/// A task runs on one of the cells and its result file comes back.
async fn task_result_comes_back(control: &ControlPlane, cells: &[&Cell]) {
    let t = Instant::now();
    // The second's sleep lets a poll see it RUNNING, with its cell (the
    // BBS clears the cell id on completion, as Diego's does).
    control
        .desire_task(
            REPORT,
            work::task(
                "sleep 1; printf 'made in %s' \"$(hostname)\" > /home/vcap/result.txt",
                "/home/vcap/result.txt",
            ),
        )
        .await;
    let mut ran_on = String::new();
    let done = loop {
        let task = control
            .bbs_client()
            .task_by_guid(REPORT)
            .await
            .unwrap()
            .unwrap();
        if task.state == models::task::State::Running as i32 {
            ran_on = task.cell_id.clone();
        }
        if task.state == models::task::State::Completed as i32 {
            break task;
        }
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "task not completed in 30 s: {task:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(!done.failed, "{}", done.failure_reason);
    // The container's hostname is its handle, the task guid: the file was
    // written inside the container.
    assert_eq!(done.result, format!("made in {REPORT}"));
    let cell = cell_named(cells, &ran_on);
    eventually("the task's container removed", 10, || async {
        (!cell.containers_on_disk().iter().any(|h| h == REPORT)).then_some(())
    })
    .await;
    eprintln!("task: completed on {} in {:?}", cell.cell_id, t.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cells_in_namespaces_evacuate_without_losing_capacity_and_leave_nothing() {
    testkit::skip_if!(skip_reason());
    let t0 = Instant::now();
    // Dropped in reverse: reps killed, then the backends' leftovers swept,
    // then the network removed, then the directory. At start, the other
    // way round: a killed run's reps go with its network, then what their
    // containers left.
    let dir = tempfile::Builder::new()
        .prefix(DIR_PREFIX)
        .tempdir()
        .unwrap();
    let test_net = TestNet::create();
    let sweep = Sweep::new(dir.path());
    let rootfs = dir.path().join("rootfs");
    garden::rootfs::build_busybox_rootfs(&rootfs).unwrap();
    let control = control::start().await;
    let mut a = Cell::start(&control, dir.path(), &rootfs, "cell-a", CELL_A, "dga").await;
    let mut b = Cell::start(&control, dir.path(), &rootfs, "cell-b", CELL_B, "dgb").await;
    let cells = control.cells().await;
    assert_presence(&cells, "cell-a", CELL_A);
    assert_presence(&cells, "cell-b", CELL_B);
    let http = reqwest::Client::builder()
        .timeout(Duration::from_millis(500))
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    eprintln!(
        "network, control plane and 2 cells up in {:?}",
        t0.elapsed()
    );

    // Act 1: placed over both cells, every instance reachable from the host.
    let t1 = Instant::now();
    control.desire_lrp(httpd_lrp()).await;
    let before = loop {
        let all = control
            .bbs_client()
            .actual_lrps(&ActualLrpFilter::process(GUID))
            .await
            .unwrap_or_default();
        if all.iter().filter(|l| is_running(l)).count() == INSTANCES {
            break all;
        }
        assert!(
            t1.elapsed() < Duration::from_secs(40),
            "not {INSTANCES} RUNNING in 40 s: {all:#?}\ncell-a:\n{}\ncell-b:\n{}",
            a.log(),
            b.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let mut placed: Vec<&str> = before.iter().map(cell_of).collect();
    placed.sort();
    placed.dedup();
    assert_eq!(placed, ["cell-a", "cell-b"], "spread over both cells");
    for l in &before {
        let ip = if cell_of(l) == "cell-a" {
            CELL_A.ip
        } else {
            CELL_B.ip
        };
        assert_eq!(address_of(l), ip, "net info carries the cell's address");
        assert!(answers(&http, l).await, "answers from the host: {l:?}");
    }
    for (id, net) in [("cell-a", CELL_A), ("cell-b", CELL_B)] {
        // Host ports are mapped in the cell's namespace, for its address:
        // per instance, portmap's entry naming the container and one DNAT
        // rule in its chain.
        let on_cell = before.iter().filter(|l| cell_of(l) == id).count();
        let rules = leftovers::iptables(Some(net.netns));
        let entries = rules
            .iter()
            .filter(|r| r.contains("-A CNI-HOSTPORT-DNAT ") && r.contains("dnat name"))
            .count();
        assert_eq!(entries, on_cell, "{id}: {rules:#?}");
        let dnat: Vec<&String> = rules
            .iter()
            .filter(|r| r.contains("-A CNI-DN-") && r.contains("-j DNAT"))
            .collect();
        assert_eq!(dnat.len(), on_cell, "{id}: {rules:#?}");
        let dest = format!("-d {}/32", net.ip);
        assert!(dnat.iter().all(|r| r.contains(&dest)), "{id}: {dnat:#?}");
    }
    eprintln!(
        "{INSTANCES} instances running and answering in {:?}",
        t1.elapsed()
    );

    // Act 2: failures on the cells, then their LRPs removed; what act 1
    // placed is untouched.
    let t2 = Instant::now();
    let cells = [&a, &b];
    liveness_failure_is_a_crash(&control, &cells).await;
    killed_process_is_a_crash(&control, &cells).await;
    memory_hog_crashes_out_of_memory(&control).await;
    task_result_comes_back(&control, &cells).await;
    for guid in [FLAKY, KILLED, HOG] {
        control.remove_lrp(guid).await;
    }
    eventually(
        "the failing LRPs' instances and containers gone",
        30,
        || async {
            for guid in [FLAKY, KILLED, HOG] {
                if !control
                    .bbs_client()
                    .actual_lrps(&ActualLrpFilter::process(guid))
                    .await
                    .ok()?
                    .is_empty()
                {
                    return None;
                }
            }
            let on_disk = a.containers_on_disk().len() + b.containers_on_disk().len();
            (on_disk == INSTANCES).then_some(())
        },
    )
    .await;
    let (n, all) = serving(&control, &http).await;
    assert_eq!(n, INSTANCES, "act 1's instances still serving: {all:#?}");
    eprintln!("failures seen and cleared in {:?}", t2.elapsed());

    // Act 3: evacuate cell A; capacity never drops below the desired count.
    let resp = http
        .post(format!("{}/evacuate", a.url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 202);
    let t3 = Instant::now();
    let (mut polls, mut rereads, mut saw_evacuating) = (0, 0, false);
    loop {
        let (mut n, mut all) = serving(&control, &http).await;
        if n < INSTANCES {
            // The BBS may have moved on between the read and the probes
            // (a replacement ran and its evacuating copy went away):
            // judge a fresh snapshot before calling it a gap.
            (n, all) = serving(&control, &http).await;
            rereads += 1;
        }
        polls += 1;
        saw_evacuating |= all.iter().any(is_evacuating);
        assert!(
            n >= INSTANCES,
            "poll {polls} after {:?}: only {n} serving instance(s): {all:#?}",
            t3.elapsed()
        );
        if all.iter().all(|l| cell_of(l) != "cell-a") {
            break;
        }
        assert!(
            t3.elapsed() < Duration::from_secs(30),
            "cell-a not drained in 30 s: {all:#?}\n{}",
            a.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!(
        "cell-a drained in {:?} ({polls} polls, ≥{INSTANCES} serving at each; {rereads} re-read)",
        t3.elapsed()
    );
    assert!(saw_evacuating, "the handover went through EVACUATING");
    // An evacuated rep exits by itself.
    let status = a.exited(Duration::from_secs(15)).await;
    assert!(status.success(), "cell-a: {status}\n{}", a.log());
    let all = control
        .bbs_client()
        .actual_lrps(&ActualLrpFilter::process(GUID))
        .await
        .unwrap();
    assert!(!all.iter().any(is_evacuating), "EVACUATING left: {all:#?}");
    assert_eq!(all.len(), INSTANCES, "{all:#?}");
    for l in &all {
        assert!(is_running(l), "{l:?}");
        assert_eq!(cell_of(l), "cell-b");
        assert_eq!(address_of(l), CELL_B.ip);
        assert_eq!(l.crash_count, 0, "handed over, not crashed: {l:?}");
        assert!(answers(&http, l).await, "serving after evacuation: {l:?}");
    }
    assert_no_container_leftovers(&a);
    assert_host_setup(&a, false);
    assert_parents_released(&a);

    // Act 4: delete the LRP, stop cell B; nothing is left.
    let t4 = Instant::now();
    control.remove_lrp(GUID).await;
    eventually("the LRP's instances and containers gone", 30, || async {
        let rows = control
            .bbs_client()
            .actual_lrps(&ActualLrpFilter::process(GUID))
            .await
            .ok()?;
        (rows.is_empty() && b.containers_on_disk().is_empty()).then_some(())
    })
    .await;
    assert_no_container_leftovers(&b);
    assert_host_setup(&b, true);
    let status = b.terminate(Duration::from_secs(20)).await;
    assert!(status.success(), "cell-b: {status}\n{}", b.log());
    assert_host_setup(&b, false);
    eprintln!("LRP deleted and cell-b stopped in {:?}", t4.elapsed());
    assert_eq!(leftovers::mounts_under(dir.path()), Vec::<String>::new());
    assert_eq!(leftovers::netns_named("dga-"), Vec::<String>::new());
    assert_eq!(leftovers::netns_named("dgb-"), Vec::<String>::new());
    assert_parents_released(&b);
    control.shutdown().await;
    drop((a, b));
    drop(sweep);
    drop(test_net);
    for c in [CELL_A, CELL_B] {
        assert!(!net::netns_exists(c.netns), "{} left", c.netns);
        assert!(!net::host_link_exists(c.host_veth), "{} left", c.host_veth);
    }
    assert!(!net::host_link_exists(net::BRIDGE), "{} left", net::BRIDGE);
    let ours: Vec<String> = leftovers::links(None, None)
        .into_iter()
        .filter(|l| l.starts_with("dgt-") || l.starts_with("dga-") || l.starts_with("dgb-"))
        .collect();
    assert_eq!(
        ours,
        Vec::<String>::new(),
        "links of the test left on the host"
    );
    eprintln!("whole test: {:?}", t0.elapsed());
}
