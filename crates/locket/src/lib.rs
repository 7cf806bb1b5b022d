//! Diego's locket, rebuilt: locks and presences with TTLs, stored in SQL
//! (SQLite or PostgreSQL) and served over gRPC (`models.Locket`), plus the
//! client-side runners the other components use to hold a lock or assert a
//! presence.
//!
//! - [`server::start`] runs a locket server from a [`config::LocketConfig`].
//! - [`client::connect`], [`client::LockRunner`], [`client::PresenceRunner`].

pub mod proto {
    #![allow(clippy::all)]
    tonic::include_proto!("models");
}

pub mod db;
pub mod errors;

pub use errors::LocketError;

/// Diego's defaults (`locket:schema.go`).
pub const DEFAULT_SESSION_TTL_SECONDS: i64 = 15;
pub const RETRY_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);

pub mod client;
pub mod config;
pub mod expiration;
pub mod handler;
pub mod server;
