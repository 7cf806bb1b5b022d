//! A throwaway PostgreSQL cluster for tests.
//!
//! `TestPostgres::start()` runs `initdb` in a temp dir (trust auth), starts
//! `postgres` on a free 127.0.0.1 port (socket dir inside the temp dir),
//! creates a database and stops + deletes everything on drop.
//! `TestPostgres::shared()` gives one cluster per test binary (stopped at
//! process exit); `fresh_database()` gives each test its own database.
//! `TestPostgres::try_start_tls(&files)` starts one that takes TCP
//! connections over TLS only (`hostssl` lines alone in pg_hba.conf).
//!
//! Binaries are looked up in `$DIEGO_PG_BIN`, then
//! `/usr/lib/postgresql/<ver>/bin`, `/usr/local/bin`, `/usr/bin` and `$PATH`.
//! When running as root (initdb refuses), every server command runs as the
//! `postgres` user (or `nobody`) via `runuser`/`su`.
//!
//! Without binaries, `start()` panics with an explanation, unless
//! `DIEGO_SKIP_POSTGRES=1`: then [`TestPostgres::shared_or_skip`] returns
//! None after printing why.

use crate::local_server::{free_port, run, run_as_command, server_dir, server_user};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};

pub const SKIP_ENV: &str = "DIEGO_SKIP_POSTGRES";
pub const BIN_ENV: &str = "DIEGO_PG_BIN";

/// A running cluster with one database created for the caller.
pub struct TestPostgres {
    bin: PathBuf,
    dir: Option<tempfile::TempDir>,
    data: PathBuf,
    port: u16,
    run_as: Option<String>,
    database: String,
    stopped: bool,
}

fn find_bin_dir() -> Result<PathBuf, String> {
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Ok(dir) = std::env::var(BIN_ENV) {
        if !dir.is_empty() {
            candidates.push(PathBuf::from(dir));
        }
    }
    if let Ok(entries) = std::fs::read_dir("/usr/lib/postgresql") {
        let mut versions: Vec<PathBuf> = entries.flatten().map(|e| e.path().join("bin")).collect();
        versions.sort();
        versions.reverse();
        candidates.extend(versions);
    }
    candidates.push("/usr/local/bin".into());
    candidates.push("/usr/bin".into());
    if let Some(path) = std::env::var_os("PATH") {
        candidates.extend(std::env::split_paths(&path));
    }
    for dir in &candidates {
        if ["initdb", "pg_ctl", "postgres"]
            .iter()
            .all(|b| dir.join(b).is_file())
        {
            return Ok(dir.clone());
        }
    }
    Err(format!(
        "PostgreSQL binaries (initdb, pg_ctl, postgres) not found in {} or /usr/lib/postgresql/*/bin, \
         /usr/local/bin, /usr/bin, $PATH. Install them (Debian: apt-get install postgresql) or set \
         {BIN_ENV}=<dir>; set {SKIP_ENV}=1 to skip the PostgreSQL tests.",
        if std::env::var(BIN_ENV).is_ok() { format!("${BIN_ENV}") } else { "(no $DIEGO_PG_BIN)".into() }
    ))
}

impl TestPostgres {
    /// Are PostgreSQL tests to be skipped (env `DIEGO_SKIP_POSTGRES=1`)?
    pub fn skip_requested() -> bool {
        matches!(std::env::var(SKIP_ENV).as_deref(), Ok("1") | Ok("true"))
    }

    /// Starts a new cluster (stopped and removed on drop). Panics with a
    /// clear message if it cannot.
    pub fn start() -> TestPostgres {
        match Self::try_start() {
            Ok(pg) => pg,
            Err(e) => panic!("cannot start a test PostgreSQL: {e}"),
        }
    }

    pub fn try_start() -> Result<TestPostgres, String> {
        Self::try_start_with(None)
    }

    /// A cluster that takes TCP connections over TLS only, with `tls`'
    /// certificate and key (its CA is what clients must trust).
    pub fn try_start_tls(tls: &crate::tls::TlsFiles) -> Result<TestPostgres, String> {
        Self::try_start_with(Some(tls))
    }

    fn try_start_with(tls: Option<&crate::tls::TlsFiles>) -> Result<TestPostgres, String> {
        let bin = find_bin_dir()?;
        let run_as = server_user("postgres")?;
        let dir = server_dir("diego-pg-", run_as.as_deref())?;
        let data = dir.path().join("data");
        let mut pg = TestPostgres {
            bin,
            dir: Some(dir),
            data,
            port: 0,
            run_as,
            database: "postgres".into(),
            stopped: true,
        };
        let mut initdb = pg.command("initdb");
        initdb.arg("-D").arg(&pg.data).args([
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--no-sync",
        ]);
        run(initdb, "initdb")?;
        if let Some(t) = tls {
            pg.serve_tls_only(t)?;
        }
        let mut last_err = String::new();
        for _ in 0..5 {
            pg.port = free_port();
            match pg.pg_ctl_start() {
                Ok(()) => {
                    pg.stopped = false;
                    pg.database = pg.fresh_database()?;
                    return Ok(pg);
                }
                Err(e) => last_err = e,
            }
        }
        Err(last_err)
    }

    /// One cluster for the whole test binary, stopped when the process exits.
    pub fn shared() -> &'static TestPostgres {
        static SHARED: OnceLock<TestPostgres> = OnceLock::new();
        SHARED.get_or_init(|| {
            let pg = TestPostgres::start();
            register_exit_cleanup(&pg);
            pg
        })
    }

    /// The shared cluster, or None (the test recorded as skipped, see
    /// [`crate::skip`]) when PostgreSQL tests are skipped with
    /// `DIEGO_SKIP_POSTGRES=1`.
    pub fn shared_or_skip(test: &str) -> Option<&'static TestPostgres> {
        if Self::skip_requested() {
            crate::skip::skip(&format!("{test} on PostgreSQL: {SKIP_ENV}=1 is set"));
            return None;
        }
        Some(Self::shared())
    }

    fn command(&self, program: &str) -> Command {
        run_as_command(self.run_as.as_deref(), &self.bin.join(program))
    }

    /// Certificate and key into the data directory (the server may run as
    /// another user, and wants its key private), `ssl = on`, and client
    /// authentication that admits TCP clients over TLS alone.
    fn serve_tls_only(&self, t: &crate::tls::TlsFiles) -> Result<(), String> {
        use std::os::unix::fs::PermissionsExt;
        for (src, name) in [(&t.cert_file, "server.crt"), (&t.key_file, "server.key")] {
            let dst = self.data.join(name);
            std::fs::copy(src, &dst).map_err(|e| format!("copying {src}: {e}"))?;
            std::fs::set_permissions(&dst, std::fs::Permissions::from_mode(0o600))
                .map_err(|e| format!("chmod {name}: {e}"))?;
            if let Some(user) = self.run_as.as_deref() {
                let mut c = Command::new("chown");
                c.arg(format!("{user}:")).arg(&dst);
                run(c, "chown TLS file")?;
            }
        }
        let append = |file: &str, text: &str| {
            use std::io::Write;
            std::fs::OpenOptions::new()
                .append(true)
                .open(self.data.join(file))
                .and_then(|mut f| f.write_all(text.as_bytes()))
                .map_err(|e| format!("writing {file}: {e}"))
        };
        append(
            "postgresql.conf",
            "\nssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n",
        )?;
        // The first matching line decides: TCP without TLS matches none.
        std::fs::write(
            self.data.join("pg_hba.conf"),
            "local all all trust\nhostssl all all 127.0.0.1/32 trust\nhostssl all all ::1/128 trust\n",
        )
        .map_err(|e| format!("writing pg_hba.conf: {e}"))
    }

    fn socket_dir(&self) -> PathBuf {
        self.dir.as_ref().expect("cluster dir").path().to_path_buf()
    }

    fn pg_ctl_start(&self) -> Result<(), String> {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off \
             -c full_page_writes=off -c max_connections=300 -c shared_buffers=32MB",
            self.port,
            self.socket_dir().display()
        );
        let mut c = self.command("pg_ctl");
        c.arg("-D")
            .arg(&self.data)
            .arg("-o")
            .arg(opts)
            .arg("-l")
            .arg(self.socket_dir().join("postgres.log"))
            .args(["-w", "-t", "60", "start"]);
        run(c, "pg_ctl start").map(|_| ()).map_err(|e| {
            let log =
                std::fs::read_to_string(self.socket_dir().join("postgres.log")).unwrap_or_default();
            format!("{e}\nserver log:\n{log}")
        })
    }

    /// CREATE DATABASE through `createdb` (or `psql` when that is missing).
    fn create_database(&self, name: &str) -> Result<(), String> {
        let mut c = if self.bin.join("createdb").is_file() {
            let mut c = Command::new(self.bin.join("createdb"));
            c.args([
                "-h",
                "127.0.0.1",
                "-U",
                "postgres",
                "-p",
                &self.port.to_string(),
                name,
            ]);
            c
        } else {
            let mut c = Command::new(self.bin.join("psql"));
            c.args([
                "-h",
                "127.0.0.1",
                "-U",
                "postgres",
                "-p",
                &self.port.to_string(),
                "-d",
                "postgres",
                "-c",
            ])
            .arg(format!("CREATE DATABASE \"{name}\""));
            c
        };
        c.env("PGCONNECT_TIMEOUT", "30");
        run(c, "create database").map(|_| ())
    }

    /// Creates a new, empty database and returns its name.
    pub fn fresh_database(&self) -> Result<String, String> {
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "test_{}_{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        );
        self.create_database(&name)?;
        Ok(name)
    }

    /// Runs an SQL file (a `pg_dump` output, say) into `database` with
    /// `psql`, stopping at the first error.
    pub fn psql_file(&self, database: &str, file: &Path) -> Result<(), String> {
        let mut c = Command::new(self.bin.join("psql"));
        c.args([
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-p",
            &self.port.to_string(),
            "-d",
            database,
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-f",
        ])
        .arg(file);
        run(c, "psql").map(|_| ())
    }

    /// URL of a new, empty database in this cluster.
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

    pub fn url_for(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    fn stop(&mut self) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        let mut c = self.command("pg_ctl");
        c.arg("-D")
            .arg(&self.data)
            .args(["-m", "immediate", "-w", "-t", "30", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let _ = c.status();
    }
}

impl Drop for TestPostgres {
    fn drop(&mut self) {
        self.stop();
        if let Some(dir) = self.dir.take() {
            let _ = dir.close();
        }
    }
}

/// What the exit hook needs to stop the shared cluster.
static EXIT_CLEANUP: Mutex<Option<(Vec<String>, PathBuf)>> = Mutex::new(None);

extern "C" {
    fn atexit(cb: extern "C" fn()) -> std::os::raw::c_int;
}

extern "C" fn stop_shared_cluster() {
    let Ok(mut guard) = EXIT_CLEANUP.lock() else {
        return;
    };
    if let Some((argv, dir)) = guard.take() {
        let _ = Command::new(&argv[0])
            .args(&argv[1..])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(dir);
    }
}

fn register_exit_cleanup(pg: &TestPostgres) {
    let c = {
        let mut c = pg.command("pg_ctl");
        c.arg("-D")
            .arg(&pg.data)
            .args(["-m", "immediate", "-w", "-t", "30", "stop"]);
        c
    };
    let mut argv = vec![c.get_program().to_string_lossy().into_owned()];
    argv.extend(c.get_args().map(|a| a.to_string_lossy().into_owned()));
    *EXIT_CLEANUP.lock().unwrap() = Some((argv, pg.socket_dir()));
    // SAFETY: registering a plain extern "C" fn with libc's atexit.
    unsafe {
        atexit(stop_shared_cluster);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn starts_creates_databases_and_stops() {
        if TestPostgres::skip_requested() {
            crate::skip::skip(&format!("{SKIP_ENV}=1 is set"));
            return;
        }
        let pg = TestPostgres::start();
        assert!(pg.url().starts_with("postgres://postgres@127.0.0.1:"));
        let other = pg.fresh_database().unwrap();
        assert_ne!(other, pg.database);
        let dir = pg.socket_dir();
        let port = pg.port();
        drop(pg);
        assert!(!dir.exists());
        // nothing listens any more
        std::thread::sleep(Duration::from_millis(100));
        assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
    }
}
