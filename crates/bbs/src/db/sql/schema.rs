//! The schema: Diego's, at the version the pinned Diego release uses, made
//! the way Diego's bbs makes it, so that either bbs can run on a database
//! the other wrote.
//!
//! Diego's bbs keeps `{"CurrentVersion":N}` in the `configurations` row
//! `version`, N being the last migration it ran (`migration/manager.go`).
//! At start it runs every migration newer than N in order, one
//! transaction each, writing the version after each; a database without
//! the row is taken as new and gets all of them, the first of which drops
//! and recreates every table. A version above its own last migration stops
//! it. So we keep Diego's row, at exactly the version of the pinned
//! release ([`DIEGO_SCHEMA_VERSION`]: diego-release 9f2529a7 pins bbs
//! 8a3588f, whose last migration is 1722634733 `split_metric_tags`), and
//! the same sequence (`db/migrations/*.go` at that commit, rewritten here)
//! brings an older Diego database forward.
//!
//! What we add is what Diego's bbs tolerates, applied after the sequence on
//! every start (each step idempotent) and never as a version of its own:
//! `desired_lrps.update_strategy` (`INT NOT NULL DEFAULT 0`, exactly what
//! Diego's later migration 1772581987 adds, with the same tolerance of an
//! existing column), and an index on `actual_lrps.presence`. The pinned
//! Diego bbs names its columns in every statement, so it ignores both.
//!
//! SQLite (ours alone) gets the final schema directly, with the same
//! tables, columns, nullability and defaults.
//!
//! A database with our tables but no `version` row was written by an
//! earlier release of ours: it is brought to Diego's schema in place
//! ([`adopt_legacy`]) instead of being treated as new.

use super::ctx::{ColsExt, Ctx};
use crate::db::DbResult;
use models::{BbsError, DesiredLrpRunInfo, MetricTagValue};
use sqldb::{Backend, Flavor};
use std::collections::BTreeMap;

/// The last migration of the bbs that diego-release 9f2529a7 pins.
pub const DIEGO_SCHEMA_VERSION: i64 = 1722634733;

/// Diego's migrations up to [`DIEGO_SCHEMA_VERSION`], in order.
pub const DIEGO_MIGRATIONS: &[(i64, &str)] = &[
    (1461790966, "init_sql"),
    (1471030898, "increase_run_info_column"),
    (1472757022, "add_placement_tags_to_desired_lrp"),
    (1474908092, "increase_error_columns"),
    (1474993971, "encrypt_routes"),
    (1481761088, "add_max_pid_limit"),
    (1502289152, "increase_rootfs_column"),
    (1522700600, "add_task_rejection_count"),
    (1523050077, "add_rejection_reason_to_task"),
    (1528928964, "increase_task_error_columns"),
    (1529530809, "add_presence_to_actual_lrp"),
    (1643660541, "add_internal_routes_to_actual_lrp"),
    (1674146125, "set_run_info_longtext"),
    (1676360874, "add_metric_tags_to_actual_lrp"),
    (1686692176, "add_routable_to_actual_lrps"),
    (1698182853, "add_availability_zone_to_actual_lrps"),
    (1722634733, "split_metric_tags"),
];

pub(crate) const VERSION_ID: &str = "version";
pub(crate) const ENCRYPTION_KEY_ID: &str = "encryption_key_label";

/// Diego's `CreateConfigurationsTable` (run before anything else).
const CONFIGURATIONS: &str = "CREATE TABLE IF NOT EXISTS configurations(
    id VARCHAR(255) PRIMARY KEY,
    value VARCHAR(255)
)";

// --- 1461790966 init_sql (MEDIUMTEXT is TEXT on PostgreSQL) -------------

const INIT_DROP: &[&str] = &[
    "DROP TABLE IF EXISTS domains",
    "DROP TABLE IF EXISTS tasks",
    "DROP TABLE IF EXISTS desired_lrps",
    "DROP TABLE IF EXISTS actual_lrps",
];

const INIT_CREATE: &[&str] = &[
    "CREATE TABLE domains(
    domain VARCHAR(255) PRIMARY KEY,
    expire_time BIGINT DEFAULT 0
)",
    "CREATE TABLE desired_lrps(
    process_guid VARCHAR(255) PRIMARY KEY,
    domain VARCHAR(255) NOT NULL,
    log_guid VARCHAR(255) NOT NULL,
    annotation MEDIUMTEXT,
    instances INT NOT NULL,
    memory_mb INT NOT NULL,
    disk_mb INT NOT NULL,
    rootfs VARCHAR(255) NOT NULL,
    routes MEDIUMTEXT NOT NULL,
    volume_placement MEDIUMTEXT NOT NULL,
    modification_tag_epoch VARCHAR(255) NOT NULL,
    modification_tag_index INT,
    run_info MEDIUMTEXT NOT NULL
)",
    "CREATE TABLE actual_lrps(
    process_guid VARCHAR(255),
    instance_index INT,
    evacuating BOOL DEFAULT false,
    domain VARCHAR(255) NOT NULL,
    state VARCHAR(255) NOT NULL,
    instance_guid VARCHAR(255) NOT NULL DEFAULT '',
    cell_id VARCHAR(255) NOT NULL DEFAULT '',
    placement_error VARCHAR(255) NOT NULL DEFAULT '',
    since BIGINT DEFAULT 0,
    net_info MEDIUMTEXT NOT NULL,
    modification_tag_epoch VARCHAR(255) NOT NULL,
    modification_tag_index INT,
    crash_count INT NOT NULL DEFAULT 0,
    crash_reason VARCHAR(255) NOT NULL DEFAULT '',
    expire_time BIGINT DEFAULT 0,

    PRIMARY KEY(process_guid, instance_index, evacuating)
)",
    "CREATE TABLE tasks(
    guid VARCHAR(255) PRIMARY KEY,
    domain VARCHAR(255) NOT NULL,
    updated_at BIGINT DEFAULT 0,
    created_at BIGINT DEFAULT 0,
    first_completed_at BIGINT DEFAULT 0,
    state INT,
    cell_id VARCHAR(255) NOT NULL DEFAULT '',
    result MEDIUMTEXT,
    failed BOOL DEFAULT false,
    failure_reason VARCHAR(255) NOT NULL DEFAULT '',
    task_definition MEDIUMTEXT NOT NULL
)",
    "CREATE INDEX domains_expire_time_idx ON domains (expire_time)",
    "CREATE INDEX desired_lrps_domain_idx ON desired_lrps (domain)",
    "CREATE INDEX actual_lrps_domain_idx ON actual_lrps (domain)",
    "CREATE INDEX actual_lrps_cell_id_idx ON actual_lrps (cell_id)",
    "CREATE INDEX actual_lrps_since_idx ON actual_lrps (since)",
    "CREATE INDEX actual_lrps_state_idx ON actual_lrps (state)",
    "CREATE INDEX actual_lrps_expire_time_idx ON actual_lrps (expire_time)",
    "CREATE INDEX tasks_domain_idx ON tasks (domain)",
    "CREATE INDEX tasks_state_idx ON tasks (state)",
    "CREATE INDEX tasks_cell_id_idx ON tasks (cell_id)",
    "CREATE INDEX tasks_updated_at_idx ON tasks (updated_at)",
    "CREATE INDEX tasks_created_at_idx ON tasks (created_at)",
    "CREATE INDEX tasks_first_completed_at_idx ON tasks (first_completed_at)",
];

/// Diego's indexes (all made by `init_sql`; the later migrations add none).
fn diego_indexes() -> impl Iterator<Item = &'static &'static str> {
    INIT_CREATE
        .iter()
        .filter(|s| s.starts_with("CREATE INDEX "))
}

/// A column Diego's migrations add: (table, column, definition).
type AddColumn = (&'static str, &'static str, &'static str);

/// The columns added by migrations, with the definition each adds (the
/// ALTERs of one migration are `ADD COLUMN` on MySQL and `ADD COLUMN IF
/// NOT EXISTS` on PostgreSQL; an existing column is not an error).
fn added_columns(version: i64) -> &'static [AddColumn] {
    match version {
        1472757022 => &[("desired_lrps", "placement_tags", "TEXT")],
        1481761088 => &[("desired_lrps", "max_pids", "INTEGER DEFAULT 0")],
        1522700600 => &[("tasks", "rejection_count", "INTEGER NOT NULL DEFAULT 0")],
        1523050077 => &[(
            "tasks",
            "rejection_reason",
            "VARCHAR(255) NOT NULL DEFAULT ''",
        )],
        1529530809 => &[("actual_lrps", "presence", "INT NOT NULL DEFAULT 0")],
        1643660541 => &[("actual_lrps", "internal_routes", "MEDIUMTEXT")],
        1676360874 => &[("actual_lrps", "metric_tags", "MEDIUMTEXT")],
        1686692176 => &[("actual_lrps", "routable", "BOOL DEFAULT false")],
        1698182853 => &[(
            "actual_lrps",
            "availability_zone",
            "VARCHAR(255) NOT NULL DEFAULT ''",
        )],
        1722634733 => &[("desired_lrps", "metric_tags", "MEDIUMTEXT")],
        _ => &[],
    }
}

/// The other statements of a migration, per flavor, after its columns.
fn statements(version: i64, flavor: Flavor) -> &'static [&'static str] {
    let mysql = flavor == Flavor::MySql;
    match version {
        1471030898 if mysql => &[
            "ALTER TABLE desired_lrps MODIFY annotation MEDIUMTEXT, \
             MODIFY routes MEDIUMTEXT NOT NULL, MODIFY volume_placement MEDIUMTEXT NOT NULL, \
             MODIFY run_info MEDIUMTEXT NOT NULL",
            "ALTER TABLE actual_lrps MODIFY net_info MEDIUMTEXT NOT NULL",
            "ALTER TABLE tasks MODIFY result MEDIUMTEXT, MODIFY task_definition MEDIUMTEXT NOT NULL",
        ],
        1474908092 if mysql => &["ALTER TABLE actual_lrps \
             MODIFY crash_reason VARCHAR(1024) NOT NULL DEFAULT '', \
             MODIFY placement_error VARCHAR(1024) NOT NULL DEFAULT ''"],
        1474908092 => &["ALTER TABLE actual_lrps ALTER crash_reason TYPE VARCHAR(1024), \
             ALTER placement_error TYPE VARCHAR(1024)"],
        1502289152 if mysql => {
            &["ALTER TABLE desired_lrps MODIFY rootfs VARCHAR(1024) NOT NULL DEFAULT ''"]
        }
        1502289152 => &["ALTER TABLE desired_lrps ALTER rootfs TYPE VARCHAR(1024)"],
        1528928964 if mysql => &["ALTER TABLE tasks \
             MODIFY rejection_reason VARCHAR(1024) NOT NULL DEFAULT '', \
             MODIFY failure_reason VARCHAR(1024) NOT NULL DEFAULT ''"],
        1528928964 => &["ALTER TABLE tasks ALTER rejection_reason TYPE VARCHAR(1024), \
             ALTER failure_reason TYPE VARCHAR(1024)"],
        1529530809 if mysql => &[
            "UPDATE actual_lrps SET presence = 1 WHERE evacuating = true",
            "ALTER TABLE actual_lrps DROP primary key, \
             ADD PRIMARY KEY (process_guid, instance_index, presence)",
        ],
        1529530809 => &[
            "UPDATE actual_lrps SET presence = 1 WHERE evacuating = true",
            "ALTER TABLE actual_lrps DROP CONSTRAINT actual_lrps_pkey, \
             ADD PRIMARY KEY (process_guid, instance_index, presence)",
        ],
        1674146125 if mysql => &[
            "ALTER TABLE desired_lrps MODIFY annotation LONGTEXT, MODIFY routes LONGTEXT NOT NULL, \
             MODIFY volume_placement LONGTEXT NOT NULL, MODIFY run_info LONGTEXT NOT NULL",
            "ALTER TABLE actual_lrps MODIFY net_info LONGTEXT NOT NULL",
            "ALTER TABLE tasks MODIFY result LONGTEXT, MODIFY task_definition LONGTEXT NOT NULL",
        ],
        1686692176 => &["UPDATE actual_lrps SET routable = true WHERE state = 'RUNNING'"],
        _ => &[],
    }
}

/// SQL as Diego writes it for a flavor (`RebindForFlavor`: MEDIUMTEXT is
/// TEXT on PostgreSQL).
fn for_flavor(sql: &str, flavor: Flavor) -> String {
    match flavor {
        Flavor::MySql => sql.to_string(),
        _ => sql.replace("MEDIUMTEXT", "TEXT"),
    }
}

/// Our additions (see the module docs): (table, column, definition) and
/// indexes (name, table, column).
const OUR_COLUMNS: &[AddColumn] = &[("desired_lrps", "update_strategy", "INT NOT NULL DEFAULT 0")];
const OUR_INDEXES: &[(&str, &str, &str)] = &[
    // Convergence looks for the few EVACUATING rows among all.
    ("actual_lrps_presence_idx", "actual_lrps", "presence"),
];

/// SQLite: the tables at [`DIEGO_SCHEMA_VERSION`] in one go (Diego has no
/// SQLite flavor, so there is no older SQLite schema to migrate); Diego's
/// indexes follow.
const SQLITE_SCHEMA: &[&str] = &[
    "CREATE TABLE domains(
    domain VARCHAR(255) PRIMARY KEY,
    expire_time BIGINT DEFAULT 0
)",
    "CREATE TABLE desired_lrps(
    process_guid VARCHAR(255) PRIMARY KEY,
    domain VARCHAR(255) NOT NULL,
    log_guid VARCHAR(255) NOT NULL,
    annotation TEXT,
    instances INT NOT NULL,
    memory_mb INT NOT NULL,
    disk_mb INT NOT NULL,
    rootfs VARCHAR(1024) NOT NULL,
    routes TEXT NOT NULL,
    volume_placement TEXT NOT NULL,
    modification_tag_epoch VARCHAR(255) NOT NULL,
    modification_tag_index INT,
    run_info TEXT NOT NULL,
    placement_tags TEXT,
    max_pids INTEGER DEFAULT 0,
    metric_tags TEXT
)",
    "CREATE TABLE actual_lrps(
    process_guid VARCHAR(255) NOT NULL,
    instance_index INT NOT NULL,
    evacuating BOOL NOT NULL DEFAULT false,
    domain VARCHAR(255) NOT NULL,
    state VARCHAR(255) NOT NULL,
    instance_guid VARCHAR(255) NOT NULL DEFAULT '',
    cell_id VARCHAR(255) NOT NULL DEFAULT '',
    placement_error VARCHAR(1024) NOT NULL DEFAULT '',
    since BIGINT DEFAULT 0,
    net_info TEXT NOT NULL,
    modification_tag_epoch VARCHAR(255) NOT NULL,
    modification_tag_index INT,
    crash_count INT NOT NULL DEFAULT 0,
    crash_reason VARCHAR(1024) NOT NULL DEFAULT '',
    expire_time BIGINT DEFAULT 0,
    presence INT NOT NULL DEFAULT 0,
    internal_routes TEXT,
    metric_tags TEXT,
    routable BOOL DEFAULT false,
    availability_zone VARCHAR(255) NOT NULL DEFAULT '',
    PRIMARY KEY(process_guid, instance_index, presence)
)",
    "CREATE TABLE tasks(
    guid VARCHAR(255) PRIMARY KEY,
    domain VARCHAR(255) NOT NULL,
    updated_at BIGINT DEFAULT 0,
    created_at BIGINT DEFAULT 0,
    first_completed_at BIGINT DEFAULT 0,
    state INT,
    cell_id VARCHAR(255) NOT NULL DEFAULT '',
    result TEXT,
    failed BOOL DEFAULT false,
    failure_reason VARCHAR(1024) NOT NULL DEFAULT '',
    task_definition TEXT NOT NULL,
    rejection_count INTEGER NOT NULL DEFAULT 0,
    rejection_reason VARCHAR(1024) NOT NULL DEFAULT ''
)",
];

/// What `migrate` found and did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// An empty database got the whole schema.
    Created,
    /// An existing database, brought to (or already at) the version.
    Existing,
}

/// The version row's JSON (Diego's `models.Version`).
pub(crate) fn version_json(v: i64) -> String {
    format!("{{\"CurrentVersion\":{v}}}")
}

fn parse_version(json: &str) -> DbResult<i64> {
    let v: serde_json::Value = serde_json::from_str(json).map_err(|e| {
        tracing::error!(error = %e, "failed-to-deserialize-version");
        BbsError::deserialize()
    })?;
    Ok(v.get("CurrentVersion")
        .and_then(|n| n.as_i64())
        .unwrap_or(0))
}

/// Creates the configurations table, then brings the schema to
/// [`DIEGO_SCHEMA_VERSION`] as Diego's migration manager would, then adds
/// ours. Runs on one connection of its own, each migration a transaction.
pub(crate) async fn migrate<B: Backend>(
    cx: &Ctx<B>,
    pool: &sqlx::Pool<B::Db>,
) -> anyhow::Result<Outcome> {
    let mut conn = pool.acquire().await?;
    let conn: &mut B::Conn = &mut conn;
    B::execute_raw(conn, CONFIGURATIONS).await?;
    let version = read_version(cx, conn).await?;
    let tables_exist = table_exists(cx, conn, "desired_lrps").await?;
    let outcome = match version {
        Some(v) if v > DIEGO_SCHEMA_VERSION => {
            anyhow::bail!("Existing DB version ({v}) exceeds bbs version ({DIEGO_SCHEMA_VERSION})")
        }
        None if tables_exist => {
            adopt_legacy(cx, conn).await?;
            Outcome::Existing
        }
        None | Some(0) if B::FLAVOR == Flavor::Sqlite => {
            // Tables of ours without a version row are handled above;
            // here the database is empty (or stopped after version 0).
            let mut tx = sqlx::Connection::begin(&mut *conn).await?;
            for stmt in INIT_DROP.iter().chain(SQLITE_SCHEMA).chain(diego_indexes()) {
                B::execute_raw(&mut tx, stmt).await?;
            }
            write_version::<B>(&mut tx, DIEGO_SCHEMA_VERSION).await?;
            tx.commit().await?;
            Outcome::Created
        }
        None | Some(0) => {
            // Diego writes version 0 first, in a transaction of its own.
            write_version::<B>(conn, 0).await?;
            run_diego_migrations(cx, conn, 0).await?;
            Outcome::Created
        }
        Some(v) if B::FLAVOR == Flavor::Sqlite && v < DIEGO_SCHEMA_VERSION => anyhow::bail!(
            "SQLite database at schema version {v}: only {DIEGO_SCHEMA_VERSION} is known"
        ),
        Some(v) => {
            run_diego_migrations(cx, conn, v).await?;
            Outcome::Existing
        }
    };
    add_ours(cx, conn).await?;
    Ok(outcome)
}

async fn read_version<B: Backend>(cx: &Ctx<B>, conn: &mut B::Conn) -> anyhow::Result<Option<i64>> {
    let stmt = cx
        .q("SELECT value FROM configurations WHERE id = ?")
        .bind(VERSION_ID);
    match cx.one(conn, &stmt).await? {
        Some(row) => Ok(Some(parse_version(&row.get_str(0)?)?)),
        None => Ok(None),
    }
}

async fn write_version<B: Backend>(conn: &mut B::Conn, v: i64) -> Result<(), sqlx::Error> {
    set_configuration::<B>(conn, VERSION_ID, &version_json(v)).await
}

/// Upserts a `configurations` row.
pub(crate) async fn set_configuration<B: Backend>(
    conn: &mut B::Conn,
    id: &str,
    value: &str,
) -> Result<(), sqlx::Error> {
    let stmt = B::stmt(&B::upsert(
        "configurations",
        &["id", "value"],
        &["id"],
        &["value"],
    ))
    .bind(id)
    .bind(value);
    B::execute(conn, &stmt).await.map(|_| ())
}

async fn table_exists<B: Backend>(cx: &Ctx<B>, conn: &mut B::Conn, table: &str) -> DbResult<bool> {
    let stmt = match B::FLAVOR {
        Flavor::Sqlite => cx
            .q("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?")
            .bind(table),
        Flavor::Postgres => cx
            .q("SELECT COUNT(*) FROM information_schema.tables \
                WHERE table_schema = current_schema() AND table_name = ?")
            .bind(table),
        Flavor::MySql => cx
            .q("SELECT COUNT(*) FROM information_schema.tables \
                WHERE table_schema = DATABASE() AND table_name = ?")
            .bind(table),
    };
    let row = cx.one(conn, &stmt).await?;
    Ok(row.map(|r| r.get_i64(0)).transpose()?.unwrap_or(0) > 0)
}

/// The columns of `table`, lower case.
pub(crate) async fn columns<B: Backend>(
    cx: &Ctx<B>,
    conn: &mut B::Conn,
    table: &str,
) -> DbResult<Vec<String>> {
    let stmt = match B::FLAVOR {
        Flavor::Sqlite => cx.q(&format!("SELECT name FROM pragma_table_info('{table}')")),
        Flavor::Postgres => cx
            .q("SELECT column_name FROM information_schema.columns \
                WHERE table_schema = current_schema() AND table_name = ?")
            .bind(table),
        Flavor::MySql => cx
            .q("SELECT column_name FROM information_schema.columns \
                WHERE table_schema = DATABASE() AND table_name = ?")
            .bind(table),
    };
    let rows = cx.all(conn, &stmt).await?;
    rows.iter()
        .map(|r| r.get_str(0).map(|s| s.to_lowercase()))
        .collect()
}

/// Adds a column unless it is there (Diego: `ADD COLUMN IF NOT EXISTS` on
/// PostgreSQL, `ADD COLUMN` tolerating "duplicate column" on MySQL).
async fn add_column<B: Backend>(
    cx: &Ctx<B>,
    conn: &mut B::Conn,
    (table, column, definition): AddColumn,
) -> DbResult<()> {
    let definition = for_flavor(definition, B::FLAVOR);
    let sql = match B::FLAVOR {
        Flavor::Postgres => {
            format!("ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {column} {definition}")
        }
        _ => {
            if columns(cx, conn, table).await?.iter().any(|c| c == column) {
                return Ok(());
            }
            format!("ALTER TABLE {table} ADD COLUMN {column} {definition}")
        }
    };
    match B::execute_raw(conn, &sql).await {
        Ok(()) => Ok(()),
        // MySQL's "duplicate column name" (1060), should another process
        // have added it meanwhile.
        Err(sqlx::Error::Database(e))
            if e.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()
                .is_some_and(|m| m.number() == 1060) =>
        {
            Ok(())
        }
        Err(e) => Err(cx.err(e)),
    }
}

async fn run_diego_migrations<B: Backend>(
    cx: &Ctx<B>,
    conn: &mut B::Conn,
    from: i64,
) -> anyhow::Result<()> {
    for &(version, name) in DIEGO_MIGRATIONS.iter().filter(|(v, _)| *v > from) {
        tracing::info!(
            migration_version = version,
            migration = name,
            "running-migration"
        );
        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
        let res = async {
            run_one(cx, &mut tx, version).await?;
            write_version::<B>(&mut tx, version)
                .await
                .map_err(|e| cx.err(e))
        }
        .await;
        match res {
            Ok(()) => tx.commit().await?,
            Err(e) => {
                let _ = tx.rollback().await;
                anyhow::bail!("migration {version} ({name}) failed: {e}");
            }
        }
        tracing::info!(current_version = version, "completed-migration");
    }
    Ok(())
}

async fn run_one<B: Backend>(cx: &Ctx<B>, conn: &mut B::Conn, version: i64) -> DbResult<()> {
    let flavor = B::FLAVOR;
    if version == 1461790966 {
        for stmt in INIT_DROP {
            // Diego ignores these errors (the tables may not exist).
            let _ = B::execute_raw(conn, stmt).await;
        }
        for stmt in INIT_CREATE {
            B::execute_raw(conn, &for_flavor(stmt, flavor))
                .await
                .map_err(|e| cx.err(e))?;
        }
        return Ok(());
    }
    for col in added_columns(version) {
        add_column(cx, conn, *col).await?;
    }
    for stmt in statements(version, flavor) {
        B::execute_raw(conn, stmt).await.map_err(|e| cx.err(e))?;
    }
    match version {
        1474993971 => encrypt_routes(cx, conn).await,
        1722634733 => split_metric_tags(cx, conn).await,
        _ => Ok(()),
    }
}

/// 1474993971: routes were stored as plain JSON; encode each with the
/// active key.
async fn encrypt_routes<B: Backend>(cx: &Ctx<B>, conn: &mut B::Conn) -> DbResult<()> {
    let rows = cx
        .all(conn, &cx.q("SELECT process_guid, routes FROM desired_lrps"))
        .await?;
    let mut plain: Vec<(String, String)> = Vec::with_capacity(rows.len());
    for r in &rows {
        match (r.get_str(0), r.get_str(1)) {
            (Ok(g), Ok(routes)) => plain.push((g, routes)),
            (Err(e), _) | (_, Err(e)) => tracing::error!(error = %e, "failed-reading-row"),
        }
    }
    for (guid, routes) in plain {
        let encoded = super::codec::blob_to_string(cx.enc.encode(routes.as_bytes()));
        let stmt = cx
            .q("UPDATE desired_lrps SET routes = ? WHERE process_guid = ?")
            .bind(encoded)
            .bind(guid);
        cx.exec(conn, &stmt).await?;
    }
    Ok(())
}

/// 1722634733: desired metric tags move from run_info into their own
/// column (encoded JSON).
async fn split_metric_tags<B: Backend>(cx: &Ctx<B>, conn: &mut B::Conn) -> DbResult<()> {
    let rows = cx
        .all(
            conn,
            &cx.q("SELECT process_guid, run_info FROM desired_lrps"),
        )
        .await?;
    let mut tags: Vec<(String, BTreeMap<String, MetricTagValue>)> = Vec::new();
    for r in &rows {
        let (guid, data) = match (r.get_str(0), r.get_str(1)) {
            (Ok(g), Ok(d)) => (g, d),
            (Err(e), _) | (_, Err(e)) => {
                tracing::error!(error = %e, "failed-reading-row");
                continue;
            }
        };
        match cx.enc.unmarshal::<DesiredLrpRunInfo>(data.as_bytes()) {
            Ok(run) => tags.push((guid, run.metric_tags)),
            Err(e) => tracing::error!(process_guid = %guid, error = %e, "failed-parsing-run-info"),
        }
    }
    for (guid, t) in tags {
        let stmt = cx
            .q("UPDATE desired_lrps SET metric_tags = ? WHERE process_guid = ?")
            .bind(super::codec::encode_metric_tags(&cx.enc, &t))
            .bind(guid);
        cx.exec(conn, &stmt).await?;
    }
    Ok(())
}

/// Our additions, on every start (idempotent).
async fn add_ours<B: Backend>(cx: &Ctx<B>, conn: &mut B::Conn) -> DbResult<()> {
    for col in OUR_COLUMNS {
        add_column(cx, conn, *col).await?;
    }
    for (name, table, column) in OUR_INDEXES {
        let sql = match B::FLAVOR {
            // MySQL has no IF NOT EXISTS here; a duplicate is error 1061.
            Flavor::MySql => format!("CREATE INDEX {name} ON {table} ({column})"),
            _ => format!("CREATE INDEX IF NOT EXISTS {name} ON {table} ({column})"),
        };
        match B::execute_raw(conn, &sql).await {
            Ok(()) => {}
            Err(sqlx::Error::Database(e))
                if e.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()
                    .is_some_and(|m| m.number() == 1061) => {}
            Err(e) => return Err(cx.err(e)),
        }
    }
    Ok(())
}

/// Every column of Diego's schema at [`DIEGO_SCHEMA_VERSION`] that a
/// table of ours from before the version row may lack, with Diego's
/// definition.
const LEGACY_MISSING: &[AddColumn] = &[
    ("actual_lrps", "evacuating", "BOOL NOT NULL DEFAULT false"),
    ("actual_lrps", "expire_time", "BIGINT DEFAULT 0"),
];

/// A database of an earlier release of ours (our tables, no version row;
/// SQLite or PostgreSQL): the columns and indexes Diego has and it lacks
/// are added, routes stored as protobuf and metric tags stored with
/// numbers are rewritten in Diego's JSON, and the version row is written.
/// Every row stays.
async fn adopt_legacy<B: Backend>(cx: &Ctx<B>, conn: &mut B::Conn) -> anyhow::Result<()> {
    tracing::info!("adopting a database without a version row: bringing it to Diego's schema");
    for col in LEGACY_MISSING {
        add_column(cx, conn, *col).await?;
    }
    for &(version, _) in DIEGO_MIGRATIONS {
        for col in added_columns(version) {
            add_column(cx, conn, *col).await?;
        }
    }
    for stmt in INIT_CREATE
        .iter()
        .filter(|s| s.starts_with("CREATE INDEX "))
    {
        let stmt = stmt.replacen("CREATE INDEX ", "CREATE INDEX IF NOT EXISTS ", 1);
        B::execute_raw(conn, &stmt).await?;
    }
    if B::FLAVOR == Flavor::Postgres {
        // Our tables had BIGINT tag indexes where Diego's are INT.
        for table in ["desired_lrps", "actual_lrps"] {
            B::execute_raw(
                conn,
                &format!("ALTER TABLE {table} ALTER modification_tag_index TYPE INT"),
            )
            .await?;
        }
    }
    let rows = cx
        .all(
            conn,
            &cx.q("SELECT process_guid, routes, metric_tags FROM desired_lrps"),
        )
        .await?;
    for r in &rows {
        let guid = r.get_str(0)?;
        let routes = r.get_str(1)?;
        let tags = r.get_str(2)?;
        let (Ok(plain_routes), Ok(plain_tags)) = (
            super::codec::decode_routes(&cx.enc, &routes),
            super::codec::decode_metric_tags(&cx.enc, &tags),
        ) else {
            tracing::error!(process_guid = %guid, "cannot read a legacy desired LRP row: left as it is");
            continue;
        };
        let stmt = cx
            .q("UPDATE desired_lrps SET routes = ?, metric_tags = ? WHERE process_guid = ?")
            .bind(super::codec::encode_routes(&cx.enc, Some(&plain_routes))?)
            .bind(super::codec::encode_metric_tags(&cx.enc, &plain_tags))
            .bind(guid);
        cx.exec(conn, &stmt).await?;
    }
    write_version::<B>(conn, DIEGO_SCHEMA_VERSION).await?;
    Ok(())
}
