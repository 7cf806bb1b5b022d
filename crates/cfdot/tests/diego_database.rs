//! Our bbs on a database Diego's own bbs wrote (`shared/conformance/
//! bbs-database`, beside the repository: Diego's pg_dump, and what Diego's
//! cfdot printed against Diego's bbs on it). Loaded into a throwaway
//! PostgreSQL and served by our bbs with the same encryption key, our
//! cfdot must print the same records. Diego's SQL has no ORDER BY (its
//! lists come in the table's physical order) and ours lists by key, so
//! the lines are compared as sets. Skipped, saying so, without the dump
//! or PostgreSQL.

mod support;

use std::collections::BTreeSet;
use support::*;
use testkit::control_plane::ControlPlane;
use testkit::postgres::TestPostgres;

fn lines(s: &str) -> BTreeSet<String> {
    s.lines().map(str::to_string).collect()
}

#[test]
fn our_cfdot_and_bbs_read_what_diegos_bbs_wrote() {
    let Some(dir) = testkit::conformance::database_dir() else {
        return;
    };
    let Some(pg) = TestPostgres::shared_or_skip("our_cfdot_and_bbs_read_what_diegos_bbs_wrote")
    else {
        return;
    };
    let db = pg.fresh_database().unwrap();
    pg.psql_file(&db, &dir.join("schema-postgres.sql")).unwrap();
    pg.psql_file(&db, &dir.join("data-postgres.sql")).unwrap();

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let db_url = pg.url_for(&db);
    // Diego's key, which its records are encrypted with.
    let control = rt.block_on(
        ControlPlane::builder()
            .bbs_config(move |c| {
                c.database_driver = "postgres".into();
                c.database_connection_string = db_url;
                c.encryption_keys = [("k1".to_string(), "a passphrase".to_string())].into();
            })
            .start(),
    );
    let url = control.bbs_url().to_string();

    for (command, expected) in [
        ("domains", "expected-domains.txt"),
        ("desired-lrps", "expected-desired-lrps.jsonl"),
        (
            "desired-lrp-scheduling-infos",
            "expected-scheduling-infos.jsonl",
        ),
        ("actual-lrps", "expected-actual-lrps.jsonl"),
        ("tasks", "expected-tasks.jsonl"),
    ] {
        let out = cfdot(&strings(&[command, "--bbsURL", &url]));
        assert!(
            out.status.success(),
            "{command}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let want = std::fs::read_to_string(dir.join(expected)).unwrap();
        assert_eq!(
            lines(&String::from_utf8_lossy(&out.stdout)),
            lines(&want),
            "cfdot {command}"
        );
    }
    rt.block_on(control.shutdown());
}
