//! garden: the container backend of a cell.
//!
//! [`api`] is what the executor sees (modelled on Garden's client API:
//! containers with limits, port mappings, processes, tar streams in and out,
//! info with events such as "out of memory"). [`RuncBackend`] implements it
//! on an OCI runtime (runc): overlayfs rootfs, cgroup limits, a network
//! namespace and veth per container, iptables DNAT for mapped ports.

pub mod api;
mod availability;

pub use api::*;
pub mod houdini;

mod backend;
pub mod bundle;
pub mod cgroups;
mod cmd;
pub mod config;
mod detached_exec;
pub mod host;
pub mod image_rootfs;
pub mod network;
mod output;
mod pools;
mod process;
mod quota;
mod record;
pub mod rootfs;
mod runc;
mod streams;

pub use availability::{runc_unavailable, DestroyOnDrop};
pub use backend::RuncBackend;
pub use config::RuncConfig;
