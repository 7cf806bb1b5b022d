//! Test support shared by the workspace's test suites (dev-dependency only):
//! a whole control plane (feature `control-plane`), throwaway PostgreSQL
//! and MariaDB servers, nats-server, TLS material, the conformance corpora.

pub mod conformance;
#[cfg(feature = "control-plane")]
pub mod control_plane;
mod local_server;
pub mod mariadb;
pub mod nats;
pub mod oci_image;
pub mod postgres;
pub mod registry;
pub mod rsyslog;
pub mod skip;
pub mod stack;
pub mod tls;
mod wait;

pub use wait::eventually;
