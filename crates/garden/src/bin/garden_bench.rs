//! garden-bench: how long the runc backend takes to create (and start) and
//! destroy a container, and to run `true` in one. Needs root, runc and the
//! host's static busybox. `garden-bench [COUNT] [--disk-limits]` (default
//! 100; `--disk-limits` gives each container an enforced 1 GB disk).

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use garden::{
    Backend, ContainerSpec, PortMapping, ProcessIo, ProcessSpec, RuncBackend, RuncConfig,
};

fn stats(name: &str, mut d: Vec<Duration>) {
    d.sort();
    let pick = |q: f64| d[((d.len() as f64 - 1.0) * q).round() as usize];
    println!(
        "{name:<24} n={:<4} median {:>8.1} ms   p99 {:>8.1} ms   max {:>8.1} ms",
        d.len(),
        pick(0.5).as_secs_f64() * 1e3,
        pick(0.99).as_secs_f64() * 1e3,
        d[d.len() - 1].as_secs_f64() * 1e3,
    );
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let disk_limits = args.iter().any(|a| a == "--disk-limits");
    let count: usize = args
        .iter()
        .find(|a| !a.starts_with("--"))
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(100);
    let dir = std::env::temp_dir().join(format!("garden-bench-{}", std::process::id()));
    let rootfs = dir.join("rootfs");
    garden::rootfs::build_busybox_rootfs(&rootfs)?;
    let mut cfg = RuncConfig::new(dir.join("depot"));
    cfg.rootfs.insert("busybox".into(), rootfs);
    cfg.tag = "gb".into();
    cfg.subnet = Ipv4Addr::new(10, 252, 0, 0);
    cfg.subnet_prefix = 22;
    cfg.port_range = (45000, 45999);
    cfg.enforce_disk_limits = disk_limits;
    let backend = RuncBackend::new(cfg).await?;
    let spec = |handle: String| ContainerSpec {
        handle,
        image: "preloaded:busybox".into(),
        net_in: vec![PortMapping {
            host_port: 0,
            container_port: 8080,
        }],
        limits: garden::Limits {
            memory_bytes: 64 << 20,
            max_pids: 64,
            disk_bytes: 1 << 30,
            ..Default::default()
        },
        ..Default::default()
    };

    let (mut creates, mut destroys, mut totals) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..count {
        let handle = format!("bench-{i}");
        let t0 = Instant::now();
        backend.create(spec(handle.clone())).await?;
        let t1 = Instant::now();
        backend.destroy(&handle).await?;
        let t2 = Instant::now();
        creates.push(t1 - t0);
        destroys.push(t2 - t1);
        totals.push(t2 - t0);
    }

    backend.create(spec("bench-run".into())).await?;
    let mut runs = Vec::new();
    for _ in 0..count {
        let t0 = Instant::now();
        let p = backend
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
    backend.destroy("bench-run").await?;
    backend.teardown_host().await;
    let _ = std::fs::remove_dir_all(&dir);

    println!(
        "runc backend, cgroup {:?}, {count} containers (one at a time), disk limits {}",
        backend.cgroup_version(),
        if disk_limits {
            "enforced"
        } else {
            "measured only"
        }
    );
    stats("create+start", creates);
    stats("destroy", destroys);
    stats("create+start+destroy", totals);
    stats("run `true` (exec+wait)", runs);
    Ok(())
}
