//! `diego`: Diego's components in one binary.
//!
//! `diego bbs --config FILE` runs the BBS (see `bbs::config` for the file
//! format). With `locket_address` set it serves only while holding the
//! locket lock `bbs` and exits non-zero when the lock is lost; without it
//! it serves at once (single-process mode). `diego locket --config FILE`
//! runs locket. `diego auctioneer --config FILE` runs the auctioneer (see
//! `auctioneer::config`; with locket configured it serves only while
//! holding the `auctioneer` lock). `diego rep --config FILE` runs a cell's
//! rep (see `rep::config`); SIGTERM evacuates the cell first. Other
//! components arrive as further subcommands.

mod cli;
mod dev;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "diego",
    version,
    about = "Cloud Foundry Diego, rebuilt in Rust"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the BBS (Diego's API server and state store).
    Bbs {
        /// JSON config file (Diego's bbs field names).
        #[arg(long, env = "DIEGO_BBS_CONFIG")]
        config: PathBuf,
    },
    /// Run locket (locks and presences over gRPC).
    Locket {
        /// JSON config file (Diego's locket field names; see `locket::config`).
        #[arg(long, env = "DIEGO_LOCKET_CONFIG")]
        config: PathBuf,
    },
    /// Run the auctioneer (places LRP instances and tasks on cells).
    Auctioneer {
        /// JSON config file (Diego's auctioneer field names; see `auctioneer::config`).
        #[arg(long, env = "DIEGO_AUCTIONEER_CONFIG")]
        config: PathBuf,
    },
    /// Run a rep (the cell agent; SIGTERM evacuates the cell, then exits).
    Rep {
        /// JSON config file (Diego's rep field names; see `rep::config`).
        #[arg(long, env = "DIEGO_REP_CONFIG")]
        config: PathBuf,
    },
    /// Run the route-emitter (publishes the BBS's routes to routers over NATS).
    RouteEmitter {
        /// JSON config file (Diego's route_emitter field names; see `route_emitter::config`).
        #[arg(long, env = "DIEGO_ROUTE_EMITTER_CONFIG")]
        config: PathBuf,
    },
    /// Run the development HTTP router (learns routes from NATS like gorouter).
    Router {
        /// JSON config file (see `router::config`).
        #[arg(long, env = "DIEGO_ROUTER_CONFIG")]
        config: PathBuf,
    },
    /// Run the whole system in this process on the embedded default
    /// (SQLite files in the data directory), on Diego's usual loopback ports.
    Dev {
        /// Where the databases, the encryption key and blobs are kept.
        #[arg(long, env = "DIEGO_DEV_DATA_DIR", default_value = ".diego")]
        data_dir: PathBuf,
        /// Offer only the busybox stack: skip building the cflinuxfs4 stack
        /// (minutes on the first run), the lifecycle bundles and the
        /// buildpacks.
        #[arg(long)]
        busybox_only: bool,
    },
    /// Push an app to `diego dev` and wait for its instances: a directory
    /// (`diego push DIR --name APP`, served by busybox httpd unless
    /// --start-command says otherwise) or an image (`diego push APP -o REF`,
    /// as `cf push APP --docker-image REF`).
    Push {
        /// The app's files (packaged as a .tgz for the cells to download);
        /// with --docker-image, the app's name.
        #[arg(value_name = "DIR | APP")]
        target: Option<String>,
        /// The app's name: its process guid and its host (APP.localhost).
        #[arg(long)]
        name: Option<String>,
        /// An image, `[REGISTRY/]REPO[:TAG|@DIGEST]` (Docker Hub's short
        /// names as Docker reads them; registries on loopback over HTTP).
        #[arg(short = 'o', long)]
        docker_image: Option<String>,
        /// The registry user for a private image; the password comes from
        /// CF_DOCKER_PASSWORD.
        #[arg(long, requires = "docker_image")]
        docker_username: Option<String>,
        #[arg(long, default_value_t = 1)]
        instances: i32,
        /// Run with `sh -c` ($PORT is the port to serve): in /home/vcap/app
        /// for a directory (default: busybox httpd), in the image's
        /// WorkingDir for an image (default: its Entrypoint and Cmd).
        #[arg(long)]
        start_command: Option<String>,
        #[arg(long, default_value_t = cli::DEFAULT_MEMORY_MB)]
        memory_mb: i32,
        /// How long to wait for every instance to run.
        #[arg(long, default_value_t = 120)]
        timeout_secs: u64,
        #[command(flatten)]
        dev: DevFlags,
    },
    /// List the apps of `diego dev`: instances running/desired, URLs.
    Apps {
        #[command(flatten)]
        dev: DevFlags,
    },
    /// Change an app's instance count and wait for it.
    Scale {
        app: String,
        instances: i32,
        #[arg(long, default_value_t = 120)]
        timeout_secs: u64,
        #[command(flatten)]
        dev: DevFlags,
    },
    /// Stop and forget an app, and remove its packages.
    Delete {
        app: String,
        #[command(flatten)]
        dev: DevFlags,
    },
    /// Show an app's instances' output (from the cells' reps).
    Logs {
        app: String,
        /// Keep streaming new lines.
        #[arg(short, long)]
        follow: bool,
        #[command(flatten)]
        dev: DevFlags,
    },
}

/// Where the operator commands find `diego dev`.
#[derive(clap::Args)]
struct DevFlags {
    /// `diego dev`'s data directory (app packages go under its static/).
    #[arg(long, env = "DIEGO_DEV_DATA_DIR", default_value = ".diego")]
    data_dir: PathBuf,
    #[arg(long, env = "DIEGO_BBS_URL", default_value = cli::DEFAULT_BBS_URL)]
    bbs_url: String,
}

fn init_logging(level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_env_filter(filter)
        .with_writer(std::io::stdout)
        .init();
}

async fn run_bbs(config: PathBuf) -> anyhow::Result<()> {
    let cfg = bbs::config::BbsConfig::from_file(&config)?;
    init_logging(&cfg.log_level);
    // With locket configured, start waits for the `bbs` lock (a passive
    // BBS sits here with only its health listener up).
    let running = tokio::select! {
        r = bbs::server::start(&cfg, bbs::server::Overrides::default()) => {
            r.context("starting bbs")?
        }
        _ = tokio::signal::ctrl_c() => return Ok(()),
        _ = terminate() => return Ok(()),
    };
    tracing::info!(addr = %running.addr, health_addr = %running.health_addr, "bbs listening");
    let outcome = tokio::select! {
        _ = tokio::signal::ctrl_c() => Ok(()),
        _ = terminate() => Ok(()),
        _ = running.unrecoverable() => Err(anyhow::anyhow!("unrecoverable error; exiting")),
        reason = running.lock_lost() => Err(anyhow::anyhow!("lost the bbs lock ({reason}); exiting")),
    };
    tracing::info!("bbs stopping");
    running.shutdown().await;
    outcome
}

async fn run_locket(config: PathBuf) -> anyhow::Result<()> {
    let cfg = locket::config::LocketConfig::from_file(&config)?;
    init_logging(&cfg.log_level);
    let mut running = locket::server::start(&cfg, Default::default())
        .await
        .context("starting locket")?;
    tracing::info!(addr = %running.addr, "locket listening");
    let outcome = tokio::select! {
        _ = tokio::signal::ctrl_c() => Ok(()),
        _ = terminate() => Ok(()),
        r = running.wait() => r,
    };
    tracing::info!("locket stopping");
    running.shutdown().await;
    outcome
}

async fn run_auctioneer(config: PathBuf) -> anyhow::Result<()> {
    let cfg = auctioneer::AuctioneerConfig::from_file(&config)?;
    init_logging(&cfg.log_level);
    // With locket configured, start waits for the `auctioneer` lock.
    let mut running = tokio::select! {
        r = auctioneer::server::start(&cfg) => r.context("starting auctioneer")?,
        _ = tokio::signal::ctrl_c() => return Ok(()),
        _ = terminate() => return Ok(()),
    };
    tracing::info!(addr = %running.addr, "auctioneer listening");
    let outcome = tokio::select! {
        _ = tokio::signal::ctrl_c() => Ok(()),
        _ = terminate() => Ok(()),
        reason = running.lock_lost() => {
            Err(anyhow::anyhow!("lost the auctioneer lock ({reason}); exiting"))
        }
    };
    tracing::info!("auctioneer stopping");
    running.shutdown().await;
    outcome
}

async fn run_rep(config: PathBuf) -> anyhow::Result<()> {
    let cfg = rep::RepConfig::from_file(&config)?;
    init_logging(&cfg.log_level);
    // SIGTERM (BOSH stop) or Ctrl-C: evacuate, then exit.
    rep::run(cfg, async {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = terminate() => {}
        }
    })
    .await
}

async fn shutdown_signal() {
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate() => {}
    }
}

async fn run_route_emitter(config: PathBuf) -> anyhow::Result<()> {
    let cfg = route_emitter::RouteEmitterConfig::from_file(&config)?;
    init_logging(&cfg.log_level);
    route_emitter::run(cfg, shutdown_signal()).await
}

async fn run_router(config: PathBuf) -> anyhow::Result<()> {
    let cfg = router::RouterConfig::from_file(&config)?;
    init_logging(&cfg.log_level);
    router::run(cfg, shutdown_signal()).await
}

async fn run_dev(data_dir: PathBuf, busybox_only: bool) -> anyhow::Result<()> {
    init_logging("warn");
    let data = dev::DataDir::open(&data_dir)?;
    let options = dev::DevOptions {
        cflinuxfs4: !busybox_only,
    };
    let system = dev::DevSystem::start_with(&data, &dev::DevAddresses::default(), options).await?;
    println!("diego dev: data in {}", data.root().display());
    for (what, addr) in system.listening() {
        println!("  {what:<14} {addr}");
    }
    for note in &system.notes {
        println!("  note: {note}");
    }
    println!("Ctrl-C stops everything.");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate() => {}
    }
    system.shutdown().await;
    Ok(())
}

/// `push DIR --name APP` or `push APP -o REF [--docker-username U]` (the
/// password from CF_DOCKER_PASSWORD, as cf reads it).
fn push_source(
    target: Option<String>,
    name: Option<String>,
    docker_image: Option<String>,
    docker_username: Option<String>,
) -> anyhow::Result<(cli::PushSource, String)> {
    match docker_image {
        Some(reference) => {
            let name = match (target, name) {
                (Some(t), Some(n)) if t != n => {
                    anyhow::bail!("give the app's name once (APP or --name), not {t:?} and {n:?}")
                }
                (Some(n), _) | (None, Some(n)) => n,
                (None, None) => anyhow::bail!("usage: diego push APP --docker-image REF"),
            };
            let username = docker_username.unwrap_or_default();
            let password = match std::env::var("CF_DOCKER_PASSWORD") {
                Ok(p) => p,
                Err(_) if username.is_empty() => String::new(),
                Err(_) => anyhow::bail!(
                    "Environment variable CF_DOCKER_PASSWORD not set (the password for --docker-username)"
                ),
            };
            Ok((
                cli::PushSource::Image {
                    reference,
                    username,
                    password,
                },
                name,
            ))
        }
        None => {
            let (Some(dir), Some(name)) = (target, name) else {
                anyhow::bail!(
                    "usage: diego push DIR --name APP, or diego push APP --docker-image REF"
                );
            };
            Ok((cli::PushSource::Dir(PathBuf::from(dir)), name))
        }
    }
}

#[cfg(unix)]
async fn terminate() {
    if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        s.recv().await;
    } else {
        std::future::pending::<()>().await;
    }
}

#[cfg(not(unix))]
async fn terminate() {
    std::future::pending::<()>().await
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Bbs { config } => run_bbs(config).await,
        Command::Locket { config } => run_locket(config).await,
        Command::Auctioneer { config } => run_auctioneer(config).await,
        Command::Rep { config } => run_rep(config).await,
        Command::RouteEmitter { config } => run_route_emitter(config).await,
        Command::Router { config } => run_router(config).await,
        Command::Dev {
            data_dir,
            busybox_only,
        } => run_dev(data_dir, busybox_only).await,
        Command::Push {
            target,
            name,
            docker_image,
            docker_username,
            instances,
            start_command,
            memory_mb,
            timeout_secs,
            dev,
        } => match push_source(target, name, docker_image, docker_username) {
            Ok((source, name)) => {
                cli::push(cli::PushArgs {
                    source,
                    name,
                    instances,
                    start_command,
                    memory_mb,
                    data_dir: dev.data_dir,
                    bbs_url: dev.bbs_url,
                    timeout: std::time::Duration::from_secs(timeout_secs),
                })
                .await
            }
            Err(e) => Err(e),
        },
        Command::Apps { dev } => cli::apps(&dev.bbs_url).await,
        Command::Scale {
            app,
            instances,
            timeout_secs,
            dev,
        } => {
            let timeout = std::time::Duration::from_secs(timeout_secs);
            cli::scale(&dev.bbs_url, &app, instances, timeout).await
        }
        Command::Delete { app, dev } => cli::delete(&dev.bbs_url, &dev.data_dir, &app).await,
        Command::Logs { app, follow, dev } => cli::logs(&dev.bbs_url, &app, follow).await,
    };
    if let Err(e) = result {
        eprintln!("diego: {e:#}");
        std::process::exit(1);
    }
}
