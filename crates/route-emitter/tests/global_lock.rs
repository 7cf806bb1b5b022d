//! Global mode: only the holder of the locket lock `route_emitter` emits;
//! a second emitter waits and takes over when the first stops.

mod support;

use std::time::Duration;
use support::*;

#[tokio::test]
async fn a_second_global_emitter_waits_for_the_lock_and_takes_over() {
    let Some(nats) = NatsServer::start().await else {
        return;
    };
    let bbs = TestBbs::with_locket().await;
    let config = |uuid: &str| {
        let mut c = emitter_config(&bbs.url, &nats.url);
        c.uuid = uuid.into();
        c.locket = locket::client::ClientLocketConfig::insecure(bbs.locket_addr());
        c.lock_retry_interval.0 = Duration::from_millis(200);
        c
    };
    let first = route_emitter::start(config("emitter-1")).await.unwrap();

    let second = tokio::spawn(route_emitter::start(config("emitter-2")));
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        !second.is_finished(),
        "the lock is held by the first emitter"
    );

    first.stop().await.unwrap();
    let second = tokio::time::timeout(Duration::from_secs(10), second)
        .await
        .expect("second emitter takes the lock")
        .unwrap()
        .unwrap();

    // The new holder emits.
    let (view, _c) = RouterView::subscribe(&nats.url).await;
    bbs.desire(desired_lrp(
        "locked",
        1,
        r#"[{"hostnames":["app.localhost"],"port":8080}]"#,
    ))
    .await;
    bbs.run_instance("locked", 0, "ig-0", "cell-1", 61000).await;
    eventually("routed by the new holder", || {
        view.addrs("app.localhost") == ["127.0.0.1:61000"]
    })
    .await;
    second.stop().await.unwrap();
}
