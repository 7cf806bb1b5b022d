//! `bench bbs`: Diego's benchmarkbbs workload against a BBS process.
//!
//! The store is seeded with D desired LRPs and their RUNNING actual LRPs
//! spread over R cells: all but `--api-sample` of them in bulk through the
//! store (seeding 250,000 through the API would take longer than the
//! run), the sample through the API (desire, claim, start). Then locket
//! and the BBS start as child processes (`diego locket`, `diego bbs`), R
//! simulated reps hold a presence in locket and the workload runs for
//! `--cycles` cycles (see `workload`) while the BBS's converger runs its
//! passes. The run prints per request kind count/median/p99/max, events
//! received against expected, the LRP convergence pass durations and the
//! BBS's CPU seconds and peak RSS, and fails when a bulk loop overran its
//! cycle or an event was lost.

pub(crate) mod processes;
pub(crate) mod seed;
pub(crate) mod stats;
mod workload;

use crate::convergence::Backend;
use crate::report::{fmt_duration, table};
use anyhow::{bail, Context as _};
use bbs_client::{BbsClient, HttpBbsClient};
use processes::free_port;
use stats::{EventCounts, Recorder};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use workload::Load;

#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// Desired LRPs (one instance each) [default: 250000; 50000 with --quick].
    #[arg(long)]
    pub desired_lrps: Option<u64>,
    /// Simulated reps (cells) [default: 1000; 200 with --quick].
    #[arg(long)]
    pub reps: Option<u64>,
    /// CI smoke size: 50,000 LRPs on 200 reps (unless given).
    #[arg(long)]
    pub quick: bool,
    /// Percent of its actual LRPs a rep writes per cycle (claim + start).
    #[arg(long, default_value_t = 2.0)]
    pub percent_writes: f64,
    /// Bulk cycles each client runs.
    #[arg(long, default_value_t = 3)]
    pub cycles: usize,
    /// Seconds per bulk cycle (also the BBS's convergence interval).
    #[arg(long, default_value_t = 30)]
    pub cycle_seconds: u64,
    /// Desired LRPs created through the API (desire, claim, start); the
    /// rest are seeded in bulk through the store.
    #[arg(long, default_value_t = 1000)]
    pub api_sample: u64,
    /// Running tasks per cell (what a rep's task bulk fetch returns).
    #[arg(long, default_value_t = 5)]
    pub tasks_per_cell: u64,
    #[arg(long, value_enum, default_value_t = Backend::Sqlite)]
    pub backend: Backend,
    /// PostgreSQL database (empty) for the BBS and locket; without it a
    /// throwaway cluster is started.
    #[arg(long)]
    pub postgres_url: Option<String>,
    /// The `diego` binary [default: next to this one].
    #[arg(long)]
    pub diego_bin: Option<PathBuf>,
    /// The BBS's max_open_database_connections [default: the BBS's].
    #[arg(long)]
    pub max_open_connections: Option<u32>,
    /// Requests the load generator keeps in flight at most.
    #[arg(long, default_value_t = 512)]
    pub in_flight: usize,
    /// RUST_LOG of the BBS (per-request info lines are off by default).
    #[arg(long, default_value = "warn,converger=info")]
    pub bbs_log: String,
    /// Directory for configs and SQLite files [default: a temp dir].
    #[arg(long)]
    pub work_dir: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let ok = rt.block_on(run_async(args))?;
    if !ok {
        std::process::exit(1);
    }
    Ok(())
}

/// Keeps the databases and work dir alive for the run.
pub(crate) struct Env {
    _dir: Option<tempfile::TempDir>,
    _pg: Option<testkit::postgres::TestPostgres>,
    _mariadb: Option<testkit::mariadb::TestMariaDb>,
    pub dir: PathBuf,
    pub bbs_url: String,
    pub locket_url: String,
    pub driver: &'static str,
}

async fn env(args: &Args) -> anyhow::Result<Env> {
    store_env(
        args.backend,
        args.postgres_url.as_deref(),
        args.work_dir.as_deref(),
    )
    .await
}

/// The BBS's and locket's databases (a throwaway server when none is
/// given) and a work directory.
pub(crate) async fn store_env(
    backend: Backend,
    postgres_url: Option<&str>,
    work_dir: Option<&std::path::Path>,
) -> anyhow::Result<Env> {
    let (tmp, dir) = match work_dir {
        Some(d) => {
            std::fs::create_dir_all(d)?;
            (None, std::fs::canonicalize(d)?)
        }
        None => {
            let t = tempfile::tempdir()?;
            let p = t.path().to_path_buf();
            (Some(t), p)
        }
    };
    Ok(match backend {
        Backend::Sqlite => Env {
            bbs_url: format!("sqlite://{}", dir.join("bbs.db").display()),
            locket_url: dir.join("locket.db").display().to_string(),
            _dir: tmp,
            _pg: None,
            _mariadb: None,
            dir,
            driver: "sqlite",
        },
        Backend::Postgres => match postgres_url {
            Some(u) => Env {
                bbs_url: u.to_string(),
                locket_url: u.to_string(),
                _dir: tmp,
                _pg: None,
                _mariadb: None,
                dir,
                driver: "postgres",
            },
            None => {
                eprintln!("starting a throwaway PostgreSQL cluster ...");
                let pg = tokio::task::spawn_blocking(testkit::postgres::TestPostgres::try_start)
                    .await?
                    .map_err(|e| anyhow::anyhow!("cannot start PostgreSQL: {e}"))?;
                let locket_db = pg.fresh_database().map_err(anyhow::Error::msg)?;
                Env {
                    bbs_url: pg.url(),
                    locket_url: pg.url_for(&locket_db),
                    _dir: tmp,
                    _pg: Some(pg),
                    _mariadb: None,
                    dir,
                    driver: "postgres",
                }
            }
        },
        Backend::Mysql => {
            eprintln!("starting a throwaway MariaDB server ...");
            let m = tokio::task::spawn_blocking(testkit::mariadb::TestMariaDb::try_start)
                .await?
                .map_err(|e| anyhow::anyhow!("cannot start MariaDB: {e}"))?;
            let locket_db = m.fresh_database().map_err(anyhow::Error::msg)?;
            Env {
                bbs_url: m.url(),
                // Locket takes it in the Go DSN form Diego's config uses.
                locket_url: m.go_dsn_for(&locket_db),
                _dir: tmp,
                _pg: None,
                _mariadb: Some(m),
                dir,
                driver: "mysql",
            }
        }
    })
}

fn uptime() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

async fn run_async(args: Args) -> anyhow::Result<bool> {
    let d = args
        .desired_lrps
        .unwrap_or(if args.quick { 50_000 } else { 250_000 });
    let r = args.reps.unwrap_or(if args.quick { 200 } else { 1000 });
    if d == 0 || r == 0 || args.cycles == 0 || args.cycle_seconds == 0 {
        bail!("--desired-lrps, --reps, --cycles and --cycle-seconds must be positive");
    }
    let sample = args.api_sample.min(d);
    let diego = processes::diego_binary(args.diego_bin.as_deref())?;
    let env = env(&args).await?;
    println!(
        "bench bbs: backend={} desired_lrps={d} (1 instance each; {} seeded through the store, {sample} through the API) reps={r} percent_writes={} cycles={}x{}s load(1,5,15)={}",
        env.driver,
        d - sample,
        args.percent_writes,
        args.cycles,
        args.cycle_seconds,
        uptime()
    );
    let cells: Vec<String> = (0..r).map(crate::convergence::cell_id).collect();

    // --- seed through the store -------------------------------------------
    let t = Instant::now();
    seed::seed_store(&env.bbs_url, d - sample, &cells, args.tasks_per_cell).await?;
    eprintln!(
        "seeded {} desired/actual LRPs in {}",
        d - sample,
        fmt_duration(t.elapsed())
    );
    let seed_took = t.elapsed();

    // --- locket and the BBS -----------------------------------------------
    let (locket, locket_addr) =
        processes::spawn_locket(&diego, &env.dir, env.driver, &env.locket_url).await?;
    let bbs_addr = format!("127.0.0.1:{}", free_port()?);
    let mut bbs_cfg = serde_json::json!({
        "listen_address": bbs_addr,
        "health_address": format!("127.0.0.1:{}", free_port()?),
        "database_driver": env.driver,
        "database_connection_string": env.bbs_url,
        "encryption_keys": {seed::KEY_LABEL: seed::KEY_PASSPHRASE},
        "active_key_label": seed::KEY_LABEL,
        "locket_address": locket_addr,
        "converge_repeat_interval": format!("{}s", args.cycle_seconds),
    });
    if let Some(n) = args.max_open_connections {
        bbs_cfg["max_open_database_connections"] = n.into();
    }
    let mut bbs = processes::spawn(&diego, "bbs", &env.dir, &bbs_cfg, &args.bbs_log)?;
    processes::wait_listening(&mut bbs, &bbs_addr, Duration::from_secs(60)).await?;
    // No retries: a benchmark reports what failed. Many idle connections:
    // every simulated rep and emitter keeps one.
    let mut client_cfg = bbs_client::ClientConfig::new(format!("http://{bbs_addr}"))
        .with_request_timeout(Duration::from_secs(60))
        .with_retries(1);
    client_cfg.max_idle_conns_per_host = Some(1024);
    let client = HttpBbsClient::new(&client_cfg)?;
    let t = Instant::now();
    while !client.ping().await {
        if t.elapsed() > Duration::from_secs(60) {
            bail!("the BBS did not answer ping within 60 s");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    eprintln!("bbs pid {} and locket pid {} up", bbs.pid(), locket.pid());

    // --- presences ----------------------------------------------------------
    let rec = Recorder::default();
    let presences = seed::register_cells(&locket_addr, &cells, &rec).await?;

    // --- the API sample -------------------------------------------------------
    let t = Instant::now();
    seed::through_api(&client, &rec, d - sample, d, &cells).await;
    eprintln!(
        "desired, claimed and started {sample} LRPs through the API in {}",
        fmt_duration(t.elapsed())
    );

    let expected_per_cell: Vec<usize> = (0..r)
        .map(|c| {
            if c < d {
                (d - c).div_ceil(r) as usize
            } else {
                0
            }
        })
        .collect();
    let load = Arc::new(Load {
        client: client.clone(),
        rec,
        events: EventCounts::new(cells.len()),
        cells: cells.clone(),
        expected_per_cell,
        desired_total: d as usize,
        percent_writes: args.percent_writes,
        cycle: Duration::from_secs(args.cycle_seconds),
        cycles: args.cycles,
        in_flight: tokio::sync::Semaphore::new(args.in_flight.max(1)),
        start: std::sync::OnceLock::new(),
    });

    // --- event streams: one global, one per cell -----------------------------------
    let (sub_tx, mut sub_rx) = tokio::sync::mpsc::channel(cells.len() + 1);
    let mut streams = Vec::new();
    streams.push(tokio::spawn(workload::events(
        load.clone(),
        None,
        sub_tx.clone(),
    )));
    for c in 0..cells.len() {
        streams.push(tokio::spawn(workload::events(
            load.clone(),
            Some(c),
            sub_tx.clone(),
        )));
    }
    drop(sub_tx);
    for _ in 0..=cells.len() {
        tokio::time::timeout(Duration::from_secs(60), sub_rx.recv())
            .await
            .context("event streams did not open within 60 s")?;
    }
    eprintln!("{} event streams open; running the load", cells.len() + 1);
    workload::nsync_warm_up(&load).await?;

    // --- the load ----------------------------------------------------------------
    let started = Instant::now();
    load.start.set(started).ok();
    let cpu0 = bbs.cpu_seconds();
    let locket_cpu0 = locket.cpu_seconds();
    let passes_before = bbs.converger_lines.lock().unwrap().len();
    let mut tasks = Vec::new();
    for c in 0..cells.len() {
        tasks.push(tokio::spawn(workload::rep(load.clone(), c, c as u64)));
        tasks.push(tokio::spawn(workload::route_emitter(
            load.clone(),
            c,
            1_000_000 + c as u64,
        )));
    }
    tasks.push(tokio::spawn(workload::nsync(load.clone(), 7)));
    tasks.push(tokio::spawn(workload::cells(load.clone(), 11)));
    for t in tasks {
        t.await?;
    }
    let load_took = started.elapsed();
    // Events still in flight.
    let settle = Instant::now();
    loop {
        let (eg, rg, ec, rc) = load.events.totals();
        if (rg >= eg && rc >= ec) || settle.elapsed() > Duration::from_secs(30) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let cpu = bbs.cpu_seconds() - cpu0;
    let locket_cpu = locket.cpu_seconds() - locket_cpu0;
    let hwm = bbs.status_kib("VmHWM").unwrap_or(0);
    let rss = bbs.status_kib("VmRSS").unwrap_or(0);
    let (passes, pass_work): (Vec<f64>, Vec<String>) = {
        let lines = bbs.converger_lines.lock().unwrap();
        let during = &lines[passes_before.min(lines.len())..];
        (
            processes::lrp_pass_durations_ms(during),
            processes::pass_reports(during)
                .iter()
                .map(processes::pass_work)
                .collect(),
        )
    };
    let bbs_alive = bbs.exited().is_none();
    for s in streams {
        s.abort();
    }
    for p in presences {
        p.abandon();
    }

    // --- report --------------------------------------------------------------------
    println!();
    println!("seeding through the store: {}", fmt_duration(seed_took));
    print!("{}", table(&load.rec.measures()));
    println!();
    let (eg, rg, ec, rc) = load.events.totals();
    let lost = rg < eg || rc < ec;
    println!(
        "events (actual_lrp_instance_changed): global stream {rg} received / {eg} expected; cell streams {rc} / {ec} ({} cells short, {} events of another cell, {} streams ended early)",
        load.events.cells_short(),
        load.events.foreign.load(Ordering::Relaxed),
        load.events.streams_ended.load(Ordering::Relaxed),
    );
    let max_pass = passes.iter().copied().fold(0.0, f64::max);
    println!(
        "LRP convergence passes during the load: {} ({})",
        passes.len(),
        passes
            .iter()
            .map(|ms| fmt_duration(Duration::from_secs_f64(ms / 1000.0)))
            .collect::<Vec<_>>()
            .join(", ")
    );
    for (i, work) in pass_work.iter().enumerate() {
        println!("  pass {}: {work}", i + 1);
    }
    println!(
        "bbs: {cpu:.1} CPU s over {:.1} s of load ({:.0}% of one core); peak RSS (VmHWM) {:.0} MiB, now {:.0} MiB; locket {locket_cpu:.1} CPU s",
        load_took.as_secs_f64(),
        100.0 * cpu / load_took.as_secs_f64(),
        hwm as f64 / 1024.0,
        rss as f64 / 1024.0,
    );
    println!("load(1,5,15) at the end: {}", uptime());
    let mut ok = true;
    let overruns = load.rec.overruns.lock().unwrap().clone();
    if !overruns.is_empty() {
        ok = false;
        println!(
            "FAIL: {} bulk loops overran their cycle, e.g. {}",
            overruns.len(),
            overruns[0]
        );
    }
    if lost {
        ok = false;
        println!("FAIL: events lost");
    }
    let mismatches = load.rec.mismatches.lock().unwrap().clone();
    if !mismatches.is_empty() {
        ok = false;
        println!(
            "FAIL: {} bulk answers with wrong counts, e.g. {}",
            mismatches.len(),
            mismatches[0]
        );
    }
    for (kind, n, e) in load.rec.failures() {
        ok = false;
        println!("FAIL: {n} {kind} requests failed, e.g. {e}");
    }
    if !bbs_alive {
        ok = false;
        println!("FAIL: the BBS exited during the run");
    }
    targets(&load.rec, max_pass, hwm, passes.is_empty());
    Ok(ok)
}

/// The performance targets, reported (they do not change the exit code).
fn targets(rec: &Recorder, max_pass_ms: f64, hwm_kib: u64, no_pass: bool) {
    let verdict = |ok: bool| if ok { "OK" } else { "OVER" };
    let worst = rec
        .measures()
        .into_iter()
        .filter(|m| m.operation != workload::REP_BULK_LOOP && m.operation != workload::NSYNC_DECODE)
        .map(|m| (m.p99(), m.operation))
        .max();
    if let Some((p99, op)) = worst {
        println!(
            "target every request kind p99 <= 1 s: worst {} ({op}) {}",
            fmt_duration(p99),
            verdict(p99 <= Duration::from_secs(1))
        );
    }
    if let Some(p99) = rec.p99(workload::REP_BULK_FETCH) {
        println!(
            "target rep bulk fetch p99 <= 250 ms: {} {}",
            fmt_duration(p99),
            verdict(p99 <= Duration::from_millis(250))
        );
    }
    if no_pass {
        println!("target LRP convergence pass <= 2 s: no pass ran during the load");
    } else {
        println!(
            "target LRP convergence pass <= 2 s: max {:.0} ms {}",
            max_pass_ms,
            verdict(max_pass_ms <= 2000.0)
        );
    }
    println!(
        "target bbs peak RSS <= 2 GiB: {:.0} MiB {}",
        hwm_kib as f64 / 1024.0,
        verdict(hwm_kib <= 2 * 1024 * 1024)
    );
}
