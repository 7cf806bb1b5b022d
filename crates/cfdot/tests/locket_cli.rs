//! cfdot's Locket commands against our real locket server (SQLite in a
//! temp dir), plaintext and mutual TLS.

use std::process::{Command, Output};

use ::locket::config::LocketConfig;
use ::locket::server::{start, RunningLocket, ServerOptions};
use testkit::tls::TestCa;

struct Locket {
    rt: tokio::runtime::Runtime,
    server: Option<RunningLocket>,
    _dir: tempfile::TempDir,
}

impl Locket {
    fn start(dir: tempfile::TempDir, mut cfg: LocketConfig) -> Locket {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        cfg.listen_address = "127.0.0.1:0".into();
        cfg.database_driver = "sqlite".into();
        cfg.database_connection_string = dir.path().join("locket.db").display().to_string();
        let server = rt
            .block_on(start(&cfg, ServerOptions::default()))
            .expect("locket starts");
        Locket {
            rt,
            server: Some(server),
            _dir: dir,
        }
    }

    fn plain() -> Locket {
        Locket::start(tempfile::tempdir().unwrap(), LocketConfig::default())
    }

    fn addr(&self) -> String {
        self.server.as_ref().unwrap().addr.to_string()
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr())
    }
}

impl Drop for Locket {
    fn drop(&mut self) {
        if let Some(s) = self.server.take() {
            self.rt.block_on(s.shutdown());
        }
    }
}

fn cfdot_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cfdot"));
    cmd.args(args);
    for v in [
        "LOCKET_API_LOCATION",
        "CA_CERT_FILE",
        "CLIENT_CERT_FILE",
        "CLIENT_KEY_FILE",
        "SKIP_CERT_VERIFY",
    ] {
        cmd.env_remove(v);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("cfdot runs")
}

fn cfdot(args: &[&str]) -> Output {
    cfdot_env(args, &[])
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn ok(o: &Output) {
    assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(o));
}

#[test]
fn locks_claim_collide_release() {
    let l = Locket::plain();
    let url = l.url();
    let loc = ["--locketAPILocation", url.as_str()];

    let o = cfdot(&[&["locks"][..], &loc].concat());
    ok(&o);
    assert_eq!(stdout(&o), "");

    let o = cfdot(
        &[
            &["claim-lock", "-k", "my-key", "-o", "alice", "-v", "<v&>"][..],
            &["-t", "60"],
            &loc,
        ]
        .concat(),
    );
    ok(&o);
    assert_eq!(stdout(&o), "");

    let o = cfdot(&[&["locks"][..], &loc].concat());
    ok(&o);
    assert_eq!(
        stdout(&o),
        "{\"key\":\"my-key\",\"owner\":\"alice\",\"value\":\"\\u003cv\\u0026\\u003e\",\"type\":\"lock\",\"type_code\":1}\n"
    );

    // Re-claiming as the owner is fine; another owner collides.
    let o = cfdot(
        &[
            &["claim-lock", "--key", "my-key", "--owner", "alice"][..],
            &["--ttl", "60"],
            &loc,
        ]
        .concat(),
    );
    ok(&o);
    let o = cfdot(
        &[
            &["claim-lock", "-k", "my-key", "-o", "bob", "-t", "60"][..],
            &loc,
        ]
        .concat(),
    );
    assert_eq!(o.status.code(), Some(4));
    assert_eq!(stdout(&o), "");
    assert_eq!(
        stderr(&o),
        "Error: rpc error: code = AlreadyExists desc = lock-collision\n"
    );

    // Presences are listed apart from locks.
    let o = cfdot(&[&["presences"][..], &loc].concat());
    ok(&o);
    assert_eq!(stdout(&o), "");

    // Only the owner may release.
    let o = cfdot(&[&["release-lock", "-k", "my-key", "-o", "bob"][..], &loc].concat());
    assert_eq!(o.status.code(), Some(4));
    assert_eq!(
        stderr(&o),
        "Error: rpc error: code = AlreadyExists desc = lock-collision\n"
    );

    let o = cfdot(&[&["release-lock", "-k", "my-key", "-o", "alice"][..], &loc].concat());
    ok(&o);
    let o = cfdot(&[&["locks"][..], &loc].concat());
    ok(&o);
    assert_eq!(stdout(&o), "");

    // Releasing what is not there succeeds, as in Diego.
    let o = cfdot(&[&["release-lock", "-k", "my-key", "-o", "alice"][..], &loc].concat());
    ok(&o);
}

#[test]
fn presences_claim_and_list() {
    let l = Locket::plain();
    let url = l.url();
    let env = [("LOCKET_API_LOCATION", url.as_str())];
    for (key, owner) in [("cell-1", "rep-1"), ("cell-2", "rep-2")] {
        let o = cfdot_env(
            &[
                "claim-presence",
                "-k",
                key,
                "-o",
                owner,
                "-v",
                "{\"cell_id\":\"x\"}",
                "-t",
                "30",
            ],
            &env,
        );
        ok(&o);
    }
    let o = cfdot_env(&["presences"], &env);
    ok(&o);
    let mut lines: Vec<&str> = stdout(&o).leak().lines().collect();
    lines.sort();
    assert_eq!(
        lines,
        [
            "{\"key\":\"cell-1\",\"owner\":\"rep-1\",\"value\":\"{\\\"cell_id\\\":\\\"x\\\"}\",\"type\":\"presence\",\"type_code\":2}",
            "{\"key\":\"cell-2\",\"owner\":\"rep-2\",\"value\":\"{\\\"cell_id\\\":\\\"x\\\"}\",\"type\":\"presence\",\"type_code\":2}",
        ]
    );
    let o = cfdot_env(&["locks"], &env);
    ok(&o);
    assert_eq!(stdout(&o), "");
}

fn validation(args: &[&str], env: &[(&str, &str)], message: &str) {
    let o = cfdot_env(args, env);
    assert_eq!(o.status.code(), Some(3), "{args:?}: {}", stderr(&o));
    let err = stderr(&o);
    let first = err.lines().next().unwrap_or("");
    assert_eq!(first, format!("Error: {message}"), "{args:?}");
    assert!(
        err.contains(&format!("Usage:\n  cfdot {} [flags]", args[0])),
        "{args:?}: usage missing: {err}"
    );
    assert_eq!(stdout(&o), "");
}

#[test]
fn validation_errors_as_cfdot() {
    // No server is needed: validation comes first.
    let loc = [("LOCKET_API_LOCATION", "http://127.0.0.1:1")];
    for cmd in [
        "locks",
        "presences",
        "claim-lock",
        "claim-presence",
        "release-lock",
    ] {
        validation(&[cmd], &[], "Locket API Location not set. Please specify one with the '--locketAPILocation' flag or the 'LOCKET_API_LOCATION' environment variable.");
    }
    validation(
        &["locks", "--locketAPILocation", "127.0.0.1:1"],
        &[],
        "--caCertFile must be specified if using HTTPS and --skipCertVerify is not set",
    );
    validation(
        &[
            "locks",
            "--locketAPILocation",
            "127.0.0.1:1",
            "--skipCertVerify",
        ],
        &[],
        "--clientCertFile and --clientKeyFile must both be specified for TLS connections.",
    );
    validation(&["locks", "extra"], &loc, "Too many arguments specified");
    validation(
        &["presences", "extra"],
        &loc,
        "Too many arguments specified",
    );
    for cmd in ["claim-lock", "claim-presence"] {
        validation(&[cmd, "-o", "me", "-t", "5"], &loc, "key cannot be empty");
        validation(&[cmd, "-k", "k", "-t", "5"], &loc, "owner cannot be empty");
        validation(
            &[cmd, "-k", "k", "-o", "me"],
            &loc,
            "ttl should be an integer greater than zero",
        );
        validation(
            &[cmd, "-k", "k", "-o", "me", "-t", "-3"],
            &loc,
            "ttl should be an integer greater than zero",
        );
        validation(
            &[cmd, "-k", "k", "--key", "k", "-o", "me", "-t", "5"],
            &loc,
            "Only one of -k and --key should be passed",
        );
        validation(
            &[cmd, "-k", "k", "-o", "me", "-t", "5", "--ttl", "5"],
            &loc,
            "Only one of -t and --ttl should be passed",
        );
        validation(
            &[cmd, "-k", "k", "-o", "me", "-t", "x"],
            &loc,
            "invalid argument \"x\" for \"-t, --ttl\" flag: strconv.ParseInt: parsing \"x\": invalid syntax",
        );
        validation(
            &[cmd, "-k", "k", "-o", "me", "-t", "5", "x"],
            &loc,
            "Too many arguments specified",
        );
    }
    validation(&["release-lock", "-o", "me"], &loc, "key cannot be empty");
    validation(&["release-lock", "-k", "k"], &loc, "owner cannot be empty");
    validation(
        &["release-lock", "-k", "k", "-o", "me", "--owner", "me"],
        &loc,
        "Only one of -o and --owner should be passed",
    );
    // release-lock has no -t flag.
    let o = cfdot_env(&["release-lock", "-k", "k", "-o", "me", "-t", "5"], &loc);
    assert_eq!(o.status.code(), Some(255));
    assert!(stderr(&o).starts_with("Error: unknown shorthand flag: 't' in -t\n"));
}

#[test]
fn unreachable_locket_fails_after_the_connect_deadline() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let started = std::time::Instant::now();
    let o = cfdot(&["locks", "--locketAPILocation", &url]);
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    assert_eq!(stderr(&o), "Error: context deadline exceeded\n");
    assert!(started.elapsed() >= std::time::Duration::from_secs(9));
}

/// A certificate for 127.0.0.1 and localhost signed by `ca`.
fn leaf(name: &str, ca: &TestCa) -> (String, String) {
    let id = ca.issue(name, &["127.0.0.1", "localhost"]);
    (id.cert_pem, id.key_pem)
}

#[test]
fn mutual_tls_with_and_without_verification() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_path_buf();
    let write = |name: &str, body: &str| {
        let p = d.join(name);
        std::fs::write(&p, body).unwrap();
        p.display().to_string()
    };
    let ca_cert = TestCa::new("locket-ca");
    let rogue_ca = TestCa::new("rogue-ca");
    let (srv_cert, srv_key) = leaf("locket", &ca_cert);
    let (cli_cert, cli_key) = leaf("cfdot", &ca_cert);
    let ca_file = write("ca.crt", &ca_cert.pem());
    let rogue_file = write("rogue.crt", &rogue_ca.pem());
    let cert = write("client.crt", &cli_cert);
    let key = write("client.key", &cli_key);
    let cfg = LocketConfig {
        ca_file: ca_file.clone(),
        cert_file: write("server.crt", &srv_cert),
        key_file: write("server.key", &srv_key),
        ..Default::default()
    };
    let l = Locket::start(dir, cfg);
    let addr = l.addr();

    let o = cfdot(&[
        "claim-lock",
        "-k",
        "k",
        "-o",
        "o",
        "-t",
        "60",
        "--locketAPILocation",
        &addr,
        "--caCertFile",
        &ca_file,
        "--clientCertFile",
        &cert,
        "--clientKeyFile",
        &key,
    ]);
    ok(&o);

    // TLS settings from the environment, server not verified.
    let env = [
        ("LOCKET_API_LOCATION", addr.as_str()),
        ("CA_CERT_FILE", rogue_file.as_str()),
        ("CLIENT_CERT_FILE", cert.as_str()),
        ("CLIENT_KEY_FILE", key.as_str()),
        ("SKIP_CERT_VERIFY", "true"),
    ];
    let o = cfdot_env(&["locks"], &env);
    ok(&o);
    assert_eq!(
        stdout(&o),
        "{\"key\":\"k\",\"owner\":\"o\",\"type\":\"lock\",\"type_code\":1}\n"
    );
}
