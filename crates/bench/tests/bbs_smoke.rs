//! `bench bbs` end to end at a tiny size, on SQLite, PostgreSQL and
//! MariaDB (the BBS on a `mysql://` URL, locket on the Go DSN Diego's
//! config uses): the
//! benchmark machinery (seeding, `diego bbs` and `diego locket` child
//! processes, the workload's clients, event streams, the report) works.
//! The figures themselves come from release runs; nothing here is timed.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;
use testkit::postgres::TestPostgres;

const DESIRED_LRPS: u64 = 2000;
const REPS: u64 = 10;
const CYCLES: u64 = 2;
/// Long enough that no bulk loop overruns its cycle in a debug build on a
/// loaded machine (they take ~100 ms at this size).
const CYCLE_SECONDS: u64 = 4;
const API_SAMPLE: u64 = 50;
/// A hung run fails instead of blocking CI.
const DEADLINE: Duration = Duration::from_secs(300);

/// One run at a time: two loads on two cores would measure each other.
static SERIAL: Mutex<()> = Mutex::new(());

/// The `diego` binary cargo built next to `bench`, if it was built.
fn diego_binary() -> Option<PathBuf> {
    let bench = PathBuf::from(env!("CARGO_BIN_EXE_bench"));
    let diego = bench.parent()?.join("diego");
    if diego.is_file() {
        Some(diego)
    } else {
        testkit::skip::skip(&format!(
            "build the diego binary first: cargo build -p diego ({} not found)",
            diego.display()
        ));
        None
    }
}

struct Run {
    stdout: String,
    stderr: String,
    success: bool,
}

/// Runs `bench bbs` at the tiny size with `extra` flags, in its own
/// process group so that a hung run is killed with its BBS and locket.
fn bench_bbs(diego: &Path, extra: &[&str]) -> Run {
    let work = tempfile::tempdir().expect("work dir");
    let n = |v: u64| v.to_string();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_bench"));
    cmd.arg("bbs")
        .args(["--desired-lrps", &n(DESIRED_LRPS)])
        .args(["--reps", &n(REPS)])
        .args(["--cycles", &n(CYCLES)])
        .args(["--cycle-seconds", &n(CYCLE_SECONDS)])
        .args(["--api-sample", &n(API_SAMPLE)])
        .arg("--diego-bin")
        .arg(diego)
        .arg("--work-dir")
        .arg(work.path())
        .args(extra);
    let f = support::run_with_deadline(cmd, DEADLINE);
    let run = Run {
        stdout: f.stdout,
        stderr: f.stderr,
        success: f.status.is_some_and(|s| s.success()),
    };
    eprintln!(
        "bench bbs {extra:?} took {:.1} s\n--- stdout\n{}--- stderr\n{}",
        f.took.as_secs_f64(),
        run.stdout,
        run.stderr
    );
    assert!(
        f.status.is_some(),
        "bench bbs did not finish within {DEADLINE:?}"
    );
    assert!(run.success, "bench bbs exited with {:?}", f.status);
    run
}

/// The table's rows: operation -> (count, rows column).
fn table(stdout: &str) -> BTreeMap<String, (u64, String)> {
    stdout
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| operation "))
        .map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split('|').map(str::trim).collect();
            assert_eq!(cells.len(), 6, "table row {l:?}");
            let count = cells[1]
                .parse()
                .unwrap_or_else(|_| panic!("count in {l:?}"));
            (cells[0].to_string(), (count, cells[5].to_string()))
        })
        .collect()
}

/// The integers of the line starting with `prefix`, after that prefix.
fn numbers_after(stdout: &str, prefix: &str) -> Vec<u64> {
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix(prefix))
        .unwrap_or_else(|| panic!("no line starting {prefix:?}"));
    line.split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap())
        .collect()
}

/// What a successful run at the tiny size must have printed.
fn check_report(run: &Run, backend: &str) {
    let out = &run.stdout;
    assert!(
        out.starts_with(&format!(
            "bench bbs: backend={backend} desired_lrps={DESIRED_LRPS} (1 instance each; {} seeded through the store, {API_SAMPLE} through the API) reps={REPS} ",
            DESIRED_LRPS - API_SAMPLE
        )),
        "header line"
    );

    let rows = table(out);
    let count = |op: &str| {
        rows.get(op)
            .unwrap_or_else(|| panic!("no table row {op:?}"))
            .0
    };
    // Each client makes its bulk calls once a cycle.
    for op in [
        "rep bulk fetch: actual LRPs of the cell",
        "rep bulk fetch: tasks of the cell",
        "rep bulk loop (fetches + writes)",
        "route emitter: actual LRPs of the cell",
        "route emitter: routing infos of the cell's LRPs",
    ] {
        assert_eq!(count(op), REPS * CYCLES, "{op}");
    }
    assert_eq!(count("nsync fetch all scheduling infos"), CYCLES);
    assert_eq!(
        count("nsync fetch all scheduling infos: of which decoding"),
        CYCLES
    );
    assert_eq!(count("fetch all cell presences"), CYCLES);
    assert_eq!(count("locket: acquire cell presence"), REPS);
    for op in [
        "API sample: desire LRP",
        "API sample: claim actual LRP",
        "API sample: start actual LRP",
    ] {
        assert_eq!(count(op), API_SAMPLE, "{op}");
    }
    // The reps wrote (2% of 200 LRPs a cell), each claim followed by a start.
    let claims = count("rep claim actual LRP");
    assert!(claims > 0, "no rep claimed an actual LRP");
    assert_eq!(count("rep start actual LRP"), claims);
    for (op, (_, failed)) in &rows {
        assert!(failed.is_empty(), "{op}: {failed}");
    }

    // Every claim and start is one instance change, seen on the global
    // stream and on its cell's stream.
    let ev = numbers_after(out, "events (actual_lrp_instance_changed):");
    let [got_global, want_global, got_cells, want_cells, short, foreign, ended] = ev[..] else {
        panic!("events line numbers {ev:?}");
    };
    assert_eq!(want_global, 2 * claims, "expected events");
    assert_eq!(want_cells, want_global);
    assert_eq!(got_global, want_global, "global stream");
    assert_eq!(got_cells, want_cells, "cell streams");
    assert_eq!(
        (short, foreign, ended),
        (0, 0, 0),
        "cells short, events of another cell, streams ended early"
    );

    for verdict in [
        "target every request kind p99 <= 1 s: ",
        "target rep bulk fetch p99 <= 250 ms: ",
        "target LRP convergence pass <= 2 s: ",
        "target bbs peak RSS <= 2 GiB: ",
    ] {
        assert!(
            out.lines().any(|l| l.starts_with(verdict)),
            "no verdict line {verdict:?}"
        );
    }
    assert!(
        !out.lines().any(|l| l.starts_with("FAIL")),
        "a FAIL line with exit status 0"
    );
}

#[test]
fn bench_bbs_on_sqlite() {
    let Some(diego) = diego_binary() else { return };
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let run = bench_bbs(&diego, &["--backend", "sqlite"]);
    check_report(&run, "sqlite");
}

#[test]
fn bench_bbs_on_postgres() {
    let Some(diego) = diego_binary() else { return };
    if TestPostgres::skip_requested() {
        testkit::skip::skip(&format!("{}=1 is set", testkit::postgres::SKIP_ENV));
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // As every PostgreSQL test here: missing binaries fail the test unless
    // the skip variable says otherwise.
    let pg = match TestPostgres::try_start() {
        Ok(pg) => pg,
        Err(e) => panic!(
            "cannot start a test PostgreSQL (set {}=1 to skip): {e}",
            testkit::postgres::SKIP_ENV
        ),
    };
    // The BBS and locket share this database (their tables differ).
    let url = pg.url();
    let run = bench_bbs(&diego, &["--backend", "postgres", "--postgres-url", &url]);
    check_report(&run, "postgres");
}

#[test]
fn bench_bbs_on_mysql() {
    let Some(diego) = diego_binary() else { return };
    if testkit::mariadb::TestMariaDb::skip_requested() {
        testkit::skip::skip(&format!("{}=1 is set", testkit::mariadb::SKIP_ENV));
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // The bench starts its own throwaway MariaDB server.
    let run = bench_bbs(&diego, &["--backend", "mysql"]);
    check_report(&run, "mysql");
}
