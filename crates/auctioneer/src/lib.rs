//! Diego's auctioneer: `POST /v1/lrps` and `POST /v1/tasks` (JSON, 202)
//! queue start requests; a runner loop drains them in batches, fetches
//! every cell's state from its rep, places the work with Diego's scheduler
//! ([`scheduler`]), sends it to the winning reps (`POST /work`) and tells
//! the BBS about what could not be placed (`FailActualLRP` with the
//! placement error, `RejectTask`).
//!
//! With locket configured the auctioneer serves only while it holds the
//! locket lock `auctioneer`.
//!
//! [`sim`] has in-process simulated reps for tests and benchmarks.

pub mod config;
pub mod runner;
pub mod scheduler;
pub mod server;
pub mod sim;

pub use config::AuctioneerConfig;
pub use scheduler::{PlacementError, Scheduler, SchedulerConfig};
