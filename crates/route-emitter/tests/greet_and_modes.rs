//! Re-emission on greetings and router starts, cell-local mode, and the
//! global lock.

mod support;

use futures::StreamExt;
use std::time::Duration;
use support::*;

const ROUTE: &str = r#"[{"hostnames":["app.localhost"],"port":8080}]"#;

#[tokio::test]
async fn a_late_subscriber_gets_the_table_after_greeting() {
    let Some(nats) = NatsServer::start().await else {
        return;
    };
    let bbs = TestBbs::start().await;
    let mut cfg = emitter_config(&bbs.url, &nats.url);
    cfg.jitter_factor = 0.0;
    let emitter = route_emitter::start(cfg).await.unwrap();
    bbs.desire(desired_lrp("late", 2, ROUTE)).await;
    bbs.run_instance("late", 0, "ig-0", "cell-1", 61000).await;
    bbs.run_instance("late", 1, "ig-1", "cell-1", 61001).await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    // Joins after the routes were emitted: hears nothing until it greets.
    let (view, client) = RouterView::subscribe(&nats.url).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(view.addrs("app.localhost").is_empty());
    // Another route-emitter's greeting is for the routers: ignored.
    client
        .publish_with_reply(
            "router.greet",
            format!("{}.other-emitter", route_emitter::nats::INBOX_PREFIX),
            "".into(),
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(view.addrs("app.localhost").is_empty());
    client
        .publish_with_reply("router.greet", client.new_inbox(), "".into())
        .await
        .unwrap();
    eventually("table received", || view.addrs("app.localhost").len() == 2).await;
    let m = view.last("router.register").unwrap();
    assert_eq!(m.endpoint_updated_at_ns, 0, "re-emission is not an update");
    emitter.stop().await.unwrap();
}

#[tokio::test]
async fn a_router_start_sets_the_interval_and_triggers_re_emission() {
    let Some(nats) = NatsServer::start().await else {
        return;
    };
    let bbs = TestBbs::start().await;
    let mut cfg = emitter_config(&bbs.url, &nats.url);
    cfg.jitter_factor = 0.0;
    let emitter = route_emitter::start(cfg).await.unwrap();
    bbs.desire(desired_lrp("start", 1, ROUTE)).await;
    bbs.run_instance("start", 0, "ig-0", "cell-1", 61000).await;
    let (view, client) = RouterView::subscribe(&nats.url).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(view.count("router.register"), 0);

    // A router (re)starts announcing a 1 s register interval: the table is
    // emitted at once, then every second.
    client
        .publish(
            "router.start",
            r#"{"id":"r1","hosts":["127.0.0.1"],"minimumRegisterIntervalInSeconds":1,"pruneThresholdInSeconds":3}"#.into(),
        )
        .await
        .unwrap();
    eventually("emitted on start", || view.count("router.register") >= 1).await;
    eventually("re-emitted on the interval", || {
        view.count("router.register") >= 3
    })
    .await;
    emitter.stop().await.unwrap();
}

#[tokio::test]
async fn the_emitter_greets_routers_on_startup() {
    let Some(nats) = NatsServer::start().await else {
        return;
    };
    let bbs = TestBbs::start().await;
    let client = async_nats::connect(&nats.url).await.unwrap();
    let mut greets = client.subscribe("router.greet").await.unwrap();
    client.flush().await.unwrap();
    let emitter = route_emitter::start(emitter_config(&bbs.url, &nats.url))
        .await
        .unwrap();
    let greet = tokio::time::timeout(Duration::from_secs(5), greets.next())
        .await
        .expect("greeted")
        .unwrap();
    assert!(greet.reply.is_some(), "greets with a reply inbox");
    emitter.stop().await.unwrap();
}

#[tokio::test]
async fn cell_local_mode_emits_only_its_cells_instances() {
    let Some(nats) = NatsServer::start().await else {
        return;
    };
    let bbs = TestBbs::start().await;
    let (view, _c) = RouterView::subscribe(&nats.url).await;
    bbs.desire(desired_lrp("local", 3, ROUTE)).await;
    // One instance runs before the emitter starts (found by its sync).
    bbs.run_instance("local", 0, "ig-0", "cell-1", 61000).await;
    let mut cfg = emitter_config(&bbs.url, &nats.url);
    cfg.cell_id = "cell-1".into();
    let emitter = route_emitter::start(cfg).await.unwrap();
    eventually("cell-1 instance synced", || {
        view.addrs("app.localhost") == ["127.0.0.1:61000"]
    })
    .await;

    bbs.run_instance("local", 1, "ig-1", "cell-2", 61001).await;
    bbs.run_instance("local", 2, "ig-2", "cell-1", 61002).await;
    eventually("second cell-1 instance", || {
        view.addrs("app.localhost").len() == 2
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        view.addrs("app.localhost"),
        ["127.0.0.1:61000", "127.0.0.1:61002"],
        "cell-2's instance is not this emitter's"
    );
    emitter.stop().await.unwrap();
}

#[tokio::test]
async fn direct_instance_routes_register_container_addresses() {
    let Some(nats) = NatsServer::start().await else {
        return;
    };
    let bbs = TestBbs::start().await;
    let (view, _c) = RouterView::subscribe(&nats.url).await;
    let mut cfg = emitter_config(&bbs.url, &nats.url);
    cfg.register_direct_instance_routes = true;
    let emitter = route_emitter::start(cfg).await.unwrap();
    bbs.desire(desired_lrp("direct", 1, ROUTE)).await;
    bbs.run_instance("direct", 0, "ig-0", "cell-1", 61010).await;
    // net_info puts the container at 10.255.0.(port % 250), port 8080.
    eventually("container address", || {
        view.addrs("app.localhost") == ["10.255.0.10:8080"]
    })
    .await;
    emitter.stop().await.unwrap();
}
