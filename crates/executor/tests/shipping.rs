//! Instance logs leave the cell: a real log component receives every line
//! as an envelope (with Diego's CELL lines and the instance's tags), keeps
//! them after the container is gone, the rate limit holds a noisy app, and
//! container metrics arrive as gauges.

mod common;

use common::*;
use executor::{ContainerStore, ExecutorConfig, LogConfig};
use logs_client::envelope::render_cf;
use logs_client::pb::envelope::Message;
use logs_client::reader::ReadOptions;
use logs_client::{IngressConfig, Reader, Sender};
use std::time::{Duration, Instant};

struct Setup {
    logs: logs::RunningLogs,
    reader: Reader,
    sender: Sender,
    cell: Cell,
}

async fn setup(tweak: impl FnOnce(&mut ExecutorConfig)) -> Setup {
    let logs = logs::start(&logs::LogsConfig {
        ingress_address: "127.0.0.1:0".into(),
        api_address: "127.0.0.1:0".into(),
        max_per_source: 5000,
        max_bytes_per_source: 8 << 20,
        max_sources: 100,
        ..Default::default()
    })
    .await
    .unwrap();
    let reader = Reader::new(&format!("http://{}", logs.api_addr)).unwrap();
    let sender = Sender::start(IngressConfig::new(
        &logs.ingress_addr.to_string(),
        "cell-z1-0",
    ));
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = fast_config(dir.path());
    cfg.log_sender = Some(sender.clone());
    tweak(&mut cfg);
    let store = ContainerStore::new(houdini(dir.path()), cfg).await.unwrap();
    Setup {
        logs,
        reader,
        sender,
        cell: Cell { store, dir },
    }
}

async fn lines_of(reader: &Reader, source: &str) -> Vec<String> {
    reader
        .recent(
            source,
            &ReadOptions {
                limit: Some(1000),
                envelope_types: vec!["LOG".into()],
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .iter()
        .filter_map(render_cf)
        .map(|l| l.split_once(' ').unwrap().1.to_string())
        .collect()
}

async fn wait_lines(
    reader: &Reader,
    source: &str,
    pred: impl Fn(&[String]) -> bool,
) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let lines = lines_of(reader, source).await;
        if pred(&lines) {
            return lines;
        }
        assert!(
            Instant::now() < deadline,
            "log component never had the expected lines:\n{}",
            lines.join("\n")
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_crashed_and_deleted_instance_keeps_its_lines_with_the_cells() {
    let s = setup(|_| {}).await;
    let mut info = run_info(sh(
        "echo hello; printf 'bin\\377ary\\n'; echo oops >&2; exit 3",
    ));
    info.log_config = LogConfig {
        guid: "log-guid".into(),
        index: 2,
        source_name: "APP/PROC/WEB".into(),
        tags: [
            ("source_id".to_string(), "app-guid".to_string()),
            ("app_name".to_string(), "hello".to_string()),
        ]
        .into(),
    };
    start(&s.cell.store, "inst-1", info).await;
    completed(&s.cell.store, "inst-1", 20).await;
    s.cell.store.delete("inst-1").await.unwrap();

    let lines = wait_lines(&s.reader, "app-guid", |l| {
        l.iter().any(|l| l.contains("successfully destroyed"))
    })
    .await;
    let expected = [
        "[APP/PROC/WEB/2] OUT Cell cell-z1-0 creating container for instance inst-1",
        "[APP/PROC/WEB/2] OUT Cell cell-z1-0 successfully created container for instance inst-1",
        "[APP/PROC/WEB/2] OUT hello",
        "[APP/PROC/WEB/2] OUT bin\u{fffd}ary",
        "[APP/PROC/WEB/2] ERR oops",
        "[APP/PROC/WEB/2] OUT Exit status 3",
        "[APP/PROC/WEB/2] OUT Cell cell-z1-0 destroying container for instance inst-1",
        "[APP/PROC/WEB/2] OUT Cell cell-z1-0 successfully destroyed container for instance inst-1",
    ];
    let mut at = 0;
    for want in expected {
        match lines[at..].iter().position(|l| l == want) {
            Some(i) => at += i + 1,
            None => panic!("missing (in order) {want:?} in:\n{}", lines.join("\n")),
        }
    }
    // The envelopes carry the instance's tags, not its source_id tag.
    let env = s
        .reader
        .recent("app-guid", &ReadOptions::default())
        .await
        .unwrap()
        .remove(0);
    assert_eq!(env.tags["app_name"], "hello");
    assert_eq!(env.tags["source_type"], "APP/PROC/WEB");
    assert!(!env.tags.contains_key("source_id"));
    assert_eq!(env.instance_id, "2");
    s.logs.stop().await;
}

#[tokio::test]
async fn the_log_rate_limit_holds_a_noisy_instance_and_says_so_once_a_second() {
    let s = setup(|c| c.max_log_lines_per_second = 0).await;
    let mut info = run_info(sh(
        "i=0; while [ $i -lt 3000 ]; do echo line-$i; i=$((i+1)); done; sleep 1.2; echo after",
    ));
    info.log_rate_limit = Some(200);
    start(&s.cell.store, "noisy", info).await;
    completed(&s.cell.store, "noisy", 30).await;
    let lines = wait_lines(&s.reader, "app-guid", |l| {
        l.iter().any(|l| l.ends_with("OUT after"))
    })
    .await;
    let passed = lines.iter().filter(|l| l.contains("OUT line-")).count();
    assert!(
        passed > 0 && passed <= 40,
        "{passed} lines passed a 200 B/s limit"
    );
    let overages = lines
        .iter()
        .filter(|l| l.ends_with("OUT app instance exceeded log rate limit (200 bytes/sec)"))
        .count();
    // The loop runs well under 2 s: at most one report per second.
    assert!(
        (1..=3).contains(&overages),
        "{overages}:\n{}",
        lines.join("\n")
    );
    assert!(executor::log_rate::exceeded_total() >= 1);
    s.logs.stop().await;
}

#[tokio::test]
async fn the_operators_line_cap_applies_to_every_instance() {
    let s = setup(|c| c.max_log_lines_per_second = 50).await;
    start(
        &s.cell.store,
        "chatty",
        run_info(sh(
            "i=0; while [ $i -lt 2000 ]; do echo l$i; i=$((i+1)); done",
        )),
    )
    .await;
    completed(&s.cell.store, "chatty", 30).await;
    // (Its "Exit status 0" falls in the dropped second too, as in Diego.)
    assert!(s.sender.flush(Duration::from_secs(5)).await);
    let lines = wait_lines(&s.reader, "app-guid", |l| {
        l.iter().any(|l| {
            l.ends_with(
                "app instance exceeded log rate limit (50 log-lines/sec) set by platform operator",
            )
        })
    })
    .await;
    let passed = lines.iter().filter(|l| l.contains("OUT l")).count();
    assert!(passed <= 150, "{passed} lines passed a 50 lines/s cap");
    s.logs.stop().await;
}

#[tokio::test]
async fn container_metrics_arrive_as_gauges_with_the_instance_tags() {
    let s = setup(|_| {}).await;
    let mut info = run_info(sh("sleep 30"));
    info.log_config.tags = [("app_name".to_string(), "metered".to_string())].into();
    start(&s.cell.store, "metered", info).await;
    running(&s.cell.store, "metered", 10).await;
    s.cell.store.report_metrics().await;
    s.cell.store.report_metrics().await;
    let sample = s.cell.store.latest_metrics("metered").unwrap();
    assert_eq!(sample.memory_quota_bytes, 128 << 20);
    assert_eq!(sample.disk_quota_bytes, 256 << 20);
    assert!(sample.container_age_ns > 0);

    let deadline = Instant::now() + Duration::from_secs(10);
    let gauge = loop {
        let envs = s
            .reader
            .recent(
                "app-guid",
                &ReadOptions {
                    envelope_types: vec!["GAUGE".into()],
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        if let Some(e) = envs.last() {
            break e.clone();
        }
        assert!(Instant::now() < deadline, "no gauge arrived");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let Some(Message::Gauge(g)) = &gauge.message else {
        unreachable!()
    };
    for name in [
        "cpu",
        "memory",
        "disk",
        "memory_quota",
        "disk_quota",
        "container_age",
    ] {
        assert!(g.metrics.contains_key(name), "{name} missing: {g:?}");
    }
    assert_eq!(g.metrics["memory_quota"].value, (128u64 << 20) as f64);
    assert_eq!(gauge.tags["app_name"], "metered");
    // And as Prometheus text with the app's labels.
    let text = reqwest::get(format!("http://{}/metrics", s.logs.api_addr))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains(r#"diego_app_memory_quota{app_name="metered",instance_id="0",source_id="app-guid"} 134217728"#),
        "{text}"
    );
    s.cell.store.delete("metered").await.unwrap();
    assert!(s.cell.store.latest_metrics("metered").is_none());
    assert_eq!(s.sender.stats().dropped, 0);
    s.logs.stop().await;
}

fn app(guid: &str, script: &str) -> executor::RunInfo {
    let mut info = run_info(sh(script));
    info.log_config.guid = guid.into();
    info
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// A flood (hundreds of MB of output), a 1 MB line and binary garbage on
/// one cell: a quiet app beside them loses nothing, memory stays bounded,
/// and what was dropped is counted.
#[tokio::test]
async fn a_flood_a_huge_line_and_garbage_leave_other_apps_whole() {
    let s = setup(|c| c.max_log_lines_per_second = 1000).await;
    let rss0 = rss_kib();
    let t = Instant::now();
    start(
        &s.cell.store,
        "flood",
        app(
            "flood",
            "yes 'a line of a flood of log output, far beyond any limit' | head -c 300000000",
        ),
    )
    .await;
    start(
        &s.cell.store,
        "huge",
        app(
            "huge",
            "head -c 1048576 /dev/zero | tr '\\0' x; echo; echo done",
        ),
    )
    .await;
    start(
        &s.cell.store,
        "garbage",
        app("garbage", "head -c 100000 /dev/urandom; echo; echo done"),
    )
    .await;
    start(
        &s.cell.store,
        "quiet",
        app(
            "quiet",
            "i=0; while [ $i -lt 30 ]; do echo tick-$i; i=$((i+1)); sleep 0.1; done",
        ),
    )
    .await;
    let mut peak = 0;
    for guid in ["flood", "huge", "garbage", "quiet"] {
        let deadline = Instant::now() + Duration::from_secs(120);
        while s.cell.store.get(guid).unwrap().state != executor::State::Completed {
            peak = peak.max(rss_kib());
            assert!(s.sender.stats().buffered <= 10_000);
            assert!(Instant::now() < deadline, "{guid} did not finish");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let secs = t.elapsed().as_secs_f64();
    eprintln!(
        "300 MB flood took {secs:.1} s ({:.0} MB/s); RSS {} -> peak {} KiB; sender {:?}",
        300.0 / secs,
        rss0,
        peak,
        s.sender.stats()
    );
    assert!(
        peak.saturating_sub(rss0) < 256 * 1024,
        "memory grew {} KiB",
        peak - rss0
    );

    // The quiet app: every tick, in order.
    let quiet = wait_lines(&s.reader, "quiet", |l| {
        l.iter().any(|l| l.ends_with("OUT tick-29"))
    })
    .await;
    let ticks: Vec<_> = quiet.iter().filter(|l| l.contains("OUT tick-")).collect();
    assert_eq!(ticks.len(), 30, "{quiet:?}");

    // The flood: held to the operator's cap, and told so.
    let flood = lines_of(&s.reader, "flood").await;
    assert!(flood.iter().any(|l| l.contains(
        "app instance exceeded log rate limit (1000 log-lines/sec) set by platform operator"
    )));
    // The 1 MB line: cut in 60 KiB lines, none lost.
    let huge = wait_lines(&s.reader, "huge", |l| {
        l.iter().any(|l| l.ends_with("OUT done"))
    })
    .await;
    let pieces: Vec<_> = huge
        .iter()
        .filter_map(|l| l.split_once("OUT ").map(|(_, t)| t))
        .filter(|t| t.starts_with('x'))
        .collect();
    assert_eq!(pieces.iter().map(|p| p.len()).sum::<usize>(), 1 << 20);
    assert!(pieces.iter().all(|p| p.len() <= 60 * 1024));
    // Garbage: lossy text, then the app goes on.
    wait_lines(&s.reader, "garbage", |l| {
        l.iter().any(|l| l.ends_with("OUT done"))
    })
    .await;
    s.logs.stop().await;
}
