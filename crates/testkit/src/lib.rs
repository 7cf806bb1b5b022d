//! Test support shared by the workspace's test suites (dev-dependency only).

pub mod conformance;
pub mod nats;
pub mod postgres;
pub mod skip;
pub mod stack;
