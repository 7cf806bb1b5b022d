//! Isolation of unprivileged containers on the runc backend, probed from
//! inside as an app would (real containers, root only): a user namespace
//! whose root is an unprivileged host uid, Garden's seccomp profile (no
//! namespaces of its own, no mounts), limits on by default (pids 1024, a
//! fork bomb held, a disk fill stopped with the "disk quota exceeded"
//! event), and privileged containers only where the backend allows them.

mod common;

use common::{sh, sh_as, skip_unless_able};
use garden::{Backend, GardenError, IdMap, Limits};

fn status_field(status: &str, key: &str) -> String {
    status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key}:")))
        .unwrap_or("")
        .trim()
        .to_string()
}

/// The init's host uid (second field of its Uid line, as the host sees it).
fn host_uid_of_init(t: &common::TestBackend, handle: &str) -> u32 {
    let pid = std::fs::read_to_string(t.backend.container_dir(handle).join("init.pid")).unwrap();
    let status = std::fs::read_to_string(format!("/proc/{}/status", pid.trim())).unwrap();
    status_field(&status, "Uid")
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn an_app_runs_in_a_user_namespace_under_seccomp() {
    skip_unless_able!();
    let t = common::backend(51).await;
    let b = &t.backend;
    let map = b.id_map();
    assert_eq!(map, IdMap::default());
    b.create(common::spec("iso-1")).await.unwrap();

    // Container root is the map's first host uid, not host root.
    let (status, out, err) = sh(b, "iso-1", "cat /proc/self/uid_map /proc/self/gid_map").await;
    assert_eq!(status, 0, "{err}");
    let lines: Vec<Vec<&str>> = out
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    let want = vec![
        "0".to_string(),
        map.host_base.to_string(),
        map.size.to_string(),
    ];
    assert_eq!(lines.len(), 2, "{out}");
    for l in &lines {
        assert_eq!(l, &want, "{out}");
    }
    assert_eq!(host_uid_of_init(&t, "iso-1"), map.host_base);

    // The app's user: vcap inside, base+2000 on the host; no capabilities,
    // no new privileges, a seccomp filter.
    let (status, out, err) = sh_as(
        b,
        "iso-1",
        "vcap",
        "id -u; cat /proc/self/status; touch /home/vcap/mine",
    )
    .await;
    assert_eq!(status, 0, "{err}");
    assert!(out.starts_with("2000\n"), "{out}");
    assert_eq!(status_field(&out, "Seccomp"), "2", "{out}");
    assert_eq!(status_field(&out, "NoNewPrivs"), "1");
    assert_eq!(status_field(&out, "CapEff"), "0000000000000000");
    use std::os::unix::fs::MetadataExt;
    let upper = t.backend.container_dir("iso-1").join("layer/upper");
    let mine = std::fs::metadata(upper.join("home/vcap/mine")).unwrap();
    assert_eq!(mine.uid(), map.to_host(2000));

    // Its stdio are its own: reopened by name (nginx's `access_log
    // /dev/stdout`), they are not refused as host root's pipes would be.
    let (status, out, err) = sh_as(
        b,
        "iso-1",
        "vcap",
        "echo to-stdout > /dev/stdout && echo to-stderr > /dev/stderr",
    )
    .await;
    assert_eq!(
        (status, out.as_str(), err.as_str()),
        (0, "to-stdout\n", "to-stderr\n")
    );

    // Root in the container cannot make namespaces or mount.
    for (script, what) in [
        ("unshare -r id", "a user namespace"),
        ("unshare -n true", "a network namespace"),
        ("unshare -m true", "a mount namespace"),
        ("mkdir -p /mnt/t && mount -t tmpfs none /mnt/t", "a mount"),
    ] {
        let (status, out, err) = sh(b, "iso-1", script).await;
        assert_ne!(status, 0, "{what} was made: {out}");
        let err = err.to_lowercase();
        assert!(
            err.contains("not permitted") || err.contains("permission denied"),
            "{what}: {err:?}"
        );
    }
    // What it may do still works: processes, threads (clone without
    // namespace flags), files, its own /proc and a read-only /sys.
    let (status, out, err) = sh(
        b,
        "iso-1",
        "(sleep 0 &) ; wait; echo ok > /tmp/x && cat /tmp/x; ls /proc/1/status >/dev/null && echo proc; ls /sys/class/net",
    )
    .await;
    assert_eq!(status, 0, "{err}");
    assert_eq!(
        out, "ok\nproc\neth0\nlo\n",
        "only the container's own devices"
    );

    b.destroy("iso-1").await.unwrap();
    assert_eq!(common::leftovers(&t, "iso-1").await, Vec::<String>::new());
}

#[tokio::test]
async fn privileged_containers_only_where_allowed() {
    skip_unless_able!();
    let t = common::backend(52).await;
    let b = &t.backend;
    let mut spec = common::spec("priv-1");
    spec.privileged = true;
    let err = b.create(spec.clone()).await.unwrap_err();
    assert!(
        matches!(&err, GardenError::InvalidSpec(m) if m == "privileged container creation is disabled"),
        "{err}"
    );
    assert_eq!(common::leftovers(&t, "priv-1").await, Vec::<String>::new());
    drop(t);

    let t = common::backend_custom(53, |cfg| cfg.allow_privileged = true).await;
    let b = &t.backend;
    b.create(spec).await.unwrap();
    let (status, out, err) = sh(
        b,
        "priv-1",
        "cat /proc/self/uid_map; grep Seccomp: /proc/self/status; mkdir -p /mnt/t && mount -t tmpfs none /mnt/t && echo mounted",
    )
    .await;
    assert_eq!(status, 0, "{err}");
    let words: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(&words[..3], ["0", "0", "4294967295"], "host ids: {out}");
    // The privileged profile: a filter, but one that lets mount through.
    assert_eq!(&words[3..], ["Seccomp:", "2", "mounted"], "{out}");
    assert_eq!(host_uid_of_init(&t, "priv-1"), 0);
    b.destroy("priv-1").await.unwrap();
    assert_eq!(common::leftovers(&t, "priv-1").await, Vec::<String>::new());
}

#[tokio::test]
async fn pids_are_limited_by_default_and_a_fork_bomb_is_held() {
    skip_unless_able!();
    let t = common::backend(54).await;
    let b = &t.backend;
    // No max_pids in the spec: the cell's default (Cloud Controller's).
    b.create(common::spec("pids-d")).await.unwrap();
    let (status, out, _) = sh(
        b,
        "pids-d",
        "cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max",
    )
    .await;
    assert_eq!(status, 0);
    assert_eq!(out.trim(), "1024");
    assert_eq!(
        b.cgroup("pids-d").in_force().max_pids,
        Some(garden::config::DEFAULT_MAX_PIDS)
    );
    b.destroy("pids-d").await.unwrap();

    // A fork bomb under a small limit: held at the limit, and the host
    // takes it down with the container.
    let mut spec = common::spec("bomb-1");
    spec.limits = Limits {
        max_pids: 32,
        ..Default::default()
    };
    b.create(spec).await.unwrap();
    // Forks without end: every process it can have, then failing forks.
    let (bomb, _, _) = common::spawn_sh(
        b,
        "bomb-1",
        "sh",
        "vcap",
        "while :; do sleep 600 & done 2>/dev/null",
    )
    .await;
    let cg = b.cgroup("bomb-1");
    let mut seen = Vec::new();
    for _ in 0..30 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        seen.push(cg.pids_current().unwrap_or(0));
    }
    assert!(seen.iter().all(|n| *n <= 32), "over the limit: {seen:?}");
    // Held at the limit (a fork or two may be on their way out).
    assert!(seen.last().unwrap() >= &30, "held at the limit: {seen:?}");
    drop(bomb);
    b.destroy("bomb-1").await.unwrap();
    assert_eq!(common::leftovers(&t, "bomb-1").await, Vec::<String>::new());
}

#[tokio::test]
async fn a_disk_fill_is_stopped_by_the_default_quota() {
    skip_unless_able!();
    let t = common::backend(55).await;
    assert!(t.cfg.enforce_disk_limits, "disk limits are on by default");
    let b = &t.backend;
    let mut spec = common::spec("fill-1");
    spec.limits = Limits {
        disk_bytes: 64 << 20,
        ..Default::default()
    };
    b.create(spec).await.unwrap();
    assert!(b.info("fill-1").await.unwrap().events.is_empty());
    let (status, _, err) = sh_as(
        b,
        "fill-1",
        "vcap",
        "dd if=/dev/zero of=/home/vcap/fill bs=1M count=2048",
    )
    .await;
    assert_ne!(status, 0);
    assert!(err.contains("No space left"), "{err}");
    let info = b.info("fill-1").await.unwrap();
    assert_eq!(info.events, vec![garden::DISK_QUOTA_EXCEEDED.to_string()]);
    let m = b.metrics("fill-1").await.unwrap();
    assert!(m.disk_usage_bytes <= 64 << 20, "{m:?}");
    // The app's df sees its own limit.
    let (_, out, _) = sh(b, "fill-1", "df -k / | tail -1").await;
    let size_kb: u64 = out.split_whitespace().nth(1).unwrap().parse().unwrap();
    assert!(size_kb <= 64 * 1024, "{out}");

    b.destroy("fill-1").await.unwrap();
    assert_eq!(common::leftovers(&t, "fill-1").await, Vec::<String>::new());
}
