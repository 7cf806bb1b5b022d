//! `bench`: benchmarks of the BBS store at Diego scale.
//!
//! `bench convergence` seeds a store (SQLite file or PostgreSQL) with N
//! RUNNING actual LRPs over N/instances-per-lrp desired LRPs on C cells,
//! plus tasks, then times the convergence passes and the bulk reads the
//! reps and the auctioneer make, and prints a table and the peak RSS.
//!
//! `bench bbs` runs Diego's benchmarkbbs workload (simulated reps, nsync,
//! route emitters, event streams) against `diego bbs` and `diego locket`
//! child processes; see `bbs_load`.
//!
//! `bench hostile` measures a `diego bbs` under hostile clients; see
//! `hostile`.
//!
//! `bench image` times container starts from a `docker://` image on the
//! runc backend, cold and warm, beside bare runc; see `image_start`.
//!
//! `bench stores` times desire, claim and start through the store on
//! SQLite, PostgreSQL and MariaDB in one run; see `store_ops`.

mod api_app;
mod bbs_api;
mod bbs_api_local;
mod bbs_load;
mod convergence;
mod hostile;
mod image_start;
mod logs;
mod report;
mod store_ops;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc v3's `mi_option_purge_delay` (its place in the header's option
/// enum; checked against the option's documented default before use).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
const MI_PURGE_DELAY_DEFAULT_MS: std::os::raw::c_long = 1000;

/// The load generator keeps the memory it frees: by default mimalloc hands
/// it back to the OS seconds later, and every 30-s cycle's big decode (all
/// scheduling infos) would fault it in again, a cost of this client that
/// would show up as the BBS's latency.
fn keep_freed_memory() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
        return;
    }
    // SAFETY: plain option calls, made before any other thread exists.
    unsafe {
        if libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) == MI_PURGE_DELAY_DEFAULT_MS {
            libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1);
        } else {
            eprintln!("bench: mimalloc's purge delay option is not where expected; left as is");
        }
    }
}

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "bench",
    about = "Benchmarks of the BBS store at Diego scale, and of image starts"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Times LRP/task convergence and bulk reads over a seeded store.
    Convergence(convergence::Args),
    /// Diego's benchmarkbbs workload against a BBS and locket process.
    Bbs(bbs_load::Args),
    /// The app lifecycle API's answer time for `diego app` on a big app.
    Api(api_app::Args),
    /// The BBS workload through the API alone, against any BBS URL.
    BbsApi(bbs_api::Args),
    /// Hostile clients against a BBS process: peak RSS under large
    /// unfinished bodies, time to close stalled connections, ping latency.
    Hostile(hostile::Args),
    /// Container starts from an OCI image (cold, warm) beside bare runc.
    Image(image_start::Args),
    /// Log lines through a cell to the log store; the store's memory.
    Logs(logs::Args),
    /// Desire, claim and start through the store on SQLite, PostgreSQL
    /// and MariaDB in one run.
    Stores(store_ops::Args),
}

fn main() -> anyhow::Result<()> {
    keep_freed_memory();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::Convergence(args) => convergence::run(args),
        Cmd::Bbs(args) => bbs_load::run(args),
        Cmd::Api(args) => api_app::run(args),
        Cmd::BbsApi(args) => bbs_api::run(args),
        Cmd::Hostile(args) => hostile::run(args),
        Cmd::Image(args) => image_start::run(args),
        Cmd::Logs(args) => logs::run(args),
        Cmd::Stores(args) => store_ops::run(args),
    }
}
