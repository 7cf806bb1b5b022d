//! `diego dev`: the whole system in one process on one machine, on the
//! embedded default (SQLite files under the data directory).
//!
//! Components start in dependency order, each on a fixed loopback address
//! (so `cfdot` and `diego push` find them without flags) and exactly as
//! their own subcommands would run them: locket, then the bbs (which takes
//! the `bbs` lock), the auctioneer (the `auctioneer` lock), the file server,
//! the log component (where the cell ships app logs and container
//! metrics), one cell (a rep: runc containers as root, host processes
//! otherwise),
//! and routing: nats-server (a child process), the route-emitter (the
//! `route_emitter` lock) and the dev router, where apps answer as
//! `http://APP.localhost:8080`.

mod addresses;
mod binaries;
pub mod cell;
mod cell_net;
mod components;
mod extra_cells;
mod layout;
mod nats;
pub mod stack;

pub use addresses::DevAddresses;
pub use components::DevSystem;
pub use layout::DataDir;
pub use stack::DevOptions;

#[cfg(test)]
mod tests;
