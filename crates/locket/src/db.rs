//! The `locks` table, as Diego's locket keeps it, over SQLite or
//! PostgreSQL (sqlx `Any`).
//!
//! Every operation is one transaction. On PostgreSQL the row an operation
//! may change is read `FOR UPDATE`; two writers racing to create the same
//! row make one of them hit the primary key, and that transaction is run
//! again (it then sees the other's row). On SQLite the write transactions
//! of this process run one at a time.

use crate::errors::LocketError;
use crate::proto::{Resource, TypeCode};
use anyhow::Context as _;
use sqlx::any::AnyPoolOptions;
use sqlx::{AnyConnection, AnyPool, Executor, Row};
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
}

/// The lock store.
#[derive(Clone)]
pub struct LockDb {
    pool: AnyPool,
    backend: Backend,
    write_lock: Option<Arc<tokio::sync::Mutex<()>>>,
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
    let url = if raw.starts_with("sqlite:") {
        raw.to_string()
    } else {
        format!("sqlite://{raw}")
    };
    if url.contains(":memory:") || url.contains("mode=") {
        url
    } else if url.contains('?') {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    }
}

impl LockDb {
    /// Connects to `url` (`sqlite:///path`, a bare SQLite file path, or
    /// `postgres://...`) and creates the `locks` table if needed.
    pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<LockDb> {
        sqlx::any::install_default_drivers();
        let (backend, url) = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            (Backend::Postgres, url.to_string())
        } else {
            (Backend::Sqlite, sqlite_url(url))
        };
        let mut max = max_connections.max(1);
        if url.contains(":memory:") {
            max = 1;
        }
        let pool = AnyPoolOptions::new()
            .max_connections(max)
            .acquire_timeout(Duration::from_secs(30))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        conn.execute("PRAGMA busy_timeout = 30000").await?;
                        conn.execute("PRAGMA synchronous = NORMAL").await?;
                    }
                    Ok(())
                })
            })
            .connect(&url)
            .await
            .with_context(|| format!("connecting to the locket database ({url})"))?;
        if backend == Backend::Sqlite && !url.contains(":memory:") {
            pool.execute("PRAGMA journal_mode = WAL")
                .await
                .context("enabling WAL")?;
        }
        pool.execute(SCHEMA)
            .await
            .context("creating the locks table")?;
        Ok(LockDb {
            pool,
            backend,
            write_lock: (backend == Backend::Sqlite).then(|| Arc::new(tokio::sync::Mutex::new(()))),
        })
    }

    /// "sqlite" or "postgres".
    pub fn backend_name(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }

    /// The pool, for tests and tools that look at raw rows.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    fn sql(&self, s: &str) -> String {
        match self.backend {
            Backend::Sqlite => s.to_string(),
            Backend::Postgres => {
                let mut out = String::with_capacity(s.len() + 8);
                let mut n = 0;
                for ch in s.chars() {
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
        }
    }

    fn for_update(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite => "",
            Backend::Postgres => " FOR UPDATE",
        }
    }

    /// Runs `f` in a transaction; commit on Ok, rollback on Err; runs it
    /// again on a key collision or a serialization failure.
    async fn transact<T, F>(&self, f: F) -> Result<T, LocketError>
    where
        F: for<'c> Fn(
            &'c LockDb,
            &'c mut AnyConnection,
        ) -> futures::future::BoxFuture<'c, Result<T, LocketError>>,
    {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let _guard = match &self.write_lock {
                Some(l) => Some(l.lock().await),
                None => None,
            };
            let res = match self.pool.begin().await {
                Err(e) => Err(LocketError::from(e)),
                Ok(mut tx) => match f(self, &mut tx).await {
                    Ok(v) => tx.commit().await.map(|_| v).map_err(LocketError::from),
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

    async fn fetch_row(
        &self,
        conn: &mut AnyConnection,
        key: &str,
        lock_row: bool,
    ) -> Result<Option<Lock>, LocketError> {
        let sql = format!(
            "SELECT owner, value, type, modified_index, modified_id, ttl FROM locks WHERE path = ?{}",
            if lock_row { self.for_update() } else { "" }
        );
        let row = sqlx::query(&self.sql(&sql))
            .bind(key)
            .fetch_optional(&mut *conn)
            .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(Lock {
            resource: stored_resource(
                key.to_string(),
                opt_string(&row, 0)?,
                opt_string(&row, 1)?,
                opt_string(&row, 2)?,
            ),
            modified_index: opt_i64(&row, 3)?,
            modified_id: opt_string(&row, 4)?,
            ttl_in_seconds: opt_i64(&row, 5)?,
        }))
    }

    /// Takes or refreshes `resource` for its owner. Another non-empty owner
    /// holding the key → `LockCollision`. Returns the row as written.
    pub async fn lock(&self, resource: &Resource, ttl: i64) -> Result<Lock, LocketError> {
        let resource = resource.clone();
        self.transact(move |db, conn| {
            let resource = resource.clone();
            Box::pin(async move {
                let existing = db.fetch_row(conn, &resource.key, true).await?;
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
                sqlx::query(&db.sql(sql))
                    .bind(lock.resource.owner.as_str())
                    .bind(lock.resource.value.as_str())
                    .bind(ty)
                    .bind(lock.modified_index)
                    .bind(lock.modified_id.as_str())
                    .bind(lock.ttl_in_seconds)
                    .bind(lock.resource.key.as_str())
                    .execute(&mut *conn)
                    .await?;
                Ok(lock)
            })
        })
        .await
    }

    /// Deletes the key if `resource.owner` holds it. A missing key is not
    /// an error (Diego's behaviour); another owner → `LockCollision`.
    pub async fn release(&self, resource: &Resource) -> Result<(), LocketError> {
        let resource = resource.clone();
        self.transact(move |db, conn| {
            let resource = resource.clone();
            Box::pin(async move {
                let Some(existing) = db.fetch_row(conn, &resource.key, true).await? else {
                    return Ok(());
                };
                if existing.resource.owner != resource.owner {
                    return Err(LocketError::LockCollision);
                }
                sqlx::query(&db.sql("DELETE FROM locks WHERE path = ?"))
                    .bind(resource.key.as_str())
                    .execute(&mut *conn)
                    .await?;
                Ok(())
            })
        })
        .await
    }

    /// The row for `key`; missing or ownerless → `ResourceNotFound`.
    pub async fn fetch(&self, key: &str) -> Result<Lock, LocketError> {
        let key = key.to_string();
        self.transact(move |db, conn| {
            let key = key.clone();
            Box::pin(async move {
                match db.fetch_row(conn, &key, false).await? {
                    Some(l) if !l.resource.owner.is_empty() => Ok(l),
                    _ => Err(LocketError::ResourceNotFound),
                }
            })
        })
        .await
    }

    /// All owned rows, of `type_name` unless it is empty. Ordered by key.
    pub async fn fetch_all(&self, type_name: &str) -> Result<Vec<Lock>, LocketError> {
        let type_name = type_name.to_string();
        self.transact(move |db, conn| {
            let type_name = type_name.clone();
            Box::pin(async move {
                let mut sql = String::from(
                    "SELECT path, owner, value, type, modified_index, modified_id, ttl FROM locks",
                );
                if !type_name.is_empty() {
                    sql.push_str(" WHERE type = ?");
                }
                sql.push_str(" ORDER BY path");
                let sql = db.sql(&sql);
                let mut q = sqlx::query(&sql);
                if !type_name.is_empty() {
                    q = q.bind(type_name.as_str());
                }
                let rows = q.fetch_all(&mut *conn).await?;
                let mut out = Vec::with_capacity(rows.len());
                for row in rows {
                    let owner = opt_string(&row, 1)?;
                    if owner.is_empty() {
                        continue;
                    }
                    out.push(Lock {
                        resource: stored_resource(
                            opt_string(&row, 0)?,
                            owner,
                            opt_string(&row, 2)?,
                            opt_string(&row, 3)?,
                        ),
                        modified_index: opt_i64(&row, 4)?,
                        modified_id: opt_string(&row, 5)?,
                        ttl_in_seconds: opt_i64(&row, 6)?,
                    });
                }
                Ok(out)
            })
        })
        .await
    }

    /// Number of owned rows of `type_name` (all types when empty).
    pub async fn count(&self, type_name: &str) -> Result<usize, LocketError> {
        Ok(self.fetch_all(type_name).await?.len())
    }

    /// Deletes the row if it is still exactly `lock` (same owner,
    /// modified_id and modified_index). Ok(true) when deleted, Ok(false)
    /// when already gone, `LockCollision` when it changed.
    pub async fn fetch_and_release(&self, lock: &Lock) -> Result<bool, LocketError> {
        let lock = lock.clone();
        self.transact(move |db, conn| {
            let lock = lock.clone();
            Box::pin(async move {
                let Some(current) = db.fetch_row(conn, &lock.resource.key, true).await? else {
                    return Ok(false);
                };
                if current.resource.owner != lock.resource.owner
                    || current.modified_id != lock.modified_id
                    || current.modified_index != lock.modified_index
                {
                    return Err(LocketError::LockCollision);
                }
                sqlx::query(&db.sql("DELETE FROM locks WHERE path = ?"))
                    .bind(lock.resource.key.as_str())
                    .execute(&mut *conn)
                    .await?;
                Ok(true)
            })
        })
        .await
    }
}

fn opt_string(row: &sqlx::any::AnyRow, i: usize) -> Result<String, LocketError> {
    Ok(row.try_get::<Option<String>, _>(i)?.unwrap_or_default())
}

fn opt_i64(row: &sqlx::any::AnyRow, i: usize) -> Result<i64, LocketError> {
    Ok(row.try_get::<Option<i64>, _>(i)?.unwrap_or_default())
}
