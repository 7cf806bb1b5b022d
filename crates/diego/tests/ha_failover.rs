//! BBS active/passive failover with real `diego bbs` processes: both BBSes
//! share a PostgreSQL store and compete for the locket lock `bbs` (locket
//! runs in-process on SQLite). The passive one refuses API connections;
//! after the active one is killed with SIGKILL the passive one takes the
//! lock once it expires and serves everything written through the first.

use bbs_client::{BbsClient, HttpBbsClient, TaskFilter};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use testkit::control_plane::start_locket;
use testkit::control_plane::work::task_definition;
use testkit::postgres::TestPostgres;

const LOCK_TTL_SECS: u64 = 2;

fn free_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// A `diego bbs` process; killed when dropped.
struct Bbs {
    name: &'static str,
    child: Child,
    api: SocketAddr,
    health: SocketAddr,
    log: PathBuf,
}

impl Bbs {
    fn spawn(name: &'static str, dir: &Path, db_url: &str, locket: SocketAddr) -> Bbs {
        let api = free_addr();
        let health = free_addr();
        let cfg = serde_json::json!({
            "listen_address": api.to_string(),
            "health_address": health.to_string(),
            "advertise_url": format!("http://{api}"),
            "uuid": format!("bbs-{name}"),
            "database_driver": "postgres",
            "database_connection_string": db_url,
            "encryption_keys": {"k1": "a test passphrase"},
            "active_key_label": "k1",
            "locket_address": locket.to_string(),
            "lock_ttl": format!("{LOCK_TTL_SECS}s"),
            "lock_retry_interval": "250ms",
            "log_level": "info",
        });
        let cfg_path = dir.join(format!("bbs-{name}.json"));
        std::fs::write(&cfg_path, cfg.to_string()).unwrap();
        let log = dir.join(format!("bbs-{name}.log"));
        let out = std::fs::File::create(&log).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_diego"))
            .arg("bbs")
            .arg("--config")
            .arg(&cfg_path)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("spawn diego bbs");
        Bbs {
            name,
            child,
            api,
            health,
            log,
        }
    }

    fn logs(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        format!("--- bbs {} log ---\n{text}", self.name)
    }

    /// A client of this BBS: one attempt per call, so that polling
    /// measures the BBS rather than the client's retries.
    fn client(&self) -> HttpBbsClient {
        let cfg = bbs_client::ClientConfig::new(format!("http://{}", self.api))
            .with_request_timeout(Duration::from_secs(10))
            .with_retries(1);
        HttpBbsClient::new(&cfg).unwrap()
    }
}

impl Drop for Bbs {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits up to `limit` for the BBS to answer ping; returns how long it took.
async fn wait_serving(bbs: &Bbs, limit: Duration) -> Duration {
    let c = bbs.client();
    let t0 = Instant::now();
    while t0.elapsed() < limit {
        if c.ping().await {
            return t0.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "bbs {} did not serve within {limit:?}\n{}",
        bbs.name,
        bbs.logs()
    );
}

fn refuses_api(bbs: &Bbs) -> bool {
    matches!(
        TcpStream::connect_timeout(&bbs.api, Duration::from_secs(1)),
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused
    )
}

async fn wait_health(bbs: &Bbs) {
    for _ in 0..150 {
        if TcpStream::connect_timeout(&bbs.health, Duration::from_secs(1)).is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("bbs {} health never came up\n{}", bbs.name, bbs.logs());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passive_bbs_takes_over_after_the_active_one_is_killed() {
    let Some(pg) =
        TestPostgres::shared_or_skip("passive_bbs_takes_over_after_the_active_one_is_killed")
    else {
        return;
    };
    let db_url = pg.fresh_database_url();
    let dir = tempfile::tempdir().unwrap();
    let locket = start_locket(dir.path()).await;
    let mut a = Bbs::spawn("a", dir.path(), &db_url, locket.addr);
    wait_serving(&a, Duration::from_secs(20)).await;

    let mut b = Bbs::spawn("b", dir.path(), &db_url, locket.addr);
    // B is up (health listener) but passive: its API listener is not open.
    wait_health(&b).await;
    for _ in 0..5 {
        assert!(
            refuses_api(&b),
            "passive bbs accepted an API connection\n{}",
            b.logs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Writes through A.
    let domains: Vec<String> = (0..10).map(|i| format!("domain-{i}")).collect();
    let c = a.client();
    for d in &domains {
        let r = c.upsert_domain(d, Duration::ZERO).await;
        assert!(r.is_ok(), "{r:?}");
    }
    let guids: Vec<String> = (0..5).map(|i| format!("task-{i}")).collect();
    for g in &guids {
        let r = c
            .desire_task(g, "tasks-domain", Some(task_definition()))
            .await;
        assert!(r.is_ok(), "{r:?}");
    }
    assert!(refuses_api(&b), "b still passive while a holds the lock");

    // Crash A: the lock is not released, it expires after its TTL.
    a.child.kill().unwrap();
    a.child.wait().unwrap();
    let took = wait_serving(&b, Duration::from_secs(LOCK_TTL_SECS + 5)).await;
    eprintln!("failover took {took:?}");

    let c = b.client();
    let mut got = c.domains().await.unwrap();
    got.sort();
    for d in &domains {
        assert!(got.contains(d), "{d} missing from {got:?}");
    }
    let tasks = c
        .tasks(&TaskFilter {
            domain: "tasks-domain".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut got: Vec<String> = tasks.iter().map(|t| t.task_guid.clone()).collect();
    got.sort();
    assert_eq!(got, guids);

    // Without locket B cannot renew the lock: it stops and exits non-zero.
    locket.shutdown().await;
    let t0 = Instant::now();
    let status = loop {
        if let Some(s) = b.child.try_wait().unwrap() {
            break s;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(15),
            "b kept running without its lock\n{}",
            b.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(!status.success(), "exit status {status:?}\n{}", b.logs());
    assert!(b.logs().contains("lost"), "{}", b.logs());
}
