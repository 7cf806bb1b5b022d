//! Shared by the tests that run the real `diego dev` binary: starting it
//! in the background (stopped on drop), waiting until its cell registered
//! and its router listens, running the operator commands, a BBS client of
//! the plainest kind, and a server for task completion callbacks.

#![allow(dead_code)]

use bbs_client::{BbsClient, HttpBbsClient};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

pub const BBS: &str = "http://127.0.0.1:8889";
pub const ROUTER: &str = "http://127.0.0.1:8080";

/// Why `diego dev` cannot run real containers and routing here.
pub fn dev_skip_reason() -> Option<String> {
    testkit::skip::not_root().or_else(|| testkit::skip::missing_programs(&["runc", "nats-server"]))
}

/// Why a test that stages on the real stack can't run: dev's reasons, or
/// the stack, lifecycle bundle or a buildpack can't be built here.
pub fn staging_skip_reason() -> Option<String> {
    if let Some(why) = dev_skip_reason() {
        return Some(why);
    }
    if let Err(why) = testkit::stack::cflinuxfs4() {
        return Some(why);
    }
    if let Err(why) = testkit::stack::lifecycle_bundle() {
        return Some(why);
    }
    lifecycle::assets::BUILDPACKS
        .iter()
        .find_map(|bp| testkit::stack::buildpack(bp).err())
}

/// `diego dev` in the background; SIGINT (then SIGKILL) when dropped.
pub struct Dev {
    child: Child,
    log: PathBuf,
}

impl Drop for Dev {
    fn drop(&mut self) {
        if let Ok(Some(_)) = self.child.try_wait() {
            return; // already stopped (and reaped)
        }
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
        let deadline = Instant::now() + Duration::from_secs(30);
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

    /// Ctrl-C (SIGINT), and its exit status (killed after `within`).
    pub fn interrupt(&mut self, within: Duration) -> std::process::ExitStatus {
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("diego dev did not stop in {within:?}:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
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

/// Starts `diego dev --data-dir DATA ARGS...`, once its fixed ports are free.
pub fn start_dev(data: &Path, args: &[&str]) -> Dev {
    // Another `diego dev` (or a previous run still stopping) holds the
    // fixed ports: wait a little, then say so plainly.
    let deadline = Instant::now() + Duration::from_secs(60);
    while [8889, 8080, 4222, 1800, 8084, 9022]
        .into_iter()
        .any(port_busy)
    {
        assert!(
            Instant::now() < deadline,
            "diego dev's fixed ports (8889, 8080, 4222, 1800, 8084, 9022) are in use: \
             this test cannot run alongside another diego dev"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let log = data.with_extension("log");
    let out = std::fs::File::create(&log).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_diego"))
        .args(["dev", "--data-dir"])
        .arg(data)
        .args(args)
        .env_remove("DIEGO_DEV_DATA_DIR")
        // The CLI's token goes here, not into the user's own config.
        .env("DIEGO_CONFIG", data.with_extension("config.json"))
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .unwrap();
    Dev { child, log }
}

/// Until the BBS lists a cell (the rep registered), the router listens and
/// `extra` holds.
pub async fn wait_ready(dev: &Dev, timeout: Duration, extra: impl Fn() -> bool) {
    let deadline = Instant::now() + timeout;
    loop {
        assert!(
            Instant::now() < deadline,
            "diego dev not ready in {timeout:?}:\n{}",
            dev.log()
        );
        let cells = HttpBbsClient::plain(BBS).unwrap().cells().await.ok();
        if cells.is_some_and(|c| !c.is_empty()) && port_busy(8080) && extra() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

pub fn diego(data: &Path, args: &[&str]) -> String {
    diego_with_env(data, args, &[])
}

/// `diego ARGS` with extra environment: whether it succeeded, and its
/// stdout and stderr (as `diego_cli`).
pub fn diego_status(data: &Path, args: &[&str], env: &[(&str, &str)]) -> (bool, String) {
    diego_cli_env(data, args, env)
}

/// `diego ARGS` with extra environment, its stdout (the
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

/// POSTs a protobuf request to the BBS; panics on a transport error or an
/// error in the response (every lifecycle response has `error` first).
pub async fn bbs_post(http: &reqwest::Client, path: &str, body: Vec<u8>) {
    use prost::Message;
    let resp = http
        .post(format!("{BBS}{path}"))
        .header("Content-Type", "application/x-protobuf")
        .body(body)
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{path}: {}", resp.status());
    let bytes = resp.bytes().await.unwrap();
    let r = models::DesiredLrpLifecycleResponse::decode(bytes.as_ref()).unwrap();
    assert!(r.error.is_none(), "{path}: {:?}", r.error);
}

/// Receives task completion callbacks (`POST /tasks/:guid`).
pub struct Callbacks {
    addr: std::net::SocketAddr,
    received: std::sync::Arc<tokio::sync::Mutex<std::collections::HashMap<String, Vec<u8>>>>,
}

impl Callbacks {
    pub async fn start() -> Self {
        use axum::extract::{Path, State};
        type Received =
            std::sync::Arc<tokio::sync::Mutex<std::collections::HashMap<String, Vec<u8>>>>;
        let received: Received = Default::default();
        let app = axum::Router::new()
            .route(
                "/tasks/{guid}",
                axum::routing::post(
                    |State(r): State<Received>,
                     Path(guid): Path<String>,
                     body: axum::body::Bytes| async move {
                        r.lock().await.insert(guid, body.to_vec());
                        axum::http::StatusCode::OK
                    },
                ),
            )
            .with_state(received.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { addr, received }
    }

    pub fn url(&self, guid: &str) -> String {
        format!("http://{}/tasks/{guid}", self.addr)
    }

    /// The callback body for `guid`, waiting at most `timeout`.
    pub async fn wait(&self, guid: &str, timeout: Duration) -> Vec<u8> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(body) = self.received.lock().await.remove(guid) {
                return body;
            }
            assert!(
                Instant::now() < deadline,
                "no completion callback for {guid} in {timeout:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// The user config `diego dev` writes the CLI's token to, beside `data`.
pub fn user_config(data: &Path) -> PathBuf {
    data.with_extension("config.json")
}

/// Whether `diego dev` saved the CLI's token.
pub fn token_saved(data: &Path) -> bool {
    std::fs::read_to_string(user_config(data)).is_ok_and(|c| c.contains("token"))
}

/// Runs `diego ARGS` as a user would, from a directory that is not the
/// data directory's (only the saved config says where the api is):
/// whether it succeeded, and what it printed (stdout, then stderr).
pub fn diego_cli(data: &Path, args: &[&str]) -> (bool, String) {
    diego_cli_env(data, args, &[])
}

fn diego_cli_env(data: &Path, args: &[&str], env: &[(&str, &str)]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_diego"))
        .args(args)
        .current_dir(std::env::temp_dir())
        .env("DIEGO_CONFIG", user_config(data))
        .env_remove("DIEGO_API")
        .env_remove("DIEGO_TOKEN")
        .env_remove("DIEGO_DEV_DATA_DIR")
        .env_remove("CF_DOCKER_PASSWORD")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}
