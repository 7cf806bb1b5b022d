//! Locket against the real server on 127.0.0.1:0 through a tonic client,
//! on SQLite, PostgreSQL and MariaDB (testkit; skipped with
//! DIEGO_SKIP_POSTGRES=1 / DIEGO_SKIP_MARIADB=1). MariaDB is reached with
//! the Go DSN Diego's config takes (`user:pass@tcp(host:port)/db`).

use locket::client::{
    self, lock_resource, presence_resource, ClientLocketConfig, LockRunner, LockState,
    LocketClient, PresenceRunner,
};
use locket::config::LocketConfig;
use locket::proto::{
    FetchAllRequest, FetchRequest, LockRequest, ReleaseRequest, Resource, TypeCode,
};
use locket::server::{self, RunningLocket, ServerOptions};
use std::time::{Duration, Instant};
use testkit::mariadb::TestMariaDb;
use testkit::postgres::TestPostgres;
use tonic::Code;

struct Fx {
    server: RunningLocket,
    _dir: Option<tempfile::TempDir>,
}

impl Fx {
    async fn client(&self) -> LocketClient {
        client::connect(&ClientLocketConfig::insecure(self.server.addr.to_string()))
            .await
            .expect("connect")
    }
}

async fn start(url: String, dir: Option<tempfile::TempDir>) -> Fx {
    let driver = if url.starts_with("postgres") {
        "postgres"
    } else if url.contains("@tcp(") {
        "mysql"
    } else {
        "sqlite"
    };
    start_with(driver, url, dir).await
}

async fn start_with(driver: &str, url: String, dir: Option<tempfile::TempDir>) -> Fx {
    let cfg = LocketConfig {
        listen_address: "127.0.0.1:0".into(),
        database_driver: driver.into(),
        database_connection_string: url,
        ..Default::default()
    };
    let server = server::start(
        &cfg,
        ServerOptions {
            burglar_interval: Duration::from_millis(500),
        },
    )
    .await
    .expect("start locket");
    Fx { server, _dir: dir }
}

async fn sqlite_fx() -> Option<Fx> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("locket.db");
    Some(start(path.display().to_string(), Some(dir)).await)
}

async fn postgres_fx(test: &str) -> Option<Fx> {
    let pg = TestPostgres::shared_or_skip(test)?;
    Some(start(pg.fresh_database_url(), None).await)
}

async fn mariadb_fx(test: &str) -> Option<Fx> {
    let m = TestMariaDb::shared_or_skip(test)?;
    let db = m.fresh_database().expect("create database");
    Some(start(m.go_dsn_for(&db), None).await)
}

fn lock_req(r: Resource, ttl: i64) -> LockRequest {
    LockRequest {
        resource: Some(r),
        ttl_in_seconds: ttl,
    }
}

async fn try_lock(c: &mut LocketClient, r: Resource, ttl: i64) -> Result<(), tonic::Status> {
    c.lock(lock_req(r, ttl)).await.map(|_| ())
}

fn assert_status(r: Result<(), tonic::Status>, code: Code, msg: &str) {
    let e = r.expect_err("expected an error");
    assert_eq!((e.code(), e.message()), (code, msg), "{e:?}");
}

async fn fetch_all(c: &mut LocketClient, code: TypeCode) -> Vec<Resource> {
    c.fetch_all(FetchAllRequest {
        type_code: code as i32,
        ..Default::default()
    })
    .await
    .unwrap()
    .into_inner()
    .resources
}

macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let fx = super::sqlite_fx().await.unwrap();
                    super::$name(fx).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let Some(fx) = super::postgres_fx(stringify!($name)).await else { return };
                    super::$name(fx).await;
                }
            )*
        }
        mod mariadb {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let Some(fx) = super::mariadb_fx(stringify!($name)).await else { return };
                    super::$name(fx).await;
                }
            )*
        }
    };
}

both_backends!(
    lock_fetch_release_fetch_all,
    errors_as_diego,
    exclusive_under_contention,
    expiry_hands_lock_to_waiter,
    lock_runner_lifecycle,
    presence_runner_reasserts,
);

#[allow(deprecated)]
async fn lock_fetch_release_fetch_all(fx: Fx) {
    let mut c = fx.client().await;
    try_lock(&mut c, lock_resource("bbs", "bbs-0", "v0"), 10)
        .await
        .unwrap();
    // Idempotent for the same owner: refreshes and may change the value.
    try_lock(&mut c, lock_resource("bbs", "bbs-0", "v1"), 10)
        .await
        .unwrap();
    try_lock(&mut c, presence_resource("cell-1", "cell-1", "{}"), 10)
        .await
        .unwrap();
    try_lock(&mut c, presence_resource("cell-2", "cell-2", "{}"), 10)
        .await
        .unwrap();
    // Only the code set: the stored string type is derived from it.
    let only_code = Resource {
        key: "auctioneer".into(),
        owner: "a-0".into(),
        type_code: TypeCode::Lock as i32,
        ..Default::default()
    };
    try_lock(&mut c, only_code, 10).await.unwrap();

    let got = c
        .fetch(FetchRequest { key: "bbs".into() })
        .await
        .unwrap()
        .into_inner()
        .resource
        .unwrap();
    assert_eq!(got, lock_resource("bbs", "bbs-0", "v1"));
    let row = fx.server.db.fetch("bbs").await.unwrap();
    assert_eq!(row.modified_index, 2);
    assert_eq!(row.ttl_in_seconds, 10);

    let locks = fetch_all(&mut c, TypeCode::Lock).await;
    let keys: Vec<_> = locks.iter().map(|r| r.key.as_str()).collect();
    assert_eq!(keys, ["auctioneer", "bbs"]);
    assert_eq!(locks[0].r#type, "lock");
    let presences = fetch_all(&mut c, TypeCode::Presence).await;
    let keys: Vec<_> = presences.iter().map(|r| r.key.as_str()).collect();
    assert_eq!(keys, ["cell-1", "cell-2"]);
    assert!(presences
        .iter()
        .all(|r| r.type_code == TypeCode::Presence as i32 && r.r#type == "presence"));

    c.release(ReleaseRequest {
        resource: Some(lock_resource("bbs", "bbs-0", "")),
    })
    .await
    .unwrap();
    let e = c
        .fetch(FetchRequest { key: "bbs".into() })
        .await
        .unwrap_err();
    assert_eq!(
        (e.code(), e.message()),
        (Code::NotFound, "resource-not-found")
    );
    // Releasing a missing key succeeds (as Diego's).
    c.release(ReleaseRequest {
        resource: Some(lock_resource("bbs", "bbs-0", "")),
    })
    .await
    .unwrap();
    // A released key can be taken by anyone, with a new modified_id.
    let old_id = row.modified_id;
    try_lock(&mut c, lock_resource("bbs", "bbs-1", ""), 10)
        .await
        .unwrap();
    let row = fx.server.db.fetch("bbs").await.unwrap();
    assert_eq!(row.modified_index, 1);
    assert_ne!(row.modified_id, old_id);
    fx.server.shutdown().await;
}

async fn errors_as_diego(fx: Fx) {
    let mut c = fx.client().await;
    try_lock(&mut c, lock_resource("k", "a", ""), 10)
        .await
        .unwrap();
    assert_status(
        try_lock(&mut c, lock_resource("k", "b", ""), 10).await,
        Code::AlreadyExists,
        "lock-collision",
    );
    let r = c
        .release(ReleaseRequest {
            resource: Some(lock_resource("k", "b", "")),
        })
        .await
        .map(|_| ());
    assert_status(r, Code::AlreadyExists, "lock-collision");
    assert_status(
        try_lock(&mut c, lock_resource("k2", "a", ""), 0).await,
        Code::InvalidArgument,
        "invalid-ttl",
    );
    assert_status(
        try_lock(&mut c, lock_resource("k2", "", ""), 5).await,
        Code::InvalidArgument,
        "invalid-owner",
    );
    // The type code is required (the deprecated string alone is refused),
    // and unknown codes are refused too.
    #[allow(deprecated)]
    let only_string = Resource {
        key: "k2".into(),
        owner: "a".into(),
        r#type: "lock".into(),
        ..Default::default()
    };
    assert_status(
        try_lock(&mut c, only_string, 5).await,
        Code::NotFound,
        "invalid-type",
    );
    let mut weird = lock_resource("k2", "a", "");
    weird.type_code = 7;
    assert_status(
        try_lock(&mut c, weird, 5).await,
        Code::NotFound,
        "invalid-type",
    );
    let r = c.fetch_all(FetchAllRequest::default()).await.map(|_| ());
    assert_status(r, Code::NotFound, "invalid-type");
    let r = c
        .fetch(FetchRequest { key: "nope".into() })
        .await
        .map(|_| ());
    assert_status(r, Code::NotFound, "resource-not-found");
    fx.server.shutdown().await;
}

async fn exclusive_under_contention(fx: Fx) {
    let base = fx.client().await;
    for round in 0..3 {
        let key = format!("contended-{round}");
        let mut tasks = Vec::new();
        for i in 0..16 {
            let mut c = base.clone();
            let key = key.clone();
            tasks.push(tokio::spawn(async move {
                try_lock(&mut c, lock_resource(&key, &format!("owner-{i}"), ""), 10).await
            }));
        }
        let mut ok = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(()) => ok += 1,
                Err(e) => assert_eq!(
                    (e.code(), e.message()),
                    (Code::AlreadyExists, "lock-collision"),
                    "{e:?}"
                ),
            }
        }
        assert_eq!(ok, 1, "round {round}: exactly one owner wins");
    }

    // Runners racing for one lock: exactly one holder at a time, and when it
    // steps down another takes over.
    let mut handles: Vec<_> = (0..5)
        .map(|i| {
            LockRunner::new(base.clone(), lock_resource("leader", &format!("r{i}"), ""))
                .ttl_in_seconds(2)
                .retry_interval(Duration::from_millis(100))
                .spawn()
        })
        .collect();
    for _ in 0..3 {
        let deadline = Instant::now() + Duration::from_secs(3);
        let holder = loop {
            let held: Vec<usize> = (0..handles.len())
                .filter(|&i| handles[i].is_held())
                .collect();
            assert!(held.len() <= 1, "two holders: {held:?}");
            if held.len() == 1 {
                break held[0];
            }
            assert!(Instant::now() < deadline, "nobody acquired");
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        // Nobody else gets it while the holder renews.
        for _ in 0..10 {
            tokio::time::sleep(Duration::from_millis(30)).await;
            let held = handles.iter().filter(|h| h.is_held()).count();
            assert_eq!(held, 1);
        }
        handles.remove(holder).stop().await;
    }
    for h in handles {
        h.stop().await;
    }
    fx.server.shutdown().await;
}

async fn expiry_hands_lock_to_waiter(fx: Fx) {
    let mut c = fx.client().await;
    try_lock(&mut c, lock_resource("exp", "old", ""), 1)
        .await
        .unwrap();
    let start = Instant::now();
    loop {
        match try_lock(&mut c, lock_resource("exp", "new", ""), 1).await {
            Ok(()) => break,
            Err(e) => assert_eq!(e.message(), "lock-collision"),
        }
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "not expired in TTL + 1 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        start.elapsed() >= Duration::from_millis(800),
        "expired too early"
    );

    // Renewed before the TTL: never expires.
    try_lock(&mut c, presence_resource("cell", "cell", ""), 1)
        .await
        .unwrap();
    for _ in 0..6 {
        tokio::time::sleep(Duration::from_millis(300)).await;
        try_lock(&mut c, presence_resource("cell", "cell", ""), 1)
            .await
            .unwrap();
    }
    // ...then stops being renewed and disappears.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(fetch_all(&mut c, TypeCode::Presence).await.is_empty());
    let (locks, presences) = fx.server.lock_pick.expiration_counts();
    assert!(locks >= 1 && presences >= 1, "{locks} {presences}");
    fx.server.shutdown().await;
}

async fn lock_runner_lifecycle(fx: Fx) {
    let c = fx.client().await;
    let fast = |owner: &str| {
        LockRunner::new(c.clone(), lock_resource("bbs", owner, ""))
            .ttl_in_seconds(1)
            .retry_interval(Duration::from_millis(200))
    };
    let mut a = fast("a").spawn();
    tokio::time::timeout(Duration::from_secs(2), a.acquired())
        .await
        .unwrap()
        .unwrap();
    let mut b = fast("b").spawn();
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(b.state(), LockState::Acquiring);

    // `a` dies without releasing: `b` takes over once the TTL runs out.
    a.abandon();
    let start = Instant::now();
    tokio::time::timeout(Duration::from_secs(3), b.acquired())
        .await
        .unwrap()
        .unwrap();
    assert!(start.elapsed() < Duration::from_millis(2200));

    // Someone else takes it from under `b` (as after an expiry): `b` loses
    // it and stops.
    let mut raw = c.clone();
    raw.release(ReleaseRequest {
        resource: Some(lock_resource("bbs", "b", "")),
    })
    .await
    .unwrap();
    try_lock(&mut raw, lock_resource("bbs", "intruder", ""), 2)
        .await
        .unwrap();
    let lost = tokio::time::timeout(Duration::from_secs(2), b.lost())
        .await
        .unwrap();
    assert!(lost.0.contains("lock-collision"), "{lost}");
    assert!(matches!(b.state(), LockState::Lost(_)));

    // A fresh runner gets it back once the intruder's lock expires.
    let mut again = fast("b").spawn();
    tokio::time::timeout(Duration::from_secs(4), again.acquired())
        .await
        .unwrap()
        .unwrap();
    // Stopping releases the lock right away.
    again.stop().await;
    let e = raw
        .fetch(FetchRequest { key: "bbs".into() })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
    fx.server.shutdown().await;
}

async fn presence_runner_reasserts(fx: Fx) {
    let mut c = fx.client().await;
    let mut p = PresenceRunner::new(c.clone(), presence_resource("cell-z1-0", "cell-z1-0", "{}"))
        .ttl_in_seconds(1)
        .retry_interval(Duration::from_millis(150))
        .spawn();
    tokio::time::timeout(Duration::from_secs(2), p.acquired())
        .await
        .unwrap()
        .unwrap();
    let mut q = PresenceRunner::new(c.clone(), presence_resource("cell-z1-1", "cell-z1-1", "{}"))
        .ttl_in_seconds(1)
        .retry_interval(Duration::from_millis(150))
        .spawn();
    tokio::time::timeout(Duration::from_secs(2), q.acquired())
        .await
        .unwrap()
        .unwrap();
    // Renewed well past the TTL.
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let keys: Vec<_> = fetch_all(&mut c, TypeCode::Presence)
        .await
        .into_iter()
        .map(|r| r.key)
        .collect();
    assert_eq!(keys, ["cell-z1-0", "cell-z1-1"]);

    // Taken over: the runner notices, keeps going, and re-asserts once free.
    c.release(ReleaseRequest {
        resource: Some(presence_resource("cell-z1-0", "cell-z1-0", "")),
    })
    .await
    .unwrap();
    try_lock(&mut c, presence_resource("cell-z1-0", "imposter", ""), 1)
        .await
        .unwrap();
    let mut rx = p.subscribe();
    tokio::time::timeout(
        Duration::from_secs(2),
        rx.wait_for(|s| *s == LockState::Acquiring),
    )
    .await
    .unwrap()
    .unwrap();
    tokio::time::timeout(
        Duration::from_secs(3),
        rx.wait_for(|s| *s == LockState::Held),
    )
    .await
    .unwrap()
    .unwrap();
    let got = c
        .fetch(FetchRequest {
            key: "cell-z1-0".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .resource
        .unwrap();
    assert_eq!(got.owner, "cell-z1-0");

    p.stop().await;
    q.stop().await;
    assert!(fetch_all(&mut c, TypeCode::Presence).await.is_empty());
    fx.server.shutdown().await;
}

// ---- mTLS ---------------------------------------------------------------

mod tls {
    use super::*;
    use testkit::tls::{write, TestCa};

    /// A certificate for 127.0.0.1 and localhost signed by `ca`.
    fn leaf(name: &str, ca: &TestCa) -> (String, String) {
        let id = ca.issue(name, &["127.0.0.1", "localhost"]);
        (id.cert_pem, id.key_pem)
    }

    #[tokio::test]
    async fn mutual_tls_as_diego() {
        let dir = tempfile::tempdir().unwrap();
        let ca_cert = TestCa::new("locket-ca");
        let rogue_ca = TestCa::new("rogue-ca");
        let (srv_cert, srv_key) = leaf("locket", &ca_cert);
        let (cli_cert, cli_key) = leaf("bbs", &ca_cert);
        let (rogue_cert, rogue_key_pem) = leaf("rogue", &rogue_ca);
        let d = dir.path();
        let cfg = LocketConfig {
            listen_address: "127.0.0.1:0".into(),
            database_driver: "sqlite".into(),
            database_connection_string: d.join("l.db").display().to_string(),
            ca_file: write(d, "ca.crt", &ca_cert.pem()),
            cert_file: write(d, "server.crt", &srv_cert),
            key_file: write(d, "server.key", &srv_key),
            ..Default::default()
        };
        let server = server::start(&cfg, ServerOptions::default()).await.unwrap();
        let addr = server.addr.to_string();

        let good = ClientLocketConfig {
            locket_address: addr.clone(),
            locket_ca_cert_file: cfg.ca_file.clone(),
            locket_client_cert_file: write(d, "client.crt", &cli_cert),
            locket_client_key_file: write(d, "client.key", &cli_key),
        };
        let mut c = client::connect(&good).await.unwrap();
        try_lock(&mut c, lock_resource("bbs", "bbs-0", ""), 5)
            .await
            .unwrap();

        let rogue = ClientLocketConfig {
            locket_client_cert_file: write(d, "rogue.crt", &rogue_cert),
            locket_client_key_file: write(d, "rogue.key", &rogue_key_pem),
            ..good.clone()
        };
        let no_cert = ClientLocketConfig {
            locket_address: addr.clone(),
            locket_ca_cert_file: cfg.ca_file.clone(),
            ..Default::default()
        };
        let plaintext = ClientLocketConfig::insecure(addr.clone());
        for bad in [rogue, no_cert, plaintext] {
            let refused = match client::connect(&bad).await {
                Err(_) => true,
                Ok(mut c) => c.fetch(FetchRequest { key: "bbs".into() }).await.is_err(),
            };
            assert!(refused, "{bad:?} was served");
        }
        server.shutdown().await;
    }

    /// Diego's locket always requires client certificates: a certificate
    /// and key without a CA do not start a server that would take any
    /// client's locks.
    #[tokio::test]
    async fn certificate_without_ca_is_a_startup_error() {
        let dir = tempfile::tempdir().unwrap();
        let ca_cert = TestCa::new("locket-ca");
        let (srv_cert, srv_key) = leaf("locket", &ca_cert);
        let d = dir.path();
        let cfg = LocketConfig {
            listen_address: "127.0.0.1:0".into(),
            database_driver: "sqlite".into(),
            database_connection_string: d.join("l.db").display().to_string(),
            cert_file: write(d, "server.crt", &srv_cert),
            key_file: write(d, "server.key", &srv_key),
            ..Default::default()
        };
        let err = match server::start(&cfg, ServerOptions::default()).await {
            Ok(_) => panic!("locket served TLS without client certificates"),
            Err(e) => format!("{e:#}"),
        };
        assert!(err.contains("ca_file is required"), "{err}");
    }
}
