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

use bbs_client::{BbsClient, HttpBbsClient};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const BBS: &str = "http://127.0.0.1:8889";
const ROUTER: &str = "http://127.0.0.1:8080";
const HOST: &str = "hello.localhost";

fn skip_reason() -> Option<String> {
    testkit::skip::not_root().or_else(|| testkit::skip::missing_programs(&["runc", "nats-server"]))
}

/// `diego dev` in the background; SIGINT (then SIGKILL) when dropped.
struct Dev {
    child: Child,
    log: PathBuf,
    data: PathBuf,
}

impl Drop for Dev {
    fn drop(&mut self) {
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Dev {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// A `diego logs -f`, killed when dropped.
struct Follower(Child);

impl Drop for Follower {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn port_busy(port: u16) -> bool {
    std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
}

/// The user config `diego dev` writes the CLI's token to, beside `data`.
fn user_config(data: &Path) -> PathBuf {
    data.with_extension("config.json")
}

fn start_dev(data: &Path) -> Dev {
    // Another `diego dev` (or a previous run still stopping) holds the
    // fixed ports: wait a little, then say so plainly.
    let deadline = Instant::now() + Duration::from_secs(30);
    while [8889, 8080, 4222, 1800, 9022].into_iter().any(port_busy) {
        assert!(
            Instant::now() < deadline,
            "diego dev's fixed ports (8889, 8080, 4222, 1800, 9022) are in use: \
             this test cannot run alongside another diego dev"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let log = data.with_extension("log");
    let out = std::fs::File::create(&log).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_diego"))
        .args(["dev", "--busybox-only", "--data-dir"])
        .arg(data)
        .env_remove("DIEGO_DEV_DATA_DIR")
        .env("DIEGO_CONFIG", user_config(data))
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .unwrap();
    Dev {
        child,
        log,
        data: data.to_path_buf(),
    }
}

/// Until the BBS lists a cell (the rep registered) and the router listens.
async fn wait_ready(dev: &Dev) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        assert!(
            Instant::now() < deadline,
            "diego dev not ready in 60s:\n{}",
            dev.log()
        );
        let cells = HttpBbsClient::plain(BBS).unwrap().cells().await.ok();
        let saved =
            std::fs::read_to_string(user_config(&dev.data)).is_ok_and(|c| c.contains("token"));
        if cells.is_some_and(|c| !c.is_empty()) && port_busy(8080) && saved {
            return;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Runs `diego ARGS` as a user would, from a directory that is not the
/// data directory's: only the saved config tells it where the api is.
fn diego(data: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_diego"))
        .args(args)
        .current_dir(std::env::temp_dir())
        .env("DIEGO_CONFIG", user_config(data))
        .env_remove("DIEGO_API")
        .env_remove("DIEGO_TOKEN")
        .env_remove("DIEGO_DEV_DATA_DIR")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "diego {args:?} failed:\n{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

async fn get(http: &reqwest::Client, path: &str) -> reqwest::Result<reqwest::Response> {
    http.get(format!("{ROUTER}{path}"))
        .header("Host", HOST)
        .send()
        .await
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
    testkit::skip_if!(skip_reason());
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let dev = start_dev(&data);
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    wait_ready(&dev).await;

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
            logs.contains(&format!(
                "[APP/PROC/WEB/{index}] OUT Downloaded app package"
            )),
            "{logs}"
        );
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
        .contains("[APP/PROC/WEB/4] OUT Downloaded app package")
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
