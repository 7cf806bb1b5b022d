//! Connection strings and pools.
//!
//! URLs: `sqlite:///abs/path.db` (created if missing), `sqlite::memory:`,
//! `postgres://user:pass@host:port/db`, `mysql://user:pass@host:port/db`
//! (`mariadb://` too). [`diego_url`] turns what Diego's bbs and locket
//! configs take (`database_driver` and `database_connection_string`) into
//! such a URL: PostgreSQL's URL or keyword/value form
//! (`host=h port=5432 user=u dbname=d`), MySQL's URL or Go DSN
//! (`user:pass@tcp(host:port)/db?params`, as diego-release writes it).
//! [`diego_url_with_tls`] adds Diego's TLS to the database
//! (`sql_ca_cert_file`, `sql_enable_identity_verification`, read by
//! bbs's `db/sqldb/helpers/connection_string.go`): the server's certificate
//! must be signed by the CA file, its name is checked only with identity
//! verification.

use crate::backend::Flavor;
use anyhow::{bail, Context as _};
use sqlx::mysql::{MySqlConnectOptions, MySqlPoolOptions};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::Row;
use std::str::FromStr;
use std::time::Duration;

/// Pool sizing and per-connection settings.
#[derive(Debug, Clone)]
pub struct PoolSettings {
    pub max_connections: u32,
    pub acquire_timeout: Duration,
    /// SQLite page cache per connection, KiB (its default is 2 MiB).
    pub sqlite_cache_kib: Option<u32>,
}

impl PoolSettings {
    pub fn new(max_connections: u32) -> Self {
        PoolSettings {
            max_connections: max_connections.max(1),
            acquire_timeout: Duration::from_secs(30),
            sqlite_cache_kib: None,
        }
    }
}

/// A pooled connection unused for longer than this is pinged before it is
/// handed out; busier ones are not. sqlx pings on every acquire by default:
/// one more round trip per transaction and per read (Go's database/sql
/// does not), while a connection the server dropped shows up as an error
/// of the statement, which is not acknowledged.
pub const PING_IF_IDLE_FOR: Duration = Duration::from_secs(5);

/// `before_acquire` that pings only connections idle for a while.
fn ping_if_idle<DB: sqlx::Database>(
    conn: &mut DB::Connection,
    meta: sqlx::pool::PoolConnectionMetadata,
) -> futures::future::BoxFuture<'_, Result<bool, sqlx::Error>> {
    Box::pin(async move {
        if meta.idle_for < PING_IF_IDLE_FOR {
            return Ok(true);
        }
        use sqlx::Connection as _;
        Ok(conn.ping().await.is_ok())
    })
}

pub(crate) async fn sqlite_pool(
    url: String,
    s: PoolSettings,
) -> anyhow::Result<sqlx::Pool<sqlx::Sqlite>> {
    let memory = url.contains(":memory:") || url.contains("mode=memory");
    let mut opts = SqliteConnectOptions::from_str(&url)
        .with_context(|| format!("invalid SQLite URL {url:?}"))?
        // Waits (rather than failing) while another process holds the lock.
        .busy_timeout(Duration::from_secs(30))
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(false);
    if !memory {
        opts = opts
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal);
    }
    if let Some(kib) = s.sqlite_cache_kib {
        opts = opts.pragma("cache_size", format!("-{kib}"));
    }
    // Every connection to `:memory:` would see its own empty database.
    let max = if memory { 1 } else { s.max_connections };
    SqlitePoolOptions::new()
        .max_connections(max)
        .acquire_timeout(s.acquire_timeout)
        .test_before_acquire(false)
        .before_acquire(ping_if_idle::<sqlx::Sqlite>)
        .connect_with(opts)
        .await
        .with_context(|| format!("connecting to SQLite database {url}"))
}

pub(crate) async fn postgres_pool(
    url: String,
    s: PoolSettings,
) -> anyhow::Result<sqlx::Pool<sqlx::Postgres>> {
    let opts = PgConnectOptions::from_str(&url).context("invalid PostgreSQL URL")?;
    PgPoolOptions::new()
        .max_connections(s.max_connections)
        .acquire_timeout(s.acquire_timeout)
        .test_before_acquire(false)
        .before_acquire(ping_if_idle::<sqlx::Postgres>)
        .connect_with(opts)
        .await
        .with_context(|| format!("connecting to PostgreSQL at {}", redact(&url)))
}

pub(crate) async fn mysql_pool(
    url: String,
    s: PoolSettings,
) -> anyhow::Result<sqlx::Pool<sqlx::MySql>> {
    let url = url.replacen("mariadb://", "mysql://", 1);
    let opts = MySqlConnectOptions::from_str(&url).context("invalid MySQL URL")?;
    MySqlPoolOptions::new()
        .max_connections(s.max_connections)
        .acquire_timeout(s.acquire_timeout)
        .test_before_acquire(false)
        .before_acquire(ping_if_idle::<sqlx::MySql>)
        // InnoDB's default REPEATABLE READ takes gap locks on `SELECT ...
        // FOR UPDATE` of a row that isn't there yet, so writers creating
        // different rows at once (ten cells taking their presences) deadlock
        // each other. READ COMMITTED is PostgreSQL's default, the semantics
        // the stores' transactions are written for.
        .after_connect(|conn, _| {
            Box::pin(async move {
                use sqlx::Executor as _;
                conn.execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
                    .await
                    .map(|_| ())
            })
        })
        .connect_with(opts)
        .await
        .with_context(|| format!("connecting to MySQL at {}", redact(&url)))
}

/// The URL with its password replaced (for messages).
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("REDACTED"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}

/// The URL for Diego's `database_driver` ("postgres" or "mysql") and
/// `database_connection_string` (see the module docs).
pub fn diego_url(driver: &str, connection_string: &str) -> anyhow::Result<String> {
    diego_url_with_tls(driver, connection_string, &SqlTls::default())
}

/// TLS to the database as Diego's bbs and locket configure it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SqlTls {
    /// `sql_ca_cert_file`: empty, no TLS (unless the connection string
    /// asks for it); else TLS, the server's certificate signed by this CA.
    pub ca_cert_file: String,
    /// `sql_enable_identity_verification`: also check that the
    /// certificate names the host connected to.
    pub verify_identity: bool,
}

/// [`diego_url`] with Diego's TLS settings applied: with a CA file, the
/// URL asks sqlx for a verified TLS connection (MySQL `ssl-mode`
/// VERIFY_CA/VERIFY_IDENTITY, PostgreSQL `sslmode` verify-ca/verify-full)
/// trusting that file, replacing any TLS setting the connection string
/// had, as Diego's bbs replaces the DSN's TLS config.
pub fn diego_url_with_tls(
    driver: &str,
    connection_string: &str,
    tls: &SqlTls,
) -> anyhow::Result<String> {
    let s = connection_string.trim();
    let url = match driver {
        "postgres" => {
            if Flavor::of_url(s) == Some(Flavor::Postgres) {
                s.to_string()
            } else {
                pg_keyword_dsn_to_url(s)?
            }
        }
        "mysql" => {
            if Flavor::of_url(s) == Some(Flavor::MySql) {
                s.to_string()
            } else {
                go_mysql_dsn_to_url(s)?
            }
        }
        other => bail!("unsupported database_driver {other:?} for a server database"),
    };
    if tls.ca_cert_file.is_empty() {
        return Ok(url);
    }
    // Diego's bbs stops when it cannot read the file (failed-to-read-sql-ca-file).
    std::fs::read(&tls.ca_cert_file)
        .with_context(|| format!("reading sql_ca_cert_file {}", tls.ca_cert_file))?;
    let (mode_keys, ca_keys, mode): (&[&str], &[&str], &str) = match (driver, tls.verify_identity) {
        ("mysql", false) => (&["ssl-mode", "sslmode"], &["ssl-ca", "sslca"], "VERIFY_CA"),
        ("mysql", true) => (
            &["ssl-mode", "sslmode"],
            &["ssl-ca", "sslca"],
            "VERIFY_IDENTITY",
        ),
        (_, false) => (
            &["sslmode", "ssl-mode"],
            &["sslrootcert", "ssl-root-cert", "ssl-ca"],
            "verify-ca",
        ),
        (_, true) => (
            &["sslmode", "ssl-mode"],
            &["sslrootcert", "ssl-root-cert", "ssl-ca"],
            "verify-full",
        ),
    };
    let mut u = url::Url::parse(&url).context("invalid database URL")?;
    let kept: Vec<(String, String)> = u
        .query_pairs()
        .filter(|(k, _)| !mode_keys.contains(&k.as_ref()) && !ca_keys.contains(&k.as_ref()))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    u.set_query(None);
    u.query_pairs_mut()
        .extend_pairs(kept)
        .append_pair(mode_keys[0], mode)
        .append_pair(ca_keys[0], &tls.ca_cert_file);
    Ok(u.to_string())
}

/// Go's MySQL DSN (go-sql-driver/mysql `ParseDSN`):
/// `[user[:password]@][net[(addr)]]/dbname[?param=value&...]`. The last
/// `/` starts the database name (a password may hold `/`, `@` and `:`),
/// the last `@` before it ends the credentials, the first `:` in them
/// ends the user.
fn go_mysql_dsn_to_url(dsn: &str) -> anyhow::Result<String> {
    let Some(slash) = dsn.rfind('/') else {
        bail!(
            "invalid MySQL DSN {:?}: missing the slash before the database name",
            redact_dsn(dsn)
        );
    };
    let (left, right) = (&dsn[..slash], &dsn[slash + 1..]);
    let (creds, netaddr) = match left.rfind('@') {
        Some(at) => (Some(&left[..at]), &left[at + 1..]),
        None => (None, left),
    };
    let (user, password) = match creds {
        Some(c) => match c.find(':') {
            Some(i) => (&c[..i], Some(&c[i + 1..])),
            None => (c, None),
        },
        None => ("", None),
    };
    let (net, addr) = match netaddr.find('(') {
        Some(i) => {
            if !netaddr.ends_with(')') {
                bail!(
                    "invalid MySQL DSN {:?}: unterminated address",
                    redact_dsn(dsn)
                );
            }
            (&netaddr[..i], &netaddr[i + 1..netaddr.len() - 1])
        }
        None => (netaddr, ""),
    };
    let (dbname, params) = match right.find('?') {
        Some(i) => (&right[..i], Some(&right[i + 1..])),
        None => (right, None),
    };
    let mut u = url::Url::parse("mysql://localhost").expect("static URL");
    let mut query: Vec<(String, String)> = Vec::new();
    // Go's driver speaks plaintext unless `tls` says otherwise; sqlx would
    // try (unverified) TLS first.
    let mut ssl_mode = "DISABLED";
    match net {
        "" | "tcp" => {
            let addr = if addr.is_empty() {
                "127.0.0.1:3306"
            } else {
                addr
            };
            let (host, port) = split_host_port(addr, 3306)?;
            u.set_host(Some(&host))
                .map_err(|e| anyhow::anyhow!("invalid MySQL host {host:?}: {e}"))?;
            let _ = u.set_port(Some(port));
        }
        "unix" => {
            let path = if addr.is_empty() {
                "/tmp/mysql.sock"
            } else {
                addr
            };
            query.push(("socket".into(), path.into()));
        }
        other => bail!("unsupported MySQL DSN protocol {other:?} (want tcp or unix)"),
    }
    if !user.is_empty() {
        let _ = u.set_username(user);
    }
    if let Some(p) = password {
        let _ = u.set_password(Some(p));
    }
    u.set_path(&format!("/{dbname}"));
    if let Some(params) = params {
        for kv in params.split('&').filter(|kv| !kv.is_empty()) {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            let v = url::form_urlencoded::parse(format!("v={v}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default();
            match k {
                // go-sql-driver's values: verified against the system's
                // roots, unverified, opportunistic. A named config is
                // what Diego's bbs registers for sql_ca_cert_file (see
                // `diego_url_with_tls`), not something a DSN can carry.
                "tls" => {
                    ssl_mode = match v.as_str() {
                        "true" => "VERIFY_IDENTITY",
                        "skip-verify" => "REQUIRED",
                        "preferred" => "PREFERRED",
                        "false" => "DISABLED",
                        other => bail!(
                            "MySQL DSN parameter tls={other:?}: want true, false, skip-verify \
                             or preferred (a CA goes in sql_ca_cert_file)"
                        ),
                    }
                }
                "charset" => query.push(("charset".into(), v)),
                "collation" => query.push(("collation".into(), v)),
                // Timeouts, parseTime, loc and the like concern Go's driver.
                _ => {}
            }
        }
    }
    query.push(("ssl-mode".into(), ssl_mode.into()));
    u.query_pairs_mut().extend_pairs(query);
    Ok(u.to_string())
}

fn redact_dsn(dsn: &str) -> String {
    match (dsn.find(':'), dsn.rfind('@')) {
        (Some(c), Some(a)) if c < a => format!("{}:REDACTED{}", &dsn[..c], &dsn[a..]),
        _ => dsn.to_string(),
    }
}

fn split_host_port(addr: &str, default_port: u16) -> anyhow::Result<(String, u16)> {
    // [v6]:port, host:port, host
    if let Some(rest) = addr.strip_prefix('[') {
        let Some((host, tail)) = rest.split_once(']') else {
            bail!("invalid address {addr:?}");
        };
        let port = match tail.strip_prefix(':') {
            Some(p) => p
                .parse()
                .with_context(|| format!("invalid port in {addr:?}"))?,
            None => default_port,
        };
        return Ok((format!("[{host}]"), port));
    }
    match addr.rsplit_once(':') {
        Some((h, p)) => Ok((
            h.to_string(),
            p.parse()
                .with_context(|| format!("invalid port in {addr:?}"))?,
        )),
        None => Ok((addr.to_string(), default_port)),
    }
}

/// libpq's keyword/value form: `host=h port=5432 user=u password='p w'
/// dbname=d sslmode=disable`.
fn pg_keyword_dsn_to_url(dsn: &str) -> anyhow::Result<String> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    let mut chars = dsn.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            break;
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c.is_whitespace() {
                break;
            }
            key.push(c);
            chars.next();
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.next() != Some('=') {
            bail!("invalid PostgreSQL connection string: expected '=' after {key:?} (want a postgres:// URL or key=value pairs)");
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let mut value = String::new();
        if chars.peek() == Some(&'\'') {
            chars.next();
            loop {
                match chars.next() {
                    Some('\\') => value.extend(chars.next()),
                    Some('\'') => break,
                    Some(c) => value.push(c),
                    None => bail!("invalid PostgreSQL connection string: unterminated quote"),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                if c == '\\' {
                    chars.next();
                    value.extend(chars.next());
                    continue;
                }
                value.push(c);
                chars.next();
            }
        }
        pairs.push((key, value));
    }
    if pairs.is_empty() {
        bail!("empty PostgreSQL connection string");
    }
    let mut u = url::Url::parse("postgres://localhost").expect("static URL");
    let mut query: Vec<(String, String)> = Vec::new();
    for (k, v) in pairs {
        match k.as_str() {
            "host" if v.starts_with('/') => query.push(("host".into(), v)),
            "host" => u
                .set_host(Some(&v))
                .map_err(|e| anyhow::anyhow!("invalid PostgreSQL host {v:?}: {e}"))?,
            "port" => {
                let port: u16 = v.parse().with_context(|| format!("invalid port {v:?}"))?;
                let _ = u.set_port(Some(port));
            }
            "user" => {
                let _ = u.set_username(&v);
            }
            "password" => {
                let _ = u.set_password(Some(&v));
            }
            "dbname" => u.set_path(&format!("/{v}")),
            _ => query.push((k, v)),
        }
    }
    if !query.is_empty() {
        u.query_pairs_mut().extend_pairs(query);
    }
    Ok(u.to_string())
}

/// A pool of any backend, for tools and tests that look at raw rows.
#[derive(Debug, Clone)]
pub enum RawPool {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
    MySql(sqlx::MySqlPool),
}

macro_rules! on_pool {
    ($self:expr, $p:ident => $body:expr) => {
        match $self {
            RawPool::Sqlite($p) => $body,
            RawPool::Postgres($p) => $body,
            RawPool::MySql($p) => $body,
        }
    };
}

macro_rules! cell_text {
    ($row:expr, $i:expr) => {{
        let row = $row;
        let i = $i;
        if let Ok(v) = row.try_get::<Option<String>, _>(i) {
            v
        } else if let Ok(v) = row.try_get::<Option<i64>, _>(i) {
            v.map(|v| v.to_string())
        } else if let Ok(v) = row.try_get::<Option<i32>, _>(i) {
            v.map(|v| v.to_string())
        } else {
            row.try_get::<Option<bool>, _>(i)?.map(|v| v.to_string())
        }
    }};
}

impl RawPool {
    pub fn flavor(&self) -> Flavor {
        match self {
            RawPool::Sqlite(_) => Flavor::Sqlite,
            RawPool::Postgres(_) => Flavor::Postgres,
            RawPool::MySql(_) => Flavor::MySql,
        }
    }

    /// Runs SQL text (no arguments); the rows it changed.
    pub async fn execute(&self, sql: &str) -> Result<u64, sqlx::Error> {
        on_pool!(self, p => Ok(sqlx::raw_sql(sql).execute(p).await?.rows_affected()))
    }

    /// Every row of `sql`, each column as text (integers and booleans
    /// written out, NULL as None).
    pub async fn rows(&self, sql: &str) -> Result<Vec<Vec<Option<String>>>, sqlx::Error> {
        on_pool!(self, p => {
            let rows = sqlx::query(sql).fetch_all(p).await?;
            let mut out = Vec::with_capacity(rows.len());
            for r in &rows {
                let mut cells = Vec::with_capacity(r.len());
                for i in 0..r.len() {
                    cells.push(cell_text!(r, i));
                }
                out.push(cells);
            }
            Ok(out)
        })
    }

    /// The first column of the first row as text ("" for NULL).
    pub async fn scalar(&self, sql: &str) -> Result<String, sqlx::Error> {
        let rows = self.rows(sql).await?;
        let cell = rows
            .into_iter()
            .next()
            .and_then(|r| r.into_iter().next())
            .ok_or(sqlx::Error::RowNotFound)?;
        Ok(cell.unwrap_or_default())
    }

    pub async fn close(&self) {
        on_pool!(self, p => p.close().await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_mysql_dsns_as_diego_release_writes_them() {
        assert_eq!(
            diego_url("mysql", "bbs:s3cret@tcp(10.0.0.5:3306)/diego").unwrap(),
            "mysql://bbs:s3cret@10.0.0.5:3306/diego?ssl-mode=DISABLED"
        );
        // The password keeps '@', ':' and '/', percent-encoded in the URL.
        let u = diego_url("mysql", "u:p@ss:w/rd@tcp(db.internal:13306)/locket").unwrap();
        assert_eq!(
            u,
            "mysql://u:p%40ss%3Aw%2Frd@db.internal:13306/locket?ssl-mode=DISABLED"
        );
        let parsed = url::Url::parse(&u).unwrap();
        assert_eq!(parsed.password(), Some("p%40ss%3Aw%2Frd"));
        // Defaults and parameters.
        assert_eq!(
            diego_url("mysql", "root@/bbs?parseTime=true&charset=utf8mb4").unwrap(),
            "mysql://root@127.0.0.1:3306/bbs?charset=utf8mb4&ssl-mode=DISABLED"
        );
        assert_eq!(
            diego_url("mysql", "u@unix(/var/run/mysqld.sock)/bbs").unwrap(),
            "mysql://u@localhost/bbs?socket=%2Fvar%2Frun%2Fmysqld.sock&ssl-mode=DISABLED"
        );
        assert_eq!(
            diego_url("mysql", "mysql://u:p@h:1/db").unwrap(),
            "mysql://u:p@h:1/db"
        );
        assert!(diego_url("mysql", "u:p@tcp(h:1)").is_err());
        assert!(diego_url("mysql", "u:p@tcp(h:1/db").is_err());
        assert_eq!(
            diego_url("mysql", "u:p@tcp(h:1)/db?tls=true").unwrap(),
            "mysql://u:p@h:1/db?ssl-mode=VERIFY_IDENTITY"
        );
        assert_eq!(
            diego_url("mysql", "u:p@tcp(h:1)/db?tls=skip-verify").unwrap(),
            "mysql://u:p@h:1/db?ssl-mode=REQUIRED"
        );
        assert!(diego_url("mysql", "u:p@tcp(h:1)/db?tls=bbs-tls").is_err());
        assert!(diego_url("mysql", "u:p@udp(h:1)/db").is_err());
    }

    #[test]
    fn postgres_urls_and_keyword_forms() {
        assert_eq!(
            diego_url("postgres", "postgres://bbs:pw@10.0.0.5:5524/diego").unwrap(),
            "postgres://bbs:pw@10.0.0.5:5524/diego"
        );
        assert_eq!(
            diego_url(
                "postgres",
                "host=db.internal port=5524 user=bbs password='a b@c' dbname=diego sslmode=disable"
            )
            .unwrap(),
            "postgres://bbs:a%20b%40c@db.internal:5524/diego?sslmode=disable"
        );
        assert!(diego_url("postgres", "host").is_err());
        assert!(diego_url("postgres", "password='x").is_err());
        assert!(diego_url("oracle", "x").is_err());
    }

    #[test]
    fn diegos_sql_ca_cert_file_asks_for_verified_tls() {
        let dir = tempfile_dir();
        let ca = dir.join("sql-ca.crt");
        std::fs::write(&ca, "-----BEGIN CERTIFICATE-----\n").unwrap();
        let ca = ca.display().to_string();
        let enc = url::form_urlencoded::byte_serialize(ca.as_bytes()).collect::<String>();
        let tls = |verify_identity| SqlTls {
            ca_cert_file: ca.clone(),
            verify_identity,
        };
        assert_eq!(
            diego_url_with_tls("mysql", "u:p@tcp(h:1)/db?charset=utf8", &tls(false)).unwrap(),
            format!("mysql://u:p@h:1/db?charset=utf8&ssl-mode=VERIFY_CA&ssl-ca={enc}")
        );
        // The CA replaces what the connection string said about TLS.
        assert_eq!(
            diego_url_with_tls(
                "mysql",
                "mysql://u@h/db?sslmode=required&sslca=/x",
                &tls(true)
            )
            .unwrap(),
            format!("mysql://u@h/db?ssl-mode=VERIFY_IDENTITY&ssl-ca={enc}")
        );
        assert_eq!(
            diego_url_with_tls(
                "postgres",
                "host=h user=u dbname=d sslmode=disable",
                &tls(false)
            )
            .unwrap(),
            format!("postgres://u@h/d?sslmode=verify-ca&sslrootcert={enc}")
        );
        assert_eq!(
            diego_url_with_tls("postgres", "postgres://u@h/d", &tls(true)).unwrap(),
            format!("postgres://u@h/d?sslmode=verify-full&sslrootcert={enc}")
        );
        // No CA: the connection string as it is.
        assert_eq!(
            diego_url_with_tls("postgres", "postgres://u@h/d", &SqlTls::default()).unwrap(),
            "postgres://u@h/d"
        );
        let missing = SqlTls {
            ca_cert_file: dir.join("missing.crt").display().to_string(),
            verify_identity: false,
        };
        let err = diego_url_with_tls("mysql", "u@tcp(h)/db", &missing).unwrap_err();
        assert!(format!("{err:#}").contains("sql_ca_cert_file"), "{err:#}");
        let _ = std::fs::remove_dir_all(dir);
    }

    fn tempfile_dir() -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("sqldb-tls-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact("postgres://u:secret@h/db"),
            "postgres://u:REDACTED@h/db"
        );
        assert_eq!(redact_dsn("u:secret@tcp(h)/db"), "u:REDACTED@tcp(h)/db");
    }
}
