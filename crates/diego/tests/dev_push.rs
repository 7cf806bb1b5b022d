//! The operator's path end to end with the real binary: `diego dev` (runc
//! cell, nats-server, route-emitter, router, the api), then `diego push` of
//! examples/hello with 2 instances (from another directory, through the
//! api, with the token `diego dev` saved), both answering through the
//! router;
//! its instances' logs (and a follower seeing new instances); scale to 5 and back to 1 while requests flow (none may fail); delete
//! (the route goes away).
//!
//! `diego dev` listens on its fixed ports (bbs 8889, router 8080, nats 4222,
//! rep 1800, ...), so this test must not run alongside anything else using
//! them (another `diego dev`, another run of this test). Needs root, runc
//! and nats-server; skipped otherwise.

mod dev_support;

use dev_support::{dev_skip_reason, diego, start_dev, user_config, wait_ready, Follower};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const HOST: &str = "hello.localhost";

async fn get(http: &reqwest::Client, path: &str) -> reqwest::Result<reqwest::Response> {
    dev_support::get(http, HOST, path).await
}

/// The instance indexes answering through the router in `n` requests.
async fn instances_answering(
    http: &reqwest::Client,
    n: usize,
) -> std::collections::BTreeSet<String> {
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..n {
        let resp = get(http, "/cgi-bin/instance").await.unwrap();
        assert_eq!(resp.status(), 200);
        let index = resp.headers()["x-instance-index"]
            .to_str()
            .unwrap()
            .to_string();
        seen.insert(index);
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_scale_and_delete_through_the_router() {
    testkit::skip_if!(dev_skip_reason());
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let dev = start_dev(&data, &["--busybox-only"]);
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    wait_ready(&dev, Duration::from_secs(60), || {
        dev_support::token_saved(&data)
    })
    .await;

    let hello = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/hello");
    let t = Instant::now();
    let out = diego(&data, &["push", "hello", "-p", hello, "-i", "2"]);
    eprintln!("push to 2 running: {:?}\n{out}", t.elapsed());
    assert!(out.contains("http://hello.localhost:8080"), "{out}");

    // The route reaches the router over NATS shortly after the instances run.
    let deadline = Instant::now() + Duration::from_secs(15);
    let page = loop {
        let resp = get(&http, "/").await.unwrap();
        if resp.status() == 200 {
            break resp.text().await.unwrap();
        }
        assert!(Instant::now() < deadline, "no route: {}", resp.status());
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(page.contains("<h1>Hello from Diego</h1>"), "{page}");
    let seen = instances_answering(&http, 10).await;
    assert_eq!(
        seen,
        ["0", "1"].map(String::from).into(),
        "both instances answer"
    );

    // Both instances' output, from the cell's rep.
    let logs = diego(&data, &["logs", "hello"]);
    for index in [0, 1] {
        assert!(
            logs.contains(&format!("[CELL/{index}] OUT Downloaded app package")),
            "{logs}"
        );
    }

    // Beside them, the cell's CELL lines and the router's RTR access
    // lines of the requests above (shipped within a flush interval).
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let logs = diego(&data, &["logs", "hello"]);
        let cell =
            logs.contains("[CELL/0] OUT Cell ") && logs.contains("creating container for instance");
        let rtr =
            logs.contains("[RTR/1] OUT hello.localhost") && logs.contains("\"GET / HTTP/1.1\" 200");
        // Cloud Controller's lines of what the API did.
        let api = logs.contains("[API/0] OUT Created app with guid")
            && logs.contains("[API/0] OUT Starting app with guid");
        if cell && rtr && api {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no CELL, RTR or API lines:\n{logs}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let apps = diego(&data, &["apps"]);
    assert!(apps.contains("hello") && apps.contains("2/2"), "{apps}");

    // A follower started now sees the new instances' lines too.
    let follow_log = tmp.path().join("follow.log");
    let follower = Follower(
        Command::new(env!("CARGO_BIN_EXE_diego"))
            .args(["logs", "hello", "-f"])
            .env("DIEGO_CONFIG", user_config(&data))
            .stdout(std::fs::File::create(&follow_log).unwrap())
            .spawn()
            .unwrap(),
    );
    let t = Instant::now();
    diego(&data, &["scale", "hello", "5"]);
    eprintln!("scale 2 -> 5 running: {:?}", t.elapsed());
    let deadline = Instant::now() + Duration::from_secs(10);
    while !std::fs::read_to_string(&follow_log)
        .unwrap()
        .contains("[CELL/4] OUT Downloaded app package")
    {
        assert!(
            Instant::now() < deadline,
            "diego logs -f did not show instance 4:\n{}",
            std::fs::read_to_string(&follow_log).unwrap()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    drop(follower);
    let deadline = Instant::now() + Duration::from_secs(15);
    while instances_answering(&http, 25).await.len() < 5 {
        assert!(Instant::now() < deadline, "not all 5 instances routed");
    }

    // Scale down under load: stopping instances leave the route table
    // before they stop, so no request may fail.
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let load = {
        let (stop, ok, failed, http) = (stop.clone(), ok.clone(), failed.clone(), http.clone());
        tokio::spawn(async move {
            let mut failures = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                match get(&http, "/").await {
                    Ok(r) if r.status() == 200 => {
                        ok.fetch_add(1, Ordering::Relaxed);
                    }
                    other => {
                        failed.fetch_add(1, Ordering::Relaxed);
                        failures.push(format!("{:?}", other.map(|r| r.status())));
                    }
                }
            }
            failures
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    diego(&data, &["scale", "hello", "1"]);
    // Long enough for the extra instances to be stopped and unrouted.
    tokio::time::sleep(Duration::from_secs(5)).await;
    stop.store(true, Ordering::Relaxed);
    let failures = load.await.unwrap();
    let (ok, failed) = (ok.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    eprintln!("scale 5 -> 1 under load: {ok} ok, {failed} failed");
    assert!(ok > 0);
    assert_eq!(
        failed, 0,
        "requests failed while scaling down: {failures:?}"
    );
    assert_eq!(instances_answering(&http, 5).await.len(), 1);

    diego(&data, &["delete", "hello"]);
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let status = get(&http, "/").await.unwrap().status();
        if status == 404 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still routed after delete: {status}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        std::fs::read_dir(data.join("api-blobs/packages"))
            .unwrap()
            .next()
            .is_none(),
        "the package is removed"
    );
}
