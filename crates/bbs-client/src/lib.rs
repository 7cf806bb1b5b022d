//! The one client of the BBS API, as Diego's `bbs` package offers it:
//! [`BbsClient`] is Diego's `Client` (what anyone outside Diego may call:
//! domains, desired LRPs, actual LRP reads and retirement, tasks, cells,
//! the event streams), [`InternalBbsClient`] its `InternalClient` (what
//! reps and the auctioneer call on top: the ActualLRP lifecycle,
//! evacuation, task start/fail/reject/complete). [`HttpBbsClient`]
//! implements both over Diego's protobuf-over-HTTP wire form; callers hold
//! it as `Arc<dyn BbsClient>`, `Arc<dyn InternalBbsClient>` or by type.
//!
//! Errors are Diego's ([`Error::Bbs`] carries the `models.Error` the BBS
//! answered, or the one Diego's client makes for a timeout, a router error
//! or an unexpected answer) or a transport failure in Go's words. Event
//! streams are [`EventStream`]s of typed [`models::events::Event`]s read
//! with the project's one SSE parser ([`sse`]). See [`http`] for the
//! retry rule.

pub mod config;
pub mod error;
pub mod events;
pub mod http;
pub mod list;
pub mod sse;

mod calls;

pub use config::ClientConfig;
pub use error::Error;
pub use events::{EventError, EventStream};
pub use http::HttpBbsClient;
pub use models::events::Event;

use async_trait::async_trait;
use models::{
    ActualLrp, ActualLrpGroup, ActualLrpInstanceKey, ActualLrpKey, CellPresence, DesiredLrp,
    DesiredLrpSchedulingInfo, DesiredLrpUpdate, Task, TaskDefinition,
};
use std::collections::BTreeMap;
use std::time::Duration;

pub type Result<T> = std::result::Result<T, Error>;

/// Which actual LRPs to list (Diego's `ActualLRPFilter`); empty fields
/// match everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActualLrpFilter {
    pub domain: String,
    pub cell_id: String,
    pub process_guid: String,
    pub index: Option<i32>,
}

impl ActualLrpFilter {
    /// The instances on one cell.
    pub fn cell(cell_id: &str) -> ActualLrpFilter {
        ActualLrpFilter {
            cell_id: cell_id.to_string(),
            ..Default::default()
        }
    }

    /// The instances of one process.
    pub fn process(process_guid: &str) -> ActualLrpFilter {
        ActualLrpFilter {
            process_guid: process_guid.to_string(),
            ..Default::default()
        }
    }
}

/// Which desired LRPs to list (Diego's `DesiredLRPFilter`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DesiredLrpFilter {
    pub domain: String,
    /// Only these processes (empty: all).
    pub process_guids: Vec<String>,
    /// Only these apps' processes (empty: all).
    pub app_guids: Vec<String>,
}

/// Which tasks to list (Diego's `TaskFilter`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskFilter {
    pub domain: String,
    pub cell_id: String,
}

/// What an instance reports when it starts, or evacuates while running.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunningInfo {
    pub net_info: models::ActualLrpNetInfo,
    pub internal_routes: Vec<models::ActualLrpInternalRoute>,
    pub metric_tags: BTreeMap<String, String>,
    pub routable: bool,
    pub availability_zone: String,
}

/// Diego's `bbs.Client`: the BBS as anyone outside Diego may use it.
#[async_trait]
pub trait BbsClient: Send + Sync {
    /// Whether the BBS answers (and says it is available).
    async fn ping(&self) -> bool;
    /// Every registered cell.
    async fn cells(&self) -> Result<Vec<CellPresence>>;

    /// The fresh domains.
    async fn domains(&self) -> Result<Vec<String>>;
    /// Marks `domain` fresh for `ttl` (zero: for ever).
    async fn upsert_domain(&self, domain: &str, ttl: Duration) -> Result<()>;

    async fn actual_lrps(&self, filter: &ActualLrpFilter) -> Result<Vec<ActualLrp>>;
    async fn actual_lrps_by_process_guids(
        &self,
        process_guids: &[String],
    ) -> Result<Vec<ActualLrp>>;
    /// Deprecated groups (domain and cell of the filter only).
    async fn actual_lrp_groups(&self, filter: &ActualLrpFilter) -> Result<Vec<ActualLrpGroup>>;
    async fn actual_lrp_groups_by_process_guid(
        &self,
        process_guid: &str,
    ) -> Result<Vec<ActualLrpGroup>>;
    async fn actual_lrp_group_by_process_guid_and_index(
        &self,
        process_guid: &str,
        index: i32,
    ) -> Result<Option<ActualLrpGroup>>;
    /// Stops an instance without changing what is desired.
    async fn retire_actual_lrp(&self, key: &ActualLrpKey) -> Result<()>;

    async fn desired_lrps(&self, filter: &DesiredLrpFilter) -> Result<Vec<DesiredLrp>>;
    async fn desired_lrp_by_process_guid(&self, process_guid: &str) -> Result<Option<DesiredLrp>>;
    async fn desired_lrp_scheduling_infos(
        &self,
        filter: &DesiredLrpFilter,
    ) -> Result<Vec<DesiredLrpSchedulingInfo>>;
    async fn desired_lrp_scheduling_info_by_process_guid(
        &self,
        process_guid: &str,
    ) -> Result<Option<DesiredLrpSchedulingInfo>>;
    /// Desired LRPs with only their routing fields set.
    async fn desired_lrp_routing_infos(&self, filter: &DesiredLrpFilter)
        -> Result<Vec<DesiredLrp>>;
    async fn desire_lrp(&self, lrp: DesiredLrp) -> Result<()>;
    async fn update_desired_lrp(&self, process_guid: &str, update: DesiredLrpUpdate) -> Result<()>;
    async fn remove_desired_lrp(&self, process_guid: &str) -> Result<()>;

    async fn tasks(&self, filter: &TaskFilter) -> Result<Vec<Task>>;
    async fn task_by_guid(&self, task_guid: &str) -> Result<Option<Task>>;
    /// `definition` may be absent, as Diego's pointer may be nil (the BBS
    /// then refuses the request).
    async fn desire_task(
        &self,
        task_guid: &str,
        domain: &str,
        definition: Option<TaskDefinition>,
    ) -> Result<()>;
    async fn cancel_task(&self, task_guid: &str) -> Result<()>;
    async fn resolving_task(&self, task_guid: &str) -> Result<()>;
    async fn delete_task(&self, task_guid: &str) -> Result<()>;

    /// Desired LRP and actual LRP instance events, of every cell (`""`)
    /// or of one cell's instances.
    async fn subscribe_to_instance_events(&self, cell_id: &str) -> Result<EventStream>;
    async fn subscribe_to_task_events(&self) -> Result<EventStream>;
    /// The deprecated stream with ActualLRPGroup events (`GET /v1/events.r1`).
    async fn subscribe_to_events(&self, cell_id: &str) -> Result<EventStream>;
}

/// Diego's `bbs.InternalClient`: the calls of Diego's own components.
#[async_trait]
pub trait InternalBbsClient: BbsClient {
    async fn claim_actual_lrp(
        &self,
        key: &ActualLrpKey,
        instance: &ActualLrpInstanceKey,
    ) -> Result<()>;
    /// Falls back to the pre-`.r1` route on a BBS that lacks it, as Diego's
    /// client does (only the address survives then).
    async fn start_actual_lrp(
        &self,
        key: &ActualLrpKey,
        instance: &ActualLrpInstanceKey,
        info: &RunningInfo,
    ) -> Result<()>;
    async fn crash_actual_lrp(
        &self,
        key: &ActualLrpKey,
        instance: &ActualLrpInstanceKey,
        reason: &str,
    ) -> Result<()>;
    async fn fail_actual_lrp(&self, key: &ActualLrpKey, reason: &str) -> Result<()>;
    async fn remove_actual_lrp(
        &self,
        key: &ActualLrpKey,
        instance: &ActualLrpInstanceKey,
    ) -> Result<()>;

    /// The evacuation calls answer whether to keep the container, also
    /// next to an error; when the BBS was not reached, Diego's defaults:
    /// keep it for claimed and running instances, not for stopped or
    /// crashed ones.
    async fn evacuate_claimed_actual_lrp(
        &self,
        key: &ActualLrpKey,
        instance: &ActualLrpInstanceKey,
    ) -> (bool, Result<()>);
    async fn evacuate_running_actual_lrp(
        &self,
        key: &ActualLrpKey,
        instance: &ActualLrpInstanceKey,
        info: &RunningInfo,
    ) -> (bool, Result<()>);
    async fn evacuate_stopped_actual_lrp(
        &self,
        key: &ActualLrpKey,
        instance: &ActualLrpInstanceKey,
    ) -> (bool, Result<()>);
    async fn evacuate_crashed_actual_lrp(
        &self,
        key: &ActualLrpKey,
        instance: &ActualLrpInstanceKey,
        reason: &str,
    ) -> (bool, Result<()>);
    async fn remove_evacuating_actual_lrp(
        &self,
        key: &ActualLrpKey,
        instance: &ActualLrpInstanceKey,
    ) -> Result<()>;

    /// Whether the cell should run the task.
    async fn start_task(&self, task_guid: &str, cell_id: &str) -> Result<bool>;
    /// Deprecated: cancel instead.
    async fn fail_task(&self, task_guid: &str, reason: &str) -> Result<()>;
    async fn reject_task(&self, task_guid: &str, reason: &str) -> Result<()>;
    async fn complete_task(
        &self,
        task_guid: &str,
        cell_id: &str,
        failed: bool,
        failure_reason: &str,
        result: &str,
    ) -> Result<()>;
}
