//! Cgroup limits on the runc backend: a memory hog is OOM-killed and shows
//! as Garden's "out of memory" event, the pids limit stops fork bombs,
//! CPU weight reaches the cgroup, and metrics read usage back.

mod common;

use common::{sh, skip_unless_able};
use garden::cgroups::CgroupVersion;
use garden::{Backend, Limits};

#[tokio::test]
async fn a_memory_hog_is_killed_and_reported_out_of_memory() {
    skip_unless_able!();
    let t = common::backend(11).await;
    let b = &t.backend;
    let mut spec = common::spec("hog-1");
    spec.limits = Limits {
        memory_bytes: 32 << 20,
        ..Default::default()
    };
    b.create(spec).await.unwrap();
    assert!(b.info("hog-1").await.unwrap().events.is_empty());

    // dd's 128 MB buffer is filled from /dev/zero: past the limit.
    let (status, _, err) = sh(b, "hog-1", "dd if=/dev/zero of=/dev/null bs=128M count=1").await;
    assert_eq!(status, 137, "killed by SIGKILL: {err}");
    let info = b.info("hog-1").await.unwrap();
    assert_eq!(info.events, vec!["out of memory".to_string()]);

    b.destroy("hog-1").await.unwrap();
    assert_eq!(common::leftovers(&t, "hog-1").await, Vec::<String>::new());
}

#[tokio::test]
async fn the_pids_limit_stops_forks() {
    skip_unless_able!();
    let t = common::backend(12).await;
    let b = &t.backend;
    let mut spec = common::spec("pids-1");
    spec.limits = Limits {
        max_pids: 8,
        ..Default::default()
    };
    b.create(spec).await.unwrap();

    // The sleeps must not hold the exec's stdout open past its exit.
    let (_, _, err) = sh(
        b,
        "pids-1",
        "for i in $(seq 20); do sleep 30 >/dev/null 2>&1 & done; echo started",
    )
    .await;
    assert!(err.contains("fork"), "forks past the limit fail: {err:?}");
    let dir = match b.cgroup_version() {
        CgroupVersion::V1 => "/sys/fs/cgroup/pids/garden-t12/pids-1",
        CgroupVersion::V2 => "/sys/fs/cgroup/garden-t12/pids-1",
    };
    let read = |f: &str| {
        std::fs::read_to_string(format!("{dir}/{f}"))
            .unwrap()
            .trim()
            .to_string()
    };
    assert_eq!(read("pids.max"), "8");
    let current: u64 = read("pids.current").parse().unwrap();
    assert!(current <= 8, "{current} processes under a limit of 8");

    b.destroy("pids-1").await.unwrap();
    assert_eq!(common::leftovers(&t, "pids-1").await, Vec::<String>::new());
}

#[tokio::test]
async fn cpu_weight_reaches_the_cgroup_and_metrics_read_usage() {
    skip_unless_able!();
    let t = common::backend(13).await;
    let b = &t.backend;
    let mut spec = common::spec("cpu-1");
    spec.limits = Limits {
        cpu_weight: 50,
        memory_bytes: 256 << 20,
        ..Default::default()
    };
    b.create(spec).await.unwrap();
    let (file, want) = match b.cgroup_version() {
        CgroupVersion::V1 => ("/sys/fs/cgroup/cpu/garden-t13/cpu-1/cpu.shares", "512"),
        // runc maps shares 512 onto the v2 weight scale.
        CgroupVersion::V2 => ("/sys/fs/cgroup/garden-t13/cpu-1/cpu.weight", "20"),
    };
    assert_eq!(std::fs::read_to_string(file).unwrap().trim(), want);

    let (status, _, err) = sh(
        b,
        "cpu-1",
        "dd if=/dev/zero of=/tmp/blob bs=1M count=8 2>/dev/null; i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done",
    )
    .await;
    assert_eq!(status, 0, "{err}");
    let m = b.metrics("cpu-1").await.unwrap();
    assert!(m.disk_usage_bytes >= 8 << 20, "{m:?}");
    assert!(m.cpu_usage.as_millis() > 0, "{m:?}");
    assert!(m.memory_usage_bytes > 0, "{m:?}");

    let cap = b.capacity().await.unwrap();
    assert!(cap.memory_bytes > 0 && cap.disk_bytes > 0);
    assert_eq!(cap.max_containers, 253);

    b.destroy("cpu-1").await.unwrap();
    assert_eq!(common::leftovers(&t, "cpu-1").await, Vec::<String>::new());
}

#[tokio::test]
async fn disk_limits_are_enforced_when_asked() {
    skip_unless_able!();
    let t = common::backend_custom(14, |cfg| cfg.enforce_disk_limits = true).await;
    let b = &t.backend;
    let mut spec = common::spec("disk-1");
    spec.limits = Limits {
        disk_bytes: 32 << 20,
        ..Default::default()
    };
    b.create(spec).await.unwrap();
    let (status, _, err) = sh(b, "disk-1", "dd if=/dev/zero of=/tmp/fill bs=1M count=64").await;
    assert_ne!(status, 0);
    assert!(err.contains("No space left"), "{err}");
    let m = b.metrics("disk-1").await.unwrap();
    assert!(
        m.disk_usage_bytes > 16 << 20 && m.disk_usage_bytes <= 32 << 20,
        "{m:?}"
    );
    // Space freed is usable again.
    let (status, out, _) = sh(
        b,
        "disk-1",
        "rm /tmp/fill && echo ok > /tmp/small && cat /tmp/small",
    )
    .await;
    assert_eq!((status, out.as_str()), (0, "ok\n"));

    b.destroy("disk-1").await.unwrap();
    assert_eq!(common::leftovers(&t, "disk-1").await, Vec::<String>::new());
}
