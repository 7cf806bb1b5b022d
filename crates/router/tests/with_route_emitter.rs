//! The whole routing path: a real BBS, the route-emitter, the dev router
//! and real backends over a real nats-server.

mod support;

#[path = "../../route-emitter/tests/support/bbs.rs"]
#[allow(dead_code)]
mod bbs_support;

use bbs_support::{desired_lrp, TestBbs};
use std::time::Duration;
use support::*;

const ROUTE: &str = r#"[{"hostnames":["web.localhost"],"port":8080}]"#;

#[tokio::test]
async fn a_late_router_learns_routes_and_scale_down_fails_no_request() {
    let Some(nats) = NatsServer::start().await else {
        return;
    };
    let bbs = TestBbs::start().await;
    let mut ecfg = route_emitter::RouteEmitterConfig {
        bbs_address: bbs.url.clone(),
        nats_addresses: nats.url.clone(),
        jitter_factor: 0.0,
        ..Default::default()
    };
    ecfg.sync_interval.0 = Duration::from_secs(60);
    let emitter = route_emitter::start(ecfg).await.unwrap();

    let (a, _stop_a) = stoppable_backend("a").await;
    let (b, stop_b) = stoppable_backend("b").await;
    bbs.desire(desired_lrp("web", 2, ROUTE)).await;
    bbs.run_instance("web", 0, "ig-a", "cell-1", a.port().into())
        .await;
    bbs.run_instance("web", 1, "ig-b", "cell-1", b.port().into())
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    // The router starts after the routes were emitted; its router.start
    // makes the emitter re-emit the table.
    let router = router::start(router_config(&nats.url)).await.unwrap();
    eventually("router learned both", || async {
        router.registry.snapshot() == [("web.localhost".to_string(), 2)]
    })
    .await;
    let mut seen = Vec::new();
    for _ in 0..4 {
        let (status, body) = get(router.addr, "web.localhost").await;
        assert_eq!(status, 200);
        seen.push(body);
    }
    seen.sort();
    assert_eq!(seen, ["a", "a", "b", "b"]);

    // Scale down while requests flow: instance b is removed and its app
    // stops at once; no request fails.
    let load = tokio::spawn(async move {
        let mut statuses = Vec::new();
        for _ in 0..100 {
            statuses.push(get(router.addr, "web.localhost").await.0);
        }
        (statuses, router)
    });
    tokio::time::sleep(Duration::from_millis(20)).await;
    bbs.update(
        "web",
        models::DesiredLrpUpdate {
            optional_instances: Some(models::desired_lrp_update::OptionalInstances::Instances(1)),
            ..Default::default()
        },
    )
    .await;
    let _ = stop_b.send(());
    bbs.remove_actual("web", 1, "ig-b", "cell-1").await;
    let (statuses, router) = load.await.unwrap();
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    eventually("b unregistered", || async {
        router.registry.snapshot() == [("web.localhost".to_string(), 1)]
    })
    .await;
    assert_eq!(
        get(router.addr, "web.localhost").await,
        (200, "a".to_string())
    );
    router.stop().await;
    emitter.stop().await.unwrap();
}
