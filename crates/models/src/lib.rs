//! Diego's wire types, their validation and state rules.
//!
//! The protobuf messages are generated from `proto/` (Diego's message names
//! and field numbers, so bytes on the wire match Diego's BBS). The rep and
//! auctioneer speak JSON; their types live in [`rep`] and [`auctioneer`].

#[allow(clippy::all, clippy::pedantic)]
mod pb {
    include!(concat!(env!("OUT_DIR"), "/models.rs"));
}
pub use pb::*;

/// Our `.proto` files compiled (a `FileDescriptorSet`, package `models`):
/// lets tests read Diego's bytes keeping the fields our types lack.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/bbs_descriptor_set.bin"));

/// Loggregator v2's envelopes (`loggregator.v2`): what cells send to the
/// log component, what the log store keeps and serves.
pub mod loggregator {
    #[allow(clippy::all, clippy::pedantic)]
    pub mod v2 {
        include!(concat!(env!("OUT_DIR"), "/loggregator.v2.rs"));
    }
}

pub mod auctioneer;
pub mod bbs_error;
pub mod bbs_routes;
pub mod capi;
pub mod desired_lrp_parts;
pub mod events;
pub mod go_duration;
pub mod json;
pub mod lrp_lifecycle;
pub mod metric_tags;
pub mod rep;
pub mod restart_calculator;
pub mod task_lifecycle;
pub mod validation;

pub use bbs_error::BbsError;
pub use lrp_lifecycle::resolve_actual_lrp_groups;
pub use metric_tags::convert_metric_tags;
/// Diego's error types (the `type` field of `Error`).
pub use pb::error::Type as ErrorType;
pub use restart_calculator::RestartCalculator;

/// The string states an ActualLRP row can be in (Diego stores them as text).
pub mod actual_lrp_state {
    pub const UNCLAIMED: &str = "UNCLAIMED";
    pub const CLAIMED: &str = "CLAIMED";
    pub const RUNNING: &str = "RUNNING";
    pub const CRASHED: &str = "CRASHED";
}
