//! Diego's BBS: the API server and the state it keeps.
//!
//! - [`server::start`] runs a BBS from a [`config::BbsConfig`];
//! - [`handlers`] are the HTTP routes (Diego's `routes.go`), [`controllers`]
//!   the lifecycle rules behind them, [`events`] the hubs and SSE streams;
//! - [`clients`] are the calls out (auctioneer, reps, cell registry);
//! - [`db`] is the store.

pub mod clients;
pub mod config;
pub mod controllers;
pub mod converger;
pub mod db;
pub mod errors;
pub mod events;
pub mod handlers;
pub mod metrics;
pub mod server;
pub mod taskcallback;
pub mod versioning;
