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

mod bbs_load;
mod convergence;
mod report;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(name = "bench", about = "Benchmarks of the BBS store at Diego scale")]
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
}

fn main() -> anyhow::Result<()> {
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
    }
}
