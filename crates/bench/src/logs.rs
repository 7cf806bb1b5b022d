//! `bench logs`: the log path's figures.
//!
//! 1. Envelopes per second through one cell: an app on a houdini cell
//!    prints `--lines` lines as fast as it can; the cell's executor cuts
//!    them into lines and ships them (the bounded sender, gRPC
//!    BatchSender) to a log component in this process, until the store
//!    holds them all. CPU per 10,000 lines is this process's CPU time (the
//!    executor, the sender and the component; the app itself is a child
//!    and not counted), beside the same run with shipping off (the cell's
//!    overhead today: lines into the instance's ring buffer only).
//! 3. A dead log component: a cell's sender gets `--lines` envelopes
//!    while nothing listens; what each send cost (it never waits), what
//!    stayed buffered and what was dropped and counted; then the component
//!    comes up on that address and the buffer drains into it.
//! 2. The store's memory with `--apps` apps × `--per-app` lines of about
//!    100 bytes: RSS before and after filling it, and the store's own
//!    count of encoded bytes.

use crate::bbs_load::processes::proc_cpu_seconds;
use crate::report::proc_status_kib;
use executor::{AllocationRequest, ContainerStore, ExecutorConfig, LogConfig, Resource, RunInfo};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Lines the app prints.
    #[arg(long, default_value_t = 200_000)]
    lines: u64,
    /// Apps in the store-memory figure.
    #[arg(long, default_value_t = 1000)]
    apps: usize,
    /// Lines per app in the store-memory figure.
    #[arg(long, default_value_t = 1000)]
    per_app: usize,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let (today_s, today_cpu) = through_cell(args.lines, false).await?;
        let (ship_s, ship_cpu) = through_cell(args.lines, true).await?;
        let per10k = |cpu: f64| cpu / args.lines as f64 * 10_000.0 * 1000.0;
        println!("lines through one cell ({} lines, houdini):", args.lines);
        println!(
            "  ring buffer only (today):   {:>9.0} lines/s, {:>6.1} ms CPU per 10,000 lines",
            args.lines as f64 / today_s,
            per10k(today_cpu)
        );
        println!(
            "  shipped to the log store:   {:>9.0} envelopes/s, {:>6.1} ms CPU per 10,000 lines",
            args.lines as f64 / ship_s,
            per10k(ship_cpu)
        );
        store_memory(args.apps, args.per_app);
        dead_component(args.lines).await?;
        anyhow::Ok(())
    })
}

/// Seconds until every line is in (the store, or the ring buffer), and
/// this process's CPU seconds meanwhile.
async fn through_cell(lines: u64, ship: bool) -> anyhow::Result<(f64, f64)> {
    let dir = tempfile::tempdir()?;
    let logs = logs::start(&logs::LogsConfig {
        ingress_address: "127.0.0.1:0".into(),
        api_address: "127.0.0.1:0".into(),
        ..Default::default()
    })
    .await?;
    let mut cfg = ExecutorConfig {
        cell_id: "bench-cell".into(),
        capacity: Some(executor::ExecutorResources::new(1024, 4096, 4)),
        temp_dir: dir.path().join("tmp"),
        ..Default::default()
    };
    if ship {
        let mut ic = logs_client::IngressConfig::new(&logs.ingress_addr.to_string(), "bench-cell");
        ic.max_buffered_envelopes = 100_000;
        ic.max_buffered_bytes = 64 << 20;
        cfg.log_sender = Some(logs_client::Sender::start(ic));
    }
    let backend: Arc<dyn garden::Backend> = Arc::new(garden::houdini::HoudiniBackend::new(
        dir.path().join("depot"),
        garden::Capacity {
            memory_bytes: 8 << 30,
            disk_bytes: 64 << 30,
            max_containers: 10,
        },
    )?);
    let store = ContainerStore::new(backend, cfg).await?;
    store.allocate(AllocationRequest {
        guid: "app".into(),
        resource: Resource {
            memory_mb: 128,
            disk_mb: 128,
            max_pids: 0,
        },
        tags: Default::default(),
    })?;
    let action = models::Action {
        run_action: Some(models::RunAction {
            path: "/bin/sh".into(),
            args: vec![
                "-c".into(),
                format!("seq -f 'bench line %g of the log throughput figure' 1 {lines}"),
            ],
            ..Default::default()
        }),
        ..Default::default()
    };
    store.initialize(
        "app",
        RunInfo {
            action: Some(action),
            log_config: LogConfig {
                guid: "bench-app".into(),
                source_name: "APP/PROC/WEB".into(),
                ..Default::default()
            },
            ..Default::default()
        },
        Default::default(),
    )?;
    let pid = std::process::id();
    let cpu0 = proc_cpu_seconds(pid).unwrap_or(0.0);
    let t0 = Instant::now();
    store.create("app").await?;
    store.run("app")?;
    let log = store.logs("app")?;
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let done = if ship {
            logs.hub.store.stored.load(Ordering::Relaxed) >= lines
        } else {
            log.lines()
                .last()
                .is_some_and(|l| l.text.contains(&format!("line {lines} of")))
        };
        if done {
            break;
        }
        anyhow::ensure!(Instant::now() < deadline, "lines did not all arrive");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let secs = t0.elapsed().as_secs_f64();
    let cpu = proc_cpu_seconds(pid).unwrap_or(0.0) - cpu0;
    let _ = store.delete("app").await;
    logs.stop().await;
    Ok((secs, cpu))
}

fn store_memory(apps: usize, per_app: usize) {
    let rss0 = proc_status_kib("VmRSS").unwrap_or(0);
    let store = logs::store::Store::new(logs::store::Limits {
        max_per_source: per_app,
        max_bytes_per_source: 64 << 20,
        max_sources: apps,
    });
    let tags = std::collections::HashMap::from([
        ("app_name".to_string(), "bench-app".to_string()),
        ("instance_index".to_string(), "0".to_string()),
    ]);
    let t0 = Instant::now();
    for i in 0..per_app {
        for a in 0..apps {
            store.put(logs_client::envelope::log(
                &format!("app-{a:04}-guid-0000-0000-000000000000"),
                &(i % 4).to_string(),
                "APP/PROC/WEB",
                false,
                format!("2024-05-01 10:00:00 GET /orders/{i} 200 12ms request id {a:08x}-{i:08x}"),
                &tags,
            ));
        }
    }
    let fill = t0.elapsed();
    let rss1 = proc_status_kib("VmRSS").unwrap_or(0);
    let (sources, envelopes, bytes) = store.totals();
    println!(
        "store of {sources} apps x {} lines ({envelopes} envelopes): {:.0} MiB RSS ({:.0} B per envelope), \
         {:.0} MiB encoded; filled at {:.0} envelopes/s",
        envelopes / sources.max(1),
        (rss1.saturating_sub(rss0)) as f64 / 1024.0,
        (rss1.saturating_sub(rss0)) as f64 * 1024.0 / envelopes.max(1) as f64,
        bytes as f64 / (1 << 20) as f64,
        envelopes as f64 / fill.as_secs_f64()
    );
}

async fn dead_component(n: u64) -> anyhow::Result<()> {
    // A free port nobody listens on (yet).
    let addr = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    let ic = logs_client::IngressConfig::new(&addr.to_string(), "bench-cell");
    let cap = ic.max_buffered_envelopes;
    let sender = logs_client::Sender::start(ic);
    let tags = std::collections::HashMap::new();
    let t0 = Instant::now();
    for i in 0..n {
        sender.send(logs_client::envelope::log(
            "bench-app",
            "0",
            "APP/PROC/WEB",
            false,
            format!("bench line {i} of the dead component figure"),
            &tags,
        ));
    }
    let per_send = t0.elapsed().as_nanos() as f64 / n as f64;
    let st = sender.stats();
    println!(
        "dead log component: {n} envelopes sent in {:.0} ms ({per_send:.0} ns per send, never waiting); \
         buffered {} (cap {cap}), dropped and counted {}",
        t0.elapsed().as_secs_f64() * 1000.0,
        st.buffered,
        st.dropped
    );
    let logs = logs::start(&logs::LogsConfig {
        ingress_address: addr.to_string(),
        api_address: "127.0.0.1:0".into(),
        ..Default::default()
    })
    .await?;
    let t1 = Instant::now();
    let deadline = t1 + Duration::from_secs(60);
    // The buffered lines, and the sender's `dropped` counter before them.
    while logs.hub.store.stored.load(Ordering::Relaxed) < st.buffered as u64 + 1 {
        anyhow::ensure!(Instant::now() < deadline, "the buffer did not drain");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let reported: u64 = logs
        .hub
        .store
        .read("bench-cell", &Default::default())
        .iter()
        .filter_map(|e| match &e.message {
            Some(models::loggregator::v2::envelope::Message::Counter(c)) => Some(c.delta),
            _ => None,
        })
        .sum();
    println!(
        "  component back: the {} buffered envelopes stored {:.0} ms after it listened \
         (reconnect backoff included); the cell's dropped counter reported {reported}",
        st.buffered,
        t1.elapsed().as_secs_f64() * 1000.0
    );
    logs.stop().await;
    Ok(())
}
