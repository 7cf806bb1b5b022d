//! The dev router learns routes from NATS and proxies to real backends.

mod support;

use futures::StreamExt;
use std::time::Duration;
use support::*;

async fn publish(client: &async_nats::Client, subject: &'static str, body: String) {
    client.publish(subject, body.into()).await.unwrap();
    client.flush().await.unwrap();
}

#[tokio::test]
async fn round_robin_over_registered_endpoints_and_unregister_stops_traffic() {
    let Some(nats) = NatsServer::start().await else {
        return;
    };
    let router = router::start(router_config(&nats.url)).await.unwrap();
    let client = async_nats::connect(&nats.url).await.unwrap();
    let (a, b) = (backend("a").await, backend("b").await);
    publish(&client, "router.register", registration("app.localhost", a)).await;
    publish(&client, "router.register", registration("app.localhost", b)).await;
    eventually("both registered", || async {
        router.registry.snapshot() == [("app.localhost".to_string(), 2)]
    })
    .await;

    let mut bodies = Vec::new();
    for _ in 0..4 {
        let (status, body) = get(router.addr, "app.localhost:8081").await;
        assert_eq!(status, 200);
        bodies.push(body);
    }
    bodies.sort();
    assert_eq!(bodies, ["a", "a", "b", "b"], "alternates between endpoints");

    // Host names match without case; unknown ones get gorouter's 404.
    assert_eq!(get(router.addr, "APP.localhost").await.0, 200);
    let (status, body) = get(router.addr, "nope.localhost").await;
    assert_eq!(status, 404);
    assert!(
        body.contains("Requested route ('nope.localhost') does not exist"),
        "{body}"
    );

    publish(
        &client,
        "router.unregister",
        registration("app.localhost", a),
    )
    .await;
    eventually("a unregistered", || async {
        router.registry.snapshot() == [("app.localhost".to_string(), 1)]
    })
    .await;
    for _ in 0..4 {
        assert_eq!(
            get(router.addr, "app.localhost").await,
            (200, "b".to_string())
        );
    }
    router.stop().await;
}

#[tokio::test]
async fn a_refused_endpoint_is_retried_for_any_request_else_502() {
    let Some(nats) = NatsServer::start().await else {
        return;
    };
    let router = router::start(router_config(&nats.url)).await.unwrap();
    let client = async_nats::connect(&nats.url).await.unwrap();
    publish(
        &client,
        "router.register",
        registration("app.localhost", dead_addr()),
    )
    .await;
    eventually("registered", || async {
        router.registry.knows("app.localhost")
    })
    .await;
    let (status, body) = get(router.addr, "app.localhost").await;
    assert_eq!(status, 502, "{body}");

    // Four stopped endpoints and one live one (a scale-down from 5 to 1):
    // every request, POSTs too, reaches the live one, since a refused
    // connection never reached an app.
    for _ in 0..3 {
        publish(
            &client,
            "router.register",
            registration("app.localhost", dead_addr()),
        )
        .await;
    }
    let live = backend("live").await;
    publish(
        &client,
        "router.register",
        registration("app.localhost", live),
    )
    .await;
    eventually("five endpoints", || async {
        router.registry.snapshot() == [("app.localhost".to_string(), 5)]
    })
    .await;
    for method in [reqwest::Method::GET, reqwest::Method::POST] {
        for _ in 0..6 {
            assert_eq!(
                request(router.addr, "app.localhost", method.clone()).await,
                (200, "live".to_string()),
                "{method}"
            );
        }
    }
    router.stop().await;
}

#[tokio::test]
async fn an_endpoint_that_never_accepts_is_passed_over_after_the_dial_timeout() {
    let Some(nats) = NatsServer::start().await else {
        return;
    };
    let router = router::start(router::RouterConfig {
        endpoint_dial_timeout: 1,
        ..router_config(&nats.url)
    })
    .await
    .unwrap();
    let client = async_nats::connect(&nats.url).await.unwrap();
    let hole = black_hole().await;
    let live = backend("live").await;
    for (n, addr) in [(1, hole.addr), (2, live)] {
        publish(
            &client,
            "router.register",
            registration("app.localhost", addr),
        )
        .await;
        eventually("registered in order", || async {
            router.registry.endpoint_count("app.localhost") == n
        })
        .await;
    }
    // Nothing reached the app behind a connection never made: POSTs go
    // to the other endpoint too.
    for method in [reqwest::Method::POST, reqwest::Method::GET] {
        for _ in 0..3 {
            assert_eq!(
                request(router.addr, "app.localhost", method.clone()).await,
                (200, "live".to_string()),
                "{method}"
            );
        }
    }
    router.stop().await;
}

#[tokio::test]
async fn an_endpoint_that_hangs_up_is_retried_for_idempotent_requests_only() {
    hang_up_is_retried_for_idempotent_requests_only(hangs_up().await).await;
}

/// A head and then nothing: the client still gets an answer, not a closed
/// connection, since no byte had reached it.
#[tokio::test]
async fn an_endpoint_that_dies_after_its_head_counts_as_a_hang_up() {
    hang_up_is_retried_for_idempotent_requests_only(dies_after_head().await).await;
}

async fn hang_up_is_retried_for_idempotent_requests_only(broken: std::net::SocketAddr) {
    let Some(nats) = NatsServer::start().await else {
        return;
    };
    let router = router::start(router_config(&nats.url)).await.unwrap();
    let client = async_nats::connect(&nats.url).await.unwrap();
    let live = backend("live").await;
    // The broken endpoint first on both routes, so the first request of
    // each goes to it.
    for host in ["get.localhost", "post.localhost"] {
        for (n, addr) in [(1, broken), (2, live)] {
            publish(&client, "router.register", registration(host, addr)).await;
            eventually("registered in order", || async {
                router.registry.endpoint_count(host) == n
            })
            .await;
        }
    }
    for _ in 0..4 {
        assert_eq!(
            get(router.addr, "get.localhost").await,
            (200, "live".to_string())
        );
    }
    // A POST the broken endpoint read may have had effects: it is not
    // retried. The endpoint is passed over afterwards.
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(
            request(router.addr, "post.localhost", reqwest::Method::POST)
                .await
                .0,
        );
    }
    assert_eq!(statuses, [502, 200, 200]);
    router.stop().await;
}

#[tokio::test]
async fn the_router_announces_itself_and_answers_greetings() {
    let Some(nats) = NatsServer::start().await else {
        return;
    };
    let client = async_nats::connect(&nats.url).await.unwrap();
    let mut starts = client.subscribe("router.start").await.unwrap();
    client.flush().await.unwrap();
    let mut cfg = router_config(&nats.url);
    cfg.start_response_delay_interval = 7;
    cfg.droplet_stale_threshold = 21;
    let router = router::start(cfg).await.unwrap();

    let start = tokio::time::timeout(Duration::from_secs(5), starts.next())
        .await
        .expect("router.start published")
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&start.payload).unwrap();
    assert_eq!(v["minimumRegisterIntervalInSeconds"], 7);
    assert_eq!(v["pruneThresholdInSeconds"], 21);
    assert!(v["id"].as_str().is_some_and(|s| !s.is_empty()));

    let answer = client
        .request("router.greet", "".into())
        .await
        .expect("greet answered");
    let v: serde_json::Value = serde_json::from_slice(&answer.payload).unwrap();
    assert_eq!(v["minimumRegisterIntervalInSeconds"], 7);
    router.stop().await;
}

#[tokio::test]
async fn endpoints_not_refreshed_are_pruned() {
    let Some(nats) = NatsServer::start().await else {
        return;
    };
    let mut cfg = router_config(&nats.url);
    cfg.droplet_stale_threshold = 1;
    cfg.prune_stale_droplets_interval = 1;
    let router = router::start(cfg).await.unwrap();
    let client = async_nats::connect(&nats.url).await.unwrap();
    publish(
        &client,
        "router.register",
        registration("app.localhost", backend("a").await),
    )
    .await;
    eventually("registered", || async {
        router.registry.knows("app.localhost")
    })
    .await;
    eventually("pruned", || async {
        !router.registry.knows("app.localhost")
    })
    .await;
    assert_eq!(get(router.addr, "app.localhost").await.0, 404);
    router.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxies_concurrent_requests() {
    let Some(nats) = NatsServer::start().await else {
        return;
    };
    let router = router::start(router_config(&nats.url)).await.unwrap();
    let client = async_nats::connect(&nats.url).await.unwrap();
    for name in ["a", "b", "c"] {
        publish(
            &client,
            "router.register",
            registration("app.localhost", backend(name).await),
        )
        .await;
    }
    eventually("registered", || async {
        router.registry.snapshot() == [("app.localhost".to_string(), 3)]
    })
    .await;
    let http = reqwest::Client::new();
    let (n, concurrency) = (2000, 16);
    let t = std::time::Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (http, addr) = (http.clone(), router.addr);
        tasks.push(tokio::spawn(async move {
            let mut ok = 0;
            for _ in 0..n / concurrency {
                let r = http
                    .get(format!("http://{addr}/"))
                    .header("Host", "app.localhost")
                    .send()
                    .await
                    .unwrap();
                ok += usize::from(r.status() == 200);
            }
            ok
        }));
    }
    let mut ok = 0;
    for t in tasks {
        ok += t.await.unwrap();
    }
    let took = t.elapsed();
    assert_eq!(ok, n);
    eprintln!(
        "router: {n} proxied GETs, {concurrency} concurrent, in {:.0} ms ({:.0} req/s)",
        took.as_secs_f64() * 1e3,
        n as f64 / took.as_secs_f64()
    );
    router.stop().await;
}
