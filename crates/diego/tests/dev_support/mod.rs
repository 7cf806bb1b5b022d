//! Shared by the tests that run the real `diego dev` binary: starting it
//! in the background (stopped on drop), waiting until its cell registered
//! and its router listens, and running the operator commands.

#![allow(dead_code)]

use bbs_client::{BbsClient, HttpBbsClient};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

pub const BBS: &str = "http://127.0.0.1:8889";
pub const ROUTER: &str = "http://127.0.0.1:8080";

pub fn skip_reason() -> Option<String> {
    testkit::skip::not_root().or_else(|| testkit::skip::missing_programs(&["runc", "nats-server"]))
}

/// `diego dev` in the background; SIGINT (then SIGKILL) when dropped.
pub struct Dev {
    child: Child,
    log: PathBuf,
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
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// A `diego logs -f`, killed when dropped.
pub struct Follower(pub Child);

impl Drop for Follower {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn port_busy(port: u16) -> bool {
    std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
}

pub fn start_dev(data: &Path) -> Dev {
    // Another `diego dev` (or a previous run still stopping) holds the
    // fixed ports: wait a little, then say so plainly.
    let deadline = Instant::now() + Duration::from_secs(30);
    while [8889, 8080, 4222, 1800].into_iter().any(port_busy) {
        assert!(
            Instant::now() < deadline,
            "diego dev's fixed ports (8889, 8080, 4222, 1800) are in use: \
             this test cannot run alongside another diego dev"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let log = data.with_extension("log");
    let out = std::fs::File::create(&log).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_diego"))
        .args(["dev", "--data-dir"])
        .arg(data)
        .env_remove("DIEGO_DEV_DATA_DIR")
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .unwrap();
    Dev { child, log }
}

/// Until the BBS lists a cell (the rep registered) and the router listens.
pub async fn wait_ready(dev: &Dev) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        assert!(
            Instant::now() < deadline,
            "diego dev not ready in 60s:\n{}",
            dev.log()
        );
        let cells = HttpBbsClient::plain(BBS).unwrap().cells().await.ok();
        if cells.is_some_and(|c| !c.is_empty()) && port_busy(8080) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

pub fn diego(data: &Path, args: &[&str]) -> String {
    diego_with_env(data, args, &[])
}

/// `diego ARGS --data-dir DATA`: whether it succeeded, and its stdout and
/// stderr.
pub fn diego_status(data: &Path, args: &[&str], env: &[(&str, &str)]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_diego"))
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .env_remove("DIEGO_DEV_DATA_DIR")
        .env_remove("DIEGO_BBS_URL")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// `diego ARGS --data-dir DATA` with extra environment, its stdout (the
/// command must succeed).
pub fn diego_with_env(data: &Path, args: &[&str], env: &[(&str, &str)]) -> String {
    let (ok, text) = diego_status(data, args, env);
    assert!(ok, "diego {args:?} failed:\n{text}");
    text
}

/// GET `path` through the dev router as `host`.
pub async fn get(
    http: &reqwest::Client,
    host: &str,
    path: &str,
) -> reqwest::Result<reqwest::Response> {
    http.get(format!("{ROUTER}{path}"))
        .header("Host", host)
        .send()
        .await
}
