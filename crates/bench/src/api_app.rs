//! `bench api`: the app lifecycle API's answer time for what `diego app
//! APP` asks (the app, its deployments, its processes, their instances)
//! on an app with N instances (default 100), all running. A real BBS and
//! API (SQLite stores, or the API on PostgreSQL with --postgres); the
//! instances are claimed and started through the BBS's internal API, as
//! a cell's rep would. Prints p50/p90/p99/max per call and for the whole.

use api_client::ApiClient;
use bbs_client::{ActualLrpFilter, BbsClient, HttpBbsClient, InternalBbsClient, RunningInfo};
use models::capi::*;
use std::time::{Duration, Instant};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Instances of the app.
    #[arg(long, default_value_t = 100)]
    pub instances: i32,
    /// Timed rounds of the `diego app` calls.
    #[arg(long, default_value_t = 500)]
    pub rounds: usize,
    /// The API's store on a throwaway PostgreSQL (SQLite otherwise).
    #[arg(long)]
    pub postgres: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(run_async(args))
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

fn line(what: &str, mut v: Vec<Duration>) {
    v.sort();
    println!(
        "{what:<28} p50 {:>9.2?}  p90 {:>9.2?}  p99 {:>9.2?}  max {:>9.2?}",
        pct(&v, 0.5),
        pct(&v, 0.9),
        pct(&v, 0.99),
        v[v.len() - 1]
    );
}

async fn run_async(args: Args) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut bcfg = bbs::config::BbsConfig {
        listen_address: "127.0.0.1:0".into(),
        health_address: "127.0.0.1:0".into(),
        database_connection_string: dir.path().join("bbs.db").display().to_string(),
        active_key_label: "k".into(),
        ..Default::default()
    };
    bcfg.encryption_keys.insert("k".into(), "bench".into());
    let bbs = bbs::server::start(&bcfg, Default::default()).await?;
    let bbs_url = format!("http://{}", bbs.addr);
    let _pg;
    let (driver, conn) = if args.postgres {
        let pg = testkit::postgres::TestPostgres::start();
        let url = pg.fresh_database_url();
        _pg = Some(pg);
        ("postgres".to_string(), url)
    } else {
        _pg = None;
        (
            "sqlite".to_string(),
            dir.path().join("api.db").display().to_string(),
        )
    };
    let cfg = api::ApiConfig {
        listen_address: "127.0.0.1:0".into(),
        database_driver: driver.clone(),
        database_connection_string: conn,
        blobstore_directory: dir.path().join("blobs").display().to_string(),
        bbs_address: bbs_url.clone(),
        auth_tokens: vec!["bench".into()],
        ..Default::default()
    };
    let running = api::start(&cfg).await?;
    let c = ApiClient::new(&format!("http://{}", running.addr), "bench")?;
    let internal = HttpBbsClient::plain(&bbs_url)?;

    // The app, with every instance running.
    let app = c
        .create_app(&CreateApp {
            name: "bench".into(),
            process: Some(ProcessSettings {
                instances: Some(args.instances),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await?;
    let pkg = c
        .create_package(&CreatePackage {
            kind: BITS.into(),
            relationships: PackageRelationships {
                app: ToOne::to(&app.guid),
            },
            data: None,
        })
        .await?;
    // An empty gzip stream is enough bits for the bench.
    let gz = vec![
        0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    c.upload(&pkg.guid, gz).await?;
    let build = c.create_build(&pkg.guid).await?;
    c.set_current_droplet(&app.guid, &build.droplet_guid.unwrap_or_default())
        .await?;
    c.app_action(&app.guid, "start").await?;
    let web = c.processes(&app.guid).await?.remove(0);
    for a in internal
        .actual_lrps(&ActualLrpFilter::process(&web.lrp_process_guid))
        .await?
    {
        let key = a.actual_lrp_key.unwrap_or_default();
        let ik = models::ActualLrpInstanceKey {
            instance_guid: format!("i-{}", key.index),
            cell_id: "bench-cell".into(),
        };
        internal.claim_actual_lrp(&key, &ik).await?;
        let info = RunningInfo {
            net_info: models::ActualLrpNetInfo {
                address: "10.0.0.1".into(),
                ports: vec![models::PortMapping {
                    container_port: 8080,
                    host_port: 61000 + key.index as u32,
                    ..Default::default()
                }],
                ..Default::default()
            },
            routable: true,
            ..Default::default()
        };
        internal.start_actual_lrp(&key, &ik, &info).await?;
    }
    let stats = c.stats(&web.guid).await?;
    anyhow::ensure!(
        stats.iter().filter(|s| s.state == "RUNNING").count() == args.instances as usize,
        "not every instance runs: {stats:?}"
    );

    let (mut t_app, mut t_dep, mut t_proc, mut t_stats, mut t_all) =
        (vec![], vec![], vec![], vec![], vec![]);
    for round in 0..args.rounds + 20 {
        let t0 = Instant::now();
        c.app(&app.guid).await?;
        let t1 = Instant::now();
        c.deployments(&app.guid).await?;
        let t2 = Instant::now();
        c.processes(&app.guid).await?;
        let t3 = Instant::now();
        let s = c.stats(&web.guid).await?;
        let t4 = Instant::now();
        assert_eq!(s.len(), args.instances as usize);
        if round >= 20 {
            t_app.push(t1 - t0);
            t_dep.push(t2 - t1);
            t_proc.push(t3 - t2);
            t_stats.push(t4 - t3);
            t_all.push(t4 - t0);
        }
    }
    println!(
        "diego app on an app with {} running instances, {} rounds, api store {driver}, bbs SQLite:",
        args.instances, args.rounds
    );
    line("GET /v3/apps/:guid", t_app);
    line("GET /v3/deployments?app", t_dep);
    line("GET /v3/apps/:guid/processes", t_proc);
    line("GET /v3/processes/:guid/stats", t_stats);
    line("all four (what `diego app` asks)", t_all);
    running.shutdown().await;
    bbs.shutdown().await;
    Ok(())
}
