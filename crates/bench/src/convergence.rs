//! `bench convergence`: seed, then time convergence and bulk reads.

use crate::report::{fmt_duration, proc_status_kib, table, Measure};
use anyhow::{bail, Context as _};
use bbs::db::sql::BenchTask;
use bbs::db::{
    ActualLrpFilter, CachedStore, CellSet, ConvergenceResult, DesiredLrpFilter, EncryptionConfig,
    SqlStore, Store, StoreConfig,
};
use models::metric_tag_value::DynamicValue;
use models::{DesiredLrp, MetricTagValue, ProtoRoutes, TaskDefinition};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
    /// MySQL/MariaDB (a throwaway MariaDB server is started).
    Mysql,
}

#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// Actual LRPs (instances) to seed [default: 250000; 50000 with --quick].
    #[arg(long)]
    pub lrps: Option<u64>,
    /// Cells the instances run on [default: 1000; 200 with --quick].
    #[arg(long)]
    pub cells: Option<u64>,
    /// Instances per desired LRP (desired LRPs = lrps / this).
    #[arg(long, default_value_t = 10)]
    pub instances_per_lrp: u32,
    #[arg(long, value_enum, default_value_t = Backend::Sqlite)]
    pub backend: Backend,
    /// PostgreSQL database to use (must be empty); without it a throwaway
    /// cluster is started.
    #[arg(long)]
    pub postgres_url: Option<String>,
    /// Directory for the SQLite file (default: a temp dir, removed after).
    #[arg(long)]
    pub sqlite_dir: Option<std::path::PathBuf>,
    /// CI smoke size: 50,000 LRPs on 200 cells (unless --lrps/--cells).
    #[arg(long)]
    pub quick: bool,
    /// Tasks to seed for the task convergence pass.
    #[arg(long, default_value_t = 10_000)]
    pub tasks: u64,
    /// Repetitions of each whole-store operation.
    #[arg(long, default_value_t = 5)]
    pub iterations: usize,
    /// Cells sampled for the per-cell bulk read (0 = every cell).
    #[arg(long, default_value_t = 100)]
    pub cell_sample: u64,
    /// Pool size of the store.
    #[arg(long, default_value_t = 16)]
    pub max_open_connections: u32,
    /// Time convergence and bulk reads through the active BBS's LRP cache
    /// (loaded after seeding; its load time is measured too).
    #[arg(long)]
    pub lrp_cache: bool,
}

const DOMAIN: &str = "cf-apps";

pub fn cell_id(i: u64) -> String {
    format!("cell-{i:05}")
}

/// A desired LRP shaped like one Cloud Controller desires: routes for the
/// gorouter and the internal router, CF's metric tags (two dynamic).
pub fn desired_lrp(i: u64, instances: i32) -> DesiredLrp {
    let guid = format!("{:08x}-app-{i:08}-0000-0000-{:012x}", i, i * 7919);
    let hostname = format!("app-{i}");
    let mut routes = BTreeMap::new();
    routes.insert(
        "cf-router".to_string(),
        format!(
            r#"[{{"hostnames":["{hostname}.apps.example.com"],"port":8080,"route_service_url":null,"isolation_segment":null,"protocol":"http1"}}]"#
        )
        .into_bytes(),
    );
    routes.insert(
        "internal-router".to_string(),
        format!(r#"[{{"hostname":"{hostname}.apps.internal"}}]"#).into_bytes(),
    );
    routes.insert("tcp-router".to_string(), b"[]".to_vec());
    let s = |v: String| MetricTagValue {
        r#static: v,
        ..Default::default()
    };
    let dynamic = |d: DynamicValue| MetricTagValue {
        r#static: String::new(),
        dynamic: d as i32,
    };
    let metric_tags: BTreeMap<String, MetricTagValue> = [
        ("source_id", s(format!("app-guid-{i}"))),
        ("app_id", s(format!("app-guid-{i}"))),
        ("app_name", s(hostname.clone())),
        ("space_id", s(format!("space-{}", i % 500))),
        ("space_name", s(format!("space-{}", i % 500))),
        ("organization_id", s(format!("org-{}", i % 50))),
        ("organization_name", s(format!("org-{}", i % 50))),
        ("process_id", s(format!("app-guid-{i}"))),
        ("process_type", s("web".into())),
        ("instance_id", dynamic(DynamicValue::Index)),
        ("process_instance_id", dynamic(DynamicValue::InstanceGuid)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    DesiredLrp {
        process_guid: guid,
        domain: DOMAIN.into(),
        root_fs: "preloaded:cflinuxfs4".into(),
        instances,
        memory_mb: 256,
        disk_mb: 1024,
        max_pids: 1024,
        cpu_weight: 1,
        ports: vec![8080],
        routes: Some(ProtoRoutes { routes }),
        log_guid: format!("app-guid-{i}"),
        log_source: "CELL".into(),
        metrics_guid: format!("app-guid-{i}"),
        start_timeout_ms: 60_000,
        action: Some(models::Action {
            run_action: Some(models::RunAction {
                path: "/tmp/lifecycle/launcher".into(),
                args: vec![
                    "app".into(),
                    "bundle exec rackup -p $PORT".into(),
                    "".into(),
                ],
                user: "vcap".into(),
                ..Default::default()
            }),
            ..Default::default()
        }),
        placement_tags: Vec::new(),
        metric_tags,
        ..Default::default()
    }
}

fn task(i: u64, cells: u64) -> BenchTask {
    // Half running on a cell, half pending (recent: nothing to kick).
    let cell = (i & 1 == 0).then(|| cell_id(i % cells));
    BenchTask {
        task_guid: format!("task-{i:08}"),
        domain: "cf-tasks".into(),
        definition: TaskDefinition {
            root_fs: "preloaded:cflinuxfs4".into(),
            action: Some(models::Action {
                run_action: Some(models::RunAction {
                    path: "/tmp/lifecycle/launcher".into(),
                    args: vec!["app".into(), "rake db:migrate".into()],
                    user: "vcap".into(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            memory_mb: 256,
            disk_mb: 1024,
            log_guid: format!("app-guid-{i}"),
            completion_callback_url: "http://cc.internal:9023/internal/v3/tasks/x/completed".into(),
            ..Default::default()
        },
        cell_id: cell,
    }
}

fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

/// Work items a convergence result asks for.
pub fn work_items(r: &ConvergenceResult) -> usize {
    r.missing_lrp_keys.len()
        + r.unstarted_lrp_keys.len()
        + r.keys_to_retire.len()
        + r.suspect_keys_to_retire.len()
        + r.keys_with_missing_cells.len()
        + r.removed_evacuating.len()
        + r.suspect_keys_with_existing_cells.len()
        + r.suspect_running_keys.len()
        + r.suspect_claimed_keys.len()
        + r.keys_with_internal_route_changes.len()
        + r.keys_with_metric_tag_changes.len()
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(run_async(args))
}

/// Keeps the database alive for the run.
enum Db {
    Sqlite(#[allow(dead_code)] Option<tempfile::TempDir>),
    Postgres(#[allow(dead_code)] Option<testkit::postgres::TestPostgres>),
    MySql(#[allow(dead_code)] testkit::mariadb::TestMariaDb),
}

async fn run_async(args: Args) -> anyhow::Result<()> {
    let n = args
        .lrps
        .unwrap_or(if args.quick { 50_000 } else { 250_000 });
    let c = args.cells.unwrap_or(if args.quick { 200 } else { 1000 });
    if c == 0 || n == 0 || args.instances_per_lrp == 0 {
        bail!("--lrps, --cells and --instances-per-lrp must be positive");
    }
    let per = u64::from(args.instances_per_lrp);
    let (url, _db) = match args.backend {
        Backend::Sqlite => match &args.sqlite_dir {
            Some(dir) => {
                std::fs::create_dir_all(dir)?;
                let path =
                    std::fs::canonicalize(dir)?.join(format!("bench-{}.db", std::process::id()));
                (format!("sqlite://{}", path.display()), Db::Sqlite(None))
            }
            None => {
                let dir = tempfile::tempdir()?;
                let url = format!("sqlite://{}", dir.path().join("bench.db").display());
                (url, Db::Sqlite(Some(dir)))
            }
        },
        Backend::Postgres => match &args.postgres_url {
            Some(u) => (u.clone(), Db::Postgres(None)),
            None => {
                eprintln!("starting a throwaway PostgreSQL cluster ...");
                let pg = tokio::task::spawn_blocking(testkit::postgres::TestPostgres::try_start)
                    .await?
                    .map_err(|e| anyhow::anyhow!("cannot start PostgreSQL: {e}"))?;
                (pg.url(), Db::Postgres(Some(pg)))
            }
        },
        Backend::Mysql => {
            eprintln!("starting a throwaway MariaDB server ...");
            let m = tokio::task::spawn_blocking(testkit::mariadb::TestMariaDb::try_start)
                .await?
                .map_err(|e| anyhow::anyhow!("cannot start MariaDB: {e}"))?;
            (m.url(), Db::MySql(m))
        }
    };
    let store = SqlStore::connect(&StoreConfig {
        url: url.clone(),
        max_open_connections: args.max_open_connections,
        encryption: EncryptionConfig::single("bench", "bench-passphrase"),
    })
    .await
    .with_context(|| format!("connecting to {url}"))?;
    if !store
        .desired_lrps(&DesiredLrpFilter::default())
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .is_empty()
    {
        bail!("the database already holds desired LRPs; give an empty one");
    }

    let cells: Vec<String> = (0..c).map(cell_id).collect();
    let d = n.div_ceil(per);
    println!(
        "bench convergence: backend={} lrps={n} desired={d} (x{per}) cells={c} tasks={} iterations={}",
        store.backend(),
        args.tasks,
        args.iterations
    );
    let mut measures = Vec::new();
    let e = |e: models::BbsError| anyhow::anyhow!("{e}");

    // --- seeding --------------------------------------------------------
    store.upsert_domain(DOMAIN, 0).await.map_err(e)?;
    store.upsert_domain("cf-tasks", 0).await.map_err(e)?;
    let desired: Vec<DesiredLrp> = (0..d)
        .map(|i| {
            let left = n - i * per;
            desired_lrp(i, left.min(per) as i32)
        })
        .collect();
    let t = Instant::now();
    let seeded = store
        .seed_running_lrps_for_bench(&desired, &cells)
        .await
        .map_err(e)?;
    let mut m = Measure::new("seed desired + RUNNING actual LRPs (bulk)");
    m.samples.push(t.elapsed());
    m.rows = format!("{seeded} actual, {d} desired");
    eprintln!(
        "seeded {seeded} actual LRPs in {}",
        fmt_duration(t.elapsed())
    );
    measures.push(m);
    drop(desired);

    let tasks: Vec<BenchTask> = (0..args.tasks).map(|i| task(i, c)).collect();
    let t = Instant::now();
    let seeded_tasks = store.seed_tasks_for_bench(&tasks).await.map_err(e)?;
    let mut m = Measure::new("seed tasks (bulk)");
    m.samples.push(t.elapsed());
    m.rows = seeded_tasks.to_string();
    measures.push(m);
    drop(tasks);

    // What convergence and the bulk reads go through.
    let store: std::sync::Arc<dyn Store> = if args.lrp_cache {
        let t = Instant::now();
        let cached = CachedStore::load(store.as_store()).await.map_err(e)?;
        let mut m = Measure::new("load the LRP cache");
        m.samples.push(t.elapsed());
        measures.push(m);
        std::sync::Arc::new(cached)
    } else {
        store.as_store()
    };

    // --- LRP convergence, steady state ------------------------------------
    let all: CellSet = cells.iter().cloned().collect();
    let mut m = Measure::new("converge_lrps, all cells present");
    let mut work = 0;
    for _ in 0..args.iterations {
        let t = Instant::now();
        let r = store.converge_lrps(&all, now_ns()).await;
        m.samples.push(t.elapsed());
        work = work_items(&r);
    }
    if work != 0 {
        eprintln!("WARNING: steady-state convergence found {work} work items (want 0)");
    }
    m.rows = format!("{n} scanned, {work} work");
    eprintln!(
        "steady-state convergence: median {}",
        fmt_duration(m.median())
    );
    measures.push(m);

    // --- LRP convergence, 1% of cells missing ------------------------------
    let missing = (c / 100).max(1);
    let present: CellSet = cells.iter().skip(missing as usize).cloned().collect();
    let mut m = Measure::new(format!("converge_lrps, {missing} cells (1%) missing"));
    let mut found = (0, 0);
    for _ in 0..args.iterations {
        let t = Instant::now();
        let r = store.converge_lrps(&present, now_ns()).await;
        m.samples.push(t.elapsed());
        found = (r.keys_with_missing_cells.len(), r.missing_cell_ids.len());
    }
    m.rows = format!("{} instances on {} missing cells", found.0, found.1);
    measures.push(m);

    // --- task convergence --------------------------------------------------
    let mut m = Measure::new("converge_tasks");
    let mut kicked = 0;
    for _ in 0..args.iterations {
        let t = Instant::now();
        let r = store
            .converge_tasks(
                &all,
                Duration::from_secs(30),
                Duration::from_secs(30 * 60),
                Duration::from_secs(120),
                now_ns(),
            )
            .await;
        m.samples.push(t.elapsed());
        kicked = r.metrics.kicked;
    }
    m.rows = format!("{} scanned, {kicked} kicked", args.tasks);
    measures.push(m);

    // --- bulk reads ------------------------------------------------------------
    let sample: Vec<&String> = if args.cell_sample == 0 || args.cell_sample >= c {
        cells.iter().collect()
    } else {
        let step = c / args.cell_sample;
        cells
            .iter()
            .step_by(step as usize)
            .take(args.cell_sample as usize)
            .collect()
    };
    let mut m = Measure::new("actual_lrps(cell_id) (rep bulk fetch)");
    let mut rows = 0usize;
    for cell in &sample {
        let filter = ActualLrpFilter {
            cell_id: (*cell).clone(),
            ..Default::default()
        };
        let t = Instant::now();
        let got = store.actual_lrps(&filter).await.map_err(e)?;
        m.samples.push(t.elapsed());
        rows += got.len();
    }
    m.rows = format!("{:.0} per cell", rows as f64 / sample.len() as f64);
    measures.push(m);

    let mut m = Measure::new("desired_lrp_scheduling_infos (all)");
    let mut rows = 0;
    for _ in 0..args.iterations {
        let t = Instant::now();
        rows = store
            .desired_lrp_scheduling_infos(&DesiredLrpFilter::default())
            .await
            .map_err(e)?
            .len();
        m.samples.push(t.elapsed());
    }
    m.rows = rows.to_string();
    measures.push(m);

    let mut m = Measure::new("actual_lrps (all)");
    let mut rows = 0;
    for _ in 0..args.iterations.min(3) {
        let t = Instant::now();
        rows = store
            .actual_lrps(&ActualLrpFilter::default())
            .await
            .map_err(e)?
            .len();
        m.samples.push(t.elapsed());
    }
    m.rows = rows.to_string();
    measures.push(m);

    println!();
    print!("{}", table(&measures));
    println!();
    println!(
        "peak RSS (VmHWM) of the bench process: {:.1} MiB (current VmRSS {:.1} MiB){}",
        proc_status_kib("VmHWM").unwrap_or(0) as f64 / 1024.0,
        proc_status_kib("VmRSS").unwrap_or(0) as f64 / 1024.0,
        match args.backend {
            Backend::Postgres => "; the PostgreSQL server's memory is not included",
            Backend::Mysql => "; the MariaDB server's memory is not included",
            Backend::Sqlite => "",
        }
    );
    let steady = measures
        .iter()
        .find(|m| m.operation.starts_with("converge_lrps, all"))
        .map(|m| m.median())
        .unwrap_or_default();
    println!(
        "LRP convergence (steady state) median {} against the 2 s target: {}",
        fmt_duration(steady),
        if steady <= Duration::from_secs(2) {
            "OK"
        } else {
            "OVER"
        }
    );
    Ok(())
}
