//! garden: the container backend of a cell.
//!
//! [`api`] is what the executor sees (modelled on Garden's client API:
//! containers with limits, port mappings, processes, tar streams in and out,
//! info with events such as "out of memory"). [`RuncBackend`] implements it
//! on an OCI runtime (runc): unprivileged containers in a user namespace
//! under a seccomp profile, overlayfs rootfs on a shifted copy of the
//! preloaded rootfs, cgroup limits, disk limits, a network namespace per
//! container plugged in by CNI plugins (bridge, host-local, portmap,
//! firewall), and egress rules enforced with nftables.

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
mod dns;
pub mod host;
pub mod idmap;
pub mod image_rootfs;
mod inroot;
pub mod network;
mod output;
mod pea_bundle;
mod pools;
mod process;
mod quota;
mod record;
pub mod rootfs;
mod runc;
pub mod seccomp;
pub mod shifted;
mod streams;

pub use availability::{runc_unavailable, DestroyOnDrop};
pub use backend::{RuncBackend, DISK_QUOTA_EXCEEDED};
pub use config::RuncConfig;
pub use idmap::IdMap;
