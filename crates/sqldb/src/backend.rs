//! The backend trait and its three engines. The state logic of a store is
//! written once against [`Backend`]; each engine runs it on sqlx's native
//! driver for its database.

use crate::connect::{PoolSettings, RawPool};
use crate::stmt::{Arg, Cols, Stmt};
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use futures::{FutureExt, TryFutureExt, TryStreamExt};
use sqlx::error::DatabaseError;

/// Which database a backend talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Flavor {
    Sqlite,
    Postgres,
    MySql,
}

impl Flavor {
    /// "sqlite", "postgres" or "mysql" (Diego's `database_driver` names).
    pub fn name(self) -> &'static str {
        match self {
            Flavor::Sqlite => "sqlite",
            Flavor::Postgres => "postgres",
            Flavor::MySql => "mysql",
        }
    }

    /// The flavor of a URL as `connect` accepts them.
    pub fn of_url(url: &str) -> Option<Flavor> {
        if url.starts_with("sqlite:") {
            Some(Flavor::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Flavor::Postgres)
        } else if url.starts_with("mysql://") || url.starts_with("mariadb://") {
            Some(Flavor::MySql)
        } else {
            None
        }
    }
}

/// How a database error should be reported (and whether to retry).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Unique-key violation.
    Exists,
    /// Deadlock, serialization failure, lock timeout or a busy database:
    /// run the transaction again.
    Retry,
    /// Value too long for its column.
    BadRequest,
    /// Missing table and the like.
    Unrecoverable,
    /// Anything else.
    Other,
}

/// One database engine. Everything a store's SQL needs that differs
/// between databases is here; the rest is plain SQL with `?` placeholders.
pub trait Backend: Send + Sync + Sized + 'static {
    type Db: sqlx::Database<Connection = Self::Conn, Row = Self::Row>;
    type Conn: sqlx::Connection<Database = Self::Db> + Send;
    type Row: Cols + Send + Sync + Unpin + 'static;

    const FLAVOR: Flavor;

    /// Appended to a SELECT whose rows the transaction will change.
    const LOCK_ROWS: &'static str;

    /// Must this process run its write transactions one at a time (the
    /// database has no row locks)?
    const SERIALIZE_WRITERS: bool;

    /// `sql` (with `?` placeholders) in this backend's placeholder syntax.
    fn rebind(sql: &str) -> String {
        sql.to_string()
    }

    /// A statement for `sql` written with `?` placeholders.
    fn stmt<'a>(sql: &str) -> Stmt<'a> {
        Stmt::new(Self::rebind(sql))
    }

    /// INSERT of `columns` into `table` that overwrites the `update`
    /// columns when a row with the same `key` exists.
    fn upsert(table: &str, columns: &[&str], key: &[&str], update: &[&str]) -> String;

    /// An expression summing the integer expression `expr` as a 64-bit
    /// integer (MySQL's SUM is a DECIMAL).
    fn sum_i64(expr: &str) -> String {
        format!("SUM({expr})")
    }

    /// Classifies a database's error (SQLSTATE, SQLite or MySQL code).
    fn classify_db(err: &dyn DatabaseError) -> ErrorClass;

    fn classify(err: &sqlx::Error) -> ErrorClass {
        match err {
            sqlx::Error::Database(db) => match Self::classify_db(db.as_ref()) {
                ErrorClass::Other if db.is_unique_violation() => ErrorClass::Exists,
                c => c,
            },
            _ => ErrorClass::Other,
        }
    }

    /// Opens a pool for `url` (see `connect`).
    fn connect(
        url: &str,
        settings: &PoolSettings,
    ) -> BoxFuture<'static, anyhow::Result<sqlx::Pool<Self::Db>>>;

    /// The pool as a [`RawPool`] (tools and tests).
    fn raw(pool: &sqlx::Pool<Self::Db>) -> RawPool;

    /// The rows of `stmt`, as they arrive.
    fn fetch<'c, 'a: 'c>(
        conn: &'c mut Self::Conn,
        stmt: &'c Stmt<'a>,
    ) -> BoxStream<'c, Result<Self::Row, sqlx::Error>>;

    fn fetch_all<'c, 'a: 'c>(
        conn: &'c mut Self::Conn,
        stmt: &'c Stmt<'a>,
    ) -> BoxFuture<'c, Result<Vec<Self::Row>, sqlx::Error>> {
        Self::fetch(conn, stmt).try_collect().boxed()
    }

    fn fetch_optional<'c, 'a: 'c>(
        conn: &'c mut Self::Conn,
        stmt: &'c Stmt<'a>,
    ) -> BoxFuture<'c, Result<Option<Self::Row>, sqlx::Error>>;

    /// Runs `stmt`; the number of rows it changed.
    fn execute<'c, 'a: 'c>(
        conn: &'c mut Self::Conn,
        stmt: &'c Stmt<'a>,
    ) -> BoxFuture<'c, Result<u64, sqlx::Error>>;

    /// Runs SQL text as it is, unprepared (DDL; no arguments).
    fn execute_raw<'c>(
        conn: &'c mut Self::Conn,
        sql: &'c str,
    ) -> BoxFuture<'c, Result<(), sqlx::Error>>;
}

/// Binds a statement's arguments with the backend's own types.
macro_rules! native_query {
    ($db:ty, $stmt:expr) => {{
        let stmt = $stmt;
        let mut q = sqlx::query::<$db>(&stmt.sql).persistent(stmt.persistent);
        for a in &stmt.args {
            q = match a {
                Arg::Str(s) => q.bind(s.as_ref()),
                Arg::I32(v) => q.bind(*v),
                Arg::I64(v) => q.bind(*v),
                Arg::Bool(v) => q.bind(*v),
            };
        }
        q
    }};
}

/// The executor methods, the same text for each engine (each compiles
/// against its own driver's types). They go through sqlx's `Executor`
/// methods, which already return boxed futures and streams.
macro_rules! executor {
    ($db:ty) => {
        fn fetch<'c, 'a: 'c>(
            conn: &'c mut Self::Conn,
            stmt: &'c Stmt<'a>,
        ) -> BoxStream<'c, Result<Self::Row, sqlx::Error>> {
            sqlx::Executor::fetch(conn, native_query!($db, stmt))
        }

        fn fetch_optional<'c, 'a: 'c>(
            conn: &'c mut Self::Conn,
            stmt: &'c Stmt<'a>,
        ) -> BoxFuture<'c, Result<Option<Self::Row>, sqlx::Error>> {
            sqlx::Executor::fetch_optional(conn, native_query!($db, stmt))
        }

        fn execute<'c, 'a: 'c>(
            conn: &'c mut Self::Conn,
            stmt: &'c Stmt<'a>,
        ) -> BoxFuture<'c, Result<u64, sqlx::Error>> {
            sqlx::Executor::execute(conn, native_query!($db, stmt))
                .map_ok(|r| r.rows_affected())
                .boxed()
        }

        fn execute_raw<'c>(
            conn: &'c mut Self::Conn,
            sql: &'c str,
        ) -> BoxFuture<'c, Result<(), sqlx::Error>> {
            sqlx::Executor::execute(conn, sqlx::raw_sql(sql))
                .map_ok(|_| ())
                .boxed()
        }
    };
}

/// `INSERT ... ON CONFLICT (key) DO UPDATE SET col = excluded.col`
/// (PostgreSQL and SQLite).
fn on_conflict_upsert(table: &str, columns: &[&str], key: &[&str], update: &[&str]) -> String {
    let placeholders = vec!["?"; columns.len()].join(", ");
    let sets: Vec<String> = update
        .iter()
        .map(|c| format!("{c} = excluded.{c}"))
        .collect();
    format!(
        "INSERT INTO {table} ({}) VALUES ({placeholders}) ON CONFLICT ({}) DO UPDATE SET {}",
        columns.join(", "),
        key.join(", "),
        sets.join(", ")
    )
}

/// SQLite: the embedded default. One database file in WAL mode; readers
/// run concurrently, a store's writers one at a time (so SQLITE_BUSY never
/// reaches its callers). A file must be used by a single store process.
pub struct Sqlite;

impl Backend for Sqlite {
    type Db = sqlx::Sqlite;
    type Conn = sqlx::SqliteConnection;
    type Row = sqlx::sqlite::SqliteRow;
    const FLAVOR: Flavor = Flavor::Sqlite;
    // No row locks: the store runs one write transaction at a time.
    const LOCK_ROWS: &'static str = "";
    const SERIALIZE_WRITERS: bool = true;

    fn upsert(table: &str, columns: &[&str], key: &[&str], update: &[&str]) -> String {
        on_conflict_upsert(table, columns, key, update)
    }

    fn classify_db(err: &dyn DatabaseError) -> ErrorClass {
        // Extended result codes: the low byte is the primary code.
        let Some(n) = err.code().and_then(|c| c.parse::<i32>().ok()) else {
            return ErrorClass::Other;
        };
        match n {
            // SQLITE_CONSTRAINT_PRIMARYKEY, SQLITE_CONSTRAINT_UNIQUE
            1555 | 2067 => ErrorClass::Exists,
            // SQLITE_TOOBIG
            18 => ErrorClass::BadRequest,
            _ => match n & 0xff {
                // SQLITE_BUSY, SQLITE_LOCKED
                5 | 6 => ErrorClass::Retry,
                _ => ErrorClass::Other,
            },
        }
    }

    fn connect(
        url: &str,
        settings: &PoolSettings,
    ) -> BoxFuture<'static, anyhow::Result<sqlx::Pool<Self::Db>>> {
        crate::connect::sqlite_pool(url.to_string(), settings.clone()).boxed()
    }

    fn raw(pool: &sqlx::Pool<Self::Db>) -> RawPool {
        RawPool::Sqlite(pool.clone())
    }

    executor!(sqlx::Sqlite);
}

/// PostgreSQL: row locks (`SELECT ... FOR UPDATE`) serialize concurrent
/// changes of one record; everything else runs in parallel.
pub struct Postgres;

impl Backend for Postgres {
    type Db = sqlx::Postgres;
    type Conn = sqlx::PgConnection;
    type Row = sqlx::postgres::PgRow;
    const FLAVOR: Flavor = Flavor::Postgres;
    const LOCK_ROWS: &'static str = " FOR UPDATE";
    const SERIALIZE_WRITERS: bool = false;

    fn rebind(sql: &str) -> String {
        // `?` → `$1, $2, ...` (our SQL has no `?` inside string literals),
        // as Diego's RebindForFlavor does.
        let mut out = String::with_capacity(sql.len() + 16);
        let mut n = 0;
        for ch in sql.chars() {
            if ch == '?' {
                n += 1;
                out.push('$');
                out.push_str(&n.to_string());
            } else {
                out.push(ch);
            }
        }
        out
    }

    fn upsert(table: &str, columns: &[&str], key: &[&str], update: &[&str]) -> String {
        on_conflict_upsert(table, columns, key, update)
    }

    fn classify_db(err: &dyn DatabaseError) -> ErrorClass {
        match err.code().as_deref() {
            Some("23505") => ErrorClass::Exists,
            // deadlock_detected, serialization_failure, lock_not_available
            Some("40P01" | "40001" | "55P03") => ErrorClass::Retry,
            // string_data_right_truncation
            Some("22001") => ErrorClass::BadRequest,
            // undefined_table
            Some("42P01") => ErrorClass::Unrecoverable,
            _ => ErrorClass::Other,
        }
    }

    fn connect(
        url: &str,
        settings: &PoolSettings,
    ) -> BoxFuture<'static, anyhow::Result<sqlx::Pool<Self::Db>>> {
        crate::connect::postgres_pool(url.to_string(), settings.clone()).boxed()
    }

    fn raw(pool: &sqlx::Pool<Self::Db>) -> RawPool {
        RawPool::Postgres(pool.clone())
    }

    executor!(sqlx::Postgres);
}

/// MySQL and MariaDB (Diego's default store in cf-deployment): InnoDB row
/// locks as on PostgreSQL.
pub struct MySql;

impl Backend for MySql {
    type Db = sqlx::MySql;
    type Conn = sqlx::MySqlConnection;
    type Row = sqlx::mysql::MySqlRow;
    const FLAVOR: Flavor = Flavor::MySql;
    const LOCK_ROWS: &'static str = " FOR UPDATE";
    const SERIALIZE_WRITERS: bool = false;

    fn upsert(table: &str, columns: &[&str], _key: &[&str], update: &[&str]) -> String {
        let placeholders = vec!["?"; columns.len()].join(", ");
        let sets: Vec<String> = update
            .iter()
            .map(|c| format!("{c} = VALUES({c})"))
            .collect();
        format!(
            "INSERT INTO {table} ({}) VALUES ({placeholders}) ON DUPLICATE KEY UPDATE {}",
            columns.join(", "),
            sets.join(", ")
        )
    }

    fn sum_i64(expr: &str) -> String {
        format!("CAST(SUM({expr}) AS SIGNED)")
    }

    fn classify_db(err: &dyn DatabaseError) -> ErrorClass {
        // Diego's numbers (db/sqldb/helpers/errors.go), plus lock wait
        // timeouts, which a second attempt usually gets past.
        let Some(my) = err.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() else {
            return ErrorClass::Other;
        };
        match my.number() {
            1062 => ErrorClass::Exists,
            1213 | 1205 => ErrorClass::Retry,
            1406 => ErrorClass::BadRequest,
            1146 => ErrorClass::Unrecoverable,
            _ => ErrorClass::Other,
        }
    }

    fn connect(
        url: &str,
        settings: &PoolSettings,
    ) -> BoxFuture<'static, anyhow::Result<sqlx::Pool<Self::Db>>> {
        crate::connect::mysql_pool(url.to_string(), settings.clone()).boxed()
    }

    fn raw(pool: &sqlx::Pool<Self::Db>) -> RawPool {
        RawPool::MySql(pool.clone())
    }

    executor!(sqlx::MySql);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rebinds_placeholders_for_postgres_only() {
        let sql = "SELECT a FROM t WHERE b = ? AND c IN (?, ?)";
        assert_eq!(
            Postgres::rebind(sql),
            "SELECT a FROM t WHERE b = $1 AND c IN ($2, $3)"
        );
        assert_eq!(Sqlite::rebind(sql), sql);
        assert_eq!(MySql::rebind(sql), sql);
    }

    #[test]
    fn upserts_per_flavor() {
        let cols = ["id", "value"];
        assert_eq!(
            Postgres::upsert("configurations", &cols, &["id"], &["value"]),
            "INSERT INTO configurations (id, value) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET \
             value = excluded.value"
        );
        assert_eq!(
            MySql::upsert("configurations", &cols, &["id"], &["value"]),
            "INSERT INTO configurations (id, value) VALUES (?, ?) ON DUPLICATE KEY UPDATE \
             value = VALUES(value)"
        );
    }

    #[test]
    fn flavors_of_urls() {
        assert_eq!(Flavor::of_url("sqlite:///x.db"), Some(Flavor::Sqlite));
        assert_eq!(Flavor::of_url("postgresql://h/db"), Some(Flavor::Postgres));
        assert_eq!(Flavor::of_url("mariadb://h/db"), Some(Flavor::MySql));
        assert_eq!(Flavor::of_url("/x.db"), None);
    }
}
