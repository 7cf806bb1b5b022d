//! `bench hostile`: a `diego bbs` child process (SQLite, defaults for
//! every server limit) against hostile clients (issue 21):
//! - `--bodies` connections each sending `--body-mib` MiB of a body one
//!   MiB longer, then stalling: the BBS's peak RSS (VmHWM; goal <= 200 MB
//!   at 32 x 30 MiB) and how long until each connection is answered or
//!   closed;
//! - `--stalled` connections sending half a request head: seconds until
//!   the BBS closes them;
//! - ping latency throughout, on a separate connection.

use crate::bbs_load::processes::{diego_binary, free_port, spawn, wait_listening};
use crate::report::{fmt_duration, Measure};
use anyhow::bail;
use bbs_client::{BbsClient, HttpBbsClient};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Concurrent unfinished large bodies.
    #[arg(long, default_value_t = 32)]
    pub bodies: usize,
    /// MiB each of them sends before stalling.
    #[arg(long, default_value_t = 30)]
    pub body_mib: usize,
    /// Connections sending half a request head.
    #[arg(long, default_value_t = 500)]
    pub stalled: usize,
    /// The `diego` binary [default: next to this one].
    #[arg(long)]
    pub diego_bin: Option<PathBuf>,
}

const MIB: usize = 1024 * 1024;
static ZEROS: [u8; 64 * 1024] = [0; 64 * 1024];

pub fn run(args: Args) -> anyhow::Result<()> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run_async(args))
}

/// Reads until the server closes; when that was, from `start`.
async fn closed(mut c: TcpStream, start: Instant) -> Duration {
    let mut buf = vec![0u8; 4096];
    loop {
        match c.read(&mut buf).await {
            Ok(0) | Err(_) => return start.elapsed(),
            Ok(_) => {}
        }
    }
}

/// Sends the head of a body one MiB longer than `mib`, then `mib` MiB of
/// zeros (as far as the server reads them), then waits for the close.
async fn unfinished_body(addr: String, mib: usize, start: Instant) -> anyhow::Result<Duration> {
    let mut c = TcpStream::connect(&addr).await?;
    let head = format!(
        "POST /v1/desired_lrp/desire.r2 HTTP/1.1\r\nHost: bbs\r\n\
         Content-Type: application/x-protobuf\r\nContent-Length: {}\r\n\r\n",
        (mib + 1) * MIB
    );
    c.write_all(head.as_bytes()).await?;
    let mut left = mib * MIB;
    while left > 0 {
        let n = left.min(ZEROS.len());
        // A server that stopped reading (or closed): stop sending.
        match tokio::time::timeout(Duration::from_secs(5), c.write_all(&ZEROS[..n])).await {
            Ok(Ok(())) => left -= n,
            _ => break,
        }
    }
    Ok(closed(c, start).await)
}

/// Pings every 50 ms until `stop`, timing each (a failure counts as the
/// time it took, and is counted).
fn pinger(
    client: Arc<HttpBbsClient>,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<(Measure, usize)> {
    tokio::spawn(async move {
        let mut m = Measure::new("ping");
        let mut failed = 0;
        while !stop.load(Ordering::SeqCst) {
            let t = Instant::now();
            if !client.ping().await {
                failed += 1;
            }
            m.samples.push(t.elapsed());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        (m, failed)
    })
}

fn summary(label: &str, m: &Measure) -> String {
    format!(
        "{label}: median {} p99 {} max {} (n={})",
        fmt_duration(m.median()),
        fmt_duration(m.p99()),
        fmt_duration(m.max()),
        m.samples.len()
    )
}

async fn run_async(args: Args) -> anyhow::Result<()> {
    let diego = diego_binary(args.diego_bin.as_deref())?;
    let dir = tempfile::tempdir()?;
    let addr = format!("127.0.0.1:{}", free_port()?);
    let cfg = serde_json::json!({
        "listen_address": addr,
        "health_address": format!("127.0.0.1:{}", free_port()?),
        "database_driver": "sqlite",
        "database_connection_string": format!("sqlite://{}", dir.path().join("bbs.db").display()),
        "encryption_keys": {"k1": "a bench passphrase"},
        "active_key_label": "k1",
    });
    let mut bbs = spawn(&diego, "bbs", dir.path(), &cfg, "warn")?;
    wait_listening(&mut bbs, &addr, Duration::from_secs(60)).await?;
    let client = Arc::new(HttpBbsClient::new(
        &bbs_client::ClientConfig::new(format!("http://{addr}"))
            .with_request_timeout(Duration::from_secs(30))
            .with_retries(1),
    )?);
    let t = Instant::now();
    while !client.ping().await {
        if t.elapsed() > Duration::from_secs(60) {
            bail!("the BBS did not answer ping within 60 s");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let kib = |f: &str| bbs.status_kib(f).unwrap_or(0);
    let rss_before = kib("VmRSS");
    println!(
        "bench hostile: bbs pid {} (defaults); {} bodies of {} MiB left unfinished; {} half-sent heads",
        bbs.pid(),
        args.bodies,
        args.body_mib,
        args.stalled
    );

    // --- large unfinished bodies ------------------------------------------
    let stop = Arc::new(AtomicBool::new(false));
    let pings = pinger(client.clone(), stop.clone());
    let start = Instant::now();
    let bodies: Vec<_> = (0..args.bodies)
        .map(|_| tokio::spawn(unfinished_body(addr.clone(), args.body_mib, start)))
        .collect();
    let mut body_close = Measure::new("body answered or closed");
    for b in bodies {
        body_close.samples.push(b.await??);
    }
    stop.store(true, Ordering::SeqCst);
    let (body_pings, body_ping_failures) = pings.await?;
    let peak = kib("VmHWM");

    // --- half-sent heads ---------------------------------------------------
    let stop = Arc::new(AtomicBool::new(false));
    let pings = pinger(client.clone(), stop.clone());
    let start = Instant::now();
    let mut conns = Vec::new();
    for _ in 0..args.stalled {
        let mut c = TcpStream::connect(&addr).await?;
        c.write_all(b"POST /v1/ping HTTP/1.1\r\nHost: bbs\r\n")
            .await?;
        conns.push(tokio::spawn(closed(c, start)));
    }
    let mut stall_close = Measure::new("stalled head closed");
    for c in conns {
        stall_close.samples.push(c.await?);
    }
    stop.store(true, Ordering::SeqCst);
    let (stall_pings, stall_ping_failures) = pings.await?;

    println!(
        "bbs rss: {} MB before, peak (VmHWM) {} MB under the bodies (goal <= 200 MB)",
        rss_before / 1024,
        peak / 1024
    );
    println!(
        "{}",
        summary("unfinished body answered or closed after", &body_close)
    );
    println!("{}", summary("half-sent head closed after", &stall_close));
    println!(
        "{}; {} failed",
        summary("ping during the bodies", &body_pings),
        body_ping_failures
    );
    println!(
        "{}; {} failed",
        summary("ping during the half-sent heads", &stall_pings),
        stall_ping_failures
    );
    drop(bbs);
    Ok(())
}
