//! `bench stores`: the write path of an app instance (desire, claim, start)
//! through the bbs's SQL store on SQLite, PostgreSQL and MariaDB in one
//! run, so the three figures are comparable (same machine, same load).
//!
//! Each phase runs `--lrps` operations, `--concurrency` at a time (cells
//! claiming and starting at once): desire is what the desire handler does
//! (the desired LRP and its UNCLAIMED instance), claim and start what a
//! rep does. A backend whose server binaries are missing is reported as
//! skipped, not failed.

use crate::report::{fmt_duration, table, Measure};
use anyhow::{anyhow, Context as _};
use bbs::db::{EncryptionConfig, RunningInfo, SqlStore, Store, StoreConfig};
use futures::StreamExt;
use models::{ActualLrpInstanceKey, ActualLrpKey, ActualLrpNetInfo, PortMapping};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// Desired LRPs (one instance each) per backend.
    #[arg(long, default_value_t = 1000)]
    pub lrps: u64,
    /// Operations in flight at once.
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    /// Pool size of the store.
    #[arg(long, default_value_t = 16)]
    pub max_open_connections: u32,
}

const DOMAIN: &str = "cf-apps";
const PHASES: [&str; 3] = ["desire", "claim", "start"];

pub fn run(args: Args) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(run_async(args))
}

/// One backend's result: per phase, the latencies and the wall time.
struct Outcome {
    backend: &'static str,
    /// Connecting to an empty database and creating Diego's schema.
    connect: Duration,
    phases: Vec<(Measure, Duration)>,
}

/// Keeps a database alive while its backend is measured.
enum Db {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres(#[allow(dead_code)] testkit::postgres::TestPostgres),
    MySql(#[allow(dead_code)] testkit::mariadb::TestMariaDb),
}

async fn start_db(backend: &str) -> Result<(String, Db), String> {
    match backend {
        "sqlite" => {
            let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
            let url = format!("sqlite://{}", dir.path().join("bench.db").display());
            Ok((url, Db::Sqlite(dir)))
        }
        "postgres" if testkit::postgres::TestPostgres::skip_requested() => {
            Err(format!("{}=1 is set", testkit::postgres::SKIP_ENV))
        }
        "postgres" => {
            let pg = tokio::task::spawn_blocking(testkit::postgres::TestPostgres::try_start)
                .await
                .map_err(|e| e.to_string())??;
            Ok((pg.url(), Db::Postgres(pg)))
        }
        _ if testkit::mariadb::TestMariaDb::skip_requested() => {
            Err(format!("{}=1 is set", testkit::mariadb::SKIP_ENV))
        }
        _ => {
            let m = tokio::task::spawn_blocking(testkit::mariadb::TestMariaDb::try_start)
                .await
                .map_err(|e| e.to_string())??;
            Ok((m.url(), Db::MySql(m)))
        }
    }
}

async fn run_async(args: Args) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.lrps > 0 && args.concurrency > 0,
        "--lrps and --concurrency must be positive"
    );
    println!(
        "bench stores: lrps={} concurrency={} pool={} (desire = desired LRP + UNCLAIMED instance; claim, start as a rep)",
        args.lrps, args.concurrency, args.max_open_connections
    );
    let mut outcomes = Vec::new();
    for backend in ["sqlite", "postgres", "mysql"] {
        eprintln!("bench stores: starting {backend} ...");
        let (url, db) = match start_db(backend).await {
            Ok(v) => v,
            Err(e) => {
                println!("{backend}: skipped: {e}");
                continue;
            }
        };
        outcomes.push(measure(backend, &url, &args).await?);
        drop(db);
    }
    for o in &outcomes {
        println!("\n{}:", o.backend);
        let ms: Vec<Measure> = o.phases.iter().map(|(m, _)| m.clone()).collect();
        print!("{}", table(&ms));
    }
    println!("\n{}", summary(&outcomes, args.lrps));
    Ok(())
}

async fn measure(backend: &'static str, url: &str, args: &Args) -> anyhow::Result<Outcome> {
    let t = Instant::now();
    let store = SqlStore::connect(&StoreConfig {
        url: url.to_string(),
        max_open_connections: args.max_open_connections,
        encryption: EncryptionConfig::single("bench", "bench-passphrase"),
    })
    .await
    .with_context(|| format!("connecting to {backend}"))?;
    let connect = t.elapsed();
    let store: Arc<dyn Store> = store.as_store();
    store
        .upsert_domain(DOMAIN, 0)
        .await
        .map_err(|e| anyhow!("{e}"))?;
    let mut phases = Vec::new();
    for phase in PHASES {
        let t = Instant::now();
        let samples: Vec<Result<Duration, String>> = futures::stream::iter(0..args.lrps)
            .map(|i| {
                let store = store.clone();
                // A desired LRP shaped like Cloud Controller's (built
                // before the clock starts).
                let desired = crate::convergence::desired_lrp(i, 1);
                async move {
                    let t = Instant::now();
                    one(&*store, phase, i, &desired)
                        .await
                        .map_err(|e| format!("{e}"))?;
                    Ok(t.elapsed())
                }
            })
            .buffer_unordered(args.concurrency)
            .collect()
            .await;
        let wall = t.elapsed();
        let mut m = Measure::new(format!("{phase} ({backend})"));
        for s in samples {
            m.samples
                .push(s.map_err(|e| anyhow!("{backend} {phase}: {e}"))?);
        }
        m.rows = format!("{:.0}/s", args.lrps as f64 / wall.as_secs_f64());
        phases.push((m, wall));
    }
    Ok(Outcome {
        backend,
        connect,
        phases,
    })
}

/// One operation of `phase` on instance 0 of `desired` (the `i`th).
async fn one(
    store: &dyn Store,
    phase: &str,
    i: u64,
    desired: &models::DesiredLrp,
) -> Result<(), models::BbsError> {
    let guid = &desired.process_guid;
    let key = ActualLrpKey::new(guid, 0, DOMAIN);
    let ik = ActualLrpInstanceKey::new(format!("ig-{i:06}"), crate::convergence::cell_id(i % 50));
    match phase {
        "desire" => {
            store.desire_lrp(desired).await?;
            store.create_unclaimed_actual_lrp(&key).await?;
        }
        "claim" => {
            store.claim_actual_lrp(guid, 0, &ik).await?;
        }
        _ => {
            let running = RunningInfo {
                net_info: ActualLrpNetInfo {
                    address: format!("10.0.{}.{}", i / 250 % 250, i % 250 + 1),
                    ports: vec![PortMapping {
                        container_port: 8080,
                        host_port: 61000 + (i % 1000) as u32,
                        ..Default::default()
                    }],
                    instance_address: "10.255.0.2".into(),
                    ..Default::default()
                },
                internal_routes: vec![],
                metric_tags: Default::default(),
                routable: Some(true),
                availability_zone: "z1".into(),
            };
            store.start_actual_lrp(&key, &ik, &running).await?;
        }
    }
    Ok(())
}

/// Per phase: each backend's rate and median, and its time against
/// SQLite's (the embedded default) in the same run.
fn summary(outcomes: &[Outcome], lrps: u64) -> String {
    let mut out = String::from("summary (wall time per phase; ratio to sqlite):\n");
    let base = outcomes.iter().find(|o| o.backend == "sqlite");
    for (p, phase) in PHASES.iter().enumerate() {
        let cells: Vec<String> = outcomes
            .iter()
            .map(|o| {
                let (m, wall) = &o.phases[p];
                let ratio = base
                    .map(|b| wall.as_secs_f64() / b.phases[p].1.as_secs_f64().max(1e-9))
                    .map(|r| format!(", x{r:.2}"))
                    .unwrap_or_default();
                format!(
                    "{} {} ({:.0}/s, median {}{ratio})",
                    o.backend,
                    fmt_duration(*wall),
                    lrps as f64 / wall.as_secs_f64(),
                    fmt_duration(m.median())
                )
            })
            .collect();
        out.push_str(&format!("  {phase}: {}\n", cells.join("; ")));
    }
    let connects: Vec<String> = outcomes
        .iter()
        .map(|o| format!("{} {}", o.backend, fmt_duration(o.connect)))
        .collect();
    out.push_str(&format!(
        "  connect + create the schema on an empty database: {}\n",
        connects.join("; ")
    ));
    out
}
