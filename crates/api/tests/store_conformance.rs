//! The store's one conformance suite, run on every backend: migrations,
//! rows in and out, filters, unique keys and all-or-nothing writes.

mod support;

use api::store::{self, Change, Filter, Kind, Row, StoreError};
use support::Db;

fn row(guid: &str, app: &str, name: Option<&str>, version: Option<i64>, at: i64) -> Row {
    Row {
        guid: guid.into(),
        app_guid: app.into(),
        name: name.map(str::to_string),
        version,
        created_at: at,
        doc: format!("{{\"guid\":\"{guid}\"}}"),
    }
}

async fn suite(db: Db, test: &str) {
    let dir = tempfile::tempdir().unwrap();
    let Some((driver, conn)) = support::database(db, dir.path(), test) else {
        return;
    };
    let cfg = api::ApiConfig {
        database_driver: driver,
        database_connection_string: conn,
        ..Default::default()
    };
    let url = cfg.database_url().unwrap();
    let s = store::open(&url, 4).await.unwrap();
    assert_eq!(s.schema_version().await.unwrap(), store::SCHEMA_VERSION);
    // Opening again runs no migration twice.
    let s2 = store::open(&url, 4).await.unwrap();
    assert_eq!(s2.schema_version().await.unwrap(), store::SCHEMA_VERSION);

    // Rows in, rows out, in creation order, filtered.
    s.apply(&[
        Change::Put(Kind::Apps, row("a1", "a1", Some("one"), None, 2)),
        Change::Put(Kind::Apps, row("a2", "a2", Some("two"), None, 1)),
        Change::Put(Kind::Revisions, row("r1", "a1", None, Some(1), 3)),
        Change::Put(Kind::Revisions, row("r2", "a1", None, Some(2), 4)),
        Change::Put(Kind::Revisions, row("r3", "a2", None, Some(1), 5)),
    ])
    .await
    .unwrap();
    let apps = s.list(Kind::Apps, &Filter::default()).await.unwrap();
    assert_eq!(
        apps.iter().map(|r| r.guid.as_str()).collect::<Vec<_>>(),
        ["a2", "a1"]
    );
    assert_eq!(apps[1], row("a1", "a1", Some("one"), None, 2));
    let by_name = Filter {
        name: Some("two".into()),
        ..Default::default()
    };
    assert_eq!(s.list(Kind::Apps, &by_name).await.unwrap()[0].guid, "a2");
    let revs = s.list(Kind::Revisions, &Filter::app("a1")).await.unwrap();
    assert_eq!(revs.len(), 2);
    assert_eq!(revs[1].version, Some(2));
    assert_eq!(s.get(Kind::Revisions, "r9").await.unwrap(), None);

    // A put replaces the row with the same guid.
    let mut renamed = row("a1", "a1", Some("uno"), None, 2);
    renamed.doc = "{\"changed\":true}".into();
    s.apply(&[Change::Put(Kind::Apps, renamed.clone())])
        .await
        .unwrap();
    assert_eq!(s.get(Kind::Apps, "a1").await.unwrap(), Some(renamed));

    // Unique names and versions; a failing write leaves nothing behind.
    let taken = s
        .apply(&[
            Change::Put(Kind::Packages, row("p1", "a2", None, None, 6)),
            Change::Put(Kind::Apps, row("a3", "a3", Some("two"), None, 7)),
        ])
        .await;
    assert!(matches!(taken, Err(StoreError::Exists(_))), "{taken:?}");
    assert_eq!(s.get(Kind::Packages, "p1").await.unwrap(), None);
    let dup = s
        .apply(&[Change::Put(
            Kind::Revisions,
            row("r4", "a1", None, Some(2), 8),
        )])
        .await;
    assert!(matches!(dup, Err(StoreError::Exists(_))), "{dup:?}");

    // Deleting one row, and all of an app's rows of a kind.
    s.apply(&[
        Change::Delete(Kind::Apps, "a2".into()),
        Change::DeleteApp(Kind::Revisions, "a1".into()),
    ])
    .await
    .unwrap();
    assert_eq!(s.get(Kind::Apps, "a2").await.unwrap(), None);
    assert!(s
        .list(Kind::Revisions, &Filter::app("a1"))
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        s.list(Kind::Revisions, &Filter::app("a2"))
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        s.backend_name(),
        match db {
            Db::Sqlite => "sqlite",
            Db::Postgres => "postgres",
        }
    );
}

#[tokio::test]
async fn sqlite() {
    suite(Db::Sqlite, "store sqlite").await;
}

#[tokio::test]
async fn postgres() {
    suite(Db::Postgres, "store postgres").await;
}

#[tokio::test]
async fn a_newer_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("api.db").display());
    store::open(&url, 2).await.unwrap();
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    sqlx::query("INSERT INTO schema_migrations (version, name) VALUES (999, 'future')")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let err = store::open(&url, 2).await.err().expect("refused");
    assert!(format!("{err:#}").contains("newer"), "{err:#}");
}
