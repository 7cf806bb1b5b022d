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
        let expired_id = ca_cert.issue_expired("bbs", &["bbs"]);
        let expired = ClientLocketConfig {
            locket_client_cert_file: write(d, "expired.crt", &expired_id.cert_pem),
            locket_client_key_file: write(d, "expired.key", &expired_id.key_pem),
            ..good.clone()
        };
        let plaintext = ClientLocketConfig::insecure(addr.clone());
        // The test certificates are ECDSA; tonic's own TLS (which locket
        // used before) took TLS 1.2 ECDHE-ECDSA-CHACHA20, Diego's suites
        // do not.
        use rustls::crypto::ring::cipher_suite as cs;
        let a = server.addr.to_string();
        let chacha = cs::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256;
        assert!(
            !tls12_handshake(&a, &ca_cert, chacha).await,
            "ChaCha20 served"
        );
        for bad in [rogue, no_cert, expired, plaintext] {
            let refused = match client::connect(&bad).await {
                Err(_) => true,
                Ok(mut c) => c.fetch(FetchRequest { key: "bbs".into() }).await.is_err(),
            };
            assert!(refused, "{bad:?} was served");
        }
        server.shutdown().await;
    }

    /// Whether a TLS 1.2 client with a good certificate, offering only
    /// `suite`, completes a handshake (Diego's suites leave ChaCha20 out;
    /// tonic's own TLS, which locket used before, took it).
    async fn tls12_handshake(addr: &str, ca: &TestCa, suite: rustls::SupportedCipherSuite) -> bool {
        use rustls::crypto::ring;
        let provider = rustls::crypto::CryptoProvider {
            cipher_suites: vec![suite],
            ..ring::default_provider()
        };
        let id = ca.issue("bbs", &["bbs"]);
        let pem = |s: &str| tlsconfig::Pem::inline(s.as_bytes().to_vec());
        let id = tlsconfig::Identity::load(&pem(&id.cert_pem), &pem(&id.key_pem)).unwrap();
        let mut roots = rustls::RootCertStore::empty();
        for c in tlsconfig::certificates(&tlsconfig::Pem::inline(ca.pem())).unwrap() {
            roots.add(c).unwrap();
        }
        let cfg = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(provider))
            .with_protocol_versions(&[&rustls::version::TLS12])
            .unwrap()
            .with_root_certificates(roots)
            .with_client_auth_cert(id.certs, id.key)
            .unwrap();
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let Ok(mut tls) = tokio_rustls::TlsConnector::from(std::sync::Arc::new(cfg))
            .connect(name, tcp)
            .await
        else {
            return false;
        };
        // TLS 1.2: the server has checked everything by its Finished.
        use tokio::io::AsyncWriteExt;
        tls.flush().await.is_ok()
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

// ---- TLS to the database ---------------------------------------------------

/// Locket on a MariaDB that takes TLS connections only, configured as
/// Diego's locket is (`sql_ca_cert_file`, `sql_enable_identity_verification`,
/// the Go DSN): the server's certificate must chain to the CA file, and its
/// name is checked only with identity verification.
mod sql_tls {
    use super::*;
    use testkit::tls::TestCa;

    /// Locket on a new database of `m`, reached as `host`.
    async fn try_start(
        m: &TestMariaDb,
        host: &str,
        ca_file: &str,
        verify_identity: bool,
    ) -> anyhow::Result<RunningLocket> {
        let db = m.fresh_database().expect("create database");
        let cfg = LocketConfig {
            listen_address: "127.0.0.1:0".into(),
            database_driver: "mysql".into(),
            database_connection_string: m.go_dsn_for(&db).replace("127.0.0.1", host),
            sql_ca_cert_file: ca_file.into(),
            sql_enable_identity_verification: verify_identity,
            ..Default::default()
        };
        server::start(&cfg, ServerOptions::default()).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn verified_tls_to_mariadb_as_diego() {
        if TestMariaDb::skip_requested() {
            testkit::skip::skip(&format!(
                "locket over TLS to MariaDB: {}=1 is set",
                testkit::mariadb::SKIP_ENV
            ));
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let ca = TestCa::new("sql-ca");
        // Named `localhost` only: reached as 127.0.0.1 it passes the CA
        // check, not the identity one.
        let files = ca.write(dir.path(), "mariadb", &ca.issue("db", &["localhost"]));
        let m = tokio::task::spawn_blocking(move || TestMariaDb::try_start_tls(&files))
            .await
            .unwrap()
            .unwrap_or_else(|e| panic!("cannot start a TLS MariaDB: {e}"));
        let ca_file = dir.path().join("ca.crt").display().to_string();

        // Verified against the CA, with and without the name checked:
        // locks are taken and read back.
        for verify_identity in [false, true] {
            let server = try_start(&m, "localhost", &ca_file, verify_identity)
                .await
                .unwrap_or_else(|e| panic!("locket over TLS ({verify_identity}): {e:#}"));
            let mut c = client::connect(&ClientLocketConfig::insecure(server.addr.to_string()))
                .await
                .unwrap();
            try_lock(&mut c, lock_resource("bbs", "bbs-0", ""), 10)
                .await
                .unwrap();
            assert_eq!(fetch_all(&mut c, TypeCode::Lock).await.len(), 1);
            server.shutdown().await;
        }
        // With identity verification, the name must match.
        let err = try_start(&m, "127.0.0.1", &ca_file, true)
            .await
            .err()
            .expect("identity verification passed for a name not in the certificate");
        eprintln!("identity verification: {err:#}");
        // Diego, without identity verification, takes a certificate naming
        // another host; sqlx 0.8.6 on rustls >= 0.23.24 checks the name
        // anyway (launchbadge/sqlx#3793): stricter, printed, not asserted.
        match try_start(&m, "127.0.0.1", &ca_file, false).await {
            Ok(server) => {
                eprintln!("CA-only verification took a certificate for another name");
                server.shutdown().await;
            }
            Err(e) => eprintln!("CA-only verification refused another name (sqlx#3793): {e:#}"),
        }
        // Another CA, and no TLS at all (the server requires it).
        let rogue = TestCa::new("rogue");
        let rogue_file = testkit::tls::write(dir.path(), "rogue.crt", &rogue.pem());
        let err = try_start(&m, "127.0.0.1", &rogue_file, false)
            .await
            .err()
            .expect("a server signed by another CA was trusted");
        eprintln!("rogue CA: {err:#}");
        let err = try_start(&m, "127.0.0.1", "", false)
            .await
            .err()
            .expect("plaintext to a TLS-only server");
        eprintln!("plaintext: {err:#}");
    }
}
