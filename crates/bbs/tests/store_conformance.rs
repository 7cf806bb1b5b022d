//! One conformance suite for `bbs::db::Store`, run against SQLite (temp
//! file), PostgreSQL and MariaDB (throwaway servers from `testkit`), each
//! alone and behind the active BBS's LRP cache (`CachedStore`), which must
//! answer exactly as the store it fronts.

use bbs::db::{
    ActualLrpFilter, CachedStore, CellSet, DesiredLrpFilter, EncryptionConfig, RunningInfo,
    SqlStore, Store, StoreConfig, TaskFilter,
};
use models::actual_lrp::Presence;
use models::actual_lrp_state::{CLAIMED, CRASHED, RUNNING, UNCLAIMED};
use models::desired_lrp_update::{OptionalAnnotation, OptionalImagePassword, OptionalInstances};
use models::task::State;
use models::{
    ActualLrp, ActualLrpInstanceKey, ActualLrpKey, ActualLrpNetInfo, BbsError, DesiredLrp,
    DesiredLrpUpdate, PortMapping, ProtoRoutes, RunAction, TaskDefinition, VolumeMount,
};
use std::collections::BTreeMap;
use std::sync::Arc;
use testkit::mariadb::TestMariaDb;
use testkit::postgres::TestPostgres;

const SECRET_PATH: &str = "/usr/bin/very-secret-start-command";

struct Fx {
    /// What the cases run against: the SQL store, or the cache in front of it.
    store: Arc<dyn Store>,
    sql: SqlStore,
    cached: Option<Arc<CachedStore>>,
    url: String,
    _dir: Option<tempfile::TempDir>,
}

impl Fx {
    async fn new(sql: SqlStore, url: String, dir: Option<tempfile::TempDir>, cache: bool) -> Fx {
        let (store, cached): (Arc<dyn Store>, _) = if cache {
            let c = Arc::new(CachedStore::load(sql.as_store()).await.unwrap());
            (c.clone(), Some(c))
        } else {
            (sql.as_store(), None)
        };
        Fx {
            store,
            sql,
            cached,
            url,
            _dir: dir,
        }
    }

    /// After a case: the cache holds what the database holds.
    async fn check_cache(&self) {
        if let Some(c) = &self.cached {
            assert_eq!(c.differences().await.unwrap(), Vec::<String>::new());
        }
    }
}

fn encryption() -> EncryptionConfig {
    EncryptionConfig::single("key-2024", "correct horse battery staple")
}

async fn sqlite_fx(cache: bool) -> Fx {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("bbs.db").display());
    let store = SqlStore::connect(&StoreConfig {
        url: url.clone(),
        max_open_connections: 8,
        encryption: encryption(),
    })
    .await
    .expect("connect sqlite");
    assert_eq!(store.backend(), "sqlite");
    Fx::new(store, url, Some(dir), cache).await
}

async fn postgres_fx(test: &str, cache: bool) -> Option<Fx> {
    let pg = TestPostgres::shared_or_skip(test)?;
    let url = pg.fresh_database_url();
    let store = SqlStore::connect(&StoreConfig {
        url: url.clone(),
        max_open_connections: 16,
        encryption: encryption(),
    })
    .await
    .expect("connect postgres");
    assert_eq!(store.backend(), "postgres");
    Some(Fx::new(store, url, None, cache).await)
}

async fn mariadb_fx(test: &str, cache: bool) -> Option<Fx> {
    let m = TestMariaDb::shared_or_skip(test)?;
    let url = m.fresh_database_url();
    let store = SqlStore::connect(&StoreConfig {
        url: url.clone(),
        max_open_connections: 16,
        encryption: encryption(),
    })
    .await
    .expect("connect mariadb");
    assert_eq!(store.backend(), "mysql");
    Some(Fx::new(store, url, None, cache).await)
}

macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        conformance!(@backend sqlite, false, $($name),*);
        conformance!(@backend sqlite_cached, true, $($name),*);
        conformance!(@backend postgres, false, $($name),*);
        conformance!(@backend postgres_cached, true, $($name),*);
        conformance!(@backend mariadb, false, $($name),*);
        conformance!(@backend mariadb_cached, true, $($name),*);
    };
    (@backend $m:ident, $cache:expr, $($name:ident),*) => {
        mod $m {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let fx = if stringify!($m).starts_with("sqlite") {
                        super::sqlite_fx($cache).await
                    } else if stringify!($m).starts_with("postgres") {
                        let Some(fx) = super::postgres_fx(stringify!($name), $cache).await else {
                            return;
                        };
                        fx
                    } else {
                        let Some(fx) = super::mariadb_fx(stringify!($name), $cache).await else {
                            return;
                        };
                        fx
                    };
                    super::$name(&fx).await;
                    fx.check_cache().await;
                }
            )*
        }
    };
}

conformance!(
    domains_expire_unless_ttl_zero,
    desired_lrp_lifecycle,
    run_info_is_encrypted_at_rest,
    scheduling_and_routing_infos_and_filters,
    actual_lrp_legal_transitions,
    actual_lrp_illegal_transitions_change_nothing,
    crash_counting_and_restart_decision,
    start_creates_missing_row_and_remove_checks_instance,
    evacuation_rows,
    suspects_and_presence_changes,
    counts,
    actual_lrp_filters,
    task_lifecycle,
    task_cancel_fail_and_illegal_transitions,
    task_reject_until_max_retries,
    concurrent_claims_have_one_winner,
    concurrent_mixed_writes_never_fail,
    converge_lrps_instance_counts_orphans_and_domains,
    converge_lrps_stale_unclaimed_and_restartable_crashes,
    converge_lrps_missing_cells_and_suspects,
    converge_lrps_prunes_evacuating_on_absent_cells,
    converge_lrps_internal_route_and_metric_tag_drift,
    converge_tasks_rules,
    encryption_key_rotation_reencrypts_every_record,
);

/// The store on a MariaDB that takes TLS connections only, reached as
/// Diego's bbs config reaches it (`database_driver: mysql`, the Go DSN,
/// `sql_ca_cert_file`, `sql_enable_identity_verification`): the cases run
/// as on the others.
mod mariadb_tls {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn cases_over_verified_tls() {
        if TestMariaDb::skip_requested() {
            testkit::skip::skip(&format!(
                "bbs store over TLS to MariaDB: {}=1 is set",
                testkit::mariadb::SKIP_ENV
            ));
            return;
        }
        let (_dir, files) = server_tls_files("mariadb");
        let ca_file = files.ca_file.clone();
        let m = tokio::task::spawn_blocking(move || TestMariaDb::try_start_tls(&files))
            .await
            .unwrap()
            .unwrap_or_else(|e| panic!("cannot start a TLS MariaDB: {e}"));
        cases_over_tls("mysql", &ca_file, || {
            m.go_dsn_for(&m.fresh_database().unwrap())
        })
        .await;
    }
}

/// The store on a PostgreSQL that takes TCP connections over TLS only,
/// reached as Diego's bbs config reaches it (`database_driver: postgres`,
/// `sql_ca_cert_file`, `sql_enable_identity_verification`): the cases run
/// as on the others, and a client without TLS is turned away.
mod postgres_tls {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn cases_over_verified_tls() {
        if TestPostgres::skip_requested() {
            testkit::skip::skip(&format!(
                "bbs store over TLS to PostgreSQL: {}=1 is set",
                testkit::postgres::SKIP_ENV
            ));
            return;
        }
        let (_dir, files) = server_tls_files("postgres");
        let ca_file = files.ca_file.clone();
        let pg = tokio::task::spawn_blocking(move || TestPostgres::try_start_tls(&files))
            .await
            .unwrap()
            .unwrap_or_else(|e| panic!("cannot start a TLS PostgreSQL: {e}"));
        let plain = format!("{}?sslmode=disable", pg.url());
        let refused = SqlStore::connect(&StoreConfig {
            url: plain,
            max_open_connections: 1,
            encryption: encryption(),
        })
        .await;
        assert!(refused.is_err(), "a client without TLS got in");
        cases_over_tls("postgres", &ca_file, || {
            pg.url_for(&pg.fresh_database().unwrap())
        })
        .await;
    }
}

/// A CA and a certificate for "localhost" signed by it, for a database
/// server.
fn server_tls_files(stem: &str) -> (tempfile::TempDir, testkit::tls::TlsFiles) {
    let dir = tempfile::tempdir().unwrap();
    let ca = testkit::tls::TestCa::new("sql-ca");
    let files = ca.write(dir.path(), stem, &ca.issue("db", &["localhost"]));
    (dir, files)
}

/// Runs cases on fresh databases (`fresh` gives each one's connection
/// string, on 127.0.0.1) reached by name over TLS through Diego's config,
/// without and then with identity verification (the latter behind the LRP
/// cache).
async fn cases_over_tls(driver: &str, ca_file: &str, fresh: impl Fn() -> String) {
    for (verify_identity, cache) in [(false, false), (true, true)] {
        let cfg = bbs::config::BbsConfig::from_json(
            &serde_json::json!({
                "encryption_keys": {"key-2024": "correct horse battery staple"},
                "active_key_label": "key-2024",
                "database_driver": driver,
                "database_connection_string": fresh().replace("127.0.0.1", "localhost"),
                "sql_ca_cert_file": ca_file,
                "sql_enable_identity_verification": verify_identity,
            })
            .to_string(),
        )
        .unwrap();
        let url = cfg.database_url().unwrap();
        let store = SqlStore::connect(&StoreConfig {
            url: url.clone(),
            max_open_connections: 16,
            encryption: encryption(),
        })
        .await
        .unwrap_or_else(|e| panic!("store over TLS ({verify_identity}): {e}"));
        assert_eq!(store.backend(), driver);
        let fx = Fx::new(store, url, None, cache).await;
        desired_lrp_lifecycle(&fx).await;
        concurrent_claims_have_one_winner(&fx).await;
        fx.check_cache().await;
    }
}

// --- helpers -------------------------------------------------------------

fn assert_kind(err: BbsError, want: BbsError) {
    assert!(err.same_kind(&want), "got {err:?}, want {want:?}");
}

fn desired(guid: &str, domain: &str) -> DesiredLrp {
    let mut routes = BTreeMap::new();
    routes.insert(
        "cf-router".to_string(),
        br#"[{"hostnames":["app.example.com"],"port":8080}]"#.to_vec(),
    );
    DesiredLrp {
        process_guid: guid.into(),
        domain: domain.into(),
        root_fs: "preloaded:cflinuxfs4".into(),
        instances: 2,
        memory_mb: 256,
        disk_mb: 1024,
        max_pids: 100,
        log_guid: format!("log-{guid}"),
        annotation: "v1".into(),
        ports: vec![8080, 2222, 8080],
        placement_tags: vec!["iso-seg".into()],
        routes: Some(ProtoRoutes { routes }),
        image_username: "user".into(),
        image_password: "pw".into(),
        volume_mounts: vec![VolumeMount {
            driver: "nfs".into(),
            container_dir: "/data".into(),
            ..Default::default()
        }],
        action: Some(models::Action {
            run_action: Some(RunAction {
                path: SECRET_PATH.into(),
                user: "vcap".into(),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn key(guid: &str, index: i32) -> ActualLrpKey {
    ActualLrpKey::new(guid, index, "cf-apps")
}

fn ik(guid: &str, cell: &str) -> ActualLrpInstanceKey {
    ActualLrpInstanceKey::new(guid, cell)
}

fn running_info(addr: &str) -> RunningInfo {
    RunningInfo {
        net_info: ActualLrpNetInfo {
            address: addr.into(),
            ports: vec![PortMapping {
                container_port: 8080,
                host_port: 61001,
                ..Default::default()
            }],
            instance_address: "10.255.1.2".into(),
            ..Default::default()
        },
        internal_routes: vec![models::ActualLrpInternalRoute {
            hostname: "app.apps.internal".into(),
        }],
        metric_tags: [("source_id".to_string(), "app-guid".to_string())]
            .into_iter()
            .collect(),
        routable: Some(true),
        availability_zone: "z1".into(),
    }
}

async fn ordinary(s: &dyn Store, guid: &str, index: i32) -> Option<ActualLrp> {
    s.actual_lrps(&ActualLrpFilter {
        process_guid: guid.into(),
        index: Some(index),
        ..Default::default()
    })
    .await
    .unwrap()
    .into_iter()
    .find(|l| l.presence() == Presence::Ordinary)
}

/// A store that answers nsync's bulk read pre-encoded (the LRP cache)
/// answers exactly the scheduling infos it lists.
async fn nsync_answer_matches(s: &dyn Store) {
    let all = DesiredLrpFilter::default();
    if let Some(answer) = s.encoded_scheduling_infos(&all).await.unwrap() {
        use prost::Message;
        let len = answer.len;
        let bytes = answer.concat();
        assert_eq!(bytes.len(), len, "the answer's announced length");
        let decoded = models::DesiredLrpSchedulingInfosResponse::decode(&bytes[..]).unwrap();
        assert_eq!(
            decoded.desired_lrp_scheduling_infos,
            s.desired_lrp_scheduling_infos(&all).await.unwrap()
        );
    }
}

fn tag_index(l: &ActualLrp) -> u32 {
    l.modification_tag.as_ref().unwrap().index
}

/// Every record has Diego's non-nullable sub-messages set.
fn assert_complete(l: &ActualLrp) {
    assert!(l.actual_lrp_key.is_some());
    assert!(l.actual_lrp_instance_key.is_some());
    assert!(l.actual_lrp_net_info.is_some());
    assert!(l.modification_tag.is_some());
    assert!(l.routable().is_some());
}

async fn raw_scalar(fx: &Fx, sql: &str) -> String {
    fx.sql.raw().scalar(sql).await.unwrap()
}

/// Changes rows behind the store's back (to age or break them); the cache,
/// if any, reads everything again.
async fn raw_exec(fx: &Fx, sql: &str) {
    fx.sql.raw().execute(sql).await.unwrap();
    if let Some(c) = &fx.cached {
        c.reload().await.unwrap();
    }
}

fn task_def(domain_note: &str) -> TaskDefinition {
    TaskDefinition {
        root_fs: "preloaded:cflinuxfs4".into(),
        memory_mb: 128,
        disk_mb: 256,
        log_guid: "lg".into(),
        annotation: domain_note.into(),
        action: Some(models::Action {
            run_action: Some(RunAction {
                path: SECRET_PATH.into(),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

// --- domains -------------------------------------------------------------

async fn domains_expire_unless_ttl_zero(fx: &Fx) {
    let s = &*fx.store;
    assert!(s.fresh_domains().await.unwrap().is_empty());
    s.upsert_domain("forever", 0).await.unwrap();
    s.upsert_domain("short", 100).await.unwrap();
    s.upsert_domain("short", 100).await.unwrap(); // upsert is idempotent
    assert_eq!(s.fresh_domains().await.unwrap(), vec!["forever", "short"]);
    // Let "short" run out.
    raw_exec(
        fx,
        "UPDATE domains SET expire_time = 1000 WHERE domain = 'short'",
    )
    .await;
    assert_eq!(s.fresh_domains().await.unwrap(), vec!["forever"]);
    // Re-upserting refreshes it.
    s.upsert_domain("short", 100).await.unwrap();
    assert_eq!(s.fresh_domains().await.unwrap(), vec!["forever", "short"]);
}

// --- desired LRPs --------------------------------------------------------

async fn desired_lrp_lifecycle(fx: &Fx) {
    let s = &*fx.store;
    let input = desired("pg-1", "cf-apps");
    let stored = s.desire_lrp(&input).await.unwrap();
    nsync_answer_matches(s).await;
    let tag = stored.modification_tag.clone().unwrap();
    assert!(!tag.epoch.is_empty());
    assert_eq!(tag.index, 0);
    assert!(stored.routes.is_some());
    assert_eq!(stored.ports, vec![8080, 2222], "ports are deduplicated");
    let got = s.desired_lrp_by_process_guid("pg-1").await.unwrap();
    assert_eq!(got, stored);
    assert_eq!(got.routes, input.routes);
    assert_eq!(got.action, input.action);
    assert_eq!(got.volume_mounts, input.volume_mounts);

    assert_kind(
        s.desire_lrp(&input).await.unwrap_err(),
        BbsError::resource_exists(),
    );
    assert_kind(
        s.desired_lrp_by_process_guid("nope").await.unwrap_err(),
        BbsError::resource_not_found(),
    );

    let mut new_routes = BTreeMap::new();
    new_routes.insert("tcp-router".to_string(), b"[]".to_vec());
    let update = DesiredLrpUpdate {
        optional_instances: Some(OptionalInstances::Instances(5)),
        optional_annotation: Some(OptionalAnnotation::Annotation("v2".into())),
        routes: Some(ProtoRoutes {
            routes: new_routes.clone(),
        }),
        optional_image_password: Some(OptionalImagePassword::ImagePassword("pw2".into())),
        metric_tags: [(
            "app".to_string(),
            models::MetricTagValue {
                r#static: "a".into(),
                dynamic: 0,
            },
        )]
        .into_iter()
        .collect(),
        ..Default::default()
    };
    let (before, after) = s.update_desired_lrp("pg-1", &update).await.unwrap();
    nsync_answer_matches(s).await;
    assert_eq!(before, stored);
    assert_eq!(after.instances, 5);
    assert_eq!(after.annotation, "v2");
    assert_eq!(after.image_password, "pw2");
    assert_eq!(after.image_username, "user");
    assert_eq!(after.routes.as_ref().unwrap().routes, new_routes);
    assert_eq!(after.metric_tags, update.metric_tags);
    assert_eq!(after.modification_tag.as_ref().unwrap().epoch, tag.epoch);
    assert_eq!(after.modification_tag.as_ref().unwrap().index, 1);
    assert_eq!(s.desired_lrp_by_process_guid("pg-1").await.unwrap(), after);

    // An empty update still bumps the tag.
    let (_, after2) = s
        .update_desired_lrp("pg-1", &DesiredLrpUpdate::default())
        .await
        .unwrap();
    assert_eq!(after2.modification_tag.as_ref().unwrap().index, 2);
    assert_eq!(after2.instances, 5);

    assert_kind(
        s.update_desired_lrp("nope", &update).await.unwrap_err(),
        BbsError::resource_not_found(),
    );
    assert_eq!(s.count_desired_instances().await.unwrap(), 5);

    let removed = s.remove_desired_lrp("pg-1").await.unwrap();
    nsync_answer_matches(s).await;
    assert_eq!(removed, after2);
    assert_kind(
        s.remove_desired_lrp("pg-1").await.unwrap_err(),
        BbsError::resource_not_found(),
    );
    assert!(s
        .desired_lrps(&DesiredLrpFilter::default())
        .await
        .unwrap()
        .is_empty());
    assert_eq!(s.count_desired_instances().await.unwrap(), 0);
}

async fn run_info_is_encrypted_at_rest(fx: &Fx) {
    let s = &*fx.store;
    s.desire_lrp(&desired("pg-enc", "cf-apps")).await.unwrap();
    for column in ["run_info", "routes", "volume_placement", "metric_tags"] {
        let raw = raw_scalar(
            fx,
            &format!("SELECT {column} FROM desired_lrps WHERE process_guid = 'pg-enc'"),
        )
        .await;
        assert!(raw.starts_with("02"), "{column} is Diego-encoded: {raw}");
        use base64::Engine;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&raw[2..])
            .unwrap();
        assert_eq!(bytes[0] as usize, "key-2024".len());
        assert_eq!(&bytes[1..9], b"key-2024");
        for needle in [SECRET_PATH.as_bytes(), b"app.example.com".as_slice()] {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle),
                "{column} leaks plaintext"
            );
            assert!(!raw.contains(std::str::from_utf8(needle).unwrap()));
        }
    }
    s.desire_task(&task_def("x"), "task-enc", "d")
        .await
        .unwrap();
    let raw = raw_scalar(
        fx,
        "SELECT task_definition FROM tasks WHERE guid = 'task-enc'",
    )
    .await;
    assert!(raw.starts_with("02"));
    assert!(!raw.contains(SECRET_PATH));

    // A store with another key cannot read the records; one that also
    // lists the old key (rotation) can.
    let mut other = EncryptionConfig::single("key-2025", "another passphrase");
    let wrong = SqlStore::connect(&StoreConfig {
        url: fx.url.clone(),
        max_open_connections: 2,
        encryption: other.clone(),
    })
    .await
    .unwrap();
    assert_kind(
        wrong
            .desired_lrp_by_process_guid("pg-enc")
            .await
            .unwrap_err(),
        BbsError::deserialize(),
    );
    assert!(wrong
        .desired_lrps(&DesiredLrpFilter::default())
        .await
        .unwrap()
        .is_empty());
    other.keys.extend(encryption().keys);
    let rotated = SqlStore::connect(&StoreConfig {
        url: fx.url.clone(),
        max_open_connections: 2,
        encryption: other,
    })
    .await
    .unwrap();
    assert_eq!(
        rotated.desired_lrp_by_process_guid("pg-enc").await.unwrap(),
        s.desired_lrp_by_process_guid("pg-enc").await.unwrap()
    );
}

async fn scheduling_and_routing_infos_and_filters(fx: &Fx) {
    let s = &*fx.store;
    for (g, d) in [("b", "cf-apps"), ("a", "cf-apps"), ("c", "other")] {
        s.desire_lrp(&desired(g, d)).await.unwrap();
    }
    let all = s.desired_lrps(&DesiredLrpFilter::default()).await.unwrap();
    let guids: Vec<_> = all.iter().map(|l| l.process_guid.as_str()).collect();
    assert_eq!(guids, vec!["a", "b", "c"], "ordered by process guid");

    let by_domain = s
        .desired_lrps(&DesiredLrpFilter {
            domain: "cf-apps".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(by_domain.len(), 2);
    let by_guid = s
        .desired_lrps(&DesiredLrpFilter {
            process_guids: vec!["c".into(), "a".into(), "zzz".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        by_guid
            .iter()
            .map(|l| l.process_guid.as_str())
            .collect::<Vec<_>>(),
        vec!["a", "c"]
    );

    let infos = s
        .desired_lrp_scheduling_infos(&DesiredLrpFilter {
            domain: "cf-apps".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(infos.len(), 2);
    let info = &infos[0];
    let k = info.desired_lrp_key.as_ref().unwrap();
    assert_eq!(k.process_guid, "a");
    assert_eq!(k.log_guid, "log-a");
    let res = info.desired_lrp_resource.as_ref().unwrap();
    assert_eq!((res.memory_mb, res.disk_mb, res.max_pids), (256, 1024, 100));
    assert_eq!(res.root_fs, "preloaded:cflinuxfs4");
    assert_eq!(
        info.volume_placement.as_ref().unwrap().driver_names,
        vec!["nfs"]
    );
    assert_eq!(info.placement_tags, vec!["iso-seg"]);
    assert!(info.routes.is_some() && info.modification_tag.is_some());
    assert_eq!(
        s.desired_lrp_scheduling_info_by_process_guid("a")
            .await
            .unwrap(),
        *info
    );
    assert_kind(
        s.desired_lrp_scheduling_info_by_process_guid("zzz")
            .await
            .unwrap_err(),
        BbsError::resource_not_found(),
    );

    let routing = s
        .desired_lrp_routing_infos(&DesiredLrpFilter {
            process_guids: vec!["b".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(routing.len(), 1);
    let r = &routing[0];
    assert_eq!(r.process_guid, "b");
    assert_eq!(r.log_guid, "log-b");
    assert_eq!(r.instances, 2);
    assert_eq!(r.routes, desired("b", "x").routes);
    assert!(r.action.is_none(), "routing infos carry no run info");
    assert!(r.modification_tag.is_some());
    assert_eq!(
        s.desired_lrp_routing_infos(&DesiredLrpFilter::default())
            .await
            .unwrap()
            .len(),
        3
    );
}

// --- actual LRPs ---------------------------------------------------------

async fn actual_lrp_legal_transitions(fx: &Fx) {
    let s = &*fx.store;
    let k = key("pg", 0);
    let created = s.create_unclaimed_actual_lrp(&k).await.unwrap();
    assert_complete(&created);
    assert_eq!(created.state, UNCLAIMED);
    assert_eq!(created.routable(), Some(false));
    assert_eq!(tag_index(&created), 0);
    assert!(created.since > 0);
    assert_eq!(ordinary(s, "pg", 0).await.unwrap(), created);
    assert_kind(
        s.create_unclaimed_actual_lrp(&k).await.unwrap_err(),
        BbsError::resource_exists(),
    );

    // fail records a placement error on UNCLAIMED
    let (_, failed) = s
        .fail_actual_lrp(&k, "insufficient resources")
        .await
        .unwrap();
    assert_eq!(failed.placement_error, "insufficient resources");
    assert_eq!(tag_index(&failed), 1);

    // claim clears it
    let (before, claimed) = s
        .claim_actual_lrp("pg", 0, &ik("i1", "cell-1"))
        .await
        .unwrap();
    assert_eq!(before, failed);
    assert_eq!(claimed.state, CLAIMED);
    assert_eq!(claimed.instance_key(), ik("i1", "cell-1"));
    assert_eq!(claimed.placement_error, "");
    assert_eq!(tag_index(&claimed), 2);
    assert_eq!(
        claimed.modification_tag.as_ref().unwrap().epoch,
        created.modification_tag.as_ref().unwrap().epoch
    );
    // claiming again with the same key changes nothing
    let (b2, a2) = s
        .claim_actual_lrp("pg", 0, &ik("i1", "cell-1"))
        .await
        .unwrap();
    assert_eq!(b2, claimed);
    assert_eq!(a2, claimed);

    // start
    let ri = running_info("10.0.0.1");
    let (before, started) = s
        .start_actual_lrp(&k, &ik("i1", "cell-1"), &ri)
        .await
        .unwrap();
    assert_eq!(before.unwrap(), claimed);
    assert_eq!(started.state, RUNNING);
    assert_eq!(started.actual_lrp_net_info.as_ref(), Some(&ri.net_info));
    assert_eq!(started.actual_lrp_internal_routes, ri.internal_routes);
    assert_eq!(started.metric_tags, ri.metric_tags);
    assert_eq!(started.availability_zone, "z1");
    assert_eq!(started.routable(), Some(true));
    assert_eq!(tag_index(&started), 3);
    assert_eq!(ordinary(s, "pg", 0).await.unwrap(), started);
    // the same start again is a no-op
    let (b, a) = s
        .start_actual_lrp(&k, &ik("i1", "cell-1"), &ri)
        .await
        .unwrap();
    assert_eq!(b.unwrap(), started);
    assert_eq!(a, started);
    // a start with new net info updates
    let mut ri2 = running_info("10.0.0.9");
    ri2.routable = Some(false);
    let (_, restarted) = s
        .start_actual_lrp(&k, &ik("i1", "cell-1"), &ri2)
        .await
        .unwrap();
    assert_eq!(
        restarted.actual_lrp_net_info.as_ref().unwrap().address,
        "10.0.0.9"
    );
    assert_eq!(restarted.routable(), Some(false));
    assert_eq!(tag_index(&restarted), 4);

    // unclaim (not stale) from RUNNING
    let (b, unclaimed) = s.unclaim_actual_lrp(false, &k).await.unwrap();
    assert_eq!(b, restarted);
    assert_eq!(unclaimed.state, UNCLAIMED);
    assert!(unclaimed.instance_key().is_empty());
    assert_eq!(
        unclaimed.actual_lrp_net_info.as_ref().unwrap(),
        &ActualLrpNetInfo::default()
    );
    assert_eq!(tag_index(&unclaimed), 5);
    assert_complete(&unclaimed);

    // UNCLAIMED → RUNNING directly (any key)
    let (_, r) = s
        .start_actual_lrp(&k, &ik("i2", "cell-2"), &running_info("10.0.0.2"))
        .await
        .unwrap();
    assert_eq!(r.state, RUNNING);
    assert_eq!(r.cell_id(), "cell-2");

    // remove
    let removed = s
        .remove_actual_lrp("pg", 0, Some(&ik("i2", "cell-2")))
        .await
        .unwrap();
    assert_eq!(removed, r);
    assert!(ordinary(s, "pg", 0).await.is_none());
    assert_kind(
        s.remove_actual_lrp("pg", 0, None).await.unwrap_err(),
        BbsError::resource_not_found(),
    );
}

async fn actual_lrp_illegal_transitions_change_nothing(fx: &Fx) {
    let s = &*fx.store;
    let k = key("pg", 1);
    // Nothing to act on yet.
    assert_kind(
        s.claim_actual_lrp("pg", 1, &ik("i", "c"))
            .await
            .unwrap_err(),
        BbsError::resource_not_found(),
    );
    assert_kind(
        s.crash_actual_lrp(&k, &ik("i", "c"), "boom")
            .await
            .unwrap_err(),
        BbsError::resource_not_found(),
    );
    assert_kind(
        s.unclaim_actual_lrp(false, &k).await.unwrap_err(),
        BbsError::resource_not_found(),
    );

    let created = s.create_unclaimed_actual_lrp(&k).await.unwrap();
    // UNCLAIMED cannot crash nor be unclaimed
    assert_kind(
        s.crash_actual_lrp(&k, &ik("i", "c"), "boom")
            .await
            .unwrap_err(),
        BbsError::cannot_be_crashed(),
    );
    assert_kind(
        s.unclaim_actual_lrp(false, &k).await.unwrap_err(),
        BbsError::cannot_be_unclaimed(),
    );
    assert_eq!(ordinary(s, "pg", 1).await.unwrap(), created);

    let (_, claimed) = s
        .claim_actual_lrp("pg", 1, &ik("i1", "cell-1"))
        .await
        .unwrap();
    // another instance cannot claim, crash; only UNCLAIMED can fail
    assert_kind(
        s.claim_actual_lrp("pg", 1, &ik("i2", "cell-2"))
            .await
            .unwrap_err(),
        BbsError::cannot_be_claimed(),
    );
    assert_kind(
        s.crash_actual_lrp(&k, &ik("i2", "cell-2"), "x")
            .await
            .unwrap_err(),
        BbsError::cannot_be_crashed(),
    );
    assert_kind(
        s.fail_actual_lrp(&k, "nope").await.unwrap_err(),
        BbsError::cannot_be_failed(),
    );
    // stale unclaim of a CLAIMED instance is refused
    assert_kind(
        s.unclaim_actual_lrp(true, &k).await.unwrap_err(),
        BbsError::cannot_be_unclaimed(),
    );
    assert_eq!(ordinary(s, "pg", 1).await.unwrap(), claimed);

    let (_, running) = s
        .start_actual_lrp(&k, &ik("i1", "cell-1"), &running_info("10.0.0.1"))
        .await
        .unwrap();
    // RUNNING: another instance can neither start, claim nor crash it
    assert_kind(
        s.start_actual_lrp(&k, &ik("i2", "cell-2"), &running_info("10.0.0.2"))
            .await
            .unwrap_err(),
        BbsError::cannot_be_started(),
    );
    assert_kind(
        s.claim_actual_lrp("pg", 1, &ik("i2", "cell-2"))
            .await
            .unwrap_err(),
        BbsError::cannot_be_claimed(),
    );
    // a different domain in the key is a different LRP
    assert_kind(
        s.start_actual_lrp(
            &ActualLrpKey::new("pg", 1, "other-domain"),
            &ik("i1", "cell-1"),
            &running_info("10.0.0.3"),
        )
        .await
        .unwrap_err(),
        BbsError::cannot_be_started(),
    );
    // removing with the wrong instance key
    assert_kind(
        s.remove_actual_lrp("pg", 1, Some(&ik("i2", "cell-2")))
            .await
            .unwrap_err(),
        BbsError::resource_not_found(),
    );
    assert_eq!(ordinary(s, "pg", 1).await.unwrap(), running);
}

async fn crash_counting_and_restart_decision(fx: &Fx) {
    let s = &*fx.store;
    let k = key("crashy", 0);
    s.create_unclaimed_actual_lrp(&k).await.unwrap();
    let mut last = None;
    for expected_count in 1..=4 {
        let me = ik(&format!("i{expected_count}"), "cell-1");
        if ordinary(s, "crashy", 0).await.unwrap().state == CRASHED {
            // convergence restarts a crashed instance through UNCLAIMED
            s.unclaim_actual_lrp(false, &k).await.unwrap();
        }
        s.claim_actual_lrp("crashy", 0, &me).await.unwrap();
        s.start_actual_lrp(&k, &me, &running_info("10.0.0.1"))
            .await
            .unwrap();
        let out = s.crash_actual_lrp(&k, &me, "exit status 1").await.unwrap();
        assert_eq!(out.before.state, RUNNING);
        assert_eq!(out.after.crash_count, expected_count);
        assert_eq!(out.after.crash_reason, "exit status 1");
        assert!(out.after.instance_key().is_empty());
        assert_eq!(
            out.after.actual_lrp_net_info.as_ref().unwrap(),
            &ActualLrpNetInfo::default()
        );
        assert_complete(&out.after);
        if expected_count < 3 {
            assert!(
                out.should_restart,
                "crash {expected_count} restarts at once"
            );
            assert_eq!(out.after.state, UNCLAIMED);
        } else {
            assert!(!out.should_restart, "crash {expected_count} backs off");
            assert_eq!(out.after.state, CRASHED);
        }
        assert_eq!(ordinary(s, "crashy", 0).await.unwrap(), out.after);
        last = Some(out.after);
    }
    let crashed = last.unwrap();
    // CRASHED → CLAIMED needs the same instance key; the key was cleared, so
    // any non-empty key differs: Diego keeps crashed instances for convergence.
    assert_kind(
        s.claim_actual_lrp("crashy", 0, &ik("i9", "cell-1"))
            .await
            .unwrap_err(),
        BbsError::cannot_be_claimed(),
    );
    // convergence unclaims a restartable crashed instance
    let (_, unclaimed) = s.unclaim_actual_lrp(false, &k).await.unwrap();
    assert_eq!(
        unclaimed.crash_count, crashed.crash_count,
        "unclaim keeps the count"
    );

    // Running for more than 5 minutes resets the count to 1.
    let me = ik("long", "cell-1");
    s.claim_actual_lrp("crashy", 0, &me).await.unwrap();
    s.start_actual_lrp(&k, &me, &running_info("10.0.0.1"))
        .await
        .unwrap();
    raw_exec(
        fx,
        "UPDATE actual_lrps SET since = since - 301000000000 WHERE process_guid = 'crashy'",
    )
    .await;
    let out = s.crash_actual_lrp(&k, &me, "oom").await.unwrap();
    assert_eq!(out.after.crash_count, 1);
    assert!(out.should_restart);
    assert_eq!(out.after.state, UNCLAIMED);

    // A long crash reason is truncated to 1024 bytes.
    let me = ik("trunc", "cell-1");
    s.claim_actual_lrp("crashy", 0, &me).await.unwrap();
    let out = s
        .crash_actual_lrp(&k, &me, &"x".repeat(5000))
        .await
        .unwrap();
    assert_eq!(out.before.state, CLAIMED);
    assert_eq!(out.after.crash_reason.len(), 1024);
    assert!(out.after.crash_reason.ends_with("(truncated)"));
    assert_eq!(out.after.crash_count, 2);
}

async fn start_creates_missing_row_and_remove_checks_instance(fx: &Fx) {
    let s = &*fx.store;
    let k = key("fresh", 3);
    let (before, created) = s
        .start_actual_lrp(&k, &ik("i1", "cell-1"), &running_info("10.0.0.1"))
        .await
        .unwrap();
    assert!(before.is_none());
    assert_complete(&created);
    assert_eq!(created.state, RUNNING);
    assert_eq!(tag_index(&created), 0);
    assert_eq!(ordinary(s, "fresh", 3).await.unwrap(), created);
    // routable unset means routable
    let mut ri = running_info("10.0.0.5");
    ri.routable = None;
    let (_, r) = s
        .start_actual_lrp(&key("fresh", 4), &ik("i2", "cell-1"), &ri)
        .await
        .unwrap();
    assert_eq!(r.routable(), Some(true));
    let removed = s.remove_actual_lrp("fresh", 4, None).await.unwrap();
    assert_eq!(removed, r);
}

async fn evacuation_rows(fx: &Fx) {
    let s = &*fx.store;
    let k = key("evac", 0);
    let me = ik("i1", "cell-1");
    s.create_unclaimed_actual_lrp(&k).await.unwrap();
    s.claim_actual_lrp("evac", 0, &me).await.unwrap();
    let (_, running) = s
        .start_actual_lrp(&k, &me, &running_info("10.0.0.1"))
        .await
        .unwrap();

    let evac = s
        .evacuate_actual_lrp(&k, &me, &running_info("10.0.0.1"))
        .await
        .unwrap();
    assert_eq!(evac.presence(), Presence::Evacuating);
    assert_eq!(evac.state, RUNNING);
    assert_eq!(evac.instance_key(), me);
    assert_complete(&evac);
    assert_ne!(
        evac.modification_tag.as_ref().unwrap().epoch,
        running.modification_tag.as_ref().unwrap().epoch
    );
    // same instance + same net info → ResourceExists
    assert_kind(
        s.evacuate_actual_lrp(&k, &me, &running_info("10.0.0.1"))
            .await
            .unwrap_err(),
        BbsError::resource_exists(),
    );
    // new net info replaces the row and bumps its tag
    let evac2 = s
        .evacuate_actual_lrp(&k, &me, &running_info("10.0.0.7"))
        .await
        .unwrap();
    assert_eq!(tag_index(&evac2), 1);
    assert_eq!(
        evac2.actual_lrp_net_info.as_ref().unwrap().address,
        "10.0.0.7"
    );

    let both = s
        .actual_lrps(&ActualLrpFilter {
            process_guid: "evac".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(both.len(), 2);
    assert_eq!(both[0], running);
    assert_eq!(both[1], evac2);

    // the ordinary row is unclaimed and re-placed elsewhere meanwhile
    s.unclaim_actual_lrp(false, &k).await.unwrap();
    let other = ik("i2", "cell-2");
    s.claim_actual_lrp("evac", 0, &other).await.unwrap();

    assert_kind(
        s.remove_evacuating_actual_lrp(&k, &other)
            .await
            .unwrap_err(),
        BbsError::cannot_be_removed(),
    );
    let removed = s.remove_evacuating_actual_lrp(&k, &me).await.unwrap();
    assert_eq!(removed, evac2);
    assert_kind(
        s.remove_evacuating_actual_lrp(&k, &me).await.unwrap_err(),
        BbsError::resource_not_found(),
    );
    let left = s
        .actual_lrps(&ActualLrpFilter {
            process_guid: "evac".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].presence(), Presence::Ordinary);
    assert_eq!(left[0].instance_key(), other);
}

async fn suspects_and_presence_changes(fx: &Fx) {
    let s = &*fx.store;
    let k = key("sus", 0);
    let me = ik("i1", "cell-gone");
    s.create_unclaimed_actual_lrp(&k).await.unwrap();
    s.claim_actual_lrp("sus", 0, &me).await.unwrap();
    s.start_actual_lrp(&k, &me, &running_info("10.0.0.1"))
        .await
        .unwrap();
    // convergence: ordinary → suspect, then a new unclaimed ordinary
    let (before, after) = s
        .change_actual_lrp_presence(&k, Presence::Ordinary, Presence::Suspect)
        .await
        .unwrap();
    assert_eq!(before.presence(), Presence::Ordinary);
    assert_eq!(after.presence(), Presence::Suspect);
    assert_eq!(tag_index(&after), tag_index(&before));
    assert!(ordinary(s, "sus", 0).await.is_none());
    let replacement = s.create_unclaimed_actual_lrp(&k).await.unwrap();
    // moving another row onto the suspect's slot collides
    assert_kind(
        s.change_actual_lrp_presence(&k, Presence::Ordinary, Presence::Suspect)
            .await
            .unwrap_err(),
        BbsError::resource_exists(),
    );
    assert_eq!(ordinary(s, "sus", 0).await.unwrap(), replacement);

    let rows = s
        .actual_lrps(&ActualLrpFilter {
            cell_id: "cell-gone".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(rows, vec![after.clone()]);

    let removed = s.remove_suspect_actual_lrp(&k).await.unwrap();
    assert_eq!(removed, after);
    assert_kind(
        s.remove_suspect_actual_lrp(&k).await.unwrap_err(),
        BbsError::resource_not_found(),
    );
    assert_kind(
        s.change_actual_lrp_presence(&k, Presence::Suspect, Presence::Ordinary)
            .await
            .unwrap_err(),
        BbsError::resource_not_found(),
    );
}

async fn counts(fx: &Fx) {
    let s = &*fx.store;
    for i in 0..4 {
        s.create_unclaimed_actual_lrp(&key("cnt", i)).await.unwrap();
    }
    s.claim_actual_lrp("cnt", 1, &ik("a", "c")).await.unwrap();
    s.claim_actual_lrp("cnt", 2, &ik("b", "c")).await.unwrap();
    s.start_actual_lrp(&key("cnt", 2), &ik("b", "c"), &running_info("1.1.1.1"))
        .await
        .unwrap();
    for n in 0..3 {
        let me = ik(&format!("x{n}"), "c");
        s.claim_actual_lrp("cnt", 3, &me).await.unwrap();
        s.crash_actual_lrp(&key("cnt", 3), &me, "boom")
            .await
            .unwrap();
    }
    // an evacuating row is not counted
    s.evacuate_actual_lrp(&key("cnt", 2), &ik("b", "c"), &running_info("1.1.1.1"))
        .await
        .unwrap();
    let c = s.count_actual_lrps_by_state().await.unwrap();
    assert_eq!(
        (
            c.unclaimed,
            c.claimed,
            c.running,
            c.crashed,
            c.crashing_desireds
        ),
        (1, 1, 1, 1, 1)
    );
}

async fn actual_lrp_filters(fx: &Fx) {
    let s = &*fx.store;
    for (g, i, d) in [
        ("b", 0, "d1"),
        ("a", 1, "d1"),
        ("a", 0, "d2"),
        ("c", 0, "d2"),
    ] {
        s.create_unclaimed_actual_lrp(&ActualLrpKey::new(g, i, d))
            .await
            .unwrap();
    }
    s.claim_actual_lrp("a", 1, &ik("x", "cell-9"))
        .await
        .unwrap();
    let all = s.actual_lrps(&ActualLrpFilter::default()).await.unwrap();
    let ids: Vec<_> = all
        .iter()
        .map(|l| (l.process_guid().to_string(), l.index()))
        .collect();
    assert_eq!(
        ids,
        vec![
            ("a".into(), 0),
            ("a".into(), 1),
            ("b".into(), 0),
            ("c".into(), 0)
        ]
    );
    let f = |domain: &str, cell: &str, guid: &str, index: Option<i32>| ActualLrpFilter {
        domain: domain.into(),
        cell_id: cell.into(),
        process_guid: guid.into(),
        index,
    };
    assert_eq!(
        s.actual_lrps(&f("d2", "", "", None)).await.unwrap().len(),
        2
    );
    assert_eq!(
        s.actual_lrps(&f("", "cell-9", "", None))
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(s.actual_lrps(&f("", "", "a", None)).await.unwrap().len(), 2);
    assert_eq!(
        s.actual_lrps(&f("", "", "a", Some(0))).await.unwrap().len(),
        1
    );
    assert_eq!(
        s.actual_lrps(&f("d1", "", "a", Some(0)))
            .await
            .unwrap()
            .len(),
        0
    );
    let by = s
        .actual_lrps_by_process_guids(&["c".into(), "a".into()])
        .await
        .unwrap();
    assert_eq!(by.len(), 3);
    assert!(by.iter().all(|l| l.process_guid() != "b"));
    assert_eq!(s.actual_lrps_by_process_guids(&[]).await.unwrap().len(), 4);
}

// --- tasks ---------------------------------------------------------------

async fn task_lifecycle(fx: &Fx) {
    let s = &*fx.store;
    let def = task_def("t");
    let t = s.desire_task(&def, "task-1", "cf-tasks").await.unwrap();
    assert_eq!(t.state(), State::Pending);
    assert!(t.created_at > 0 && t.created_at == t.updated_at);
    assert_eq!(s.task_by_guid("task-1").await.unwrap(), t);
    assert_kind(
        s.desire_task(&def, "task-1", "cf-tasks").await.unwrap_err(),
        BbsError::resource_exists(),
    );
    assert_kind(
        s.task_by_guid("nope").await.unwrap_err(),
        BbsError::resource_not_found(),
    );

    let (before, running, should_start) = s.start_task("task-1", "cell-1").await.unwrap();
    assert!(should_start);
    assert_eq!(before, t);
    assert_eq!(running.state(), State::Running);
    assert_eq!(running.cell_id, "cell-1");
    // starting again on the same cell: no error, no start
    let (_, again, should_start) = s.start_task("task-1", "cell-1").await.unwrap();
    assert!(!should_start);
    assert_eq!(again, running);
    // on another cell: invalid transition
    assert_kind(
        s.start_task("task-1", "cell-2").await.unwrap_err(),
        BbsError::task_transition(State::Running, State::Running),
    );
    // completing from the wrong cell
    let e = s
        .complete_task("task-1", "cell-2", false, "", "out")
        .await
        .unwrap_err();
    assert_kind(
        e.clone(),
        BbsError::running_on_different_cell("cell-2", "cell-1"),
    );
    assert_eq!(e.message, "Running on cell cell-1 not cell-2");
    // the filters
    assert_eq!(
        s.tasks(&TaskFilter {
            cell_id: "cell-1".into(),
            ..Default::default()
        })
        .await
        .unwrap(),
        vec![running.clone()]
    );
    // delete only from Resolving
    assert_kind(
        s.delete_task("task-1").await.unwrap_err(),
        BbsError::task_transition(State::Running, State::Resolving),
    );
    assert_kind(
        s.resolving_task("task-1").await.unwrap_err(),
        BbsError::task_transition(State::Running, State::Resolving),
    );

    let (_, done) = s
        .complete_task("task-1", "cell-1", false, "", "the result")
        .await
        .unwrap();
    assert_eq!(done.state(), State::Completed);
    assert_eq!(done.result, "the result");
    assert!(!done.failed);
    assert_eq!(done.cell_id, "");
    assert!(done.first_completed_at > 0);
    assert_eq!(s.task_by_guid("task-1").await.unwrap(), done);
    assert_kind(
        s.complete_task("task-1", "", true, "x", "")
            .await
            .unwrap_err(),
        BbsError::task_transition(State::Completed, State::Completed),
    );

    let (_, resolving) = s.resolving_task("task-1").await.unwrap();
    assert_eq!(resolving.state(), State::Resolving);
    let deleted = s.delete_task("task-1").await.unwrap();
    assert_eq!(deleted, resolving);
    assert_kind(
        s.task_by_guid("task-1").await.unwrap_err(),
        BbsError::resource_not_found(),
    );
    assert_kind(
        s.delete_task("task-1").await.unwrap_err(),
        BbsError::resource_not_found(),
    );
}

async fn task_cancel_fail_and_illegal_transitions(fx: &Fx) {
    let s = &*fx.store;
    for g in ["p", "r", "c"] {
        s.desire_task(&task_def(g), g, if g == "c" { "other" } else { "cf-tasks" })
            .await
            .unwrap();
    }
    assert_eq!(
        s.tasks(&TaskFilter {
            domain: "cf-tasks".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .len(),
        2
    );
    let all = s.tasks(&TaskFilter::default()).await.unwrap();
    assert_eq!(
        all.iter().map(|t| t.task_guid.as_str()).collect::<Vec<_>>(),
        vec!["c", "p", "r"]
    );
    // cancel a pending task
    let (_, cancelled, cell) = s.cancel_task("p").await.unwrap();
    assert_eq!(cell, "");
    assert_eq!(cancelled.state(), State::Completed);
    assert!(cancelled.failed);
    assert_eq!(cancelled.failure_reason, "task was cancelled");
    // cancel a running task: reports its cell
    s.start_task("r", "cell-7").await.unwrap();
    let (_, _, cell) = s.cancel_task("r").await.unwrap();
    assert_eq!(cell, "cell-7");
    // cancelling a completed task is an invalid transition, nothing changes
    let before = s.task_by_guid("r").await.unwrap();
    assert_kind(
        s.cancel_task("r").await.unwrap_err(),
        BbsError::task_transition(State::Completed, State::Completed),
    );
    assert_eq!(s.task_by_guid("r").await.unwrap(), before);
    // fail (deprecated) on a pending task
    let (_, failed) = s.fail_task("c", &"y".repeat(2000)).await.unwrap();
    assert!(failed.failed);
    assert_eq!(failed.failure_reason.len(), 1024);
    assert_kind(
        s.start_task("c", "cell-1").await.unwrap_err(),
        BbsError::task_transition(State::Completed, State::Running),
    );
    assert_kind(
        s.fail_task("nope", "x").await.unwrap_err(),
        BbsError::resource_not_found(),
    );
}

async fn task_reject_until_max_retries(fx: &Fx) {
    let s = &*fx.store;
    s.desire_task(&task_def("rj"), "rj", "cf-tasks")
        .await
        .unwrap();
    let max = 3;
    for n in 1..=max {
        if n == 2 {
            s.start_task("rj", "cell-1").await.unwrap();
        }
        let (before, after) = s.reject_task("rj", "no room", max).await.unwrap();
        assert_eq!(before.rejection_count, n - 1);
        assert_eq!(after.rejection_count, n);
        assert_eq!(after.rejection_reason, "no room");
        assert_eq!(after.state(), State::Pending, "rejection {n} re-queues");
        assert_eq!(s.task_by_guid("rj").await.unwrap(), after);
    }
    // The count has reached max_retries: the next rejection fails the task.
    let (_, after) = s.reject_task("rj", "still no room", max).await.unwrap();
    assert_eq!(after.state(), State::Completed);
    assert!(after.failed);
    assert_eq!(after.failure_reason, "still no room");
    assert_eq!(after.rejection_count, max + 1);
    assert_eq!(s.task_by_guid("rj").await.unwrap(), after);
    // a completed task cannot be rejected
    assert_kind(
        s.reject_task("rj", "x", max).await.unwrap_err(),
        BbsError::bad_request(),
    );
    assert_eq!(s.task_by_guid("rj").await.unwrap(), after);
}

// --- concurrency ---------------------------------------------------------

async fn concurrent_claims_have_one_winner(fx: &Fx) {
    let s = fx.store.clone();
    for round in 0..3 {
        let guid = format!("race-{round}");
        s.create_unclaimed_actual_lrp(&key(&guid, 0)).await.unwrap();
        let n = 16;
        let barrier = Arc::new(tokio::sync::Barrier::new(n));
        let mut handles = Vec::new();
        for i in 0..n {
            let s = s.clone();
            let barrier = barrier.clone();
            let guid = guid.clone();
            handles.push(tokio::spawn(async move {
                barrier.wait().await;
                let me = ik(&format!("inst-{i}"), &format!("cell-{i}"));
                (me.clone(), s.claim_actual_lrp(&guid, 0, &me).await)
            }));
        }
        let mut winners = Vec::new();
        for h in handles {
            let (me, res) = h.await.unwrap();
            match res {
                Ok((before, after)) => {
                    assert_eq!(before.state, UNCLAIMED);
                    assert_eq!(after.instance_key(), me);
                    winners.push(after);
                }
                Err(e) => assert_kind(e, BbsError::cannot_be_claimed()),
            }
        }
        assert_eq!(winners.len(), 1, "exactly one claim wins");
        let row = ordinary(&*s, &guid, 0).await.unwrap();
        assert_eq!(row, winners[0]);
        assert_eq!(row.state, CLAIMED);
        assert_eq!(tag_index(&row), 1);
    }
}

async fn concurrent_mixed_writes_never_fail(fx: &Fx) {
    let s = fx.store.clone();
    let mut handles = Vec::new();
    for i in 0..24 {
        let s = s.clone();
        handles.push(tokio::spawn(async move {
            let guid = format!("mix-{}", i % 6);
            let k = key(&guid, i / 6);
            s.create_unclaimed_actual_lrp(&k).await?;
            let me = ik(&format!("i{i}"), "cell-1");
            s.claim_actual_lrp(&guid, i / 6, &me).await?;
            s.start_actual_lrp(&k, &me, &running_info("10.0.0.1"))
                .await?;
            s.desire_task(&task_def("m"), &format!("task-{i}"), "d")
                .await?;
            s.upsert_domain(&format!("dom-{}", i % 3), 10).await?;
            let _ = s.actual_lrps(&ActualLrpFilter::default()).await?;
            Ok::<_, BbsError>(())
        }));
    }
    for h in handles {
        h.await.unwrap().expect("no write fails under contention");
    }
    let c = s.count_actual_lrps_by_state().await.unwrap();
    assert_eq!(c.running, 24);
    assert_eq!(s.tasks(&TaskFilter::default()).await.unwrap().len(), 24);
}

// --- convergence ---------------------------------------------------------

fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i64
}

const SEC: i64 = 1_000_000_000;

fn cells(ids: &[&str]) -> CellSet {
    ids.iter().map(|s| s.to_string()).collect()
}

fn keys_of(v: &[bbs::db::KeyWithSchedulingInfo]) -> Vec<(String, i32)> {
    let mut out: Vec<_> = v
        .iter()
        .map(|k| (k.key.process_guid.clone(), k.key.index))
        .collect();
    out.sort();
    out
}

fn plain_keys(v: &[ActualLrpKey]) -> Vec<(String, i32)> {
    let mut out: Vec<_> = v
        .iter()
        .map(|k| (k.process_guid.clone(), k.index))
        .collect();
    out.sort();
    out
}

fn pair(g: &str, i: i32) -> (String, i32) {
    (g.to_string(), i)
}

async fn run_on(s: &dyn Store, guid: &str, index: i32, domain: &str, cell: &str) -> ActualLrp {
    let k = ActualLrpKey::new(guid, index, domain);
    let me = ik(&format!("{guid}-{index}-{cell}"), cell);
    s.start_actual_lrp(&k, &me, &running_info("10.0.0.9"))
        .await
        .unwrap()
        .1
}

async fn converge_lrps_instance_counts_orphans_and_domains(fx: &Fx) {
    let s = &*fx.store;
    s.upsert_domain("cf-apps", 0).await.unwrap();
    s.upsert_domain("old", 1).await.unwrap();
    s.desire_lrp(&desired("a", "cf-apps")).await.unwrap();
    let mut b = desired("b", "old");
    b.instances = 1;
    s.desire_lrp(&b).await.unwrap();
    // a: no rows yet except an extra index 2; b: an extra index 1.
    s.create_unclaimed_actual_lrp(&key("a", 2)).await.unwrap();
    for i in 0..2 {
        s.create_unclaimed_actual_lrp(&ActualLrpKey::new("b", i, "old"))
            .await
            .unwrap();
    }
    // orphans: one in a fresh domain, one in the expiring domain
    s.create_unclaimed_actual_lrp(&key("orphan", 0))
        .await
        .unwrap();
    s.create_unclaimed_actual_lrp(&ActualLrpKey::new("orphan-old", 0, "old"))
        .await
        .unwrap();
    let r = s
        .converge_lrps(&cells(&["cell-1"]), now_ns() + 2 * SEC)
        .await;
    assert_eq!(
        s.fresh_domains().await.unwrap(),
        vec!["cf-apps".to_string()]
    );
    assert_eq!(
        raw_scalar(fx, "SELECT COUNT(*) FROM domains").await,
        "1",
        "the expired domain is pruned"
    );
    assert_eq!(
        keys_of(&r.missing_lrp_keys),
        vec![pair("a", 0), pair("a", 1)]
    );
    let missing = &r.missing_lrp_keys[0];
    assert_eq!(missing.key.domain, "cf-apps");
    assert_eq!(
        missing
            .scheduling_info
            .desired_lrp_key
            .as_ref()
            .unwrap()
            .process_guid,
        "a"
    );
    // extra of a fresh domain and the fresh orphan are retired; not b's extra
    assert_eq!(
        plain_keys(&r.keys_to_retire),
        vec![pair("a", 2), pair("orphan", 0)]
    );
    assert!(r.unstarted_lrp_keys.is_empty());
    assert!(r.keys_with_missing_cells.is_empty());
    // convergence itself changes no actual LRP
    assert_eq!(
        s.actual_lrps(&ActualLrpFilter::default())
            .await
            .unwrap()
            .len(),
        5
    );
}

async fn converge_lrps_stale_unclaimed_and_restartable_crashes(fx: &Fx) {
    let s = &*fx.store;
    s.upsert_domain("cf-apps", 0).await.unwrap();
    let mut d = desired("s", "cf-apps");
    d.instances = 1;
    s.desire_lrp(&d).await.unwrap();
    let mut c = d.clone();
    c.process_guid = "c".into();
    s.desire_lrp(&c).await.unwrap();
    s.create_unclaimed_actual_lrp(&key("s", 0)).await.unwrap();
    run_on(s, "c", 0, "cf-apps", "cell-1").await;
    let now = now_ns();
    raw_exec(
        fx,
        &format!(
            "UPDATE actual_lrps SET state = 'CRASHED', crash_count = 3, since = {now}, \
             cell_id = '', instance_guid = '' WHERE process_guid = 'c'"
        ),
    )
    .await;
    let all = cells(&["cell-1"]);
    let r = s.converge_lrps(&all, now + 10 * SEC).await;
    assert!(
        r.unstarted_lrp_keys.is_empty(),
        "{:?}",
        r.unstarted_lrp_keys
    );
    let r = s.converge_lrps(&all, now + 31 * SEC).await;
    assert_eq!(
        keys_of(&r.unstarted_lrp_keys),
        vec![pair("c", 0), pair("s", 0)]
    );
    assert!(r.missing_lrp_keys.is_empty());
}

async fn converge_lrps_missing_cells_and_suspects(fx: &Fx) {
    let s = &*fx.store;
    s.upsert_domain("cf-apps", 0).await.unwrap();
    let mut d = desired("m", "cf-apps");
    d.instances = 1;
    s.desire_lrp(&d).await.unwrap();
    let mut x = d.clone();
    x.process_guid = "x".into();
    s.desire_lrp(&x).await.unwrap();
    let running = run_on(s, "m", 0, "cf-apps", "cell-1").await;

    let r = s.converge_lrps(&cells(&["cell-2"]), now_ns()).await;
    assert_eq!(keys_of(&r.keys_with_missing_cells), vec![pair("m", 0)]);
    assert_eq!(r.missing_cell_ids, vec!["cell-1".to_string()]);
    // no cells at all: every placed instance is on a missing cell
    let r = s.converge_lrps(&CellSet::new(), now_ns()).await;
    assert_eq!(keys_of(&r.keys_with_missing_cells), vec![pair("m", 0)]);

    // what the controller does: suspect + replacement
    s.change_actual_lrp_presence(&key("m", 0), Presence::Ordinary, Presence::Suspect)
        .await
        .unwrap();
    let replacement = s.create_unclaimed_actual_lrp(&key("m", 0)).await.unwrap();
    let r = s.converge_lrps(&cells(&["cell-2"]), now_ns()).await;
    assert_eq!(plain_keys(&r.suspect_running_keys), vec![pair("m", 0)]);
    assert!(r.suspect_keys_with_existing_cells.is_empty());
    assert!(
        r.keys_with_missing_cells.is_empty(),
        "suspects are not re-suspected"
    );
    // the cell is back: promote
    let r = s.converge_lrps(&cells(&["cell-1"]), now_ns()).await;
    assert_eq!(
        plain_keys(&r.suspect_keys_with_existing_cells),
        vec![pair("m", 0)]
    );
    let (before, after, removed) = s.promote_suspect_actual_lrp("m", 0).await.unwrap();
    assert_eq!(before.presence(), Presence::Suspect);
    assert_eq!(after.presence(), Presence::Ordinary);
    assert_eq!(after.instance_key(), running.instance_key());
    assert_eq!(removed, Some(replacement));
    let rows = s
        .actual_lrps(&ActualLrpFilter {
            process_guid: "m".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0], after);
    assert_kind(
        s.promote_suspect_actual_lrp("m", 0).await.unwrap_err(),
        BbsError::resource_not_found(),
    );

    // orphaned suspect, and a suspect whose ordinary runs too
    run_on(s, "gone", 0, "cf-apps", "cell-1").await;
    s.change_actual_lrp_presence(&key("gone", 0), Presence::Ordinary, Presence::Suspect)
        .await
        .unwrap();
    run_on(s, "x", 0, "cf-apps", "cell-1").await;
    s.change_actual_lrp_presence(&key("x", 0), Presence::Ordinary, Presence::Suspect)
        .await
        .unwrap();
    run_on(s, "x", 0, "cf-apps", "cell-2").await;
    let r = s
        .converge_lrps(&cells(&["cell-1", "cell-2"]), now_ns())
        .await;
    assert_eq!(
        plain_keys(&r.suspect_keys_to_retire),
        vec![pair("gone", 0), pair("x", 0)]
    );
}

async fn converge_lrps_prunes_evacuating_on_absent_cells(fx: &Fx) {
    let s = &*fx.store;
    s.upsert_domain("cf-apps", 0).await.unwrap();
    s.evacuate_actual_lrp(
        &key("e", 0),
        &ik("e0", "cell-gone"),
        &running_info("10.0.0.1"),
    )
    .await
    .unwrap();
    s.evacuate_actual_lrp(
        &key("e", 1),
        &ik("e1", "cell-here"),
        &running_info("10.0.0.2"),
    )
    .await
    .unwrap();
    let r = s.converge_lrps(&cells(&["cell-here"]), now_ns()).await;
    assert_eq!(r.removed_evacuating.len(), 1);
    assert_eq!(
        r.removed_evacuating[0].instance_key(),
        ik("e0", "cell-gone")
    );
    assert_eq!(r.removed_evacuating[0].presence(), Presence::Evacuating);
    let left = s.actual_lrps(&ActualLrpFilter::default()).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].instance_key(), ik("e1", "cell-here"));
}

async fn converge_lrps_internal_route_and_metric_tag_drift(fx: &Fx) {
    let s = &*fx.store;
    s.upsert_domain("cf-apps", 0).await.unwrap();
    let mut d = desired("r", "cf-apps");
    d.routes.as_mut().unwrap().routes.insert(
        "internal-router".into(),
        br#"[{"hostname":"r.apps.internal"}]"#.to_vec(),
    );
    d.metric_tags.insert(
        "idx".into(),
        models::MetricTagValue {
            r#static: String::new(),
            dynamic: models::metric_tag_value::DynamicValue::Index as i32,
        },
    );
    s.desire_lrp(&d).await.unwrap();
    // r/0 reports other routes and tags; r/1 matches
    run_on(s, "r", 0, "cf-apps", "cell-1").await;
    let mut ok = running_info("10.0.0.3");
    ok.internal_routes = vec![models::ActualLrpInternalRoute {
        hostname: "r.apps.internal".into(),
    }];
    ok.metric_tags = [("idx".to_string(), "1".to_string())].into_iter().collect();
    s.start_actual_lrp(&key("r", 1), &ik("r1", "cell-1"), &ok)
        .await
        .unwrap();
    let r = s.converge_lrps(&cells(&["cell-1"]), now_ns()).await;
    assert_eq!(r.keys_with_internal_route_changes.len(), 1);
    let rc = &r.keys_with_internal_route_changes[0];
    assert_eq!(rc.key.index, 0);
    assert_eq!(rc.instance_key.cell_id, "cell-1");
    assert_eq!(rc.desired_internal_routes[0].hostname, "r.apps.internal");
    assert_eq!(r.keys_with_metric_tag_changes.len(), 1);
    let mc = &r.keys_with_metric_tag_changes[0];
    assert_eq!(mc.key.index, 0);
    assert_eq!(
        mc.desired_metric_tags,
        [("idx".to_string(), "0".to_string())].into_iter().collect()
    );
}

async fn converge_tasks_rules(fx: &Fx) {
    let s = &*fx.store;
    let mut cb = task_def("cb");
    cb.completion_callback_url = "http://cc.example.com/done".into();
    for g in [
        "p-old", "p-new", "r-lost", "r-ok", "res", "c-old", "c-kick", "c-new",
    ] {
        let def = if g == "c-kick" {
            cb.clone()
        } else {
            task_def(g)
        };
        s.desire_task(&def, g, "cf-tasks").await.unwrap();
    }
    for (g, cell) in [
        ("r-lost", "cell-gone"),
        ("r-ok", "cell-1"),
        ("res", "cell-1"),
        ("c-old", "cell-1"),
        ("c-kick", "cell-1"),
        ("c-new", "cell-1"),
    ] {
        s.start_task(g, cell).await.unwrap();
    }
    for g in ["res", "c-old", "c-kick", "c-new"] {
        s.complete_task(g, "cell-1", false, "", "ok").await.unwrap();
    }
    s.resolving_task("res").await.unwrap();
    let now = now_ns();
    let set = |g: &str, col: &str, ago: i64| {
        format!(
            "UPDATE tasks SET {col} = {} WHERE guid = '{g}'",
            now - ago * SEC
        )
    };
    for sql in [
        set("p-old", "created_at", 200),
        set("p-new", "created_at", 20),
        set("res", "updated_at", 20),
        set("c-old", "first_completed_at", 60),
        set("c-kick", "updated_at", 20),
        set("c-kick", "first_completed_at", 20),
    ] {
        raw_exec(fx, &sql).await;
    }
    let secs = std::time::Duration::from_secs;
    let r = s
        .converge_tasks(&cells(&["cell-1"]), secs(10), secs(100), secs(50), now)
        .await;

    let t = s.task_by_guid("p-old").await.unwrap();
    assert_eq!(t.state(), State::Completed);
    assert!(t.failed);
    assert_eq!(t.failure_reason, "not started within time limit");
    assert_eq!(t.first_completed_at, now);
    let t = s.task_by_guid("r-lost").await.unwrap();
    assert_eq!(t.state(), State::Completed);
    assert_eq!(t.failure_reason, "cell disappeared before completion");
    assert_eq!(
        s.task_by_guid("r-ok").await.unwrap().state(),
        State::Running
    );
    assert_eq!(
        s.task_by_guid("res").await.unwrap().state(),
        State::Completed
    );
    assert_kind(
        s.task_by_guid("c-old").await.unwrap_err(),
        BbsError::resource_not_found(),
    );
    assert_eq!(
        s.task_by_guid("c-new").await.unwrap().state(),
        State::Completed
    );

    let mut changed: Vec<_> = r
        .changed
        .iter()
        .map(|(b, a)| (b.task_guid.clone(), b.state(), a.state()))
        .collect();
    changed.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        changed,
        vec![
            ("p-old".to_string(), State::Pending, State::Completed),
            ("r-lost".to_string(), State::Running, State::Completed),
            ("res".to_string(), State::Resolving, State::Completed),
        ]
    );
    for (_, after) in &r.changed {
        assert_eq!(&s.task_by_guid(&after.task_guid).await.unwrap(), after);
    }
    assert_eq!(r.removed.len(), 1);
    assert_eq!(r.removed[0].task_guid, "c-old");
    let guids = |v: &[models::Task]| {
        let mut g: Vec<String> = v.iter().map(|t| t.task_guid.clone()).collect();
        g.sort();
        g
    };
    assert_eq!(guids(&r.tasks_to_auction), vec!["p-new".to_string()]);
    assert_eq!(
        guids(&r.tasks_to_complete),
        vec!["c-kick".to_string(), "res".to_string()]
    );
    assert_eq!(r.metrics.pending, 1);
    assert_eq!(r.metrics.running, 1);
    assert_eq!(r.metrics.completed, 5);
    assert_eq!(r.metrics.resolving, 0);
    assert_eq!(r.metrics.pruned, 1);
    assert_eq!(r.metrics.kicked, 1 + 1 + 1 + 2);
}

// --- encryption key rotation --------------------------------------------

/// The label of the key an encoded column value was encrypted with.
fn key_label_of(raw: &str) -> String {
    use base64::Engine;
    assert!(raw.starts_with("02"), "not Diego-encrypted: {raw}");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(&raw[2..])
        .unwrap();
    let n = bytes[0] as usize;
    String::from_utf8(bytes[1..1 + n].to_vec()).unwrap()
}

/// Every encrypted column of every row (Diego's list), with its label.
async fn stored_labels(fx: &Fx) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (table, columns) in [
        ("tasks", "task_definition"),
        (
            "desired_lrps",
            "run_info, volume_placement, routes, metric_tags",
        ),
        ("actual_lrps", "net_info, internal_routes, metric_tags"),
    ] {
        let rows = fx
            .sql
            .raw()
            .rows(&format!("SELECT {columns} FROM {table}"))
            .await
            .unwrap();
        for row in rows {
            for (i, cell) in row.into_iter().enumerate() {
                let cell = cell.unwrap_or_default();
                out.push((format!("{table}.{i}"), key_label_of(&cell)));
            }
        }
    }
    out
}

async fn connect_with(fx: &Fx, encryption: EncryptionConfig) -> SqlStore {
    SqlStore::connect(&StoreConfig {
        url: fx.url.clone(),
        max_open_connections: 2,
        encryption,
    })
    .await
    .unwrap()
}

/// Diego's encryptor: a new active key re-encrypts every stored record at
/// start-up and records its label, so the old key can then be dropped; a
/// stored label no configured key has stops the start.
async fn encryption_key_rotation_reencrypts_every_record(fx: &Fx) {
    let s = &*fx.store;
    s.upsert_domain("cf-apps", 0).await.unwrap();
    s.desire_lrp(&desired("rot", "cf-apps")).await.unwrap();
    s.create_unclaimed_actual_lrp(&key("rot", 0)).await.unwrap();
    s.claim_actual_lrp("rot", 0, &ik("i0", "cell-1"))
        .await
        .unwrap();
    s.start_actual_lrp(
        &key("rot", 0),
        &ik("i0", "cell-1"),
        &running_info("10.0.0.1"),
    )
    .await
    .unwrap();
    s.desire_task(&task_def("rot"), "task-rot", "cf-apps")
        .await
        .unwrap();
    let snapshot = |st: Arc<dyn Store>| async move {
        (
            st.desired_lrps(&DesiredLrpFilter::default()).await.unwrap(),
            st.actual_lrps(&ActualLrpFilter::default()).await.unwrap(),
            st.tasks(&TaskFilter::default()).await.unwrap(),
        )
    };
    let before = snapshot(fx.sql.as_store()).await;
    assert_eq!(before.0.len(), 1);
    assert_eq!(before.1.len(), 1);
    assert_eq!(before.2.len(), 1);
    assert_eq!(
        fx.sql.encryption_key_label().await.unwrap().as_deref(),
        Some("key-2024"),
        "a new database records the active key"
    );
    let labels = stored_labels(fx).await;
    assert_eq!(labels.len(), 8);
    assert!(labels.iter().all(|(_, l)| l == "key-2024"), "{labels:?}");

    // A new active key, the old one still listed.
    let mut both = EncryptionConfig::single("key-2025", "another passphrase");
    both.keys.extend(encryption().keys);
    let rotated = connect_with(fx, both.clone()).await;
    let out = rotated.run_encryptor().await.unwrap();
    assert_eq!(out.previous_label.as_deref(), Some("key-2024"));
    assert_eq!(out.label, "key-2025");
    assert_eq!((out.reencrypted, out.failed), (8, 0));
    let labels = stored_labels(fx).await;
    assert!(labels.iter().all(|(_, l)| l == "key-2025"), "{labels:?}");
    assert_eq!(
        rotated.encryption_key_label().await.unwrap().as_deref(),
        Some("key-2025")
    );
    // Again: nothing to do.
    assert_eq!(rotated.run_encryptor().await.unwrap().reencrypted, 0);

    // The old key is dropped: everything still reads back the same.
    let only_new = connect_with(
        fx,
        EncryptionConfig::single("key-2025", "another passphrase"),
    )
    .await;
    assert_eq!(only_new.run_encryptor().await.unwrap().reencrypted, 0);
    assert_eq!(snapshot(only_new.as_store()).await, before);

    // A bbs with only the old key refuses to start on this database.
    let only_old = connect_with(fx, encryption()).await;
    let err = only_old.run_encryptor().await.unwrap_err().to_string();
    assert!(
        err.contains("Existing encryption key version (key-2025) is not among the known keys"),
        "{err}"
    );

    // And back (the fixture's store reads with the first key alone).
    let mut back = both;
    back.active_key_label = "key-2024".into();
    let out = connect_with(fx, back).await.run_encryptor().await.unwrap();
    assert_eq!(out.previous_label.as_deref(), Some("key-2025"));
    assert_eq!(out.reencrypted, 8);
    assert_eq!(snapshot(fx.sql.as_store()).await, before);
    assert_eq!(
        snapshot(fx.store.clone()).await,
        before,
        "the store under test (and its cache) still answers the same"
    );
}
