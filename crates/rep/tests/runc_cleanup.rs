//! Nothing of a container outlives it under runc (root only): after an
//! LRP with a port mapping, a completed task and a crashing LRP have run
//! and been deleted, no mount under the depot, per-container cgroup,
//! netns, veth, iptables rule, address lease or depot file is left; after the backend's
//! host teardown, nothing carrying its tag at all.

mod support;

use bbs_client::{ActualLrpFilter, BbsClient};

use garden::Backend;
use std::path::Path;
use support::runc_cell::{self, tcp_check};
use support::{eventually, run_action, running, sleeper_lrp, start_world, World};

const TAG: &str = "rcl";
const SUBNET: &str = "10.251.21.";

fn sh(cmd: &str) -> String {
    let out = std::process::Command::new("sh")
        .args(["-c", cmd])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Everything of the backend's that is still on the host, one line each.
/// `per_container` leaves out what the host setup owns (bridge, chains,
/// parent cgroup).
fn leftovers(depot: &Path, per_container: bool) -> Vec<String> {
    let mut found = Vec::new();
    let depot_s = depot.display().to_string();
    for line in std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
    {
        if line
            .split(' ')
            .nth(4)
            .is_some_and(|m| m.starts_with(&depot_s))
        {
            found.push(format!("mount: {line}"));
        }
    }
    for controller in std::fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
        let parent = controller.path().join(format!("garden-{TAG}"));
        if !parent.exists() {
            continue;
        }
        if !per_container {
            found.push(format!("cgroup: {}", parent.display()));
        }
        for child in std::fs::read_dir(&parent).unwrap().flatten() {
            if child.path().is_dir() {
                found.push(format!("cgroup: {}", child.path().display()));
            }
        }
    }
    for ns in sh("ip netns list").lines() {
        if ns.starts_with(&format!("{TAG}-")) {
            found.push(format!("netns: {ns}"));
        }
    }
    let bridge = format!("{TAG}-br0");
    for link in sh("ip -o link show").lines() {
        let name = link.split(": ").nth(1).unwrap_or("");
        let name = name.split('@').next().unwrap_or("");
        // The containers' veths (CNI names them) are the bridge's ports.
        let port = link.contains(&format!(" master {bridge} "));
        if port || (name.starts_with(&format!("{TAG}-")) && !(per_container && name == bridge)) {
            found.push(format!("link: {name}"));
        }
    }
    let chain = format!("{}-", TAG.to_uppercase());
    // The CNI plugins' per-container rules name the network or the
    // container's address.
    let network = format!("\\\"garden-{TAG}\\\"");
    for rule in sh("iptables-save").lines() {
        let container_rule = rule.contains(&network) || rule.contains(SUBNET);
        let host_rule = rule.contains(&chain) || rule.contains(&bridge) || rule.contains(SUBNET);
        if container_rule || (!per_container && host_rule) {
            found.push(format!("iptables: {rule}"));
        }
    }
    let leases = depot.join("cni/ipam").join(format!("garden-{TAG}"));
    for f in std::fs::read_dir(leases)
        .map(|d| d.flatten().collect::<Vec<_>>())
        .unwrap_or_default()
    {
        if f.file_name().to_string_lossy().starts_with(SUBNET) {
            found.push(format!("lease: {}", f.path().display()));
        }
    }
    for f in std::fs::read_dir(depot.join("containers"))
        .map(|d| d.flatten().collect::<Vec<_>>())
        .unwrap_or_default()
    {
        found.push(format!("depot file: {}", f.path().display()));
    }
    found
}

async fn remove_desired(world: &World, guid: &str) {
    // As before, only a transport failure fails the test here.
    if let Err(bbs_client::Error::Transport(e)) = world.bbs_client().remove_desired_lrp(guid).await
    {
        panic!("{e}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn deleted_containers_leave_nothing_behind() {
    testkit::skip_if!(runc_cell::skip_reason());
    let world = start_world().await;
    let cell = runc_cell::start(&world, "cell-clean", TAG, (251, 21), (19300, 19319)).await;

    let mut web = sleeper_lrp("web", 1);
    web.action = Some(run_action(
        "mkdir -p www && echo hi > www/index.html && exec httpd -f -p 8080 -h www",
    ));
    web.ports = vec![8080];
    web.memory_mb = 32;
    web.check_definition = Some(tcp_check(8080));
    world.desire_lrp(web).await;
    let mut crasher = sleeper_lrp("crasher", 1);
    crasher.action = Some(run_action("sleep 0.3; exit 1"));
    crasher.memory_mb = 32;
    world.desire_lrp(crasher).await;
    world
        .desire_task(
            "job",
            models::TaskDefinition {
                root_fs: "preloaded:cflinuxfs4".into(),
                action: Some(run_action("echo done > /home/vcap/r")),
                memory_mb: 32,
                disk_mb: 64,
                result_file: "/home/vcap/r".into(),
                ..Default::default()
            },
        )
        .await;

    eventually("web RUNNING", 30, || async {
        running(&world, "web").await.into_iter().next()
    })
    .await;
    eventually("crasher crashed", 30, || async {
        let all = world
            .bbs_client()
            .actual_lrps(&ActualLrpFilter::process("crasher"))
            .await
            .ok()?;
        all.iter().any(|l| l.crash_count >= 1).then_some(())
    })
    .await;
    let t = eventually("job completed", 30, || async {
        let t = world
            .bbs_client()
            .task_by_guid("job")
            .await
            .ok()
            .flatten()?;
        (t.state == models::task::State::Completed as i32).then_some(t)
    })
    .await;
    assert_eq!(t.result, "done\n");

    // The probes see a running container's pieces (so they look in the
    // right places).
    let live = leftovers(&cell.depot, true);
    for kind in [
        "mount:",
        "cgroup:",
        "netns:",
        "link:",
        "iptables:",
        "depot file:",
    ] {
        assert!(
            live.iter().any(|l| l.starts_with(kind)),
            "no {kind} seen while web runs: {live:#?}"
        );
    }

    remove_desired(&world, "web").await;
    remove_desired(&world, "crasher").await;
    eventually("every container deleted", 30, || async {
        let cs = cell.backend.containers(&Default::default()).await.ok()?;
        let ex = cell.rep.executor().list_containers().await.ok()?;
        (cs.is_empty() && ex.is_empty()).then_some(())
    })
    .await;
    // A crasher restart racing the removal may still be finishing its
    // create when the lists go empty; what matters is that its pieces go
    // too, so wait for them rather than sampling once.
    let mut left = leftovers(&cell.depot, true);
    for _ in 0..100 {
        if left.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        left = leftovers(&cell.depot, true);
    }
    assert!(left.is_empty(), "left 10 s after deletion: {left:#?}");

    cell.rep.shutdown().await;
    cell.backend.teardown_host().await;
    let left = leftovers(&cell.depot, false);
    assert!(left.is_empty(), "left after host teardown: {left:#?}");
    world.shutdown().await;
}
