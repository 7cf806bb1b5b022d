//! The API's state in SQL: one table per resource kind, each row a
//! resource's JSON document beside the columns the API looks rows up by
//! (guid, app, name, revision version) and the constraints that keep the
//! data whole (unique app names, unique revision versions per app).
//!
//! [`Store`] is the trait every backend implements (SQLite, the embedded
//! default, and PostgreSQL; MySQL rides along on `sqldb`); [`Repo`] is the
//! typed view the API uses. A set of changes is applied in one
//! transaction ([`Store::apply`]), so a request leaves all its rows or
//! none.

mod records;
mod repo;
mod schema;
mod sql;

pub use records::*;
pub use repo::{delete, put, Repo};
pub use schema::{MIGRATIONS, SCHEMA_VERSION};

use async_trait::async_trait;
use std::sync::Arc;

/// The kinds of resource, one table each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Apps,
    Packages,
    Builds,
    Droplets,
    Revisions,
    Processes,
    Deployments,
    Tasks,
    Events,
}

impl Kind {
    pub const ALL: [Kind; 9] = [
        Kind::Apps,
        Kind::Packages,
        Kind::Builds,
        Kind::Droplets,
        Kind::Revisions,
        Kind::Processes,
        Kind::Deployments,
        Kind::Tasks,
        Kind::Events,
    ];

    pub fn table(self) -> &'static str {
        match self {
            Kind::Apps => "apps",
            Kind::Packages => "packages",
            Kind::Builds => "builds",
            Kind::Droplets => "droplets",
            Kind::Revisions => "revisions",
            Kind::Processes => "processes",
            Kind::Deployments => "deployments",
            Kind::Tasks => "tasks",
            Kind::Events => "events",
        }
    }
}

/// One stored resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub guid: String,
    /// The app it belongs to ("" for apps themselves).
    pub app_guid: String,
    /// Apps: the unique name.
    pub name: Option<String>,
    /// Revisions: the version, unique per app; tasks: the sequence id.
    pub version: Option<i64>,
    /// Nanoseconds since the epoch; lists come back in this order.
    pub created_at: i64,
    /// The resource as JSON.
    pub doc: String,
}

/// Which rows to list (unset fields match everything).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    pub app_guid: Option<String>,
    pub name: Option<String>,
}

impl Filter {
    pub fn app(guid: &str) -> Filter {
        Filter {
            app_guid: Some(guid.to_string()),
            ..Default::default()
        }
    }
}

/// One write of a transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Insert, or replace the row with this guid.
    Put(Kind, Row),
    Delete(Kind, String),
    /// Every row of the app in this table.
    DeleteApp(Kind, String),
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StoreError {
    /// A unique key (app name, revision version) is taken.
    #[error("{0}")]
    Exists(String),
    #[error("database error: {0}")]
    Db(String),
    #[error("corrupt record: {0}")]
    Corrupt(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

#[async_trait]
pub trait Store: Send + Sync {
    /// "sqlite", "postgres" or "mysql".
    fn backend_name(&self) -> &'static str;
    /// The last migration applied.
    async fn schema_version(&self) -> StoreResult<i64>;
    async fn get(&self, kind: Kind, guid: &str) -> StoreResult<Option<Row>>;
    /// In creation order.
    async fn list(&self, kind: Kind, filter: &Filter) -> StoreResult<Vec<Row>>;
    /// All of `changes` in one transaction, or none.
    async fn apply(&self, changes: &[Change]) -> StoreResult<()>;
}

/// Opens the database at `url` (`sqlite://path`, `postgres://...`,
/// `mysql://...`) and brings its schema up to date.
pub async fn open(url: &str, max_connections: u32) -> anyhow::Result<Arc<dyn Store>> {
    use sqldb::Flavor;
    Ok(match Flavor::of_url(url) {
        Some(Flavor::Postgres) => {
            Arc::new(sql::SqlStore::<sqldb::Postgres>::open(url, max_connections).await?)
        }
        Some(Flavor::MySql) => {
            Arc::new(sql::SqlStore::<sqldb::MySql>::open(url, max_connections).await?)
        }
        Some(Flavor::Sqlite) => {
            Arc::new(sql::SqlStore::<sqldb::Sqlite>::open(url, max_connections).await?)
        }
        None => anyhow::bail!("unsupported database URL {url:?}"),
    })
}
