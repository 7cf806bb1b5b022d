//! Test support shared by the workspace's test suites (dev-dependency only):
//! throwaway PostgreSQL and MariaDB servers, nats-server, the conformance
//! corpora.

pub mod conformance;
mod local_server;
pub mod mariadb;
pub mod nats;
pub mod postgres;
pub mod skip;
pub mod stack;
