//! `diego`: Diego's components in one binary.
//!
//! `diego bbs --config FILE` runs the BBS (see `bbs::config` for the file
//! format). With `locket_address` set it serves only while holding the
//! locket lock `bbs` and exits non-zero when the lock is lost; without it
//! it serves at once (single-process mode). `diego locket --config FILE`
//! runs locket. `diego auctioneer --config FILE` runs the auctioneer (see
//! `auctioneer::config`; with locket configured it serves only while
//! holding the `auctioneer` lock). `diego rep --config FILE` runs a cell's
//! rep (see `rep::config`); SIGTERM evacuates the cell first.
//! `diego garden --config FILE` serves Garden's HTTP API from our
//! container backend (see `garden_server::config`). Other
//! components arrive as further subcommands.

mod cli;
mod dev;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use cli::commands as cmd;
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
    /// Run garden: a container backend (runc or houdini) serving Garden's
    /// HTTP API, for Diego's own rep (`garden_network`/`garden_addr`).
    Garden {
        /// JSON config file (see `garden_server::config`).
        #[arg(long, env = "DIEGO_GARDEN_CONFIG")]
        config: PathBuf,
    },
    /// Run the route-emitter (publishes the BBS's routes to routers over NATS).
    RouteEmitter {
        /// JSON config file (Diego's route_emitter field names; see `route_emitter::config`).
        #[arg(long, env = "DIEGO_ROUTE_EMITTER_CONFIG")]
        config: PathBuf,
    },
    /// Run the log component (Loggregator and Log Cache's role: envelope
    /// ingress, recent logs, streams, syslog drains, container metrics).
    Loggregator {
        /// JSON config file (see `logs::config`).
        #[arg(long, env = "DIEGO_LOGGREGATOR_CONFIG")]
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
        /// How many cells: the first on this host, each other in a network
        /// namespace of its own (its own address and zone z2, z3, ...).
        #[arg(long, default_value_t = 1)]
        cells: usize,
    },
    /// Run the app lifecycle API (`--config FILE`), or show the API the
    /// app commands use, or save one: `diego api URL [--token TOKEN]`.
    Api {
        /// The API to use from now on.
        url: Option<String>,
        #[arg(long)]
        token: Option<String>,
        /// Run the API server with this JSON config (see `api::config`).
        #[arg(long, env = "DIEGO_API_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Push an app: its files (or a docker image) built into a droplet
    /// and run; a re-push restarts it, or with --strategy replaces its
    /// instances without downtime.
    Push(Box<PushCmd>),
    /// List the apps: state, instances running/desired, URLs.
    Apps,
    /// List the buildpacks staging uses, in detection order.
    Buildpacks,
    /// List the stacks the cells offer.
    Stacks,
    /// Show an app: its instances (state, since, usage, crashes) and deployment.
    App {
        app: String,
    },
    Start {
        app: String,
        #[arg(long, default_value_t = 120)]
        timeout_secs: u64,
    },
    Stop {
        app: String,
    },
    /// Replace every instance (at once, or --strategy rolling|canary).
    Restart {
        app: String,
        #[arg(long)]
        strategy: Option<String>,
        #[arg(long, default_value_t = 120)]
        timeout_secs: u64,
    },
    /// Build the latest package again and restart on the new droplet.
    Restage {
        app: String,
        #[arg(long)]
        strategy: Option<String>,
        #[arg(long, default_value_t = 120)]
        timeout_secs: u64,
    },
    /// Change an app's instances, memory or disk.
    Scale {
        app: String,
        /// Instances (as -i).
        count: Option<i32>,
        #[arg(short = 'i', long)]
        instances: Option<i32>,
        #[arg(short = 'm', long)]
        memory: Option<String>,
        #[arg(short = 'k', long)]
        disk: Option<String>,
        #[arg(long, default_value_t = 120)]
        timeout_secs: u64,
    },
    /// Delete an app with its instances and bits.
    Delete {
        app: String,
        /// Do not ask (cf's habit; this CLI never asks).
        #[arg(short = 'f', long)]
        force: bool,
    },
    /// Show an app's environment variables.
    Env {
        app: String,
    },
    SetEnv {
        app: String,
        name: String,
        value: String,
    },
    UnsetEnv {
        app: String,
        name: String,
    },
    /// An app's audit events: crashes, scaling, deployments, ...
    Events {
        app: String,
    },
    /// Run a one-off task on the app's droplet.
    RunTask {
        app: String,
        #[arg(long)]
        command: String,
        #[arg(long)]
        name: Option<String>,
    },
    Tasks {
        app: String,
    },
    /// Deploy an earlier revision (rolling).
    Rollback {
        app: String,
        #[arg(long)]
        revision: i64,
        #[arg(long, default_value_t = 120)]
        timeout_secs: u64,
    },
    /// Go on with a paused (canary) deployment.
    ContinueDeployment {
        app: String,
        #[arg(long, default_value_t = 120)]
        timeout_secs: u64,
    },
    /// Give up on a deployment: the previous instances take over again.
    CancelDeployment {
        app: String,
    },
    /// Show an app's instances' output.
    Logs {
        app: String,
        /// Keep streaming new lines (as `cf logs APP`).
        #[arg(short, long)]
        follow: bool,
        /// Only the recent lines (the default; as `cf logs APP --recent`).
        #[arg(long, conflicts_with = "follow")]
        recent: bool,
        /// The log component's API.
        #[arg(long, env = "DIEGO_LOGS_URL", default_value = cli::DEFAULT_LOGS_URL)]
        logs_url: String,
    },
    /// Send an app's logs to a syslog drain (syslog://, syslog-tls://,
    /// https://).
    BindDrain {
        app: String,
        url: String,
        /// The log component's API.
        #[arg(long, env = "DIEGO_LOGS_URL", default_value = cli::DEFAULT_LOGS_URL)]
        logs_url: String,
    },
}

/// `diego push`'s flags (cf's).
#[derive(clap::Args)]
struct PushCmd {
    /// The app's name (with --name: the directory to push).
    app: Option<String>,
    #[arg(long, hide = true)]
    name: Option<String>,
    /// The app's files (default: the current directory).
    #[arg(short = 'p', long)]
    path: Option<PathBuf>,
    /// Start command (run with `sh -c`; $PORT is the port to serve).
    #[arg(short = 'c', long = "start-command")]
    command: Option<String>,
    #[arg(short = 'i', long)]
    instances: Option<i32>,
    /// Memory per instance (256M, 1G).
    #[arg(short = 'm', long)]
    memory: Option<String>,
    #[arg(long = "memory-mb", hide = true)]
    memory_mb: Option<i32>,
    /// Disk per instance (256M, 1G).
    #[arg(short = 'k', long)]
    disk: Option<String>,
    /// A buildpack to use (repeat for several; `diego buildpacks` lists
    /// them); none: every one, detected in order.
    #[arg(short = 'b', long = "buildpack")]
    buildpacks: Vec<String>,
    /// The stack to stage and run on (`diego stacks` lists them).
    #[arg(short = 's', long = "stack")]
    stack: Option<String>,
    /// Run this image (`registry/repo:tag`) instead of files.
    #[arg(short = 'o', long = "docker-image")]
    docker_image: Option<String>,
    /// The registry user (the password comes from CF_DOCKER_PASSWORD).
    #[arg(long)]
    docker_username: Option<String>,
    /// Seconds an instance may take to become healthy.
    #[arg(short = 't', long = "app-start-timeout")]
    health_check_timeout: Option<u32>,
    /// port, http or process.
    #[arg(short = 'u', long = "health-check-type")]
    health_check_type: Option<String>,
    /// The path an http health check GETs.
    #[arg(long)]
    endpoint: Option<String>,
    /// rolling or canary: replace a running app's instances without downtime.
    #[arg(long)]
    strategy: Option<String>,
    #[arg(long)]
    max_in_flight: Option<i32>,
    /// Stage it but do not run it.
    #[arg(long)]
    no_start: bool,
    /// A Cloud Foundry manifest (manifest.yml).
    #[arg(short = 'f', long = "manifest")]
    manifest: Option<PathBuf>,
    /// How long to wait for the instances.
    #[arg(long, default_value_t = 120)]
    timeout_secs: u64,
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

async fn run_garden(config: PathBuf) -> anyhow::Result<()> {
    let cfg = garden_server::GardenConfig::from_file(&config)?;
    init_logging(&cfg.log_level);
    garden_server::run(cfg, shutdown_signal()).await
}

async fn run_route_emitter(config: PathBuf) -> anyhow::Result<()> {
    let cfg = route_emitter::RouteEmitterConfig::from_file(&config)?;
    init_logging(&cfg.log_level);
    route_emitter::run(cfg, shutdown_signal()).await
}

async fn run_loggregator(config: PathBuf) -> anyhow::Result<()> {
    let cfg = logs::LogsConfig::from_file(&config)?;
    init_logging(&cfg.log_level);
    logs::run(cfg, shutdown_signal()).await
}

async fn run_router(config: PathBuf) -> anyhow::Result<()> {
    let cfg = router::RouterConfig::from_file(&config)?;
    init_logging(&cfg.log_level);
    router::run(cfg, shutdown_signal()).await
}

async fn run_dev(data_dir: PathBuf, busybox_only: bool, cells: usize) -> anyhow::Result<()> {
    init_logging("warn");
    let data = dev::DataDir::open(&data_dir)?;
    let options = dev::DevOptions {
        cflinuxfs4: !busybox_only,
        cells,
    };
    let system = dev::DevSystem::start_with(&data, &dev::DevAddresses::default(), options).await?;
    println!("diego dev: data in {}", data.root().display());
    for (what, addr) in system.listening() {
        println!("  {what:<14} {addr}");
    }
    for note in &system.notes {
        println!("  note: {note}");
    }
    // The app commands find the API and its token in the user's config.
    let token = api::token_file(&data.api_token())?;
    let cfg = cli::target::UserConfig {
        api: format!("http://{}", system.api.addr),
        token,
    };
    match cli::target::save(&cfg) {
        Ok(path) => println!(
            "The app commands (`diego push`, `apps`, ...) use the api with the token saved in {}.",
            path.display()
        ),
        Err(e) => println!(
            "  note: could not save the CLI's token ({e:#}): use `diego api {} --token \
             $(cat {})`",
            cfg.api,
            data.api_token().display()
        ),
    }
    println!("Ctrl-C stops everything.");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate() => {}
    }
    system.shutdown().await;
    Ok(())
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

fn secs(s: u64) -> std::time::Duration {
    std::time::Duration::from_secs(s)
}

async fn run_api(config: PathBuf) -> anyhow::Result<()> {
    let cfg = api::ApiConfig::from_file(&config)?;
    init_logging(&cfg.log_level);
    let running = api::start(&cfg).await.context("starting the api")?;
    tracing::info!(addr = %running.addr, "api listening");
    shutdown_signal().await;
    running.shutdown().await;
    Ok(())
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Bbs { config } => run_bbs(config).await,
        Command::Locket { config } => run_locket(config).await,
        Command::Auctioneer { config } => run_auctioneer(config).await,
        Command::Rep { config } => run_rep(config).await,
        Command::Garden { config } => run_garden(config).await,
        Command::RouteEmitter { config } => run_route_emitter(config).await,
        Command::Router { config } => run_router(config).await,
        Command::Loggregator { config } => run_loggregator(config).await,
        Command::Dev {
            data_dir,
            busybox_only,
            cells,
        } => run_dev(data_dir, busybox_only, cells).await,
        Command::Api { url, token, config } => match config {
            Some(config) => run_api(config).await,
            None => cli::target::api_target(url, token).await,
        },
        Command::Push(push) => {
            let PushCmd {
                app,
                name,
                path,
                command,
                instances,
                memory,
                memory_mb,
                disk,
                buildpacks,
                stack,
                docker_image,
                docker_username,
                health_check_timeout,
                health_check_type,
                endpoint,
                strategy,
                max_in_flight,
                no_start,
                manifest,
                timeout_secs,
            } = *push;
            // The older form: `push DIR --name APP`.
            let (name, path) = match name {
                Some(n) => (Some(n), path.or(app.map(PathBuf::from))),
                None => (app, path),
            };
            cli::push(cli::PushFlags {
                name,
                path,
                command,
                instances,
                memory: memory.or(memory_mb.map(|m| format!("{m}M"))),
                disk,
                buildpacks,
                stack,
                docker_image,
                docker_username,
                health_check_timeout,
                health_check_type,
                endpoint,
                strategy,
                max_in_flight,
                no_start,
                manifest,
                wait: secs(timeout_secs),
            })
            .await
        }
        Command::Apps => cli::apps().await,
        Command::Buildpacks => cmd::buildpacks().await,
        Command::Stacks => cmd::stacks().await,
        Command::App { app } => cli::app(&app).await,
        Command::Start { app, timeout_secs } => cmd::start(&app, secs(timeout_secs)).await,
        Command::Stop { app } => cmd::stop(&app).await,
        Command::Restart {
            app,
            strategy,
            timeout_secs,
        } => cmd::restart(&app, strategy, secs(timeout_secs)).await,
        Command::Restage {
            app,
            strategy,
            timeout_secs,
        } => cmd::restage(&app, strategy, secs(timeout_secs)).await,
        Command::Scale {
            app,
            count,
            instances,
            memory,
            disk,
            timeout_secs,
        } => cmd::scale(&app, instances.or(count), memory, disk, secs(timeout_secs)).await,
        Command::Delete { app, force: _ } => cmd::delete(&app).await,
        Command::Env { app } => cmd::env(&app).await,
        Command::SetEnv { app, name, value } => cmd::set_env(&app, &name, Some(value)).await,
        Command::UnsetEnv { app, name } => cmd::set_env(&app, &name, None).await,
        Command::Events { app } => cmd::events(&app).await,
        Command::RunTask { app, command, name } => cmd::run_task(&app, &command, name).await,
        Command::Tasks { app } => cmd::tasks(&app).await,
        Command::Rollback {
            app,
            revision,
            timeout_secs,
        } => cmd::rollback(&app, revision, secs(timeout_secs)).await,
        Command::ContinueDeployment { app, timeout_secs } => {
            cmd::deployment_action(&app, "continue", secs(timeout_secs)).await
        }
        Command::CancelDeployment { app } => {
            cmd::deployment_action(&app, "cancel", secs(120)).await
        }
        Command::Logs {
            app,
            follow,
            logs_url,
            ..
        } => cli::logs(&logs_url, &app, follow).await,
        Command::BindDrain { app, url, logs_url } => cli::bind_drain(&logs_url, &app, &url).await,
    };
    if let Err(e) = result {
        eprintln!("diego: {e:#}");
        std::process::exit(1);
    }
}
