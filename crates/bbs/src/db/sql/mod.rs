//! `SqlStore`: the BBS `Store` over SQL: SQLite (the embedded default),
//! PostgreSQL and MySQL/MariaDB, each on sqlx's native driver through
//! [`sqldb::Backend`] (one engine per backend, one conformance suite).
//!
//! Layout: `engine.rs` is the [`Store`] on a backend (transactions,
//! retries, the write lock of SQLite); `ctx.rs` what the state logic works
//! with; `domains.rs`, `desired.rs`, `actual.rs`, `evacuation.rs`,
//! `tasks.rs`, `lrp_convergence.rs`, `task_convergence.rs` hold the state
//! logic, written once for every backend; `codec.rs` the column encodings;
//! `schema.rs` Diego's schema, its version row and migrations;
//! `encryptor.rs` key rotation.
//!
//! The database is Diego's: the same tables, columns, encodings and
//! `version` row as the bbs of the pinned Diego release (see `schema`), so
//! our bbs runs on a database Diego's wrote and the other way round.
//!
//! Lists are ordered by primary key (Diego's SQL has no ORDER BY; we pick
//! a deterministic order).

pub(crate) mod actual;
mod args;
mod bulk_seed;
mod codec;
mod ctx;
mod desired;
mod domains;
mod encryptor;
pub(crate) mod engine;
mod evacuation;
pub(crate) mod lrp_convergence;
mod scheduling_cache;
pub mod schema;
mod task_convergence;
mod tasks;

pub use bulk_seed::{bench_running_info, BenchTask};
pub use encryptor::EncryptionOutcome;
pub use schema::{DIEGO_MIGRATIONS, DIEGO_SCHEMA_VERSION};
pub use sqldb::{Flavor, RawPool};

use crate::db::encryption::{Encoder, EncryptionConfig};
use crate::db::{DbResult, Store};
use anyhow::Context as _;
use async_trait::async_trait;
use ctx::Ctx;
use engine::Engine;
use models::DesiredLrp;
use sqldb::{Backend, MySql, PoolSettings, Postgres, Sqlite};
use std::sync::Arc;

/// How to reach the database.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// `sqlite:///abs/path/file.db` (created if missing),
    /// `postgres://user:pass@host:port/db` or
    /// `mysql://user:pass@host:port/db` (see `sqldb::diego_url` for the
    /// forms Diego's config takes).
    pub url: String,
    pub max_open_connections: u32,
    pub encryption: EncryptionConfig,
}

pub(crate) fn new_guid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// What the SQL store offers beside [`Store`], whatever its backend.
#[async_trait]
pub trait SqlEngine: Store {
    /// "sqlite", "postgres" or "mysql".
    fn backend(&self) -> &'static str;

    /// The pool, for tools and tests that look at raw rows.
    fn raw(&self) -> RawPool;

    /// Diego's encryptor, run at start-up: checks the stored key label
    /// against the configured keys and, when the active key changed,
    /// encrypts every stored record again with it (see `encryptor`).
    async fn run_encryptor(&self) -> anyhow::Result<EncryptionOutcome>;

    /// The `encryption_key_label` row (None when absent).
    async fn encryption_key_label(&self) -> DbResult<Option<String>>;

    /// FOR BENCHMARKS ONLY (see `bulk_seed`).
    async fn seed_running_lrps_for_bench(
        &self,
        lrps: &[DesiredLrp],
        cells: &[String],
    ) -> DbResult<u64>;

    /// FOR BENCHMARKS ONLY (see `bulk_seed`).
    async fn seed_tasks_for_bench(&self, list: &[BenchTask]) -> DbResult<u64>;
}

#[async_trait]
impl<B: Backend> SqlEngine for Engine<B> {
    fn backend(&self) -> &'static str {
        B::FLAVOR.name()
    }

    fn raw(&self) -> RawPool {
        B::raw(&self.pool)
    }

    async fn run_encryptor(&self) -> anyhow::Result<EncryptionOutcome> {
        Engine::run_encryptor(self).await
    }

    async fn encryption_key_label(&self) -> DbResult<Option<String>> {
        self.stored_key_label().await
    }

    async fn seed_running_lrps_for_bench(
        &self,
        lrps: &[DesiredLrp],
        cells: &[String],
    ) -> DbResult<u64> {
        Engine::seed_running_lrps_for_bench(self, lrps, cells).await
    }

    async fn seed_tasks_for_bench(&self, list: &[BenchTask]) -> DbResult<u64> {
        Engine::seed_tasks_for_bench(self, list).await
    }
}

/// The SQL implementation of [`Store`]: one [`SqlEngine`] on the backend
/// the URL names. Derefs to it; [`SqlStore::as_store`] gives the
/// `Arc<dyn Store>` the rest of the BBS takes.
#[derive(Clone)]
pub struct SqlStore {
    engine: Arc<dyn SqlEngine>,
}

impl std::fmt::Debug for SqlStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlStore")
            .field("backend", &self.engine.backend())
            .finish()
    }
}

impl std::ops::Deref for SqlStore {
    type Target = dyn SqlEngine;
    fn deref(&self) -> &Self::Target {
        &*self.engine
    }
}

impl SqlStore {
    /// Connects, brings the schema to Diego's (creating it in an empty
    /// database, migrating an older Diego one; see `schema`), and returns
    /// the store. A new database records the active key's label; on an
    /// existing one, [`SqlEngine::run_encryptor`] deals with the key.
    pub async fn connect(cfg: &StoreConfig) -> anyhow::Result<SqlStore> {
        let enc = Encoder::new(&cfg.encryption).context("invalid encryption configuration")?;
        let engine: Arc<dyn SqlEngine> = match sqldb::Flavor::of_url(&cfg.url) {
            Some(Flavor::Sqlite) => Arc::new(open::<Sqlite>(cfg, enc).await?),
            Some(Flavor::Postgres) => Arc::new(open::<Postgres>(cfg, enc).await?),
            Some(Flavor::MySql) => Arc::new(open::<MySql>(cfg, enc).await?),
            None => anyhow::bail!(
                "unsupported database URL {:?} (want sqlite:///path, postgres://... or mysql://...)",
                sqldb::connect::redact(&cfg.url)
            ),
        };
        Ok(SqlStore { engine })
    }

    /// The store as the rest of the BBS takes it.
    pub fn as_store(&self) -> Arc<dyn Store> {
        self.engine.clone()
    }
}

async fn open<B: Backend>(cfg: &StoreConfig, enc: Encoder) -> anyhow::Result<Engine<B>> {
    let mut settings = PoolSettings::new(cfg.max_open_connections);
    // 16 MiB of page cache per connection (SQLite's default is 2 MiB):
    // bulk reads of a large store otherwise re-read most pages from the OS
    // (a pread each) on every request.
    settings.sqlite_cache_kib = Some(16 * 1024);
    let pool = B::connect(&cfg.url, &settings).await?;
    let engine = Engine::<B>::new(pool, Ctx::new(enc));
    let outcome = schema::migrate(&engine.cx, &engine.pool)
        .await
        .with_context(|| format!("bringing the {} schema up to date", B::FLAVOR.name()))?;
    if outcome == schema::Outcome::Created {
        // Nothing stored yet: nothing to re-encrypt (Diego's encryptor
        // would only write the label).
        if let Some(label) = engine.cx.enc.active_label() {
            engine
                .set_key_label(label)
                .await
                .map_err(anyhow::Error::new)?;
        }
    }
    Ok(engine)
}
