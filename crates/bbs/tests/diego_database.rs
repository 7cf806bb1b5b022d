//! Our bbs and Diego's on one database: the schema, the `version` row and
//! the encodings of every column are Diego's (bbs 8a3588f, the one
//! diego-release 9f2529a7 pins), so either bbs runs on what the other
//! wrote and keeps every row.
//!
//! - A database Diego's own bbs wrote (`shared/conformance/bbs-database`,
//!   beside the repository; skipped, saying so, when absent) keeps its
//!   version row and schema under our bbs, every record reads back, and
//!   what our bbs writes there is in Diego's encodings.
//! - The database our bbs creates passes the checks Diego's migration
//!   manager makes: the version row, and the schema as Diego's migrations
//!   leave it (PostgreSQL: compared with the schema Diego's bbs made;
//!   MySQL: with the column types Diego's migrations give).
//! - A database at Diego's first schema version, with rows as Diego's bbs
//!   of that time wrote them, is migrated forward by our bbs, every row
//!   kept and readable.
//!
//! The cfdot side (our cfdot against our bbs on Diego's database, compared
//! with what Diego's cfdot printed) is `crates/cfdot/tests/diego_database.rs`.

use bbs::db::encryption::Encoder;
use bbs::db::sql::{RawPool, DIEGO_SCHEMA_VERSION};
use bbs::db::{
    ActualLrpFilter, DesiredLrpFilter, EncryptionConfig, SqlStore, StoreConfig, TaskFilter,
};
use models::actual_lrp::Presence;
use models::metric_tag_value::DynamicValue;
use models::{
    ActualLrpInstanceKey, ActualLrpKey, ActualLrpNetInfo, DesiredLrpRunInfo, DesiredLrpUpdate,
    MetricTagValue, PortMapping, ProtoRoutes, TaskDefinition, VolumePlacement,
};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use testkit::mariadb::TestMariaDb;
use testkit::postgres::TestPostgres;

/// The keys Diego's bbs wrote the dump with.
fn diego_keys() -> EncryptionConfig {
    EncryptionConfig::single("k1", "a passphrase")
}

async fn connect(url: &str, encryption: EncryptionConfig) -> SqlStore {
    SqlStore::connect(&StoreConfig {
        url: url.to_string(),
        max_open_connections: 4,
        encryption,
    })
    .await
    .expect("connect")
}

/// A fresh PostgreSQL database loaded with Diego's dump (schema, then
/// rows); its URL.
fn load_dump(pg: &TestPostgres, dir: &std::path::Path, with_data: bool) -> String {
    let db = pg.fresh_database().unwrap();
    pg.psql_file(&db, &dir.join("schema-postgres.sql"))
        .expect("load Diego's schema");
    if with_data {
        pg.psql_file(&db, &dir.join("data-postgres.sql"))
            .expect("load Diego's rows");
    }
    pg.url_for(&db)
}

fn dump_dir(test: &str) -> Option<(PathBuf, &'static TestPostgres)> {
    let dir = testkit::conformance::database_dir()?;
    let pg = TestPostgres::shared_or_skip(test)?;
    Some((dir, pg))
}

async fn version_row(raw: &RawPool) -> String {
    raw.scalar("SELECT value FROM configurations WHERE id = 'version'")
        .await
        .unwrap()
}

async fn count(raw: &RawPool, table: &str) -> usize {
    raw.scalar(&format!("SELECT COUNT(*) FROM {table}"))
        .await
        .unwrap()
        .parse()
        .unwrap()
}

/// The plaintext of an encrypted column value.
fn plain(enc: &Encoder, raw: &str) -> Vec<u8> {
    enc.decode(raw.as_bytes()).expect("decrypts")
}

#[tokio::test]
async fn diegos_database_keeps_its_version_and_every_record() {
    let Some((dir, pg)) = dump_dir("diegos_database_keeps_its_version_and_every_record") else {
        return;
    };
    let url = load_dump(pg, &dir, true);
    let store = connect(&url, diego_keys()).await;
    let raw = store.raw();
    assert_eq!(
        version_row(&raw).await,
        format!("{{\"CurrentVersion\":{DIEGO_SCHEMA_VERSION}}}"),
        "Diego's version row is left as it is: no migration ran"
    );
    let out = store.run_encryptor().await.unwrap();
    assert_eq!(out.previous_label.as_deref(), Some("k1"));
    assert_eq!(out.reencrypted, 0, "same key: nothing to re-encrypt");

    // Every row decodes (none skipped).
    let desired = store
        .desired_lrps(&DesiredLrpFilter::default())
        .await
        .unwrap();
    assert_eq!(desired.len(), count(&raw, "desired_lrps").await);
    assert_eq!(desired.len(), 2);
    let infos = store
        .desired_lrp_scheduling_infos(&DesiredLrpFilter::default())
        .await
        .unwrap();
    assert_eq!(infos.len(), 2);
    let routing = store
        .desired_lrp_routing_infos(&DesiredLrpFilter::default())
        .await
        .unwrap();
    assert_eq!(routing.len(), 2);
    let actual = store
        .actual_lrps(&ActualLrpFilter::default())
        .await
        .unwrap();
    assert_eq!(actual.len(), count(&raw, "actual_lrps").await);
    assert_eq!(actual.len(), 1);
    let tasks = store.tasks(&TaskFilter::default()).await.unwrap();
    assert_eq!(tasks.len(), count(&raw, "tasks").await);
    assert_eq!(tasks.len(), 2);
    assert_eq!(store.fresh_domains().await.unwrap(), vec!["wm-domain"]);

    // What Diego stored, field by field where it has an encoding of its own.
    let full = desired
        .iter()
        .find(|d| d.process_guid == "wm-full-1")
        .unwrap();
    let routes = &full.routes.as_ref().unwrap().routes;
    assert_eq!(
        routes.keys().collect::<Vec<_>>(),
        vec!["cf-router", "diego-ssh", "internal-router", "tcp-router"]
    );
    assert_eq!(
        full.metric_tags["index"].dynamic,
        DynamicValue::Index as i32
    );
    assert_eq!(full.metric_tags["source_id"].r#static, "wm-full-1");
    assert_eq!(full.placement_tags, vec!["t1"]);
    assert_eq!(full.max_pids, 1024);
    let app = desired
        .iter()
        .find(|d| d.process_guid == "wm-app-1")
        .unwrap();
    assert!(app.placement_tags.is_empty(), "Diego's `null`");
    let a = &actual[0];
    assert_eq!(a.routable(), Some(true));
    assert_eq!(a.actual_lrp_net_info.as_ref().unwrap().address, "10.0.0.5");
    assert!(a.actual_lrp_internal_routes.is_empty(), "Diego's `null`");
    assert!(a.metric_tags.is_empty(), "Diego's `null`");
    // The whole records, as Diego's cfdot printed them (see the cfdot test
    // for the same through our bbs's API and our cfdot).
    let want = |file: &str| -> BTreeSet<String> {
        std::fs::read_to_string(dir.join(file))
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect()
    };
    use models::json::GoJson;
    let got: BTreeSet<String> = desired.iter().map(|d| d.to_go_json()).collect();
    assert_eq!(got, want("expected-desired-lrps.jsonl"));
    let got: BTreeSet<String> = infos.iter().map(|d| d.to_go_json()).collect();
    assert_eq!(got, want("expected-scheduling-infos.jsonl"));
    let got: BTreeSet<String> = actual.iter().map(|d| d.to_go_json()).collect();
    assert_eq!(got, want("expected-actual-lrps.jsonl"));
    let got: BTreeSet<String> = tasks.iter().map(|d| d.to_go_json()).collect();
    assert_eq!(got, want("expected-tasks.jsonl"));
}

#[tokio::test]
async fn our_writes_on_diegos_database_are_in_diegos_encodings() {
    let Some((dir, pg)) = dump_dir("our_writes_on_diegos_database_are_in_diegos_encodings") else {
        return;
    };
    let url = load_dump(pg, &dir, true);
    let store = connect(&url, diego_keys()).await;
    let enc = Encoder::new(&diego_keys()).unwrap();
    let raw = store.raw();
    let run_info_before = raw
        .scalar("SELECT run_info FROM desired_lrps WHERE process_guid = 'wm-app-1'")
        .await
        .unwrap();

    // Update Diego's LRP: only what changed is written.
    let mut routes = BTreeMap::new();
    routes.insert(
        "cf-router".to_string(),
        br#"[ {"hostnames": ["moved.example.com"], "port": 8080} ]"#.to_vec(),
    );
    let update = DesiredLrpUpdate {
        routes: Some(ProtoRoutes { routes }),
        metric_tags: [(
            "instance_id".to_string(),
            MetricTagValue {
                r#static: String::new(),
                dynamic: DynamicValue::Index as i32,
            },
        )]
        .into_iter()
        .collect(),
        ..Default::default()
    };
    let (_, after) = store.update_desired_lrp("wm-app-1", &update).await.unwrap();
    assert_eq!(
        after.routes.as_ref().unwrap().routes["cf-router"],
        br#"[{"hostnames":["moved.example.com"],"port":8080}]"#.to_vec(),
        "compacted, as Go's json.Marshal leaves a RawMessage"
    );
    let row = raw
        .rows(
            "SELECT routes, metric_tags, run_info, modification_tag_index FROM desired_lrps \
             WHERE process_guid = 'wm-app-1'",
        )
        .await
        .unwrap()
        .remove(0);
    let cell = |i: usize| row[i].clone().unwrap();
    assert_eq!(
        plain(&enc, &cell(0)),
        br#"{"cf-router":[{"hostnames":["moved.example.com"],"port":8080}]}"#
    );
    assert_eq!(
        plain(&enc, &cell(1)),
        br#"{"instance_id":{"dynamic":"INDEX"}}"#
    );
    assert_eq!(cell(2), run_info_before, "run_info is not rewritten");
    assert_eq!(cell(3), "1");

    // A new desired LRP, an actual LRP and a task of ours.
    let mut lrp = store
        .desired_lrp_by_process_guid("wm-full-1")
        .await
        .unwrap();
    lrp.process_guid = "ours-1".into();
    lrp.placement_tags.clear();
    lrp.volume_mounts.clear();
    store.desire_lrp(&lrp).await.unwrap();
    let row = raw
        .rows(
            "SELECT routes, metric_tags, placement_tags, volume_placement, run_info, annotation, \
             update_strategy FROM desired_lrps WHERE process_guid = 'ours-1'",
        )
        .await
        .unwrap()
        .remove(0);
    let cell = |i: usize| row[i].clone().unwrap();
    let diegos = raw
        .rows("SELECT routes, metric_tags FROM desired_lrps WHERE process_guid = 'wm-full-1'")
        .await
        .unwrap()
        .remove(0);
    assert_eq!(
        plain(&enc, &cell(0)),
        plain(&enc, diegos[0].as_ref().unwrap()),
        "routes: the JSON Diego's bbs writes"
    );
    assert_eq!(
        plain(&enc, &cell(1)),
        plain(&enc, diegos[1].as_ref().unwrap()),
        "metric tags: the JSON Diego's bbs writes"
    );
    assert_eq!(
        cell(2),
        "null",
        "no placement tags: Diego's json.Marshal(nil)"
    );
    assert_eq!(
        &plain(&enc, &cell(3))[..],
        &[2, 0],
        "an empty VolumePlacement, enveloped"
    );
    let run = plain(&enc, &cell(4));
    assert_eq!(&run[..2], &[2, 0], "run_info: envelope [PROTO, 0]");
    <DesiredLrpRunInfo as prost::Message>::decode(&run[2..]).unwrap();
    assert_eq!(cell(5), "full");
    assert_eq!(cell(6), "0");

    let key = ActualLrpKey::new("ours-1", 0, "wm-domain");
    let ik = ActualLrpInstanceKey::new("ig-0", "cell-ours");
    store.create_unclaimed_actual_lrp(&key).await.unwrap();
    store.claim_actual_lrp("ours-1", 0, &ik).await.unwrap();
    let running = bbs::db::RunningInfo {
        net_info: ActualLrpNetInfo {
            address: "10.0.0.9".into(),
            ports: vec![PortMapping {
                container_port: 8080,
                host_port: 61009,
                ..Default::default()
            }],
            ..Default::default()
        },
        internal_routes: vec![models::ActualLrpInternalRoute {
            hostname: "ours.apps.internal".into(),
        }],
        metric_tags: [("source_id".to_string(), "ours-1".to_string())]
            .into_iter()
            .collect(),
        routable: Some(true),
        availability_zone: "z1".into(),
    };
    store.start_actual_lrp(&key, &ik, &running).await.unwrap();
    let row = raw
        .rows(
            "SELECT net_info, internal_routes, metric_tags, routable, evacuating, presence \
             FROM actual_lrps WHERE process_guid = 'ours-1'",
        )
        .await
        .unwrap()
        .remove(0);
    let cell = |i: usize| row[i].clone().unwrap();
    let net = plain(&enc, &cell(0));
    assert_eq!(&net[..2], &[2, 0]);
    assert_eq!(
        <ActualLrpNetInfo as prost::Message>::decode(&net[2..]).unwrap(),
        running.net_info
    );
    assert_eq!(
        plain(&enc, &cell(1)),
        br#"[{"hostname":"ours.apps.internal"}]"#
    );
    assert_eq!(plain(&enc, &cell(2)), br#"{"source_id":"ours-1"}"#);
    assert_eq!(cell(3), "true");
    assert_eq!(cell(4), "false");
    assert_eq!(cell(5), "0");

    store
        .desire_task(
            &TaskDefinition {
                root_fs: "preloaded:cflinuxfs4".into(),
                ..Default::default()
            },
            "ours-task",
            "wm-domain",
        )
        .await
        .unwrap();
    store.start_task("ours-task", "cell-ours").await.unwrap();
    let row = raw
        .rows("SELECT task_definition, state, failed, result FROM tasks WHERE guid = 'ours-task'")
        .await
        .unwrap()
        .remove(0);
    assert_eq!(&plain(&enc, row[0].as_ref().unwrap())[..2], &[2, 0]);
    assert_eq!(row[1].as_deref(), Some("2"));
    assert_eq!(row[2].as_deref(), Some("false"));

    // Still Diego's version; everything (Diego's rows and ours) reads back.
    assert_eq!(
        version_row(&raw).await,
        format!("{{\"CurrentVersion\":{DIEGO_SCHEMA_VERSION}}}")
    );
    let again = connect(&url, diego_keys()).await;
    assert_eq!(
        again
            .desired_lrps(&DesiredLrpFilter::default())
            .await
            .unwrap()
            .len(),
        3
    );
    assert_eq!(
        again
            .actual_lrps(&ActualLrpFilter::default())
            .await
            .unwrap()
            .len(),
        2
    );
    assert_eq!(again.tasks(&TaskFilter::default()).await.unwrap().len(), 3);
}

/// (column, data type, max length, nullable, default) of a PostgreSQL
/// table, by column name.
type PgColumns = BTreeMap<String, (String, String, String, String)>;

async fn pg_columns(raw: &RawPool, table: &str) -> PgColumns {
    raw.rows(&format!(
        "SELECT column_name, data_type, COALESCE(character_maximum_length::text, ''), \
         is_nullable, COALESCE(column_default, '') FROM information_schema.columns \
         WHERE table_schema = current_schema() AND table_name = '{table}'"
    ))
    .await
    .unwrap()
    .into_iter()
    .map(|r| {
        let c = |i: usize| r[i].clone().unwrap_or_default();
        (c(0), (c(1), c(2), c(3), c(4)))
    })
    .collect()
}

async fn pg_primary_key(raw: &RawPool, table: &str) -> Vec<String> {
    raw.rows(&format!(
        "SELECT k.column_name FROM information_schema.table_constraints c \
         JOIN information_schema.key_column_usage k ON k.constraint_name = c.constraint_name \
         AND k.table_schema = c.table_schema \
         WHERE c.constraint_type = 'PRIMARY KEY' AND c.table_schema = current_schema() \
         AND c.table_name = '{table}' ORDER BY k.ordinal_position"
    ))
    .await
    .unwrap()
    .into_iter()
    .map(|r| r[0].clone().unwrap())
    .collect()
}

async fn pg_indexes(raw: &RawPool) -> BTreeMap<String, String> {
    raw.rows(
        "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() \
         AND indexname NOT LIKE '%_pkey'",
    )
    .await
    .unwrap()
    .into_iter()
    .map(|r| (r[0].clone().unwrap(), r[1].clone().unwrap()))
    .collect()
}

const TABLES: &[&str] = &[
    "configurations",
    "domains",
    "desired_lrps",
    "actual_lrps",
    "tasks",
];

/// Diego's migration manager reads the version row and runs nothing when
/// it is its own last migration; the bbs then uses the tables as its
/// migrations left them. Ours must look the same (plus what Diego
/// tolerates: a column with a default, an index).
#[tokio::test]
async fn our_postgres_schema_is_the_one_diegos_migrations_leave() {
    let Some((dir, pg)) = dump_dir("our_postgres_schema_is_the_one_diegos_migrations_leave") else {
        return;
    };
    let diego_url = load_dump(pg, &dir, false);
    let diego = connect_raw_pg(&diego_url).await;
    let ours = connect(&pg.fresh_database_url(), diego_keys()).await;
    let raw = ours.raw();
    assert_eq!(
        version_row(&raw).await,
        format!("{{\"CurrentVersion\":{DIEGO_SCHEMA_VERSION}}}")
    );
    assert_eq!(
        raw.scalar("SELECT value FROM configurations WHERE id = 'encryption_key_label'")
            .await
            .unwrap(),
        "k1"
    );
    for table in TABLES {
        let theirs = pg_columns(&diego, table).await;
        let mine = pg_columns(&raw, table).await;
        assert!(!theirs.is_empty(), "{table} in Diego's schema");
        for (column, def) in &theirs {
            assert_eq!(mine.get(column), Some(def), "{table}.{column}");
        }
        for (column, (_, _, nullable, default)) in &mine {
            if !theirs.contains_key(column) {
                assert!(
                    nullable == "YES" || !default.is_empty(),
                    "{table}.{column} is ours: Diego's inserts would need a value for it"
                );
            }
        }
        assert_eq!(
            pg_primary_key(&raw, table).await,
            pg_primary_key(&diego, table).await,
            "{table} primary key"
        );
    }
    let theirs = pg_indexes(&diego).await;
    let mine = pg_indexes(&raw).await;
    assert!(theirs.len() >= 13, "{theirs:?}");
    for (name, def) in &theirs {
        assert_eq!(mine.get(name), Some(def), "index {name}");
    }
    let ours_only: Vec<&String> = mine.keys().filter(|k| !theirs.contains_key(*k)).collect();
    assert_eq!(ours_only, vec!["actual_lrps_presence_idx"]);
    let ours_cols: Vec<String> = {
        let theirs = pg_columns(&diego, "desired_lrps").await;
        pg_columns(&raw, "desired_lrps")
            .await
            .into_keys()
            .filter(|c| !theirs.contains_key(c))
            .collect()
    };
    assert_eq!(ours_cols, vec!["update_strategy"]);
}

async fn connect_raw_pg(url: &str) -> RawPool {
    RawPool::Postgres(sqlx::PgPool::connect(url).await.unwrap())
}

/// A table's columns: (column, COLUMN_TYPE, IS_NULLABLE).
type MySqlColumns = &'static [(&'static str, &'static str, &'static str)];

/// What Diego's MySQL migrations leave (`db/migrations/*.go` at bbs
/// 8a3588f, flavor mysql).
const DIEGO_MYSQL: &[(&str, MySqlColumns)] = &[
    (
        "configurations",
        &[
            ("id", "varchar(255)", "NO"),
            ("value", "varchar(255)", "YES"),
        ],
    ),
    (
        "domains",
        &[
            ("domain", "varchar(255)", "NO"),
            ("expire_time", "bigint(20)", "YES"),
        ],
    ),
    (
        "desired_lrps",
        &[
            ("process_guid", "varchar(255)", "NO"),
            ("domain", "varchar(255)", "NO"),
            ("log_guid", "varchar(255)", "NO"),
            ("annotation", "longtext", "YES"),
            ("instances", "int(11)", "NO"),
            ("memory_mb", "int(11)", "NO"),
            ("disk_mb", "int(11)", "NO"),
            ("rootfs", "varchar(1024)", "NO"),
            ("routes", "longtext", "NO"),
            ("volume_placement", "longtext", "NO"),
            ("modification_tag_epoch", "varchar(255)", "NO"),
            ("modification_tag_index", "int(11)", "YES"),
            ("run_info", "longtext", "NO"),
            ("placement_tags", "text", "YES"),
            ("max_pids", "int(11)", "YES"),
            ("metric_tags", "mediumtext", "YES"),
        ],
    ),
    (
        "actual_lrps",
        &[
            ("process_guid", "varchar(255)", "NO"),
            ("instance_index", "int(11)", "NO"),
            ("evacuating", "tinyint(1)", "NO"),
            ("domain", "varchar(255)", "NO"),
            ("state", "varchar(255)", "NO"),
            ("instance_guid", "varchar(255)", "NO"),
            ("cell_id", "varchar(255)", "NO"),
            ("placement_error", "varchar(1024)", "NO"),
            ("since", "bigint(20)", "YES"),
            ("net_info", "longtext", "NO"),
            ("modification_tag_epoch", "varchar(255)", "NO"),
            ("modification_tag_index", "int(11)", "YES"),
            ("crash_count", "int(11)", "NO"),
            ("crash_reason", "varchar(1024)", "NO"),
            ("expire_time", "bigint(20)", "YES"),
            ("presence", "int(11)", "NO"),
            ("internal_routes", "mediumtext", "YES"),
            ("metric_tags", "mediumtext", "YES"),
            ("routable", "tinyint(1)", "YES"),
            ("availability_zone", "varchar(255)", "NO"),
        ],
    ),
    (
        "tasks",
        &[
            ("guid", "varchar(255)", "NO"),
            ("domain", "varchar(255)", "NO"),
            ("updated_at", "bigint(20)", "YES"),
            ("created_at", "bigint(20)", "YES"),
            ("first_completed_at", "bigint(20)", "YES"),
            ("state", "int(11)", "YES"),
            ("cell_id", "varchar(255)", "NO"),
            ("result", "longtext", "YES"),
            ("failed", "tinyint(1)", "YES"),
            ("failure_reason", "varchar(1024)", "NO"),
            ("task_definition", "longtext", "NO"),
            ("rejection_count", "int(11)", "NO"),
            ("rejection_reason", "varchar(1024)", "NO"),
        ],
    ),
];

#[tokio::test]
async fn our_mysql_schema_is_the_one_diegos_migrations_leave() {
    let Some(m) =
        TestMariaDb::shared_or_skip("our_mysql_schema_is_the_one_diegos_migrations_leave")
    else {
        return;
    };
    let ours = connect(&m.fresh_database_url(), diego_keys()).await;
    let raw = ours.raw();
    assert_eq!(
        version_row(&raw).await,
        format!("{{\"CurrentVersion\":{DIEGO_SCHEMA_VERSION}}}")
    );
    for (table, want) in DIEGO_MYSQL {
        let rows = raw
            .rows(&format!(
                "SELECT column_name, column_type, is_nullable, column_default \
                 FROM information_schema.columns \
                 WHERE table_schema = DATABASE() AND table_name = '{table}' \
                 ORDER BY ordinal_position"
            ))
            .await
            .unwrap();
        let got: BTreeMap<String, (String, String, Option<String>)> = rows
            .into_iter()
            .map(|r| {
                (
                    r[0].clone().unwrap(),
                    (r[1].clone().unwrap(), r[2].clone().unwrap(), r[3].clone()),
                )
            })
            .collect();
        for (column, ty, nullable) in *want {
            let (t, n, _) = got
                .get(*column)
                .unwrap_or_else(|| panic!("{table}.{column} missing"));
            assert_eq!(
                (t.as_str(), n.as_str()),
                (*ty, *nullable),
                "{table}.{column}"
            );
        }
        for (column, (_, nullable, default)) in &got {
            if !want.iter().any(|(c, _, _)| c == column) {
                assert_eq!(*table, "desired_lrps");
                assert_eq!(column, "update_strategy");
                assert!(nullable == "YES" || default.is_some());
            }
        }
    }
    let pk = raw
        .rows(
            "SELECT column_name FROM information_schema.key_column_usage \
             WHERE table_schema = DATABASE() AND table_name = 'actual_lrps' \
             AND constraint_name = 'PRIMARY' ORDER BY ordinal_position",
        )
        .await
        .unwrap();
    let pk: Vec<String> = pk.into_iter().map(|r| r[0].clone().unwrap()).collect();
    assert_eq!(pk, vec!["process_guid", "instance_index", "presence"]);
}

#[tokio::test]
async fn sqlite_has_diegos_version_row_columns_and_indexes() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("bbs.db").display());
    let store = connect(&url, diego_keys()).await;
    let raw = store.raw();
    assert_eq!(
        version_row(&raw).await,
        format!("{{\"CurrentVersion\":{DIEGO_SCHEMA_VERSION}}}")
    );
    for (table, want) in DIEGO_MYSQL {
        let got: BTreeSet<String> = raw
            .rows(&format!("SELECT name FROM pragma_table_info('{table}')"))
            .await
            .unwrap()
            .into_iter()
            .map(|r| r[0].clone().unwrap())
            .collect();
        for (column, _, _) in *want {
            assert!(got.contains(*column), "{table}.{column}");
        }
    }
    let indexes: BTreeSet<String> = raw
        .rows("SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")
        .await
        .unwrap()
        .into_iter()
        .map(|r| r[0].clone().unwrap())
        .collect();
    for index in [
        "domains_expire_time_idx",
        "desired_lrps_domain_idx",
        "actual_lrps_domain_idx",
        "actual_lrps_cell_id_idx",
        "actual_lrps_since_idx",
        "actual_lrps_state_idx",
        "actual_lrps_expire_time_idx",
        "actual_lrps_presence_idx",
        "tasks_domain_idx",
        "tasks_state_idx",
        "tasks_cell_id_idx",
        "tasks_updated_at_idx",
        "tasks_created_at_idx",
        "tasks_first_completed_at_idx",
    ] {
        assert!(indexes.contains(index), "{index}: {indexes:?}");
    }
    drop(store);
    // Opening it again changes nothing.
    let again = connect(&url, diego_keys()).await;
    assert_eq!(
        version_row(&again.raw()).await,
        format!("{{\"CurrentVersion\":{DIEGO_SCHEMA_VERSION}}}")
    );
}

// --- an older Diego database, migrated forward ----------------------------

/// Diego's first schema (migration 1461790966 `init_sql`); MEDIUMTEXT is
/// TEXT on PostgreSQL.
const DIEGO_INIT_SCHEMA: &[&str] = &[
    "CREATE TABLE configurations(id VARCHAR(255) PRIMARY KEY, value VARCHAR(255))",
    "CREATE TABLE domains(domain VARCHAR(255) PRIMARY KEY, expire_time BIGINT DEFAULT 0)",
    "CREATE TABLE desired_lrps(process_guid VARCHAR(255) PRIMARY KEY, domain VARCHAR(255) NOT NULL, \
     log_guid VARCHAR(255) NOT NULL, annotation MEDIUMTEXT, instances INT NOT NULL, \
     memory_mb INT NOT NULL, disk_mb INT NOT NULL, rootfs VARCHAR(255) NOT NULL, \
     routes MEDIUMTEXT NOT NULL, volume_placement MEDIUMTEXT NOT NULL, \
     modification_tag_epoch VARCHAR(255) NOT NULL, modification_tag_index INT, \
     run_info MEDIUMTEXT NOT NULL)",
    "CREATE TABLE actual_lrps(process_guid VARCHAR(255), instance_index INT, \
     evacuating BOOL DEFAULT false, domain VARCHAR(255) NOT NULL, state VARCHAR(255) NOT NULL, \
     instance_guid VARCHAR(255) NOT NULL DEFAULT '', cell_id VARCHAR(255) NOT NULL DEFAULT '', \
     placement_error VARCHAR(255) NOT NULL DEFAULT '', since BIGINT DEFAULT 0, \
     net_info MEDIUMTEXT NOT NULL, modification_tag_epoch VARCHAR(255) NOT NULL, \
     modification_tag_index INT, crash_count INT NOT NULL DEFAULT 0, \
     crash_reason VARCHAR(255) NOT NULL DEFAULT '', expire_time BIGINT DEFAULT 0, \
     PRIMARY KEY(process_guid, instance_index, evacuating))",
    "CREATE TABLE tasks(guid VARCHAR(255) PRIMARY KEY, domain VARCHAR(255) NOT NULL, \
     updated_at BIGINT DEFAULT 0, created_at BIGINT DEFAULT 0, first_completed_at BIGINT DEFAULT 0, \
     state INT, cell_id VARCHAR(255) NOT NULL DEFAULT '', result MEDIUMTEXT, failed BOOL DEFAULT false, \
     failure_reason VARCHAR(255) NOT NULL DEFAULT '', task_definition MEDIUMTEXT NOT NULL)",
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

const OLD_ROUTES: &str = r#"{"cf-router":[{"hostnames":["old.example.com"],"port":8080}]}"#;

/// Rows as Diego's bbs wrote them at its first schema version: routes in
/// plain JSON (encrypted by migration 1474993971), metric tags inside
/// run_info (split out by 1722634733), an evacuating instance marked by
/// the `evacuating` column (1529530809 turns it into `presence`).
fn init_era_rows(enc: &Encoder) -> Vec<String> {
    let s = |b: Vec<u8>| String::from_utf8(b).unwrap();
    let run = DesiredLrpRunInfo {
        desired_lrp_key: Some(models::DesiredLrpKey {
            process_guid: "old-app".into(),
            domain: "cf-apps".into(),
            log_guid: "old-log".into(),
        }),
        metric_tags: [(
            "source_id".to_string(),
            MetricTagValue {
                r#static: "old-app".into(),
                dynamic: 0,
            },
        )]
        .into_iter()
        .collect(),
        ..Default::default()
    };
    let net = |addr: &str| {
        s(enc.marshal(&ActualLrpNetInfo {
            address: addr.into(),
            ..Default::default()
        }))
    };
    let task = s(enc.marshal(&TaskDefinition {
        root_fs: "preloaded:cflinuxfs2".into(),
        ..Default::default()
    }));
    vec![
        "INSERT INTO configurations (id, value) VALUES ('version', '{\"CurrentVersion\":1461790966}')"
            .into(),
        "INSERT INTO domains (domain, expire_time) VALUES ('cf-apps', 9223372036854775807)".into(),
        format!(
            "INSERT INTO desired_lrps (process_guid, domain, log_guid, annotation, instances, \
             memory_mb, disk_mb, rootfs, routes, volume_placement, modification_tag_epoch, \
             modification_tag_index, run_info) VALUES ('old-app', 'cf-apps', 'old-log', 'a', 2, \
             256, 512, 'preloaded:cflinuxfs2', '{OLD_ROUTES}', '{}', 'epoch-1', 3, '{}')",
            s(enc.marshal(&VolumePlacement::default())),
            s(enc.marshal(&run))
        ),
        format!(
            "INSERT INTO actual_lrps (process_guid, instance_index, evacuating, domain, state, \
             instance_guid, cell_id, since, net_info, modification_tag_epoch, \
             modification_tag_index) VALUES ('old-app', 0, false, 'cf-apps', 'RUNNING', 'ig-0', \
             'cell-a', 1000, '{}', 'a-epoch-0', 2)",
            net("10.0.0.1")
        ),
        format!(
            "INSERT INTO actual_lrps (process_guid, instance_index, evacuating, domain, state, \
             instance_guid, cell_id, since, net_info, modification_tag_epoch, \
             modification_tag_index) VALUES ('old-app', 0, true, 'cf-apps', 'RUNNING', 'ig-old', \
             'cell-b', 900, '{}', 'a-epoch-e', 5)",
            net("10.0.0.2")
        ),
        format!(
            "INSERT INTO actual_lrps (process_guid, instance_index, evacuating, domain, state, \
             instance_guid, cell_id, since, net_info, modification_tag_epoch, \
             modification_tag_index) VALUES ('old-app', 1, false, 'cf-apps', 'CLAIMED', 'ig-1', \
             'cell-a', 1100, '{}', 'a-epoch-1', 1)",
            net("")
        ),
        format!(
            "INSERT INTO tasks (guid, domain, updated_at, created_at, first_completed_at, state, \
             cell_id, result, failed, failure_reason, task_definition) VALUES ('old-task', \
             'cf-tasks', 2000, 1000, 0, 2, 'cell-a', '', false, '', '{task}')"
        ),
    ]
}

async fn migrates_an_init_era_database(url: &str, raw: RawPool) {
    let flavor = raw.flavor();
    let enc = Encoder::new(&diego_keys()).unwrap();
    for stmt in DIEGO_INIT_SCHEMA {
        let stmt = if flavor == bbs::db::sql::Flavor::Postgres {
            stmt.replace("MEDIUMTEXT", "TEXT")
        } else {
            stmt.to_string()
        };
        raw.execute(&stmt).await.unwrap();
    }
    for stmt in init_era_rows(&enc) {
        raw.execute(&stmt).await.unwrap();
    }

    let store = connect(url, diego_keys()).await;
    let raw = store.raw();
    assert_eq!(
        version_row(&raw).await,
        format!("{{\"CurrentVersion\":{DIEGO_SCHEMA_VERSION}}}")
    );
    // Every row is still there, and reads back.
    assert_eq!(count(&raw, "desired_lrps").await, 1);
    assert_eq!(count(&raw, "actual_lrps").await, 3);
    assert_eq!(count(&raw, "tasks").await, 1);
    let d = store.desired_lrp_by_process_guid("old-app").await.unwrap();
    assert_eq!(d.instances, 2);
    assert_eq!(d.memory_mb, 256);
    assert_eq!(d.annotation, "a");
    assert_eq!(
        d.routes.as_ref().unwrap().routes["cf-router"],
        br#"[{"hostnames":["old.example.com"],"port":8080}]"#.to_vec(),
        "routes encrypted by 1474993971"
    );
    assert_eq!(
        d.metric_tags["source_id"].r#static, "old-app",
        "metric tags split out of run_info by 1722634733"
    );
    assert_eq!(d.modification_tag.as_ref().unwrap().index, 3);
    assert_eq!(d.max_pids, 0);
    assert!(d.placement_tags.is_empty());
    let routes_raw = raw.scalar("SELECT routes FROM desired_lrps").await.unwrap();
    assert!(routes_raw.starts_with("02"), "{routes_raw}");
    let actual = store
        .actual_lrps(&ActualLrpFilter::default())
        .await
        .unwrap();
    assert_eq!(actual.len(), 3);
    let find = |index: i32, presence: Presence| {
        actual
            .iter()
            .find(|a| a.index() == index && a.presence() == presence)
            .unwrap_or_else(|| panic!("{index} {presence:?}: {actual:#?}"))
    };
    let ordinary = find(0, Presence::Ordinary);
    assert_eq!(ordinary.instance_key().instance_guid, "ig-0");
    assert_eq!(
        ordinary.routable(),
        Some(true),
        "RUNNING is routable (1686692176)"
    );
    assert_eq!(
        ordinary.actual_lrp_net_info.as_ref().unwrap().address,
        "10.0.0.1"
    );
    assert_eq!(ordinary.since, 1000);
    let evacuating = find(0, Presence::Evacuating);
    assert_eq!(evacuating.instance_key().cell_id, "cell-b");
    assert_eq!(evacuating.modification_tag.as_ref().unwrap().index, 5);
    let claimed = find(1, Presence::Ordinary);
    assert_eq!(claimed.state, "CLAIMED");
    assert_eq!(claimed.routable(), Some(false));
    assert_eq!(claimed.availability_zone, "");
    let t = store.task_by_guid("old-task").await.unwrap();
    assert_eq!(t.cell_id, "cell-a");
    assert_eq!(t.created_at, 1000);
    assert_eq!(t.rejection_count, 0);
    assert_eq!(
        t.task_definition.as_ref().unwrap().root_fs,
        "preloaded:cflinuxfs2"
    );

    // The old rows are written again as usual, and the encryptor (no label
    // was ever written at that version) records the key.
    store
        .claim_actual_lrp("old-app", 1, &ActualLrpInstanceKey::new("ig-1", "cell-a"))
        .await
        .unwrap();
    store
        .update_desired_lrp(
            "old-app",
            &DesiredLrpUpdate {
                optional_instances: Some(models::desired_lrp_update::OptionalInstances::Instances(
                    3,
                )),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let out = store.run_encryptor().await.unwrap();
    assert_eq!(out.previous_label, None);
    assert_eq!(out.failed, 0);
    assert_eq!(
        store.encryption_key_label().await.unwrap().as_deref(),
        Some("k1")
    );
    assert_eq!(
        store
            .desired_lrp_by_process_guid("old-app")
            .await
            .unwrap()
            .instances,
        3
    );
    assert_eq!(
        store
            .actual_lrps(&ActualLrpFilter::default())
            .await
            .unwrap()
            .len(),
        3
    );
}

#[tokio::test]
async fn an_init_era_postgres_database_is_migrated_forward() {
    let Some(pg) =
        TestPostgres::shared_or_skip("an_init_era_postgres_database_is_migrated_forward")
    else {
        return;
    };
    let url = pg.fresh_database_url();
    let raw = connect_raw_pg(&url).await;
    migrates_an_init_era_database(&url, raw).await;
}

#[tokio::test]
async fn an_init_era_mysql_database_is_migrated_forward() {
    let Some(m) = TestMariaDb::shared_or_skip("an_init_era_mysql_database_is_migrated_forward")
    else {
        return;
    };
    let url = m.fresh_database_url();
    let raw = RawPool::MySql(sqlx::MySqlPool::connect(&url).await.unwrap());
    migrates_an_init_era_database(&url, raw).await;
}

// --- a database of an earlier release of ours -------------------------------

/// The schema our bbs made before it kept Diego's (no version row, routes
/// stored as an enveloped protobuf, dynamic metric tags as numbers). The
/// same DDL ran on SQLite and PostgreSQL.
const OUR_EARLIER_SCHEMA: &[&str] = &[
    "CREATE TABLE configurations (id VARCHAR(255) PRIMARY KEY, value VARCHAR(255))",
    "CREATE TABLE domains (domain VARCHAR(255) PRIMARY KEY, expire_time BIGINT NOT NULL DEFAULT 0)",
    "CREATE TABLE desired_lrps (process_guid VARCHAR(255) PRIMARY KEY, \
     domain VARCHAR(255) NOT NULL, log_guid VARCHAR(255) NOT NULL, \
     annotation TEXT NOT NULL DEFAULT '', instances INT NOT NULL, memory_mb INT NOT NULL, \
     disk_mb INT NOT NULL, max_pids INT NOT NULL DEFAULT 0, rootfs VARCHAR(1024) NOT NULL, \
     routes TEXT NOT NULL, volume_placement TEXT NOT NULL, \
     modification_tag_epoch VARCHAR(255) NOT NULL, \
     modification_tag_index BIGINT NOT NULL DEFAULT 0, run_info TEXT NOT NULL, \
     placement_tags TEXT NOT NULL DEFAULT '[]', metric_tags TEXT NOT NULL, \
     update_strategy INT NOT NULL DEFAULT 0)",
    "CREATE TABLE actual_lrps (process_guid VARCHAR(255) NOT NULL, instance_index INT NOT NULL, \
     presence INT NOT NULL DEFAULT 0, domain VARCHAR(255) NOT NULL, state VARCHAR(255) NOT NULL, \
     instance_guid VARCHAR(255) NOT NULL DEFAULT '', cell_id VARCHAR(255) NOT NULL DEFAULT '', \
     placement_error VARCHAR(1024) NOT NULL DEFAULT '', since BIGINT NOT NULL DEFAULT 0, \
     net_info TEXT NOT NULL, internal_routes TEXT NOT NULL, metric_tags TEXT NOT NULL, \
     routable BOOLEAN NOT NULL DEFAULT false, availability_zone VARCHAR(255) NOT NULL DEFAULT '', \
     modification_tag_epoch VARCHAR(255) NOT NULL, \
     modification_tag_index BIGINT NOT NULL DEFAULT 0, crash_count INT NOT NULL DEFAULT 0, \
     crash_reason VARCHAR(1024) NOT NULL DEFAULT '', expire_time BIGINT NOT NULL DEFAULT 0, \
     PRIMARY KEY (process_guid, instance_index, presence))",
    "CREATE INDEX actual_lrps_presence_idx ON actual_lrps (presence)",
    "CREATE TABLE tasks (guid VARCHAR(255) PRIMARY KEY, domain VARCHAR(255) NOT NULL, \
     updated_at BIGINT NOT NULL DEFAULT 0, created_at BIGINT NOT NULL DEFAULT 0, \
     first_completed_at BIGINT NOT NULL DEFAULT 0, state INT NOT NULL, \
     cell_id VARCHAR(255) NOT NULL DEFAULT '', result TEXT, failed BOOLEAN NOT NULL DEFAULT false, \
     failure_reason VARCHAR(1024) NOT NULL DEFAULT '', task_definition TEXT NOT NULL, \
     rejection_count INT NOT NULL DEFAULT 0, rejection_reason VARCHAR(1024) NOT NULL DEFAULT '')",
];

async fn adopts_our_earlier_database(url: &str, raw: RawPool) {
    let enc = Encoder::new(&diego_keys()).unwrap();
    let s = |b: Vec<u8>| String::from_utf8(b).unwrap();
    for stmt in OUR_EARLIER_SCHEMA {
        raw.execute(stmt).await.unwrap();
    }
    let mut routes = BTreeMap::new();
    routes.insert(
        "cf-router".to_string(),
        br#"[{"hostnames":["earlier.example.com"],"port":8080}]"#.to_vec(),
    );
    let rows = [
        "INSERT INTO configurations (id, value) VALUES ('encryption_key_label', 'k1')".to_string(),
        "INSERT INTO domains (domain, expire_time) VALUES ('cf-apps', 9223372036854775807)".into(),
        format!(
            "INSERT INTO desired_lrps (process_guid, domain, log_guid, instances, memory_mb, \
             disk_mb, rootfs, routes, volume_placement, modification_tag_epoch, \
             modification_tag_index, run_info, metric_tags) VALUES ('earlier', 'cf-apps', 'l', 1, \
             64, 64, 'preloaded:cflinuxfs4', '{}', '{}', 'e', 4, '{}', '{}')",
            s(enc.marshal(&ProtoRoutes { routes })),
            s(enc.marshal(&VolumePlacement::default())),
            s(enc.marshal(&DesiredLrpRunInfo::default())),
            s(enc.encode(br#"{"index":{"dynamic":1},"source_id":{"static":"earlier"}}"#)),
        ),
        format!(
            "INSERT INTO actual_lrps (process_guid, instance_index, domain, state, instance_guid, \
             cell_id, since, net_info, internal_routes, metric_tags, routable, \
             modification_tag_epoch, modification_tag_index) VALUES ('earlier', 0, 'cf-apps', \
             'RUNNING', 'ig', 'cell-a', 7, '{}', '{}', '{}', true, 'ae', 2)",
            s(enc.marshal(&ActualLrpNetInfo {
                address: "10.0.0.7".into(),
                ..Default::default()
            })),
            s(enc.encode(b"[]")),
            s(enc.encode(b"{}")),
        ),
    ];
    for stmt in rows {
        raw.execute(&stmt).await.unwrap();
    }

    let store = connect(url, diego_keys()).await;
    let raw = store.raw();
    assert_eq!(
        version_row(&raw).await,
        format!("{{\"CurrentVersion\":{DIEGO_SCHEMA_VERSION}}}"),
        "adopted, not taken for an empty database"
    );
    let d = store.desired_lrp_by_process_guid("earlier").await.unwrap();
    assert_eq!(
        d.routes.as_ref().unwrap().routes["cf-router"],
        br#"[{"hostnames":["earlier.example.com"],"port":8080}]"#.to_vec()
    );
    assert_eq!(d.metric_tags["index"].dynamic, DynamicValue::Index as i32);
    assert_eq!(d.modification_tag.as_ref().unwrap().index, 4);
    let row = raw
        .rows("SELECT routes, metric_tags FROM desired_lrps")
        .await
        .unwrap()
        .remove(0);
    assert_eq!(
        plain(&enc, row[0].as_ref().unwrap()),
        br#"{"cf-router":[{"hostnames":["earlier.example.com"],"port":8080}]}"#,
        "routes rewritten as Diego stores them"
    );
    assert_eq!(
        plain(&enc, row[1].as_ref().unwrap()),
        br#"{"index":{"dynamic":"INDEX"},"source_id":{"static":"earlier"}}"#
    );
    let a = store
        .actual_lrps(&ActualLrpFilter::default())
        .await
        .unwrap();
    assert_eq!(a.len(), 1);
    assert_eq!(
        a[0].actual_lrp_net_info.as_ref().unwrap().address,
        "10.0.0.7"
    );
    assert_eq!(a[0].routable(), Some(true));
    // Writes work on the adopted tables (Diego's column list).
    store
        .create_unclaimed_actual_lrp(&ActualLrpKey::new("earlier", 1, "cf-apps"))
        .await
        .unwrap();
    assert_eq!(count(&raw, "actual_lrps").await, 2);
}

#[tokio::test]
async fn an_sqlite_database_of_our_earlier_release_is_adopted() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("bbs.db").display());
    let raw = RawPool::Sqlite(
        sqlx::SqlitePool::connect(&format!("{url}?mode=rwc"))
            .await
            .unwrap(),
    );
    adopts_our_earlier_database(&url, raw).await;
}

#[tokio::test]
async fn a_postgres_database_of_our_earlier_release_is_adopted() {
    let Some(pg) =
        TestPostgres::shared_or_skip("a_postgres_database_of_our_earlier_release_is_adopted")
    else {
        return;
    };
    let url = pg.fresh_database_url();
    let raw = connect_raw_pg(&url).await;
    adopts_our_earlier_database(&url, raw).await;
}
