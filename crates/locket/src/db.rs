//! The `locks` table, as Diego's locket keeps it (`db/queries.go`,
//! `db/lock_db.go`), over SQLite, PostgreSQL or MySQL/MariaDB, each on
//! sqlx's native driver through [`sqldb::Backend`].
//!
//! Every operation is one transaction. On PostgreSQL and MySQL the row an
//! operation may change is read `FOR UPDATE`; two writers racing to create
//! the same row make one of them hit the primary key, and that transaction
//! is run again (it then sees the other's row). On SQLite the write
//! transactions of this process run one at a time.

use crate::errors::LocketError;
use crate::proto::{Resource, TypeCode};
use anyhow::Context as _;
use async_trait::async_trait;
use sqldb::{Backend, Cols, Flavor, MySql, PoolSettings, Postgres, RawPool, Sqlite, Stmt};
use std::sync::Arc;
use std::time::Duration;

/// A row of `locks`: the resource plus its bookkeeping.
#[derive(Debug, Clone, PartialEq)]
pub struct Lock {
    pub resource: Resource,
    pub ttl_in_seconds: i64,
    /// Bumped by every successful Lock.
    pub modified_index: i64,
    /// Fixed while the row exists; new when the row is created again.
    pub modified_id: String,
}

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS locks (
    path VARCHAR(255) PRIMARY KEY,
    owner VARCHAR(255),
    value VARCHAR(4096),
    type VARCHAR(255) DEFAULT '',
    modified_index BIGINT DEFAULT 0,
    modified_id VARCHAR(255) DEFAULT '',
    ttl BIGINT DEFAULT 0
)";

const ATTEMPTS: u32 = 3;

/// The lock store: one [`Locks`] engine on the backend the URL names.
#[derive(Clone)]
pub struct LockDb {
    inner: Arc<dyn Locks>,
}

impl std::fmt::Debug for LockDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LockDb")
            .field("backend", &self.backend_name())
            .finish()
    }
}

/// The string type stored in the `type` column for a type code (Diego's
/// `GetType`): "lock", "presence", or the resource's own string.
pub fn type_name(resource: &Resource) -> String {
    match TypeCode::try_from(resource.type_code) {
        Ok(TypeCode::Lock) => LOCK_TYPE.to_string(),
        Ok(TypeCode::Presence) => PRESENCE_TYPE.to_string(),
        _ =>
        {
            #[allow(deprecated)]
            resource.r#type.clone()
        }
    }
}

/// The type code for a stored type string (Diego's `GetTypeCode`).
pub fn type_code(type_name: &str) -> TypeCode {
    match type_name {
        LOCK_TYPE => TypeCode::Lock,
        PRESENCE_TYPE => TypeCode::Presence,
        _ => TypeCode::Unknown,
    }
}

pub const LOCK_TYPE: &str = "lock";
pub const PRESENCE_TYPE: &str = "presence";

/// A resource with both its type forms filled in (Diego's `GetResource`).
#[allow(deprecated)]
pub fn normalize(resource: &Resource) -> Resource {
    let mut r = Resource {
        key: resource.key.clone(),
        owner: resource.owner.clone(),
        value: resource.value.clone(),
        ..Default::default()
    };
    if resource.type_code == TypeCode::Unknown as i32 {
        r.type_code = type_code(&resource.r#type) as i32;
        r.r#type = resource.r#type.clone();
    } else {
        r.type_code = resource.type_code;
        r.r#type = type_name(resource);
    }
    r
}

#[allow(deprecated)]
fn stored_resource(key: String, owner: String, value: String, ty: String) -> Resource {
    Resource {
        key,
        owner,
        value,
        type_code: type_code(&ty) as i32,
        r#type: ty,
    }
}

fn sqlite_url(raw: &str) -> String {
    if raw.starts_with("sqlite:") {
        raw.to_string()
    } else {
        format!("sqlite://{raw}")
    }
}

impl LockDb {
    /// Connects to `url` (`sqlite:///path`, a bare SQLite file path,
    /// `postgres://...` or `mysql://...`) and creates the `locks` table if
    /// needed.
    pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<LockDb> {
        let url = match Flavor::of_url(url) {
            Some(_) => url.to_string(),
            None => sqlite_url(url),
        };
        let inner: Arc<dyn Locks> = match Flavor::of_url(&url) {
            Some(Flavor::Postgres) => {
                Arc::new(SqlLocks::<Postgres>::open(&url, max_connections).await?)
            }
            Some(Flavor::MySql) => Arc::new(SqlLocks::<MySql>::open(&url, max_connections).await?),
            _ => Arc::new(SqlLocks::<Sqlite>::open(&url, max_connections).await?),
        };
        Ok(LockDb { inner })
    }

    /// "sqlite", "postgres" or "mysql".
    pub fn backend_name(&self) -> &'static str {
        self.inner.backend_name()
    }

    /// The pool, for tests and tools that look at raw rows.
    pub fn raw(&self) -> RawPool {
        self.inner.raw()
    }

    /// Takes or refreshes `resource` for its owner. Another non-empty owner
    /// holding the key → `LockCollision`. Returns the row as written.
    pub async fn lock(&self, resource: &Resource, ttl: i64) -> Result<Lock, LocketError> {
        self.inner.lock(resource, ttl).await
    }

    /// Deletes the key if `resource.owner` holds it. A missing key is not
    /// an error (Diego's behaviour); another owner → `LockCollision`.
    pub async fn release(&self, resource: &Resource) -> Result<(), LocketError> {
        self.inner.release(resource).await
    }

    /// The row for `key`; missing or ownerless → `ResourceNotFound`.
    pub async fn fetch(&self, key: &str) -> Result<Lock, LocketError> {
        self.inner.fetch(key).await
    }

    /// All owned rows, of `type_name` unless it is empty. Ordered by key.
    pub async fn fetch_all(&self, type_name: &str) -> Result<Vec<Lock>, LocketError> {
        self.inner.fetch_all(type_name).await
    }

    /// Number of owned rows of `type_name` (all types when empty).
    pub async fn count(&self, type_name: &str) -> Result<usize, LocketError> {
        Ok(self.fetch_all(type_name).await?.len())
    }

    /// Deletes the row if it is still exactly `lock` (same owner,
    /// modified_id and modified_index). Ok(true) when deleted, Ok(false)
    /// when already gone, `LockCollision` when it changed.
    pub async fn fetch_and_release(&self, lock: &Lock) -> Result<bool, LocketError> {
        self.inner.fetch_and_release(lock).await
    }
}

/// The lock store's operations on one backend.
#[async_trait]
trait Locks: Send + Sync {
    fn backend_name(&self) -> &'static str;
    fn raw(&self) -> RawPool;
    async fn lock(&self, resource: &Resource, ttl: i64) -> Result<Lock, LocketError>;
    async fn release(&self, resource: &Resource) -> Result<(), LocketError>;
    async fn fetch(&self, key: &str) -> Result<Lock, LocketError>;
    async fn fetch_all(&self, type_name: &str) -> Result<Vec<Lock>, LocketError>;
    async fn fetch_and_release(&self, lock: &Lock) -> Result<bool, LocketError>;
}

struct SqlLocks<B: Backend> {
    pool: sqlx::Pool<B::Db>,
    write_lock: Option<tokio::sync::Mutex<()>>,
}

const ROW_COLUMNS: &str = "owner, value, type, modified_index, modified_id, ttl";

impl<B: Backend> SqlLocks<B> {
    async fn open(url: &str, max_connections: u32) -> anyhow::Result<Self> {
        let pool = B::connect(url, &PoolSettings::new(max_connections))
            .await
            .context("connecting to the locket database")?;
        let mut conn = pool.acquire().await?;
        B::execute_raw(&mut conn, SCHEMA)
            .await
            .context("creating the locks table")?;
        drop(conn);
        Ok(SqlLocks {
            pool,
            write_lock: B::SERIALIZE_WRITERS.then(|| tokio::sync::Mutex::new(())),
        })
    }

    /// Runs `f` in a transaction; commit on Ok, rollback on Err; runs it
    /// again on a key collision or a serialization failure.
    async fn transact<T, F>(&self, f: F) -> Result<T, LocketError>
    where
        F: for<'c> Fn(&'c mut B::Conn) -> futures::future::BoxFuture<'c, Result<T, LocketError>>,
    {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let _guard = match &self.write_lock {
                Some(l) => Some(l.lock().await),
                None => None,
            };
            let res = match self.pool.begin().await {
                Err(e) => Err(db_err::<B>(e)),
                Ok(mut tx) => match f(&mut tx).await {
                    Ok(v) => tx.commit().await.map(|_| v).map_err(db_err::<B>),
                    Err(e) => {
                        let _ = tx.rollback().await;
                        Err(e)
                    }
                },
            };
            match res {
                Err(LocketError::Retry(_)) if attempt < ATTEMPTS => {
                    drop(_guard);
                    tokio::time::sleep(Duration::from_millis(10 * u64::from(attempt))).await;
                }
                Err(LocketError::Retry(m)) => break Err(LocketError::Database(m)),
                other => break other,
            }
        }
    }
}

/// A driver error as a locket error: conflicts are retried.
fn db_err<B: Backend>(e: sqlx::Error) -> LocketError {
    match (&e, B::classify(&e)) {
        (sqlx::Error::Database(db), sqldb::ErrorClass::Exists | sqldb::ErrorClass::Retry) => {
            LocketError::Retry(format!("database conflict: {}", db.message()))
        }
        (sqlx::Error::Database(db), _) => {
            LocketError::Database(format!("database error: {}", db.message()))
        }
        _ => LocketError::Database(format!("database error: {e}")),
    }
}

async fn fetch_row<B: Backend>(
    conn: &mut B::Conn,
    key: &str,
    lock_row: bool,
) -> Result<Option<Lock>, LocketError> {
    let stmt = B::stmt(&format!(
        "SELECT {ROW_COLUMNS} FROM locks WHERE path = ?{}",
        if lock_row { B::LOCK_ROWS } else { "" }
    ))
    .bind(key);
    let row = B::fetch_optional(conn, &stmt).await.map_err(db_err::<B>)?;
    let Some(row) = row else { return Ok(None) };
    Ok(Some(Lock {
        resource: stored_resource(key.to_string(), s(&row, 0)?, s(&row, 1)?, s(&row, 2)?),
        modified_index: n(&row, 3)?,
        modified_id: s(&row, 4)?,
        ttl_in_seconds: n(&row, 5)?,
    }))
}

async fn exec<B: Backend>(conn: &mut B::Conn, stmt: &Stmt<'_>) -> Result<(), LocketError> {
    B::execute(conn, stmt).await.map_err(db_err::<B>)?;
    Ok(())
}

#[async_trait]
impl<B: Backend> Locks for SqlLocks<B> {
    fn backend_name(&self) -> &'static str {
        B::FLAVOR.name()
    }

    fn raw(&self) -> RawPool {
        B::raw(&self.pool)
    }

    async fn lock(&self, resource: &Resource, ttl: i64) -> Result<Lock, LocketError> {
        let resource = resource.clone();
        self.transact(move |conn| {
            let resource = resource.clone();
            Box::pin(async move {
                let existing = fetch_row::<B>(conn, &resource.key, true).await?;
                if let Some(e) = &existing {
                    if e.resource.owner != resource.owner && !e.resource.owner.is_empty() {
                        return Err(LocketError::LockCollision);
                    }
                }
                let (index, id) = match &existing {
                    Some(e) => (e.modified_index + 1, e.modified_id.clone()),
                    None => (1, String::new()),
                };
                let id = if id.is_empty() {
                    uuid::Uuid::new_v4().to_string()
                } else {
                    id
                };
                let lock = Lock {
                    resource: normalize(&resource),
                    ttl_in_seconds: ttl,
                    modified_index: index,
                    modified_id: id,
                };
                #[allow(deprecated)]
                let ty = lock.resource.r#type.as_str();
                let sql = if existing.is_none() {
                    "INSERT INTO locks (owner, value, type, modified_index, modified_id, ttl, path) \
                     VALUES (?, ?, ?, ?, ?, ?, ?)"
                } else {
                    "UPDATE locks SET owner = ?, value = ?, type = ?, modified_index = ?, \
                     modified_id = ?, ttl = ? WHERE path = ?"
                };
                let stmt = B::stmt(sql)
                    .bind(lock.resource.owner.as_str())
                    .bind(lock.resource.value.as_str())
                    .bind(ty)
                    .bind(lock.modified_index)
                    .bind(lock.modified_id.as_str())
                    .bind(lock.ttl_in_seconds)
                    .bind(lock.resource.key.as_str());
                exec::<B>(conn, &stmt).await?;
                Ok(lock)
            })
        })
        .await
    }

    async fn release(&self, resource: &Resource) -> Result<(), LocketError> {
        let resource = resource.clone();
        self.transact(move |conn| {
            let resource = resource.clone();
            Box::pin(async move {
                let Some(existing) = fetch_row::<B>(conn, &resource.key, true).await? else {
                    return Ok(());
                };
                if existing.resource.owner != resource.owner {
                    return Err(LocketError::LockCollision);
                }
                let stmt = B::stmt("DELETE FROM locks WHERE path = ?").bind(resource.key.as_str());
                exec::<B>(conn, &stmt).await
            })
        })
        .await
    }

    async fn fetch(&self, key: &str) -> Result<Lock, LocketError> {
        let key = key.to_string();
        self.transact(move |conn| {
            let key = key.clone();
            Box::pin(async move {
                match fetch_row::<B>(conn, &key, false).await? {
                    Some(l) if !l.resource.owner.is_empty() => Ok(l),
                    _ => Err(LocketError::ResourceNotFound),
                }
            })
        })
        .await
    }

    async fn fetch_all(&self, type_name: &str) -> Result<Vec<Lock>, LocketError> {
        let type_name = type_name.to_string();
        self.transact(move |conn| {
            let type_name = type_name.clone();
            Box::pin(async move {
                let mut sql = format!("SELECT path, {ROW_COLUMNS} FROM locks");
                if !type_name.is_empty() {
                    sql.push_str(" WHERE type = ?");
                }
                sql.push_str(" ORDER BY path");
                let mut stmt = B::stmt(&sql);
                if !type_name.is_empty() {
                    stmt = stmt.bind(type_name.as_str());
                }
                let rows = B::fetch_all(conn, &stmt).await.map_err(db_err::<B>)?;
                let mut out = Vec::with_capacity(rows.len());
                for row in rows {
                    let owner = s(&row, 1)?;
                    if owner.is_empty() {
                        continue;
                    }
                    out.push(Lock {
                        resource: stored_resource(s(&row, 0)?, owner, s(&row, 2)?, s(&row, 3)?),
                        modified_index: n(&row, 4)?,
                        modified_id: s(&row, 5)?,
                        ttl_in_seconds: n(&row, 6)?,
                    });
                }
                Ok(out)
            })
        })
        .await
    }

    async fn fetch_and_release(&self, lock: &Lock) -> Result<bool, LocketError> {
        let lock = lock.clone();
        self.transact(move |conn| {
            let lock = lock.clone();
            Box::pin(async move {
                let Some(current) = fetch_row::<B>(conn, &lock.resource.key, true).await? else {
                    return Ok(false);
                };
                if current.resource.owner != lock.resource.owner
                    || current.modified_id != lock.modified_id
                    || current.modified_index != lock.modified_index
                {
                    return Err(LocketError::LockCollision);
                }
                let stmt =
                    B::stmt("DELETE FROM locks WHERE path = ?").bind(lock.resource.key.as_str());
                exec::<B>(conn, &stmt).await?;
                Ok(true)
            })
        })
        .await
    }
}

fn s<R: Cols>(row: &R, i: usize) -> Result<String, LocketError> {
    row.str(i)
        .map_err(|e| LocketError::Database(format!("database error: {e}")))
}

fn n<R: Cols>(row: &R, i: usize) -> Result<i64, LocketError> {
    row.i64(i)
        .map_err(|e| LocketError::Database(format!("database error: {e}")))
}
