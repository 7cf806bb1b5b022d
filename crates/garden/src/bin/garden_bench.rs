//! garden-bench: how long the runc backend takes to create (and start) and
//! destroy a container, and to run `true` in one. Needs root, runc and the
//! host's static busybox. `garden-bench [COUNT]` (default 100).
//!
//! Three backends in the same run, their creates interleaved so load on
//! the host falls on all alike:
//! - `plain`: no user namespace, no seccomp, no disk limit (garden before
//!   isolation);
//! - `isolated`: user namespace and seccomp (the default), no disk limit;
//! - `isolated+disk`: the default as a whole, with a 1 GB disk limit
//!   enforced (a loop-mounted filesystem per container).
//!
//! The isolated/plain ratio of the create+start medians is the cost of the
//! user namespace and seccomp; isolated+disk minus isolated, that of the
//! disk limit. The one-off copy of the rootfs shifted into the id map is
//! timed on its own (it is made once, by the first container).

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use garden::{
    Backend, ContainerSpec, PortMapping, ProcessIo, ProcessSpec, RuncBackend, RuncConfig,
};

fn median(d: &[Duration]) -> Duration {
    let mut d = d.to_vec();
    d.sort();
    d[d.len() / 2]
}

fn stats(name: &str, mut d: Vec<Duration>) {
    d.sort();
    let pick = |q: f64| d[((d.len() as f64 - 1.0) * q).round() as usize];
    println!(
        "{name:<38} n={:<4} median {:>8.1} ms   p99 {:>8.1} ms   max {:>8.1} ms",
        d.len(),
        pick(0.5).as_secs_f64() * 1e3,
        pick(0.99).as_secs_f64() * 1e3,
        d[d.len() - 1].as_secs_f64() * 1e3,
    );
}

struct Variant {
    name: &'static str,
    backend: RuncBackend,
    disk_bytes: u64,
    creates: Vec<Duration>,
    destroys: Vec<Duration>,
}

fn spec(handle: String, disk_bytes: u64) -> ContainerSpec {
    ContainerSpec {
        handle,
        image: "preloaded:busybox".into(),
        net_in: vec![PortMapping {
            host_port: 0,
            container_port: 8080,
        }],
        limits: garden::Limits {
            memory_bytes: 64 << 20,
            max_pids: 64,
            disk_bytes,
            ..Default::default()
        },
        ..Default::default()
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let count: usize = args
        .iter()
        .find(|a| !a.starts_with("--"))
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(100);
    let dir = std::env::temp_dir().join(format!("garden-bench-{}", std::process::id()));
    let rootfs = dir.join("rootfs");
    garden::rootfs::build_busybox_rootfs(&rootfs)?;

    // The shifted copy, alone.
    let cache = dir.join("shift-cache");
    std::fs::create_dir_all(&cache)?;
    let t0 = Instant::now();
    garden::shifted::shifted_rootfs(&cache, "busybox", &rootfs, &garden::IdMap::default())?;
    let shift = t0.elapsed();

    let mut variants = Vec::new();
    for (i, (name, isolated, disk)) in [
        ("plain", false, false),
        ("isolated", true, false),
        ("isolated+disk", true, true),
    ]
    .into_iter()
    .enumerate()
    {
        let mut cfg = RuncConfig::new(dir.join(format!("depot-{i}")));
        cfg.rootfs.insert("busybox".into(), rootfs.clone());
        cfg.tag = format!("gb{i}");
        cfg.subnet = Ipv4Addr::new(10, 252, 4 * i as u8, 0);
        cfg.subnet_prefix = 22;
        cfg.port_range = (45000 + 300 * i as u16, 45299 + 300 * i as u16);
        cfg.user_namespace = isolated;
        cfg.seccomp = isolated;
        cfg.enforce_disk_limits = disk;
        let backend = RuncBackend::new(cfg).await?;
        let disk_bytes = if disk { 1 << 30 } else { 0 };
        // The first container of each pays for one-offs (the shifted
        // copy): not counted.
        backend
            .create(spec(format!("warm-{i}"), disk_bytes))
            .await?;
        backend.destroy(&format!("warm-{i}")).await?;
        variants.push(Variant {
            name,
            backend,
            disk_bytes,
            creates: Vec::new(),
            destroys: Vec::new(),
        });
    }

    for i in 0..count {
        for v in variants.iter_mut() {
            let handle = format!("bench-{i}");
            let t0 = Instant::now();
            v.backend.create(spec(handle.clone(), v.disk_bytes)).await?;
            let t1 = Instant::now();
            v.backend.destroy(&handle).await?;
            v.creates.push(t1 - t0);
            v.destroys.push(t1.elapsed());
        }
    }

    let isolated = &variants[1].backend;
    isolated.create(spec("bench-run".into(), 0)).await?;
    let mut runs = Vec::new();
    for _ in 0..count {
        let t0 = Instant::now();
        let p = isolated
            .run(
                "bench-run",
                ProcessSpec {
                    path: "true".into(),
                    ..Default::default()
                },
                ProcessIo::default(),
            )
            .await?;
        let status = p.wait().await?;
        runs.push(t0.elapsed());
        assert_eq!(status, 0);
    }
    isolated.destroy("bench-run").await?;
    for v in &variants {
        v.backend.teardown_host().await;
    }
    let _ = std::fs::remove_dir_all(&dir);

    println!(
        "runc backend, cgroup {:?}, {count} containers per variant (interleaved, one at a time)",
        isolated.cgroup_version()
    );
    println!(
        "{:<38} {:>8.1} ms (once per rootfs and id map)",
        "shifted rootfs copy (busybox)",
        shift.as_secs_f64() * 1e3
    );
    let medians: Vec<Duration> = variants.iter().map(|v| median(&v.creates)).collect();
    for v in &variants {
        stats(&format!("create+start {}", v.name), v.creates.clone());
    }
    for v in &variants {
        stats(&format!("destroy {}", v.name), v.destroys.clone());
    }
    stats("run `true` (exec+wait) isolated", runs);
    println!(
        "ratio isolated / plain (create+start medians): {:.2}",
        medians[1].as_secs_f64() / medians[0].as_secs_f64()
    );
    println!(
        "disk limit per create (isolated+disk - isolated medians): {:+.1} ms",
        (medians[2].as_secs_f64() - medians[1].as_secs_f64()) * 1e3
    );
    Ok(())
}
