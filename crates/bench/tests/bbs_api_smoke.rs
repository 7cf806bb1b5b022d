//! `bench bbs-api --local sqlite` end to end at a tiny size: it starts our
//! BBS with mutual TLS, locket and a database, drives every phase through
//! the API, restarts the BBS on the filled database and reads it again,
//! then cleans up. Nothing here is timed; the figures come from release
//! runs.

mod support;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

const LRPS: u64 = 120;
const REPS: u64 = 4;
const DEADLINE: Duration = Duration::from_secs(300);

#[test]
fn bbs_api_local_runs_every_phase_and_the_restart() {
    let bench = PathBuf::from(env!("CARGO_BIN_EXE_bench"));
    let diego = bench.parent().unwrap().join("diego");
    if !diego.is_file() {
        testkit::skip::skip("build the diego binary first: cargo build -p diego");
        return;
    }
    let n = |v: u64| v.to_string();
    let mut cmd = Command::new(&bench);
    cmd.args(["bbs-api", "--local", "sqlite", "--list-repeats", "1"])
        .args(["--desired-lrps", &n(LRPS), "--reps", &n(REPS), "--cleanup"])
        .args(["--clients", "8"])
        .arg("--diego-bin")
        .arg(&diego);
    let f = support::run_with_deadline(cmd, DEADLINE);
    let out = f.stdout;
    eprintln!("{out}\n--- stderr\n{}", f.stderr);
    assert!(
        f.status.is_some_and(|s| s.success()),
        "bench: {:?}",
        f.status
    );
    assert!(
        out.starts_with("bench bbs-api: https://127.0.0.1:"),
        "{out}"
    );
    assert!(!out.contains("FAILED"), "a request failed");
    // Each phase ran every operation once (the lists once each).
    let ops = |phase: &str| -> u64 {
        let line = out
            .lines()
            .find(|l| l.starts_with(phase))
            .unwrap_or_else(|| panic!("no row {phase:?}"));
        line[phase.len()..]
            .split_whitespace()
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    for (phase, want) in [
        ("desire LRP", LRPS),
        ("claim actual LRP", LRPS),
        ("start actual LRP", LRPS),
        ("DesiredLRPs (unfiltered)", 1),
        ("DesiredLRPSchedulingInfos", 1),
        ("ActualLRPs by cell (rep bulk)", REPS),
        ("after restart: ActualLRPs by cell", REPS),
        ("after restart: SchedulingInfos", 1),
        ("remove desired LRP", LRPS),
    ] {
        assert_eq!(ops(phase), want, "{phase}");
    }
    assert!(
        out.contains(&format!("list lengths: [{LRPS}, {LRPS}]")),
        "{out}"
    );
    assert!(out.contains("restart: answering "), "{out}");
    // The restarted BBS's cache load line, with the LRPs it loaded.
    let load = out
        .lines()
        .find(|l| l.starts_with("restart: ") && l.contains("lrp cache loaded"))
        .unwrap_or_else(|| panic!("no cache load line in {out}"));
    assert!(load.contains(&format!("\"desired_lrps\":{LRPS}")), "{load}");
}
