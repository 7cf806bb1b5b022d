//! An instance with a TCP health check (houdini: the container port is the
//! host port) is RUNNING in the BBS only once its server answers, and the
//! port mapping it reports is the one it serves on.

mod support;

use bbs_client::{ActualLrpFilter, BbsClient};

use std::time::Duration;
use support::{eventually, run_action, running, sleeper_lrp, start_world};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn running_waits_for_the_health_check() {
    testkit::skip_if!((!std::path::Path::new("/usr/bin/busybox").exists())
        .then_some("/usr/bin/busybox (busybox-static) not found"));
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let world = start_world().await;
    let rep = world.start_rep(&world.rep_config("cell-1", "z1")).await;

    // The server starts listening 1.5 s after the process starts.
    let mut lrp = sleeper_lrp("web", 1);
    lrp.action = Some(run_action(&format!(
        "sleep 1.5; exec /usr/bin/busybox httpd -f -p 127.0.0.1:{port}"
    )));
    lrp.ports = vec![u32::from(port)];
    lrp.start_timeout_ms = 20_000;
    lrp.check_definition = Some(models::CheckDefinition {
        checks: vec![models::Check {
            tcp_check: Some(models::TcpCheck {
                port: u32::from(port),
                connect_timeout_ms: 500,
                interval_ms: 100,
            }),
            ..Default::default()
        }],
        ..Default::default()
    });
    let desired_at = std::time::Instant::now();
    world.desire_lrp(lrp).await;
    eventually("claimed", 10, || async {
        let all = world
            .bbs_client()
            .actual_lrps(&ActualLrpFilter::process("web"))
            .await
            .ok()?;
        all.iter()
            .any(|l| l.state == models::actual_lrp_state::CLAIMED)
            .then_some(())
    })
    .await;
    let l = eventually("RUNNING once healthy", 30, || async {
        running(&world, "web").await.into_iter().next()
    })
    .await;
    assert!(
        desired_at.elapsed() >= Duration::from_millis(1500),
        "RUNNING before the server listened: {:?}",
        desired_at.elapsed()
    );
    let net = l.actual_lrp_net_info.unwrap();
    assert_eq!(net.ports.len(), 1);
    assert_eq!(
        (net.ports[0].container_port, net.ports[0].host_port),
        (u32::from(port), u32::from(port))
    );
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());

    rep.shutdown().await;
    world.shutdown().await;
}
