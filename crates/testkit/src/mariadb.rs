//! A throwaway MariaDB server for tests (Diego's default store in
//! cf-deployment is MySQL; Debian ships MariaDB).
//!
//! `TestMariaDb::start()` runs `mariadb-install-db` into a temp dir, starts
//! `mariadbd` on a free 127.0.0.1 port (its socket, pid file and log inside
//! the temp dir), creates a user with a password (so connection strings
//! are tested with credentials, as Diego's are) and stops + deletes
//! everything on drop. `TestMariaDb::shared()` gives one server per test
//! binary (stopped at process exit); `fresh_database()` gives each test its
//! own database.
//!
//! Binaries are looked up in `$DIEGO_MARIADB_BIN`, `/usr/sbin`, `/usr/bin`
//! and `$PATH`. When running as root (mariadbd refuses to), the server runs
//! as the `mysql` user (or `nobody`) via `runuser`/`su`.
//!
//! `TestMariaDb::try_start_tls(&files)` starts one that takes only TLS
//! connections (`require_secure_transport`), serving `files`' certificate
//! (Diego's deployments reach their database over TLS with
//! `sql_ca_cert_file`).
//!
//! Without binaries, `start()` panics with an explanation, unless
//! `DIEGO_SKIP_MARIADB=1`: then [`TestMariaDb::shared_or_skip`] returns
//! None, the test recorded as skipped.

use crate::local_server::{free_port, run, run_as_command, server_dir, server_user};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

pub const SKIP_ENV: &str = "DIEGO_SKIP_MARIADB";
pub const BIN_ENV: &str = "DIEGO_MARIADB_BIN";

/// The user the tests connect as, and its password (with characters a
/// connection string must carry through: `@`, `:`, `/`).
pub const USER: &str = "diego";
pub const PASSWORD: &str = "p@ss:w/rd";

pub struct TestMariaDb {
    server: PathBuf,
    client: PathBuf,
    dir: Option<tempfile::TempDir>,
    port: u16,
    run_as: Option<String>,
    child: Option<Child>,
    database: String,
    /// Serves TLS only (the client connects with `--ssl`).
    tls: bool,
}

struct Bins {
    server: PathBuf,
    install_db: PathBuf,
    client: PathBuf,
}

fn find_bins() -> Result<Bins, String> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    if let Ok(d) = std::env::var(BIN_ENV) {
        if !d.is_empty() {
            dirs.push(PathBuf::from(d));
        }
    }
    dirs.extend(["/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"].map(PathBuf::from));
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    let find = |names: &[&str]| -> Option<PathBuf> {
        dirs.iter()
            .flat_map(|d| names.iter().map(move |n| d.join(n)))
            .find(|p| p.is_file())
    };
    match (
        find(&["mariadbd", "mysqld"]),
        find(&["mariadb-install-db", "mysql_install_db"]),
        find(&["mariadb", "mysql"]),
    ) {
        (Some(server), Some(install_db), Some(client)) => Ok(Bins {
            server,
            install_db,
            client,
        }),
        _ => Err(format!(
            "MariaDB binaries (mariadbd, mariadb-install-db, mariadb) not found in ${BIN_ENV}, \
             /usr/sbin, /usr/bin or $PATH. Install them (Debian: apt-get install mariadb-server) \
             or set {BIN_ENV}=<dir>; set {SKIP_ENV}=1 to skip the MariaDB tests."
        )),
    }
}

impl TestMariaDb {
    /// Are MariaDB tests to be skipped (env `DIEGO_SKIP_MARIADB=1`)?
    pub fn skip_requested() -> bool {
        matches!(std::env::var(SKIP_ENV).as_deref(), Ok("1") | Ok("true"))
    }

    /// Starts a new server (stopped and removed on drop). Panics with a
    /// clear message if it cannot.
    pub fn start() -> TestMariaDb {
        match Self::try_start() {
            Ok(m) => m,
            Err(e) => panic!("cannot start a test MariaDB: {e}"),
        }
    }

    pub fn try_start() -> Result<TestMariaDb, String> {
        Self::try_start_with(None)
    }

    /// A server that takes TLS connections only, with `tls`' certificate
    /// and key (its CA is what clients must trust).
    pub fn try_start_tls(tls: &crate::tls::TlsFiles) -> Result<TestMariaDb, String> {
        Self::try_start_with(Some(tls))
    }

    fn try_start_with(tls: Option<&crate::tls::TlsFiles>) -> Result<TestMariaDb, String> {
        let bins = find_bins()?;
        let run_as = server_user("mysql")?;
        let dir = server_dir("diego-mariadb-", run_as.as_deref())?;
        if let Some(t) = tls {
            // Copies the server can read (it may run as another user).
            for (src, name) in [(&t.cert_file, "server.crt"), (&t.key_file, "server.key")] {
                let dst = dir.path().join(name);
                std::fs::copy(src, &dst).map_err(|e| format!("copying {src}: {e}"))?;
                if let Some(user) = run_as.as_deref() {
                    let mut c = Command::new("chown");
                    c.arg(format!("{user}:")).arg(&dst);
                    run(c, "chown TLS file")?;
                }
            }
        }
        let init = dir.path().join("init.sql");
        // One statement per line: mariadbd runs the init file line by line.
        std::fs::write(
            &init,
            format!(
                "CREATE USER IF NOT EXISTS '{USER}'@'%' IDENTIFIED BY '{PASSWORD}';\n\
                 GRANT ALL ON *.* TO '{USER}'@'%';\n"
            ),
        )
        .map_err(|e| format!("writing init file: {e}"))?;
        let mut m = TestMariaDb {
            server: bins.server,
            client: bins.client,
            dir: Some(dir),
            port: 0,
            run_as,
            child: None,
            database: String::new(),
            tls: tls.is_some(),
        };
        let mut install = m.command(&bins.install_db);
        install
            .arg("--no-defaults")
            .arg(format!("--datadir={}", m.data().display()))
            .args([
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
                "--skip-name-resolve",
            ]);
        run(install, "mariadb-install-db")?;
        let mut last_err = String::new();
        for _ in 0..5 {
            m.port = free_port();
            match m.launch() {
                Ok(()) => {
                    m.database = m.fresh_database()?;
                    return Ok(m);
                }
                Err(e) => last_err = e,
            }
        }
        Err(last_err)
    }

    /// One server for the whole test binary, stopped when the process exits.
    pub fn shared() -> &'static TestMariaDb {
        static SHARED: OnceLock<TestMariaDb> = OnceLock::new();
        SHARED.get_or_init(|| {
            let m = TestMariaDb::start();
            register_exit_cleanup(&m);
            m
        })
    }

    /// The shared server, or None (the test recorded as skipped, see
    /// [`crate::skip`]) when MariaDB tests are skipped with
    /// `DIEGO_SKIP_MARIADB=1`.
    pub fn shared_or_skip(test: &str) -> Option<&'static TestMariaDb> {
        if Self::skip_requested() {
            crate::skip::skip(&format!("{test} on MariaDB: {SKIP_ENV}=1 is set"));
            return None;
        }
        Some(Self::shared())
    }

    fn command(&self, program: &Path) -> Command {
        run_as_command(self.run_as.as_deref(), program)
    }

    fn root(&self) -> PathBuf {
        self.dir.as_ref().expect("server dir").path().to_path_buf()
    }

    fn data(&self) -> PathBuf {
        self.root().join("data")
    }

    fn socket(&self) -> PathBuf {
        self.root().join("mariadb.sock")
    }

    fn log(&self) -> PathBuf {
        self.root().join("mariadb.log")
    }

    fn launch(&mut self) -> Result<(), String> {
        let mut c = self.command(&self.server);
        c.arg("--no-defaults")
            .arg(format!("--datadir={}", self.data().display()))
            .arg(format!("--socket={}", self.socket().display()))
            .arg(format!(
                "--pid-file={}",
                self.root().join("mariadb.pid").display()
            ))
            .arg(format!("--log-error={}", self.log().display()))
            .arg(format!(
                "--init-file={}",
                self.root().join("init.sql").display()
            ))
            .arg(format!("--port={}", self.port))
            .args([
                "--bind-address=127.0.0.1",
                "--skip-name-resolve",
                // Debian's defaults (its my.cnf), which --no-defaults drops.
                "--character-set-server=utf8mb4",
                "--collation-server=utf8mb4_general_ci",
                "--max-connections=500",
                // A test server: durability traded for speed.
                "--innodb-flush-log-at-trx-commit=0",
                "--innodb-doublewrite=0",
                "--innodb-buffer-pool-size=64M",
                "--skip-log-bin",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if self.tls {
            let root = self.root();
            c.arg(format!("--ssl-cert={}", root.join("server.crt").display()))
                .arg(format!("--ssl-key={}", root.join("server.key").display()))
                .arg("--require-secure-transport=ON");
        }
        let mut child = c.spawn().map_err(|e| format!("starting mariadbd: {e}"))?;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!(
                    "mariadbd exited ({status}) on port {}:\n{}",
                    self.port,
                    std::fs::read_to_string(self.log()).unwrap_or_default()
                ));
            }
            if self.ready() {
                self.child = Some(child);
                return Ok(());
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "mariadbd did not accept connections within 60 s:\n{}",
                    std::fs::read_to_string(self.log()).unwrap_or_default()
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Does the server answer our user over TCP (the init file has run)?
    fn ready(&self) -> bool {
        self.client_command()
            .args(["-e", "SELECT 1"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    }

    fn client_command(&self) -> Command {
        let mut c = Command::new(&self.client);
        c.arg("--no-defaults")
            .args(["-h", "127.0.0.1", "-P", &self.port.to_string(), "-u", USER])
            .arg(format!("-p{PASSWORD}"))
            .stdin(Stdio::null());
        if self.tls {
            // Encrypted, the certificate not checked (the tests check it
            // through the stores' own connections).
            c.args(["--ssl", "--skip-ssl-verify-server-cert"]);
        }
        c
    }

    /// Runs SQL through the `mariadb` client (as our user).
    pub fn sql(&self, database: &str, sql: &str) -> Result<String, String> {
        let mut c = self.client_command();
        if !database.is_empty() {
            c.args(["-D", database]);
        }
        c.args(["-N", "-B", "-e", sql]);
        run(c, "mariadb").map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
    }

    /// Creates a new, empty database and returns its name.
    pub fn fresh_database(&self) -> Result<String, String> {
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "test_{}_{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        );
        self.sql("", &format!("CREATE DATABASE `{name}`"))?;
        Ok(name)
    }

    /// URL of a new, empty database in this server.
    pub fn fresh_database_url(&self) -> String {
        let name = self.fresh_database().expect("create database");
        self.url_for(&name)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// URL of the database created by `start()`.
    pub fn url(&self) -> String {
        self.url_for(&self.database)
    }

    /// `mysql://diego:p%40ss%3Aw%2Frd@127.0.0.1:<port>/<database>` (plaintext:
    /// a TLS-only server refuses it).
    pub fn url_for(&self, database: &str) -> String {
        format!(
            "mysql://{USER}:p%40ss%3Aw%2Frd@127.0.0.1:{}/{database}",
            self.port
        )
    }

    /// The Go DSN form Diego's configs use: `user:pass@tcp(host:port)/db`.
    pub fn go_dsn_for(&self, database: &str) -> String {
        format!("{USER}:{PASSWORD}@tcp(127.0.0.1:{})/{database}", self.port)
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // mariadbd runs as another user under runuser: stop it by its
            // pid file, then reap our child.
            if let Ok(pid) = std::fs::read_to_string(self.root().join("mariadb.pid")) {
                let _ = Command::new("kill").arg("-9").arg(pid.trim()).status();
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for TestMariaDb {
    fn drop(&mut self) {
        self.stop();
        if let Some(dir) = self.dir.take() {
            let _ = dir.close();
        }
    }
}

/// What the exit hook needs to stop the shared server: its pid file and dir.
static EXIT_CLEANUP: Mutex<Option<(PathBuf, PathBuf)>> = Mutex::new(None);

extern "C" {
    fn atexit(cb: extern "C" fn()) -> std::os::raw::c_int;
}

extern "C" fn stop_shared_server() {
    let Ok(mut guard) = EXIT_CLEANUP.lock() else {
        return;
    };
    if let Some((pid_file, dir)) = guard.take() {
        if let Ok(pid) = std::fs::read_to_string(&pid_file) {
            let _ = Command::new("kill")
                .arg("-9")
                .arg(pid.trim())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        let _ = std::fs::remove_dir_all(dir);
    }
}

fn register_exit_cleanup(m: &TestMariaDb) {
    *EXIT_CLEANUP.lock().unwrap() = Some((m.root().join("mariadb.pid"), m.root()));
    // SAFETY: registering a plain extern "C" fn with libc's atexit.
    unsafe {
        atexit(stop_shared_server);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_creates_databases_and_stops() {
        if TestMariaDb::skip_requested() {
            crate::skip::skip(&format!("{SKIP_ENV}=1 is set"));
            return;
        }
        let m = TestMariaDb::start();
        assert!(m.url().starts_with("mysql://diego:"));
        let other = m.fresh_database().unwrap();
        assert_ne!(other, m.database);
        assert_eq!(
            m.sql(&other, "SELECT @@character_set_server")
                .unwrap()
                .trim(),
            "utf8mb4"
        );
        let dir = m.root();
        let port = m.port();
        drop(m);
        assert!(!dir.exists());
        std::thread::sleep(Duration::from_millis(200));
        assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
    }
}
