//! The whole corpus' command sequence against our real BBS (testkit's
//! control plane, SQLite): what our cfdot prints must match what the
//! reference cfdot printed against Diego's BBS, modulo timestamps and
//! epochs.

mod support;

use std::fs;

use support::*;
use testkit::control_plane::ControlPlane;

fn normalize(s: &str) -> String {
    let times =
        regex::Regex::new(r#""(since|created_at|updated_at|first_completed_at)":\d+"#).unwrap();
    let epochs = regex::Regex::new(r#""epoch":"[^"]*""#).unwrap();
    let s = times.replace_all(s, "\"$1\":0");
    epochs.replace_all(&s, "\"epoch\":\"E\"").into_owned()
}

#[test]
fn corpus_sequence_against_our_bbs() {
    let Some(dir) = corpus() else { return };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let control = rt.block_on(ControlPlane::builder().start());
    let url = control.bbs_url().to_string();

    for entry in entries(&dir) {
        let name = entry.file_name().unwrap().to_string_lossy().to_string();
        let mut args = entry_args(&entry);
        args.push("--bbsURL".into());
        args.push(url.clone());
        let out = cfdot(&args);
        let want_stdout = fs::read_to_string(entry.join("cfdot-stdout.txt")).unwrap();
        let want_stderr = fs::read_to_string(entry.join("cfdot-stderr.txt")).unwrap();
        let want_code: i32 = fs::read_to_string(entry.join("cfdot-exit-code.txt"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert_eq!(
            normalize(&String::from_utf8_lossy(&out.stdout)),
            normalize(&want_stdout),
            "{name}: stdout"
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            want_stderr,
            "{name}: stderr"
        );
        assert_eq!(out.status.code(), Some(want_code), "{name}: exit code");
    }
    rt.block_on(control.shutdown());
}
