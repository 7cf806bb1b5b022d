//! `bench stores` at a tiny size: desire, claim and start through the
//! store on SQLite, PostgreSQL and MariaDB in one run, each phase of each
//! backend reported, and the summary with the ratio to SQLite. Nothing is
//! timed here; the figures are printed.

use std::process::{Command, Stdio};
use testkit::mariadb::TestMariaDb;
use testkit::postgres::TestPostgres;

const LRPS: usize = 60;

#[test]
fn bench_stores_reports_every_backend() {
    let out = Command::new(env!("CARGO_BIN_EXE_bench"))
        .args(["stores", "--lrps", &LRPS.to_string(), "--concurrency", "4"])
        .stdin(Stdio::null())
        .output()
        .expect("run bench stores");
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!(
        "--- stdout\n{stdout}--- stderr\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "bench stores exited with {}",
        out.status
    );
    let mut expected = vec!["sqlite"];
    for (backend, skipped, env) in [
        (
            "postgres",
            TestPostgres::skip_requested(),
            testkit::postgres::SKIP_ENV,
        ),
        (
            "mysql",
            TestMariaDb::skip_requested(),
            testkit::mariadb::SKIP_ENV,
        ),
    ] {
        if skipped {
            assert!(stdout.contains(&format!("{backend}: skipped: {env}=1 is set")));
            testkit::skip::skip(&format!("bench stores on {backend}: {env}=1 is set"));
        } else {
            expected.push(backend);
        }
    }
    let summary = stdout
        .split_once("summary (wall time per phase; ratio to sqlite):")
        .expect("a summary")
        .1;
    for phase in ["desire", "claim", "start"] {
        let line = summary
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{phase}:")))
            .unwrap_or_else(|| panic!("no summary line for {phase}"));
        for backend in &expected {
            // Every operation ran (the table's count column) and has a
            // figure in the summary.
            let row = stdout
                .lines()
                .find(|l| l.starts_with(&format!("| {phase} ({backend})")))
                .unwrap_or_else(|| panic!("no {phase} row for {backend}"));
            let count: usize = row.split('|').nth(2).unwrap().trim().parse().unwrap();
            assert_eq!(count, LRPS, "{row}");
            assert!(line.contains(&format!("{backend} ")), "{line}");
        }
        assert!(line.contains("sqlite") && line.contains("x1.00"), "{line}");
    }
}
