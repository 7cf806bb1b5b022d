//! What the runc backend leaves on the host (root only): after a crash,
//! the next backend on the depot removes every kernel object of containers
//! it has no record of and keeps the rest working; once its last container
//! is gone and the cell stops (`release_parents`), nothing of the backend
//! is left in `nft list ruleset`, `iptables-save`, `ip link`, the mounts,
//! the loop devices or the cgroups.

mod common;

use common::{sh, skip_unless_able};
use garden::{Backend, Limits, RuncBackend};

fn run(cmd: &str) -> String {
    let out = std::process::Command::new("sh")
        .args(["-c", cmd])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Every line of the host's state that names the backend (its tag, its
/// subnet, its depot).
fn traces(t: &common::TestBackend) -> Vec<String> {
    let tag = &t.cfg.tag;
    let depot = t.cfg.depot.display().to_string();
    let subnet = format!("{}/", t.cfg.subnet);
    let mut found = Vec::new();
    for (what, text) in [
        ("nft", run("nft list ruleset")),
        ("iptables", run("iptables-save")),
        ("link", run("ip -o link show")),
        ("netns", run("ip netns list")),
        ("mount", run("cat /proc/self/mountinfo")),
        ("loop", run("losetup -a")),
        (
            "lease",
            run(&format!(
                "grep -rs . {depot}/cni/ipam | grep -v last_reserved"
            )),
        ),
        (
            "cgroup",
            run("find /sys/fs/cgroup -maxdepth 3 -type d -name 'garden-*'"),
        ),
    ] {
        for l in text.lines() {
            let ours = l.contains(&format!("garden-{tag}"))
                || l.contains(&format!("{tag}-"))
                || l.contains(&format!("{}-", tag.to_uppercase()))
                || l.contains(&subnet)
                || [
                    "\"garden:lost-1\"",
                    "\"garden:kept-1\"",
                    "\"garden:gone-1\"",
                ]
                .iter()
                .any(|c| l.contains(c))
                || l.contains(&depot);
            if ours {
                found.push(format!("{what}: {l}"));
            }
        }
    }
    found
}

#[tokio::test]
async fn a_crashed_backend_is_cleaned_up_and_a_stopped_one_leaves_nothing() {
    skip_unless_able!();
    let t = common::backend(71).await;
    assert_eq!(
        traces(&t).iter().filter(|l| l.starts_with("mount")).count(),
        0
    );
    let b = &t.backend;
    let mut spec = common::spec("kept-1");
    spec.net_in = vec![garden::PortMapping {
        host_port: 0,
        container_port: 8080,
    }];
    b.create(spec.clone()).await.unwrap();
    // Its twin loses its record, as a create does that dies before its
    // record is written: the next backend knows nothing of it.
    spec.handle = "lost-1".into();
    spec.limits = Limits {
        disk_bytes: 32 << 20,
        ..Default::default()
    };
    let lost = b.create(spec).await.unwrap();
    let record = b.container_dir("lost-1").join("container.json");
    let rec: serde_json::Value = serde_json::from_slice(&std::fs::read(&record).unwrap()).unwrap();
    let veth = rec["host_iface"].as_str().unwrap().to_string();
    let lost_ip = format!("{}/32", lost.container_ip);
    std::fs::remove_file(record).unwrap();
    let of_lost = |l: &String| l.contains("lost-1") || l.contains(&veth) || l.contains(&lost_ip);
    let lost_traces: Vec<String> = traces(&t).into_iter().filter(of_lost).collect();
    for kind in ["nft", "iptables", "link", "netns", "mount", "loop"] {
        assert!(
            lost_traces.iter().any(|l| l.starts_with(kind)),
            "no {kind} of lost-1 to clean: {lost_traces:#?}"
        );
    }

    // Another loses its runtime state too (its depot went, as when a
    // dev data directory is deleted): only its cgroup tells of its
    // processes.
    b.create(common::spec("gone-1")).await.unwrap();
    let gone_init: i32 = std::fs::read_to_string(b.container_dir("gone-1").join("init.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    std::fs::remove_file(b.container_dir("gone-1").join("container.json")).unwrap();
    std::fs::remove_dir_all(t.cfg.depot.join("runtime").join("gone-1")).unwrap();

    // The "crash": a new backend on the same depot, the old one gone
    // without a word.
    let restarted = RuncBackend::new(t.cfg.clone()).await.unwrap();
    assert!(
        !std::path::Path::new(&format!("/proc/{gone_init}")).exists()
            || std::fs::read_to_string(format!("/proc/{gone_init}/stat")).is_ok_and(|s| s
                .rsplit(')')
                .next()
                .is_some_and(|r| r.trim_start().starts_with('Z'))),
        "gone-1's init {gone_init} still runs"
    );
    assert!(!restarted.cgroup("gone-1").dirs().iter().any(|d| d.exists()));
    assert_eq!(
        restarted.containers(&Default::default()).await.unwrap(),
        vec!["kept-1"]
    );
    let left: Vec<String> = traces(&t).into_iter().filter(of_lost).collect();
    assert!(left.is_empty(), "left of the lost container: {left:#?}");
    assert!(!restarted.cgroup("lost-1").dirs().iter().any(|d| d.exists()));
    // The kept one still runs, with its firewall keys back in place.
    let (status, out, _) = sh(&restarted, "kept-1", "echo alive").await;
    assert_eq!((status, out.as_str()), (0, "alive\n"));
    let ip = restarted.info("kept-1").await.unwrap().container_ip;
    assert!(restarted
        .network()
        .firewall()
        .chain(ip.parse().unwrap())
        .await
        .is_some());

    // The cell stops: with a container left the host stays set up...
    restarted.release_parents().await;
    assert!(traces(&t).iter().any(|l| l.starts_with("nft")));
    // ...and goes with the last one.
    restarted.destroy("kept-1").await.unwrap();
    restarted.release_parents().await;
    assert_eq!(traces(&t), Vec::<String>::new());
}

#[tokio::test]
async fn a_destroy_of_a_container_being_destroyed_returns_once_it_is_gone() {
    skip_unless_able!();
    let t = common::backend(72).await;
    let b = t.backend.clone();
    let mut spec = common::spec("twice-1");
    spec.net_in = vec![garden::PortMapping {
        host_port: 0,
        container_port: 8080,
    }];
    b.create(spec).await.unwrap();
    let dir = b.container_dir("twice-1").display().to_string();
    let mounted = || {
        run("cat /proc/self/mountinfo")
            .lines()
            .filter(|l| l.contains(&dir))
            .count()
    };
    assert!(mounted() > 0);
    let first = {
        let b = b.clone();
        tokio::spawn(async move { b.destroy("twice-1").await })
    };
    // Under way once the container is no longer listed.
    while b
        .containers(&Default::default())
        .await
        .unwrap()
        .contains(&"twice-1".to_string())
    {
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    let second = b.destroy("twice-1").await;
    assert!(
        matches!(second, Err(garden::GardenError::ContainerNotFound(_))),
        "{second:?}"
    );
    assert_eq!(
        mounted(),
        0,
        "the second destroy returned before the first unmounted"
    );
    first.await.unwrap().unwrap();
    b.release_parents().await;
}
