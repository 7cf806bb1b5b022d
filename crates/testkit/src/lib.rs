//! Test support shared by the workspace's test suites (dev-dependency only).

pub mod conformance;
pub mod nats;
pub mod oci_image;
pub mod postgres;
pub mod registry;
pub mod skip;
