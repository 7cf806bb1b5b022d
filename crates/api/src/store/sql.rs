//! [`Store`] on one SQL backend (through `sqldb`, sqlx's native drivers).

use super::schema::{statement, CREATE_MIGRATIONS_TABLE, MIGRATIONS, SCHEMA_VERSION};
use super::*;
use anyhow::Context as _;
use sqldb::{Backend, Cols, ErrorClass, PoolSettings, Stmt};

pub struct SqlStore<B: Backend> {
    pool: sqlx::Pool<B::Db>,
    /// SQLite has no row locks: this process's writers take turns.
    write_lock: Option<tokio::sync::Mutex<()>>,
}

const COLUMNS: &str = "guid, app_guid, name, version, created_at, doc";

fn db_err<B: Backend>(e: sqlx::Error) -> StoreError {
    match (&e, B::classify(&e)) {
        (sqlx::Error::Database(db), ErrorClass::Exists) => StoreError::Exists(db.message().into()),
        _ => StoreError::Db(e.to_string()),
    }
}

/// Absent names and versions are stored as "" and 0 (sqldb binds no
/// NULLs; the unique indexes are on tables where both are always set).
fn row_of<R: Cols>(r: &R) -> Result<Row, sqlx::Error> {
    let name = r.str(2)?;
    let version = r.i64(3)?;
    Ok(Row {
        guid: r.str(0)?,
        app_guid: r.str(1)?,
        name: (!name.is_empty()).then_some(name),
        version: (version != 0).then_some(version),
        created_at: r.i64(4)?,
        doc: r.str(5)?,
    })
}

impl<B: Backend> SqlStore<B> {
    pub async fn open(url: &str, max_connections: u32) -> anyhow::Result<Self> {
        let pool = B::connect(url, &PoolSettings::new(max_connections))
            .await
            .context("connecting to the api database")?;
        let store = SqlStore {
            pool,
            write_lock: B::SERIALIZE_WRITERS.then(|| tokio::sync::Mutex::new(())),
        };
        store.migrate().await?;
        Ok(store)
    }

    async fn migrate(&self) -> anyhow::Result<()> {
        let _guard = self.writer().await;
        let mut conn = self.pool.acquire().await?;
        B::execute_raw(&mut conn, CREATE_MIGRATIONS_TABLE)
            .await
            .context("creating schema_migrations")?;
        let done = self.applied(&mut conn).await?;
        if let Some(&newest) = done.iter().max() {
            anyhow::ensure!(
                newest <= SCHEMA_VERSION,
                "the api database is at schema version {newest}, newer than this \
                 release's {SCHEMA_VERSION}: run a newer diego"
            );
        }
        drop(conn);
        for (version, name, statements) in MIGRATIONS {
            if done.contains(version) {
                continue;
            }
            let mut tx = self.pool.begin().await?;
            for sql in *statements {
                B::execute_raw(&mut tx, &statement(B::FLAVOR, sql))
                    .await
                    .with_context(|| format!("migration {version} {name}"))?;
            }
            let stmt = B::stmt("INSERT INTO schema_migrations (version, name) VALUES (?, ?)")
                .bind(*version)
                .bind(*name);
            B::execute(&mut tx, &stmt).await?;
            tx.commit().await?;
            tracing::info!(version, name, "api database migrated");
        }
        Ok(())
    }

    async fn applied(&self, conn: &mut B::Conn) -> anyhow::Result<Vec<i64>> {
        let rows = B::fetch_all(conn, &B::stmt("SELECT version FROM schema_migrations")).await?;
        rows.iter()
            .map(|r| r.i64(0))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }

    async fn writer(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        match &self.write_lock {
            Some(l) => Some(l.lock().await),
            None => None,
        }
    }
}

fn put_stmt<'a, B: Backend>(kind: Kind, row: &'a Row) -> Stmt<'a> {
    let sql = B::upsert(
        kind.table(),
        &["guid", "app_guid", "name", "version", "created_at", "doc"],
        &["guid"],
        &["app_guid", "name", "version", "doc"],
    );
    B::stmt(&sql)
        .bind(&row.guid)
        .bind(&row.app_guid)
        .bind(row.name.as_deref().unwrap_or(""))
        .bind(row.version.unwrap_or(0))
        .bind(row.created_at)
        .bind(&row.doc)
}

#[async_trait]
impl<B: Backend> Store for SqlStore<B> {
    fn backend_name(&self) -> &'static str {
        B::FLAVOR.name()
    }

    async fn schema_version(&self) -> StoreResult<i64> {
        let mut conn = self.pool.acquire().await.map_err(db_err::<B>)?;
        let rows = self
            .applied(&mut conn)
            .await
            .map_err(|e| StoreError::Db(e.to_string()))?;
        Ok(rows.into_iter().max().unwrap_or(0))
    }

    async fn get(&self, kind: Kind, guid: &str) -> StoreResult<Option<Row>> {
        let mut conn = self.pool.acquire().await.map_err(db_err::<B>)?;
        let sql = format!("SELECT {COLUMNS} FROM {} WHERE guid = ?", kind.table());
        let stmt = B::stmt(&sql).bind(guid);
        let row = B::fetch_optional(&mut conn, &stmt)
            .await
            .map_err(db_err::<B>)?;
        row.map(|r| row_of(&r).map_err(db_err::<B>)).transpose()
    }

    async fn list(&self, kind: Kind, filter: &Filter) -> StoreResult<Vec<Row>> {
        let mut conn = self.pool.acquire().await.map_err(db_err::<B>)?;
        let mut wheres = Vec::new();
        let mut args: Vec<&str> = Vec::new();
        if let Some(a) = &filter.app_guid {
            wheres.push("app_guid = ?");
            args.push(a);
        }
        if let Some(n) = &filter.name {
            wheres.push("name = ?");
            args.push(n);
        }
        let mut sql = format!("SELECT {COLUMNS} FROM {}", kind.table());
        if !wheres.is_empty() {
            sql.push_str(" WHERE ");
            sql.push_str(&wheres.join(" AND "));
        }
        sql.push_str(" ORDER BY created_at, guid");
        let mut stmt = B::stmt(&sql);
        for a in args {
            stmt = stmt.bind(a);
        }
        let rows = B::fetch_all(&mut conn, &stmt).await.map_err(db_err::<B>)?;
        rows.iter()
            .map(|r| row_of(r).map_err(db_err::<B>))
            .collect()
    }

    async fn apply(&self, changes: &[Change]) -> StoreResult<()> {
        let _guard = self.writer().await;
        let mut tx = self.pool.begin().await.map_err(db_err::<B>)?;
        for change in changes {
            let result = match change {
                Change::Put(kind, row) => {
                    let stmt = put_stmt::<B>(*kind, row);
                    B::execute(&mut tx, &stmt).await
                }
                Change::Delete(kind, guid) => {
                    let sql = format!("DELETE FROM {} WHERE guid = ?", kind.table());
                    B::execute(&mut tx, &B::stmt(&sql).bind(guid)).await
                }
                Change::DeleteApp(kind, app) => {
                    let sql = format!("DELETE FROM {} WHERE app_guid = ?", kind.table());
                    B::execute(&mut tx, &B::stmt(&sql).bind(app)).await
                }
            };
            if let Err(e) = result {
                let _ = tx.rollback().await;
                return Err(db_err::<B>(e));
            }
        }
        tx.commit().await.map_err(db_err::<B>)
    }
}
