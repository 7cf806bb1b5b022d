//! `bench bbs-api`: the BBS workload through the API alone, against any
//! BBS URL (mTLS when certificates are given): no seeding through the
//! store, so it drives Diego's Go bbs and ours alike.
//!
//! Phases, each timed on its own: desire N LRPs (Cloud Controller's
//! recipe, one instance each), claim and start every instance on R
//! simulated cells, list every desired LRP (unfiltered), list every
//! scheduling info, each cell's actual LRPs (the rep's bulk fetch), and,
//! with `--cleanup`, remove them. Per phase: ops/s, p50/p99, and with
//! `--bbs-pid` the server's CPU ms per op (/proc/<pid>/stat) and its peak
//! RSS (VmHWM) after the phase.

use crate::bbs_api_local::LocalBbs;
use crate::bbs_load::processes::proc_cpu_seconds;
use crate::convergence::{cell_id, desired_lrp, Backend};
use crate::report::{fmt_duration, percentile, proc_status_kib_of};
use anyhow::{bail, Context as _};
use bbs_client::{
    ActualLrpFilter, BbsClient, ClientConfig, DesiredLrpFilter, HttpBbsClient, InternalBbsClient,
    RunningInfo,
};
use futures::StreamExt;
use models::{ActualLrpInstanceKey, ActualLrpKey};
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// The BBS, e.g. https://bbs.service.cf.internal:8889 (or `--local`).
    #[arg(long, required_unless_present = "local")]
    pub bbs_url: Option<String>,
    /// Starts our BBS (mTLS), locket and a throwaway database of this
    /// kind, and after the phases restarts the BBS to time its start and
    /// read its idle memory.
    #[arg(long, value_enum, conflicts_with_all = ["bbs_url", "bbs_pid"])]
    pub local: Option<Backend>,
    /// With `--local postgres`: an empty database instead of a throwaway
    /// cluster.
    #[arg(long)]
    pub postgres_url: Option<String>,
    /// With `--local`: the `diego` binary [default: next to this one].
    #[arg(long)]
    pub diego_bin: Option<std::path::PathBuf>,
    /// With `--local`: the BBS without its LRP cache.
    #[arg(long)]
    pub no_lrp_cache: bool,
    /// CA, client certificate and key (PEM) for mTLS.
    #[arg(long)]
    pub ca_cert: Option<String>,
    #[arg(long)]
    pub client_cert: Option<String>,
    #[arg(long)]
    pub client_key: Option<String>,
    /// The BBS's pid, for its CPU time and peak RSS per phase.
    #[arg(long)]
    pub bbs_pid: Option<u32>,
    /// Desired LRPs (one instance each).
    #[arg(long, default_value_t = 20_000)]
    pub desired_lrps: u64,
    /// Simulated cells the instances are claimed and started on.
    #[arg(long, default_value_t = 200)]
    pub reps: u64,
    /// Concurrent clients of the write phases and the bulk fetches.
    #[arg(long, default_value_t = 32)]
    pub clients: usize,
    /// Times each unfiltered list is read.
    #[arg(long, default_value_t = 3)]
    pub list_repeats: usize,
    /// First LRP number (several runs against one database).
    #[arg(long, default_value_t = 0)]
    pub first: u64,
    /// Skips desire, claim and start (the LRPs are there from a former run).
    #[arg(long)]
    pub skip_writes: bool,
    /// Removes the desired LRPs at the end (a timed phase).
    #[arg(long)]
    pub cleanup: bool,
}

struct Phase {
    name: &'static str,
    samples: Mutex<Vec<Duration>>,
    failures: Mutex<(u64, String)>,
}

impl Phase {
    fn new(name: &'static str) -> Phase {
        Phase {
            name,
            samples: Mutex::default(),
            failures: Mutex::default(),
        }
    }

    async fn time<T, E: std::fmt::Display>(
        &self,
        fut: impl std::future::Future<Output = Result<T, E>>,
    ) -> Option<T> {
        let t = Instant::now();
        match fut.await {
            Ok(v) => {
                self.samples.lock().unwrap().push(t.elapsed());
                Some(v)
            }
            Err(e) => {
                let mut f = self.failures.lock().unwrap();
                f.0 += 1;
                if f.1.is_empty() {
                    f.1 = e.to_string();
                }
                None
            }
        }
    }
}

/// The server's CPU seconds and VmHWM, when its pid is known.
struct Server(Option<u32>);

impl Server {
    fn cpu(&self) -> f64 {
        self.0.and_then(proc_cpu_seconds).unwrap_or(0.0)
    }
    fn kib(&self, field: &str) -> Option<u64> {
        self.0
            .and_then(|p| proc_status_kib_of(&p.to_string(), field))
    }
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(run_async(args))
}

async fn run_async(args: Args) -> anyhow::Result<()> {
    if args.desired_lrps == 0 || args.reps == 0 || args.clients == 0 {
        bail!("--desired-lrps, --reps and --clients must be positive");
    }
    let cells: Vec<String> = (0..args.reps).map(cell_id).collect();
    let mut local = match args.local {
        Some(backend) => Some(
            LocalBbs::start(
                backend,
                args.postgres_url.as_deref(),
                args.diego_bin.as_deref(),
                !args.no_lrp_cache,
                &cells,
            )
            .await?,
        ),
        None => None,
    };
    let tls = match (&args.ca_cert, &args.client_cert, &args.client_key, &local) {
        (_, _, _, Some(l)) => Some(l.tls.clone()),
        (Some(ca), Some(c), Some(k), None) => Some(tlsconfig::ClientTls::from_files(ca, c, k)),
        (None, None, None, None) => None,
        _ => bail!("give all of --ca-cert, --client-cert and --client-key, or none"),
    };
    let bbs_url = match (&local, &args.bbs_url) {
        (Some(l), _) => l.url.clone(),
        (None, Some(u)) => u.clone(),
        (None, None) => bail!("give --bbs-url or --local"),
    };
    let mut cfg = ClientConfig::new(bbs_url.clone())
        .with_tls(tls)
        .with_request_timeout(Duration::from_secs(300))
        .with_retries(1);
    cfg.max_idle_conns_per_host = Some(args.clients * 2);
    let client = HttpBbsClient::new(&cfg).context("building the BBS client")?;
    if !client.ping().await {
        bail!("the BBS at {bbs_url} does not answer ping");
    }
    client
        .upsert_domain("cf-apps", Duration::ZERO)
        .await
        .context("upserting the domain")?;
    let mut server = Server(local.as_ref().map_or(args.bbs_pid, LocalBbs::pid));
    let (n, from) = (args.desired_lrps, args.first);
    println!(
        "bench bbs-api: {} desired_lrps={n} reps={} clients={} load(1,5,15)={} bbs VmRSS at start {}",
        bbs_url,
        args.reps,
        args.clients,
        loadavg(),
        server
            .kib("VmRSS")
            .map_or("?".into(), |k| format!("{:.0} MiB", k as f64 / 1024.0)),
    );
    println!(
        "{:<34} {:>7} {:>9} {:>9} {:>9} {:>11} {:>10}",
        "phase", "ops", "ops/s", "p50", "p99", "cpu ms/op", "VmHWM MiB"
    );
    if !args.skip_writes {
        write_phases(&client, &server, &args, &cells).await;
    }
    let c = args.clients;
    let phase = Phase::new("DesiredLRPs (unfiltered)");
    let counts = Mutex::new(Vec::new());
    run_phase(&phase, &server, || async {
        for _ in 0..args.list_repeats {
            if let Some(v) = phase
                .time(client.desired_lrps(&DesiredLrpFilter::default()))
                .await
            {
                counts.lock().unwrap().push(v.len());
            }
        }
    })
    .await;
    let phase = Phase::new("DesiredLRPSchedulingInfos");
    run_phase(&phase, &server, || async {
        for _ in 0..args.list_repeats {
            if let Some(v) = phase
                .time(client.desired_lrp_scheduling_infos(&DesiredLrpFilter::default()))
                .await
            {
                counts.lock().unwrap().push(v.len());
            }
        }
    })
    .await;
    let phase = Phase::new("ActualLRPs by cell (rep bulk)");
    run_phase(&phase, &server, || {
        futures::stream::iter(cells.iter()).for_each_concurrent(c, |cell| {
            let (client, phase) = (&client, &phase);
            async move {
                phase
                    .time(client.actual_lrps(&ActualLrpFilter::cell(cell)))
                    .await;
            }
        })
    })
    .await;
    println!("list lengths: {:?}", counts.lock().unwrap());

    if let Some(local) = &mut local {
        restart(local, &client, &mut server, &cells, c).await?;
    }

    if args.cleanup {
        let phase = Phase::new("remove desired LRP");
        run_phase(&phase, &server, || {
            futures::stream::iter(from..from + n).for_each_concurrent(c, |i| {
                let (client, phase) = (&client, &phase);
                async move {
                    let guid = desired_lrp(i, 1).process_guid;
                    phase.time(client.remove_desired_lrp(&guid)).await;
                }
            })
        })
        .await;
    }
    println!(
        "bbs VmRSS at the end {}; load(1,5,15) at the end {}",
        server
            .kib("VmRSS")
            .map_or("?".into(), |k| format!("{:.0} MiB", k as f64 / 1024.0)),
        loadavg()
    );
    if let Some(local) = local {
        local.stop().await;
    }
    Ok(())
}

/// Restarts a local BBS on the filled database: how long until it answers
/// (the LRP cache loads first), its memory idle, and the reads a restarted
/// BBS gets first (every rep's bulk fetch, the route-emitter's and nsync's
/// lists).
async fn restart(
    local: &mut LocalBbs,
    client: &HttpBbsClient,
    server: &mut Server,
    cells: &[String],
    c: usize,
) -> anyhow::Result<()> {
    let took = local.restart(client).await?;
    *server = Server(local.pid());
    let mib = |k: Option<u64>| k.map_or("?".into(), |k| format!("{:.0} MiB", k as f64 / 1024.0));
    let at_start = server.kib("VmRSS");
    tokio::time::sleep(Duration::from_secs(5)).await;
    println!(
        "restart: answering {} after the start; VmRSS {} then, {} idle 5 s later",
        fmt_duration(took),
        mib(at_start),
        mib(server.kib("VmRSS")),
    );
    if let Some(line) = local.cache_load_line() {
        println!("restart: {line}");
    }
    let phase = Phase::new("after restart: ActualLRPs by cell");
    run_phase(&phase, server, || {
        futures::stream::iter(cells.iter()).for_each_concurrent(c, |cell| {
            let phase = &phase;
            async move {
                phase
                    .time(client.actual_lrps(&ActualLrpFilter::cell(cell)))
                    .await;
            }
        })
    })
    .await;
    let phase = Phase::new("after restart: SchedulingInfos");
    run_phase(&phase, server, || async {
        phase
            .time(client.desired_lrp_scheduling_infos(&DesiredLrpFilter::default()))
            .await;
    })
    .await;
    Ok(())
}

/// Desire, claim and start every LRP.
async fn write_phases(client: &HttpBbsClient, server: &Server, args: &Args, cells: &[String]) {
    let (n, from, c) = (args.desired_lrps, args.first, args.clients);
    let instance = |i: u64| {
        let cell = cells[(i % cells.len() as u64) as usize].clone();
        let key = ActualLrpKey {
            process_guid: desired_lrp(i, 1).process_guid,
            index: 0,
            domain: "cf-apps".into(),
        };
        let ik = ActualLrpInstanceKey {
            instance_guid: format!("ig-{i}"),
            cell_id: cell,
        };
        (key, ik)
    };

    let phase = Phase::new("desire LRP");
    run_phase(&phase, server, || {
        futures::stream::iter(from..from + n).for_each_concurrent(c, |i| {
            let (client, phase) = (client, &phase);
            async move {
                phase.time(client.desire_lrp(desired_lrp(i, 1))).await;
            }
        })
    })
    .await;

    let phase = Phase::new("claim actual LRP");
    run_phase(&phase, server, || {
        futures::stream::iter(from..from + n).for_each_concurrent(c, |i| {
            let (client, phase, (key, ik)) = (client, &phase, instance(i));
            async move {
                phase.time(client.claim_actual_lrp(&key, &ik)).await;
            }
        })
    })
    .await;

    let phase = Phase::new("start actual LRP");
    run_phase(&phase, server, || {
        futures::stream::iter(from..from + n).for_each_concurrent(c, |i| {
            let (client, phase, (key, ik)) = (client, &phase, instance(i));
            async move {
                let running = bbs::db::sql::bench_running_info(
                    &desired_lrp(i, 1),
                    0,
                    &ik.instance_guid,
                    &ik.cell_id,
                    i,
                );
                let info = RunningInfo {
                    net_info: running.net_info,
                    internal_routes: running.internal_routes,
                    metric_tags: running.metric_tags.into_iter().collect(),
                    routable: true,
                    availability_zone: running.availability_zone,
                };
                phase.time(client.start_actual_lrp(&key, &ik, &info)).await;
            }
        })
    })
    .await;
}

async fn run_phase<F, Fut>(phase: &Phase, server: &Server, f: F)
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let cpu0 = server.cpu();
    let t = Instant::now();
    f().await;
    let took = t.elapsed();
    let cpu = server.cpu() - cpu0;
    let mut s = phase.samples.lock().unwrap().clone();
    s.sort();
    let ops = s.len();
    let fmt = |d: Option<Duration>| d.map_or("-".into(), fmt_duration);
    println!(
        "{:<34} {:>7} {:>9.1} {:>9} {:>9} {:>11} {:>10}",
        phase.name,
        ops,
        ops as f64 / took.as_secs_f64(),
        fmt((!s.is_empty()).then(|| percentile(&s, 50.0))),
        fmt((!s.is_empty()).then(|| percentile(&s, 99.0))),
        if server.0.is_some() && ops > 0 {
            format!("{:.3}", cpu * 1000.0 / ops as f64)
        } else {
            "-".into()
        },
        server
            .kib("VmHWM")
            .map_or("-".into(), |k| format!("{:.0}", k as f64 / 1024.0)),
    );
    let f = phase.failures.lock().unwrap();
    if f.0 > 0 {
        println!("  FAILED: {} requests, e.g. {}", f.0, f.1);
    }
}
