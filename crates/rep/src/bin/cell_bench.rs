//! cell-bench: one cell with a real locket, BBS (SQLite) and auctioneer in
//! this process; desires LRPs of 1, 10 and 100 instances (busybox httpd
//! with a TCP check, 16 MB each) and prints how long each takes from the
//! desire to all instances RUNNING in the BBS. The cell runs runc
//! containers as root, houdini host processes otherwise (then without
//! the httpd and check: houdini instances would share one port).
//!
//! cargo run --release -p rep --features bench --bin cell-bench

use auctioneer::config::{AuctioneerConfig, GoDuration};
use bbs::config::BbsConfig;
use bbs_client::{ActualLrpFilter, BbsClient, HttpBbsClient};
use locket::config::LocketConfig;
use rep::config::{Capacity, RepConfig, RootFs};
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::{Duration, Instant};

const SIZES: [i32; 3] = [1, 10, 100];

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    // Quiet unless RUST_LOG asks (e.g. RUST_LOG=warn).
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let dir = tempfile::tempdir()?;
    let root = std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false);
    let runc = root && std::path::Path::new("/usr/bin/busybox").exists();

    let locket = locket::server::start(
        &LocketConfig {
            listen_address: "127.0.0.1:0".into(),
            database_driver: "sqlite".into(),
            database_connection_string: dir.path().join("locket.db").display().to_string(),
            ..Default::default()
        },
        locket::server::ServerOptions {
            burglar_interval: Duration::from_millis(500),
        },
    )
    .await?;
    let locket_addr = locket.addr.to_string();
    let auctioneer_addr = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    let mut bbs_cfg = BbsConfig {
        listen_address: "127.0.0.1:0".into(),
        health_address: "127.0.0.1:0".into(),
        database_connection_string: dir.path().join("bbs.db").display().to_string(),
        active_key_label: "k1".into(),
        auctioneer_address: format!("http://{auctioneer_addr}"),
        locket_address: locket_addr.clone(),
        uuid: "bbs-bench".into(),
        ..Default::default()
    };
    bbs_cfg
        .encryption_keys
        .insert("k1".into(), "a bench passphrase".into());
    let bbs_server = bbs::server::start(&bbs_cfg, bbs::server::Overrides::default()).await?;
    let bbs_url = format!("http://{}", bbs_server.addr);
    let auctioneer = auctioneer::server::start(&AuctioneerConfig {
        listen_address: auctioneer_addr.to_string(),
        bbs_address: bbs_url.clone(),
        locket_address: locket_addr.clone(),
        cell_state_timeout: GoDuration(Duration::from_secs(5)),
        uuid: "auctioneer-bench".into(),
        ..Default::default()
    })
    .await?;

    let mut cfg = RepConfig {
        cell_id: "cell-bench".into(),
        zone: "z1".into(),
        listen_addr: "127.0.0.1:0".into(),
        bbs_address: bbs_url.clone(),
        locket_address: locket_addr,
        supported_providers: vec!["docker".into()],
        preloaded_root_fs: vec![RootFs {
            name: "cflinuxfs4".into(),
            path: "/".into(),
        }],
        memory_mb: Capacity::Mb(4096),
        disk_mb: Capacity::Mb(8192),
        container_backend: "houdini".into(),
        depot_dir: dir.path().join("cell").display().to_string(),
        ..Default::default()
    };
    let mut runc_backend = None;
    let executor = if runc {
        let rootfs = dir.path().join("busybox-rootfs");
        garden::rootfs::build_busybox_rootfs(&rootfs)?;
        cfg.container_backend = "runc".into();
        cfg.preloaded_root_fs[0].path = rootfs.display().to_string();
        let mut rc = garden::RuncConfig::new(dir.path().join("runc-depot"));
        rc.rootfs.insert("cflinuxfs4".into(), rootfs);
        // Its own tag, subnet and ports (below the ephemeral range), so
        // a running `diego dev` or test is not disturbed.
        rc.tag = "cbn".into();
        rc.subnet = Ipv4Addr::new(10, 251, 31, 0);
        rc.subnet_prefix = 24;
        rc.port_range = (19400, 19599);
        let backend = garden::RuncBackend::new(rc).await?;
        runc_backend = Some(backend.clone());
        let store = executor::ContainerStore::new(
            Arc::new(backend),
            executor::ExecutorConfig {
                cell_id: cfg.cell_id.clone(),
                capacity: Some(executor::ExecutorResources::new(4096, 8192, 250)),
                temp_dir: dir.path().join("executor-tmp"),
                ..Default::default()
            },
        )
        .await?;
        rep::executor_store::StoreClient::new(store)
    } else {
        rep::backend::executor_from_config(&cfg).await?
    };
    let rep = rep::Rep::start(&cfg, Arc::new(executor)).await?;
    tokio::time::timeout(Duration::from_secs(20), rep.presence_registered()).await??;
    println!(
        "cell: {}",
        if runc {
            "runc containers (root), busybox httpd with a TCP check"
        } else {
            "houdini host processes (not root or no busybox), sleepers without a check"
        }
    );

    let bbs = HttpBbsClient::new(
        &bbs_client::ClientConfig::new(&bbs_url).with_request_timeout(Duration::from_secs(10)),
    )?;
    // Errors still let the teardown below remove every container.
    let measured: anyhow::Result<()> = async {
        for n in SIZES {
            let guid = format!("bench-{n}");
            let lrp = desired_lrp(&guid, n, runc);
            let started = Instant::now();
            bbs.desire_lrp(lrp)
                .await
                .map_err(|e| anyhow::anyhow!("desire {guid}: {e}"))?;
            loop {
                let all = match bbs.actual_lrps(&ActualLrpFilter::process(&guid)).await {
                    Ok(all) => all,
                    Err(e) => {
                        anyhow::ensure!(
                            started.elapsed() < Duration::from_secs(20),
                            "{guid}: {e:#}"
                        );
                        Vec::new()
                    }
                };
                let running = all
                    .iter()
                    .filter(|l| l.state == models::actual_lrp_state::RUNNING)
                    .count();
                if running == n as usize {
                    break;
                }
                anyhow::ensure!(
                    started.elapsed() < Duration::from_secs(300),
                    "{guid}: only {running}/{n} RUNNING after 300 s: {:?}",
                    all.iter()
                        .find(|l| l.state != models::actual_lrp_state::RUNNING)
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let took = started.elapsed();
            println!(
                "{n:>3} instance(s): desire → all RUNNING {:>8.3} s ({:.1} ms/instance)",
                took.as_secs_f64(),
                took.as_secs_f64() * 1000.0 / f64::from(n)
            );

            // The next size starts on an empty cell.
            bbs.remove_desired_lrp(&guid).await?;
            let removing = Instant::now();
            while !rep.executor().list_containers().await?.is_empty() {
                anyhow::ensure!(
                    removing.elapsed() < Duration::from_secs(120),
                    "{guid}: containers not deleted in 120 s"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            println!(
                "{n:>3} instance(s): remove → all containers deleted {:>8.3} s",
                removing.elapsed().as_secs_f64()
            );
        }
        Ok(())
    }
    .await;

    rep.shutdown().await;
    if let Some(b) = runc_backend {
        use garden::Backend;
        for h in b.containers(&Default::default()).await.unwrap_or_default() {
            let _ = b.destroy(&h).await;
        }
        b.teardown_host().await;
    }
    auctioneer.shutdown().await;
    bbs_server.shutdown().await;
    locket.shutdown().await;
    measured
}

fn desired_lrp(guid: &str, instances: i32, runc: bool) -> models::DesiredLrp {
    let script = if runc {
        "mkdir -p www && echo hi > www/index.html && exec httpd -f -p 8080 -h www"
    } else {
        "while true; do sleep 1; done"
    };
    let mut lrp = models::DesiredLrp {
        process_guid: guid.into(),
        domain: "bench".into(),
        root_fs: "preloaded:cflinuxfs4".into(),
        instances,
        action: Some(models::Action {
            run_action: Some(models::RunAction {
                path: "sh".into(),
                args: vec!["-c".into(), script.into()],
                user: "vcap".into(),
                ..Default::default()
            }),
            ..Default::default()
        }),
        memory_mb: 16,
        disk_mb: 16,
        start_timeout_ms: 120_000,
        log_guid: guid.into(),
        metric_tags: [(
            "source_id".to_string(),
            models::MetricTagValue {
                r#static: guid.to_string(),
                ..Default::default()
            },
        )]
        .into_iter()
        .collect(),
        ..Default::default()
    };
    if runc {
        lrp.ports = vec![8080];
        lrp.check_definition = Some(models::CheckDefinition {
            checks: vec![models::Check {
                tcp_check: Some(models::TcpCheck {
                    port: 8080,
                    connect_timeout_ms: 500,
                    interval_ms: 100,
                }),
                ..Default::default()
            }],
            ..Default::default()
        });
    }
    lrp
}
