//! How the route-emitter copes with a large table: a BBS seeded with N
//! running LRPs (one route each; N from ROUTE_EMITTER_SCALE_LRPS, default
//! 2000), timed from start to every route registered, then the latency of
//! one more instance's route while the table is full.

mod support;

use ::bbs::db::{EncryptionConfig, SqlStore, StoreConfig};
use bbs_client::BbsClient;
use std::time::{Duration, Instant};
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn syncs_a_large_table_and_still_routes_changes_quickly() {
    let Some(nats) = NatsServer::start().await else {
        return;
    };
    let n: usize = std::env::var("ROUTE_EMITTER_SCALE_LRPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let dir = tempfile::tempdir().unwrap();
    {
        let store = SqlStore::connect(&StoreConfig {
            url: format!("sqlite://{}", TestBbs::db_path(dir.path())),
            max_open_connections: 2,
            encryption: EncryptionConfig::single(TestBbs::KEY_LABEL, TestBbs::KEY_PASSPHRASE),
        })
        .await
        .unwrap();
        store.upsert_domain("cf-apps", 0).await.unwrap();
        let lrps: Vec<_> = (0..n)
            .map(|i| {
                desired_lrp(
                    &format!("app-{i}"),
                    1,
                    &format!(r#"[{{"hostnames":["app-{i}.localhost"],"port":8080}}]"#),
                )
            })
            .collect();
        store
            .seed_running_lrps_for_bench(&lrps, &["cell-1".to_string(), "cell-2".to_string()])
            .await
            .unwrap();
    }
    let bbs = TestBbs::start_in(dir).await;
    let (view, _c) = RouterView::subscribe(&nats.url).await;

    let t = Instant::now();
    let emitter = route_emitter::start(emitter_config(&bbs.url, &nats.url))
        .await
        .unwrap();
    let mut waited = Duration::ZERO;
    while view.routes.lock().unwrap().len() < n {
        assert!(
            waited < Duration::from_secs(60),
            "not all {n} routes within 60s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
        waited += Duration::from_millis(20);
    }
    let sync = t.elapsed();

    let t = Instant::now();
    bbs.desire(desired_lrp(
        "one-more",
        1,
        r#"[{"hostnames":["one-more.localhost"],"port":8080}]"#,
    ))
    .await;
    bbs.run_instance("one-more", 0, "ig-x", "cell-1", 65000)
        .await;
    eventually("one more routed", || {
        !view.addrs("one-more.localhost").is_empty()
    })
    .await;
    let change = t.elapsed();
    let metrics = reqwest::get(format!("http://{}/metrics", emitter.metrics_addr.unwrap()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let fetch = metrics
        .lines()
        .find_map(|l| l.strip_prefix("route_emitter_sync_duration_seconds "))
        .unwrap_or("?")
        .to_string();
    assert!(metrics.contains(&format!("route_emitter_routes_total {}", n + 1)));
    // What the BBS side of a sync costs.
    let client = bbs_client::HttpBbsClient::new(
        &bbs_client::ClientConfig::new(&bbs.url).with_request_timeout(Duration::from_secs(60)),
    )
    .unwrap();
    let t = Instant::now();
    let infos = client
        .desired_lrp_routing_infos(&Default::default())
        .await
        .unwrap()
        .len();
    let infos_ms = t.elapsed().as_secs_f64() * 1e3;
    let t = Instant::now();
    let actuals = client.actual_lrps(&Default::default()).await.unwrap().len();
    let actuals_ms = t.elapsed().as_secs_f64() * 1e3;
    eprintln!(
        "route-emitter scale: BBS routing infos ({infos}) {infos_ms:.0} ms, actual LRPs ({actuals}) {actuals_ms:.0} ms"
    );
    eprintln!(
        "route-emitter scale: {n} LRPs registered {:.0} ms after start (BBS fetch {fetch} s); \
         one more instance (desire+claim+start via BBS) routed in {:.1} ms",
        sync.as_secs_f64() * 1e3,
        change.as_secs_f64() * 1e3
    );
    emitter.stop().await.unwrap();
}
