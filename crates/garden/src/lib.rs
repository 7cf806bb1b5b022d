//! garden: the container backend of a cell.
//!
//! [`api`] is what the executor sees (modelled on Garden's client API:
//! containers with limits, port mappings, processes, tar streams in and out,
//! info with events such as "out of memory").

pub mod api;

pub use api::*;
pub mod houdini;
