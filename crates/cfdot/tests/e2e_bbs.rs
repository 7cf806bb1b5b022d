//! The whole corpus' command sequence against our real BBS (SQLite in a
//! temp dir): what our cfdot prints must match what the reference cfdot
//! printed against Diego's BBS, modulo timestamps and epochs.

mod support;

use std::fs;
use std::time::Duration;

use support::*;

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
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = bbs::config::BbsConfig {
        listen_address: "127.0.0.1:0".into(),
        health_address: "127.0.0.1:0".into(),
        database_connection_string: tmp.path().join("bbs.db").display().to_string(),
        active_key_label: "k1".into(),
        communication_timeout: bbs::config::GoDuration(Duration::from_secs(5)),
        ..Default::default()
    };
    cfg.encryption_keys
        .insert("k1".into(), "a test passphrase".into());
    let running = rt
        .block_on(bbs::server::start(&cfg, bbs::server::Overrides::default()))
        .expect("bbs starts");
    let url = format!("http://{}", running.addr);

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
    drop(running);
}
