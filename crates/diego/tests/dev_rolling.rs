//! Zero-downtime deployments and prompt crash reports, end to end with
//! the real binary: `diego dev` (runc cell, nats-server, route-emitter,
//! router, api) and the CLI.
//!
//! - A 2-instance app re-pushed with `--strategy rolling` while a client
//!   sends requests through the router: none fails, the new version
//!   serves at the end. Printed: requests ok/failed, the deploy's time,
//!   and, for comparison, the failures of a plain re-push (every instance
//!   replaced at once) under the same load.
//! - An app whose process exits with status 0 is reported crashed (its
//!   instance's crash count and reason, and an audit event) within 2 s.
//!
//! Uses `diego dev`'s fixed ports like dev_push (not alongside it). Needs
//! root, runc and nats-server; skipped otherwise.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const ROUTER: &str = "http://127.0.0.1:8080";

fn skip_reason() -> Option<String> {
    testkit::skip::not_root().or_else(|| testkit::skip::missing_programs(&["runc", "nats-server"]))
}

struct Dev {
    child: Child,
    log: PathBuf,
    config: PathBuf,
    _tmp: tempfile::TempDir,
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

fn port_busy(port: u16) -> bool {
    std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
}

async fn start_dev() -> Dev {
    let tmp = tempfile::tempdir().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while [8889, 8080, 4222, 1800, 9022].into_iter().any(port_busy) {
        assert!(
            Instant::now() < deadline,
            "diego dev's fixed ports are in use: this test cannot run alongside another diego dev"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let log = tmp.path().join("dev.log");
    let config = tmp.path().join("config.json");
    let out = std::fs::File::create(&log).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_diego"))
        .args(["dev", "--busybox-only", "--data-dir"])
        .arg(tmp.path().join("data"))
        .env("DIEGO_CONFIG", &config)
        .env_remove("DIEGO_DEV_DATA_DIR")
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .unwrap();
    let dev = Dev {
        child,
        log,
        config,
        _tmp: tmp,
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let ready = std::fs::read_to_string(&dev.config).is_ok_and(|c| c.contains("token"))
            && port_busy(8080)
            && std::fs::read_to_string(&dev.log).is_ok_and(|l| l.contains("rep "));
        if ready {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "diego dev not ready in 60s:\n{}",
            std::fs::read_to_string(&dev.log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    dev
}

fn diego(dev: &Dev, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_diego"))
        .args(args)
        .current_dir(std::env::temp_dir())
        .env("DIEGO_CONFIG", &dev.config)
        .env_remove("DIEGO_API")
        .env_remove("DIEGO_TOKEN")
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

fn api(dev: &Dev) -> api_client::ApiClient {
    let cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&dev.config).unwrap()).unwrap();
    api_client::ApiClient::new(cfg["api"].as_str().unwrap(), cfg["token"].as_str().unwrap())
        .unwrap()
}

/// An app directory serving `body` at / (busybox httpd), with CGI scripts.
fn site(root: &Path, name: &str, body: &str, cgi: &[(&str, &str)]) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let dir = root.join(name);
    std::fs::create_dir_all(dir.join("cgi-bin")).unwrap();
    std::fs::write(dir.join("index.html"), body).unwrap();
    for (name, script) in cgi {
        let p = dir.join("cgi-bin").join(name);
        std::fs::write(&p, script).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    dir
}

async fn get(http: &reqwest::Client, host: &str, path: &str) -> reqwest::Result<reqwest::Response> {
    http.get(format!("{ROUTER}{path}"))
        .header("Host", host)
        .send()
        .await
}

async fn body_until(http: &reqwest::Client, host: &str, want: &str, secs: u64) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Ok(r) = get(http, host, "/").await {
            if r.status() == 200 && r.text().await.unwrap_or_default().contains(want) {
                return;
            }
        }
        assert!(Instant::now() < deadline, "{host} never served {want:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Steady requests to `host` until stopped: (ok, failed, failures, bodies seen).
struct Load {
    stop: Arc<AtomicBool>,
    ok: Arc<AtomicUsize>,
    failed: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<(Vec<String>, Vec<String>)>,
}

/// Four clients, each sending one request after another.
fn load(http: &reqwest::Client, host: &'static str) -> Load {
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let failures = Arc::new(Mutex::new(Vec::new()));
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let (stop, ok, failed, http) = (stop.clone(), ok.clone(), failed.clone(), http.clone());
            let (bodies, failures) = (bodies.clone(), failures.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    match get(&http, host, "/").await {
                        Ok(r) if r.status() == 200 => {
                            let b = r.text().await.unwrap_or_default();
                            let mut seen = bodies.lock().unwrap();
                            if seen.last() != Some(&b) {
                                seen.push(b);
                            }
                            ok.fetch_add(1, Ordering::Relaxed);
                        }
                        other => {
                            failed.fetch_add(1, Ordering::Relaxed);
                            failures
                                .lock()
                                .unwrap()
                                .push(format!("{:?}", other.map(|r| r.status())));
                        }
                    }
                }
            })
        })
        .collect();
    let task = tokio::spawn(async move {
        for w in workers {
            let _ = w.await;
        }
        let seen = bodies.lock().unwrap().clone();
        let failures = failures.lock().unwrap().clone();
        (failures, seen)
    });
    Load {
        stop,
        ok,
        failed,
        task,
    }
}

impl Load {
    async fn finish(self) -> (usize, usize, Vec<String>, Vec<String>) {
        self.stop.store(true, Ordering::Relaxed);
        let (failures, seen) = self.task.await.unwrap();
        (
            self.ok.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed),
            failures,
            seen,
        )
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rolling_repush_fails_no_request_and_exit_0_crashes_at_once() {
    testkit::skip_if!(skip_reason());
    let dev = start_dev().await;
    let tmp = tempfile::tempdir().unwrap();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();

    // --- A rolling re-push under steady load.
    let v1 = site(tmp.path(), "v1", "<h1>v1</h1>", &[]);
    let v2 = site(tmp.path(), "v2", "<h1>v2</h1>", &[]);
    let v3 = site(tmp.path(), "v3", "<h1>v3</h1>", &[]);
    diego(
        &dev,
        &["push", "roll", "-p", v1.to_str().unwrap(), "-i", "2"],
    );
    body_until(&http, "roll.localhost", "v1", 20).await;
    // Both instances routed before the load starts.
    tokio::time::sleep(Duration::from_secs(1)).await;

    let l = load(&http, "roll.localhost");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let t = Instant::now();
    let out = diego(
        &dev,
        &[
            "push",
            "roll",
            "-p",
            v2.to_str().unwrap(),
            "--strategy",
            "rolling",
        ],
    );
    let rolling_time = t.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (ok, failed, failures, seen) = l.finish().await;
    eprintln!(
        "rolling re-push of 2 instances under load: {ok} ok, {failed} failed; deploy took \
         {rolling_time:?}; {} switches between versions seen\n{out}",
        seen.len()
    );
    assert!(ok > 0);
    assert_eq!(
        failed, 0,
        "requests failed during the rolling re-push: {failures:?}"
    );
    assert_eq!(
        seen.last().map(String::as_str),
        Some("<h1>v2</h1>"),
        "{seen:?}"
    );
    for _ in 0..10 {
        let b = get(&http, "roll.localhost", "/")
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(b, "<h1>v2</h1>", "only the new version serves at the end");
    }
    let app = diego(&dev, &["app", "roll"]);
    assert!(app.contains("revision:  2"), "{app}");

    // For comparison: a plain re-push replaces every instance at once.
    let l = load(&http, "roll.localhost");
    tokio::time::sleep(Duration::from_millis(500)).await;
    diego(&dev, &["push", "roll", "-p", v3.to_str().unwrap()]);
    body_until(&http, "roll.localhost", "v3", 30).await;
    let (ok, failed, _, _) = l.finish().await;
    eprintln!(
        "plain re-push (every instance replaced at once) under load: {ok} ok, {failed} failed"
    );

    // --- An app whose process exits 0 is reported crashed at once.
    let quitter = site(
        tmp.path(),
        "quitter",
        "<h1>up</h1>",
        &[(
            "stop",
            "#!/bin/sh\necho 'Content-Type: text/plain'\necho\ntouch /tmp/stop\necho stopping\n",
        )],
    );
    let command = "busybox httpd -p $PORT -h . && while [ ! -f /tmp/stop ]; do sleep 0.1; done; \
                   echo done; exit 0";
    diego(
        &dev,
        &[
            "push",
            "quitter",
            "-p",
            quitter.to_str().unwrap(),
            "-c",
            command,
        ],
    );
    body_until(&http, "quitter.localhost", "up", 20).await;
    let c = api(&dev);
    let app = c.app_by_name("quitter").await.unwrap().unwrap();
    let web = c.processes(&app.guid).await.unwrap().pop().unwrap();
    let t = Instant::now();
    let r = get(&http, "quitter.localhost", "/cgi-bin/stop")
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (reason, crash_seen) = loop {
        let stats = c.stats(&web.guid).await.unwrap();
        if let Some(s) = stats.iter().find(|s| s.crash_count > 0) {
            break (s.crash_reason.clone(), t.elapsed());
        }
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "never reported crashed: {stats:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    eprintln!("exit 0 reported crashed after {crash_seen:?}: {reason:?}");
    assert!(crash_seen < Duration::from_secs(2), "took {crash_seen:?}");
    assert_eq!(reason, "Codependent step exited");
    let events = diego(&dev, &["events", "quitter"]);
    assert!(events.contains("audit.app.process.crash"), "{events}");
    assert!(
        events.contains("exit_description: Codependent step exited"),
        "{events}"
    );
    // (Its "Exit status 0" line went with the crashed container's log
    // buffer: the cells keep logs per container until a log system does.)
}
