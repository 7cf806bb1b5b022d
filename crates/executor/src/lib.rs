//! executor: Diego's executor, the part of a cell that owns containers.
//!
//! [`store::ContainerStore`] reserves containers against the cell's
//! capacity, creates them in a [`garden::Backend`], runs their actions as
//! Diego's steps ([`steps`]) with health checks ([`checks`]), keeps each
//! instance's log ([`logs`]) and tells the rep what happened ([`events`]).

pub mod container;
pub mod env;
pub mod events;
pub mod log_rate;
pub mod logs;
pub mod netout;
pub mod resources;

pub use container::{Container, LogConfig, PortMapping, Resource, RunInfo, RunResult, State, Tags};
pub use events::Event;
pub use resources::ExecutorResources;
pub mod checks;
pub mod config;
pub mod download;
pub mod errors;
pub mod steps;
pub mod store;

pub use config::ExecutorConfig;
pub use errors::ExecutorError;
pub use store::{AllocationRequest, ContainerStore};
