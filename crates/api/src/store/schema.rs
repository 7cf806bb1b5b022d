//! Migrations: numbered steps run in order, each in its own transaction
//! with its number recorded in `schema_migrations`, so a database is
//! brought forward from whatever version it holds and never twice through
//! the same step. A database newer than this binary is refused.

use sqldb::Flavor;

/// The last migration.
pub const SCHEMA_VERSION: i64 = 2;

/// (version, name, statements). `{doc}` is the document column's type.
pub const MIGRATIONS: &[(i64, &str, &[&str])] = &[
    (
        1,
        "apps_and_their_resources",
        &[
            "CREATE TABLE apps (guid VARCHAR(64) PRIMARY KEY, app_guid VARCHAR(64) NOT NULL,
                name VARCHAR(255) NOT NULL, version BIGINT NOT NULL, created_at BIGINT NOT NULL,
                doc {doc} NOT NULL)",
            "CREATE UNIQUE INDEX apps_name ON apps (name)",
            "CREATE TABLE packages ({common})",
            "CREATE INDEX packages_app ON packages (app_guid)",
            "CREATE TABLE builds ({common})",
            "CREATE INDEX builds_app ON builds (app_guid)",
            "CREATE TABLE droplets ({common})",
            "CREATE INDEX droplets_app ON droplets (app_guid)",
            "CREATE TABLE revisions ({common})",
            "CREATE UNIQUE INDEX revisions_app_version ON revisions (app_guid, version)",
            "CREATE TABLE processes ({common})",
            "CREATE INDEX processes_app ON processes (app_guid)",
            "CREATE TABLE deployments ({common})",
            "CREATE INDEX deployments_app ON deployments (app_guid)",
            "CREATE TABLE events ({common})",
            "CREATE INDEX events_app ON events (app_guid)",
        ],
    ),
    (
        2,
        "tasks",
        &[
            "CREATE TABLE tasks ({common})",
            "CREATE UNIQUE INDEX tasks_app_sequence ON tasks (app_guid, version)",
        ],
    ),
];

/// A migration statement in `flavor`'s dialect.
pub fn statement(flavor: Flavor, sql: &str) -> String {
    let doc = match flavor {
        Flavor::MySql => "MEDIUMTEXT",
        _ => "TEXT",
    };
    let common = format!(
        "guid VARCHAR(64) PRIMARY KEY, app_guid VARCHAR(64) NOT NULL, name VARCHAR(255) NOT NULL, \
         version BIGINT NOT NULL, created_at BIGINT NOT NULL, doc {doc} NOT NULL"
    );
    sql.replace("{common}", &common).replace("{doc}", doc)
}

pub const CREATE_MIGRATIONS_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    version BIGINT PRIMARY KEY, name VARCHAR(255) NOT NULL)";
