//! The BBS store: one trait over the state Diego's BBS keeps (domains,
//! desired LRPs, actual LRPs, tasks). Each method is one transaction.
//! Mutations return the records before/after so callers can emit events.
//! Errors are Diego's (`BbsError`): ResourceNotFound, ResourceExists,
//! InvalidStateTransition, ActualLRPCannotBe*, ...

use async_trait::async_trait;
use models::{
    ActualLrp, ActualLrpInstanceKey, ActualLrpInternalRoute, ActualLrpKey, ActualLrpNetInfo,
    BbsError, DesiredLrp, DesiredLrpSchedulingInfo, DesiredLrpUpdate, Task, TaskDefinition,
};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

pub mod cache;
pub mod encryption;
pub(crate) mod lrp_convergence_rules;
pub mod sql;

pub use cache::CachedStore;
pub use encryption::EncryptionConfig;
pub use sql::{EncryptionOutcome, SqlEngine, SqlStore, StoreConfig};

pub type DbResult<T> = Result<T, BbsError>;

/// Which actual LRP rows to list; empty strings mean "any".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActualLrpFilter {
    pub domain: String,
    pub cell_id: String,
    pub process_guid: String,
    pub index: Option<i32>,
}

/// Which desired LRPs to list; empty means "any".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DesiredLrpFilter {
    pub domain: String,
    pub process_guids: Vec<String>,
}

/// Which tasks to list; empty strings mean "any".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskFilter {
    pub domain: String,
    pub cell_id: String,
}

/// What a cell reports when an instance starts running (or evacuates while running).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunningInfo {
    pub net_info: ActualLrpNetInfo,
    pub internal_routes: Vec<ActualLrpInternalRoute>,
    pub metric_tags: BTreeMap<String, String>,
    /// None keeps Diego's "routable unset" (treated as routable by route-emitter).
    pub routable: Option<bool>,
    pub availability_zone: String,
}

/// Outcome of crashing an instance.
#[derive(Debug, Clone, PartialEq)]
pub struct CrashOutcome {
    pub before: ActualLrp,
    pub after: ActualLrp,
    /// The restart calculator allows an immediate restart (caller auctions it).
    pub should_restart: bool,
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    // --- domains -----------------------------------------------------------
    /// Domains whose TTL has not run out (TTL 0 never expires).
    async fn fresh_domains(&self) -> DbResult<Vec<String>>;
    async fn upsert_domain(&self, domain: &str, ttl_seconds: u32) -> DbResult<()>;

    // --- desired LRPs ------------------------------------------------------
    async fn desired_lrps(&self, filter: &DesiredLrpFilter) -> DbResult<Vec<DesiredLrp>>;
    /// One page of `desired_lrps`: at most `limit` records after the
    /// cursor `after` (None: from the start), in the same order. Lists are
    /// streamed page by page so that no answer holds every record.
    async fn desired_lrps_page(
        &self,
        filter: &DesiredLrpFilter,
        after: Option<&str>,
        limit: usize,
    ) -> DbResult<Page<DesiredLrp>>;
    async fn desired_lrp_by_process_guid(&self, process_guid: &str) -> DbResult<DesiredLrp>;
    async fn desired_lrp_scheduling_infos(
        &self,
        filter: &DesiredLrpFilter,
    ) -> DbResult<Vec<DesiredLrpSchedulingInfo>>;
    async fn desired_lrp_scheduling_info_by_process_guid(
        &self,
        process_guid: &str,
    ) -> DbResult<DesiredLrpSchedulingInfo>;
    /// The scheduling infos already encoded as the repeated field of a
    /// DesiredLRPSchedulingInfosResponse, when the store keeps them encoded
    /// (the LRP cache); None: use `desired_lrp_scheduling_infos`.
    async fn encoded_scheduling_infos(
        &self,
        _filter: &DesiredLrpFilter,
    ) -> DbResult<Option<EncodedAnswer>> {
        Ok(None)
    }
    /// Every desired LRP's scheduling info with its metric tags, handed to
    /// `sink` one by one (what the LRP cache loads; with the scheduling
    /// info they make the routing info).
    async fn each_scheduling_info_and_tags(
        &self,
        sink: &mut (dyn FnMut(SchedulingInfoAndTags) + Send),
    ) -> DbResult<()> {
        let all = DesiredLrpFilter::default();
        let mut tags: std::collections::HashMap<String, BTreeMap<String, models::MetricTagValue>> =
            self.desired_lrp_routing_infos(&all)
                .await?
                .into_iter()
                .map(|r| (r.process_guid, r.metric_tags))
                .collect();
        for info in self.desired_lrp_scheduling_infos(&all).await? {
            let guid = info
                .desired_lrp_key
                .as_ref()
                .map(|k| k.process_guid.as_str());
            if let Some(t) = guid.and_then(|g| tags.remove(g)) {
                sink((info, t));
            }
        }
        Ok(())
    }
    /// Desired LRPs with only routing fields set (process_guid, domain,
    /// log_guid, instances, routes, modification_tag, metric_tags).
    async fn desired_lrp_routing_infos(
        &self,
        filter: &DesiredLrpFilter,
    ) -> DbResult<Vec<DesiredLrp>>;
    /// Stores a new desired LRP (ResourceExists if the guid is taken); sets
    /// a fresh modification tag epoch (index 0). Returns the stored record.
    async fn desire_lrp(&self, lrp: &DesiredLrp) -> DbResult<DesiredLrp>;
    /// Applies an update (instances, routes, annotation, metric tags, image
    /// credentials), bumps the modification tag index; returns (before, after).
    async fn update_desired_lrp(
        &self,
        process_guid: &str,
        update: &DesiredLrpUpdate,
    ) -> DbResult<(DesiredLrp, DesiredLrp)>;
    /// Removes a desired LRP; returns what was removed.
    async fn remove_desired_lrp(&self, process_guid: &str) -> DbResult<DesiredLrp>;

    // --- actual LRPs -------------------------------------------------------
    async fn actual_lrps(&self, filter: &ActualLrpFilter) -> DbResult<Vec<ActualLrp>>;
    /// `actual_lrps` as shared records (the LRP cache answers without
    /// copying them).
    async fn actual_lrps_shared(
        &self,
        filter: &ActualLrpFilter,
    ) -> DbResult<Vec<std::sync::Arc<ActualLrp>>> {
        Ok(self
            .actual_lrps(filter)
            .await?
            .into_iter()
            .map(std::sync::Arc::new)
            .collect())
    }
    async fn actual_lrps_by_process_guids(
        &self,
        process_guids: &[String],
    ) -> DbResult<Vec<ActualLrp>>;
    /// Creates an UNCLAIMED ordinary instance (ResourceExists if present).
    async fn create_unclaimed_actual_lrp(&self, key: &ActualLrpKey) -> DbResult<ActualLrp>;
    /// Moves the ordinary instance back to UNCLAIMED (placement cleared,
    /// modification tag bumped). With `is_stale`, a CLAIMED instance is left
    /// alone (ActualLRPCannotBeUnclaimed): its cell may still start it.
    async fn unclaim_actual_lrp(
        &self,
        is_stale: bool,
        key: &ActualLrpKey,
    ) -> DbResult<(ActualLrp, ActualLrp)>;
    /// Writes `after` over the stored `before` (same key and presence)
    /// only if the row still holds `before`'s modification tag, in one
    /// statement (its own transaction, one round trip). Ok(false): the row
    /// changed or is gone, or the store has no such write; the caller then
    /// takes the usual locked read-modify-write.
    async fn replace_actual_lrp_if_unchanged(
        &self,
        _before: &ActualLrp,
        _after: &ActualLrp,
    ) -> DbResult<bool> {
        Ok(false)
    }
    async fn claim_actual_lrp(
        &self,
        process_guid: &str,
        index: i32,
        instance_key: &ActualLrpInstanceKey,
    ) -> DbResult<(ActualLrp, ActualLrp)>;
    /// Starts the ordinary instance; creates a RUNNING row when none exists.
    /// `before` is None when the row was created.
    async fn start_actual_lrp(
        &self,
        key: &ActualLrpKey,
        instance_key: &ActualLrpInstanceKey,
        running: &RunningInfo,
    ) -> DbResult<(Option<ActualLrp>, ActualLrp)>;
    async fn crash_actual_lrp(
        &self,
        key: &ActualLrpKey,
        instance_key: &ActualLrpInstanceKey,
        crash_reason: &str,
    ) -> DbResult<CrashOutcome>;
    /// Records a placement error on an UNCLAIMED instance.
    async fn fail_actual_lrp(
        &self,
        key: &ActualLrpKey,
        placement_error: &str,
    ) -> DbResult<(ActualLrp, ActualLrp)>;
    /// Deletes the ordinary row for (guid, index), only if its instance key
    /// matches when one is given. Returns the removed row.
    async fn remove_actual_lrp(
        &self,
        process_guid: &str,
        index: i32,
        instance_key: Option<&ActualLrpInstanceKey>,
    ) -> DbResult<ActualLrp>;
    async fn change_actual_lrp_presence(
        &self,
        key: &ActualLrpKey,
        from: models::actual_lrp::Presence,
        to: models::actual_lrp::Presence,
    ) -> DbResult<(ActualLrp, ActualLrp)>;
    /// (claimed, unclaimed, running, crashed, missing) counts for metrics.
    async fn count_actual_lrps_by_state(&self) -> DbResult<ActualLrpCounts>;
    async fn count_desired_instances(&self) -> DbResult<i64>;

    // --- evacuation and suspects -----------------------------------------
    async fn remove_evacuating_actual_lrp(
        &self,
        key: &ActualLrpKey,
        instance_key: &ActualLrpInstanceKey,
    ) -> DbResult<ActualLrp>;
    /// Creates or replaces the EVACUATING row for this instance (RUNNING).
    async fn evacuate_actual_lrp(
        &self,
        key: &ActualLrpKey,
        instance_key: &ActualLrpInstanceKey,
        running: &RunningInfo,
    ) -> DbResult<ActualLrp>;
    async fn remove_suspect_actual_lrp(&self, key: &ActualLrpKey) -> DbResult<ActualLrp>;
    /// Turns the SUSPECT row of an index back into the ordinary one,
    /// deleting the ordinary (replacement) row if there is one. Returns
    /// (suspect before, promoted after, removed replacement).
    async fn promote_suspect_actual_lrp(
        &self,
        process_guid: &str,
        index: i32,
    ) -> DbResult<(ActualLrp, ActualLrp, Option<ActualLrp>)>;

    // --- convergence -------------------------------------------------------
    /// One LRP convergence pass over the store (Diego's `ConvergeLRPs`):
    /// prunes expired domains and EVACUATING rows on absent cells (the
    /// only changes it makes itself) and reports what the convergence
    /// controller must do. Failures are logged; what could be computed is
    /// returned.
    async fn converge_lrps(&self, cells: &CellSet, now_ns: i64) -> ConvergenceResult;
    /// The writes of an LRP convergence pass alone: prunes expired domains
    /// and the EVACUATING rows of absent cells; returns the removed rows.
    async fn prune_for_lrp_convergence(&self, cells: &CellSet, now_ns: i64) -> Vec<ActualLrp>;
    /// Drops the store's own read caches for good (the LRP cache in front
    /// of it holds the same data).
    fn turn_off_read_caches(&self) {}
    /// One task convergence pass (Diego's `ConvergeTasks`): fails expired
    /// PENDING tasks and RUNNING tasks on absent cells, demotes stuck
    /// RESOLVING tasks, deletes expired COMPLETED tasks; reports which
    /// tasks to auction and which to hand to the completion callbacks.
    async fn converge_tasks(
        &self,
        cells: &CellSet,
        kick_task_duration: Duration,
        expire_pending_task_duration: Duration,
        expire_completed_task_duration: Duration,
        now_ns: i64,
    ) -> TaskConvergenceResult;

    // --- tasks -------------------------------------------------------------
    async fn tasks(&self, filter: &TaskFilter) -> DbResult<Vec<Task>>;
    /// One page of `tasks` (see `desired_lrps_page`).
    async fn tasks_page(
        &self,
        filter: &TaskFilter,
        after: Option<&str>,
        limit: usize,
    ) -> DbResult<Page<Task>>;
    async fn task_by_guid(&self, task_guid: &str) -> DbResult<Task>;
    async fn desire_task(
        &self,
        definition: &TaskDefinition,
        task_guid: &str,
        domain: &str,
    ) -> DbResult<Task>;
    /// Returns (before, after, should_start); starting a task already
    /// running on the same cell answers should_start=false without error.
    async fn start_task(&self, task_guid: &str, cell_id: &str) -> DbResult<(Task, Task, bool)>;
    /// Returns (before, after, cell_id it was running on).
    async fn cancel_task(&self, task_guid: &str) -> DbResult<(Task, Task, String)>;
    async fn fail_task(&self, task_guid: &str, failure_reason: &str) -> DbResult<(Task, Task)>;
    /// Back to Pending with rejection_count+1, or Completed(failed) once the
    /// count reaches `max_retries`.
    async fn reject_task(
        &self,
        task_guid: &str,
        rejection_reason: &str,
        max_retries: i32,
    ) -> DbResult<(Task, Task)>;
    async fn complete_task(
        &self,
        task_guid: &str,
        cell_id: &str,
        failed: bool,
        failure_reason: &str,
        result: &str,
    ) -> DbResult<(Task, Task)>;
    async fn resolving_task(&self, task_guid: &str) -> DbResult<(Task, Task)>;
    /// Deletes a task in the Resolving state; returns it.
    async fn delete_task(&self, task_guid: &str) -> DbResult<Task>;
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ActualLrpCounts {
    pub claimed: i64,
    pub unclaimed: i64,
    pub running: i64,
    pub crashed: i64,
    pub crashing_desireds: i64,
}

/// A desired LRP's scheduling info with its metric tags (what the LRP
/// cache keeps of it).
pub type SchedulingInfoAndTags = (
    DesiredLrpSchedulingInfo,
    BTreeMap<String, models::MetricTagValue>,
);

/// The ids of the cells that currently have a presence.
pub type CellSet = BTreeSet<String>;

/// A protobuf answer of known length produced in pieces as it is sent (a
/// list of 250,000 records is never built whole).
pub struct EncodedAnswer {
    pub len: usize,
    pub chunks: Box<dyn Iterator<Item = bytes::Bytes> + Send>,
}

impl EncodedAnswer {
    /// The whole answer in one buffer (tests).
    pub fn concat(self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.len);
        for c in self.chunks {
            out.extend_from_slice(&c);
        }
        out
    }
}

/// One page of a list and the cursor of the next one (None: the last).
/// A record present for the whole listing is in exactly one page; one
/// written meanwhile may or may not be (each page is its own read).
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
}

/// An instance key with its desired LRP's scheduling info (for auctions).
#[derive(Debug, Clone, PartialEq)]
pub struct KeyWithSchedulingInfo {
    pub key: ActualLrpKey,
    pub scheduling_info: DesiredLrpSchedulingInfo,
}

/// A running instance whose internal routes differ from its desired LRP's.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyWithInternalRoutes {
    pub key: ActualLrpKey,
    pub instance_key: ActualLrpInstanceKey,
    pub desired_internal_routes: Vec<ActualLrpInternalRoute>,
}

/// A running instance whose metric tags differ from its desired LRP's.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyWithMetricTags {
    pub key: ActualLrpKey,
    pub instance_key: ActualLrpInstanceKey,
    pub desired_metric_tags: BTreeMap<String, String>,
}

/// What one LRP convergence pass found (Diego's `db.ConvergenceResult`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConvergenceResult {
    /// Indices below `instances` with no ordinary row: create + auction.
    pub missing_lrp_keys: Vec<KeyWithSchedulingInfo>,
    /// Stale UNCLAIMED and restartable CRASHED instances: unclaim + auction.
    pub unstarted_lrp_keys: Vec<KeyWithSchedulingInfo>,
    /// Extra indices of fresh domains and orphans: retire.
    pub keys_to_retire: Vec<ActualLrpKey>,
    /// Orphaned suspects and suspects whose ordinary is RUNNING: remove.
    pub suspect_keys_to_retire: Vec<ActualLrpKey>,
    /// Ordinary CLAIMED/RUNNING instances on cells without presence.
    pub keys_with_missing_cells: Vec<KeyWithSchedulingInfo>,
    pub missing_cell_ids: Vec<String>,
    /// EVACUATING rows deleted because their cell is gone (for events).
    pub removed_evacuating: Vec<ActualLrp>,
    /// Suspects whose cell has a presence again: promote.
    pub suspect_keys_with_existing_cells: Vec<ActualLrpKey>,
    pub suspect_running_keys: Vec<ActualLrpKey>,
    pub suspect_claimed_keys: Vec<ActualLrpKey>,
    pub keys_with_internal_route_changes: Vec<KeyWithInternalRoutes>,
    pub keys_with_metric_tag_changes: Vec<KeyWithMetricTags>,
}

/// Task counts and kicks of one task convergence pass.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TaskConvergenceMetrics {
    pub pending: i64,
    pub running: i64,
    pub completed: i64,
    pub resolving: i64,
    pub pruned: u64,
    pub kicked: u64,
}

/// What one task convergence pass did and found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TaskConvergenceResult {
    /// Tasks changed by the pass, (before, after): task_changed events.
    pub changed: Vec<(Task, Task)>,
    /// Tasks deleted by the pass: task_removed events.
    pub removed: Vec<Task>,
    /// PENDING tasks to auction again.
    pub tasks_to_auction: Vec<Task>,
    /// COMPLETED tasks to resubmit to the completion callbacks.
    pub tasks_to_complete: Vec<Task>,
    pub metrics: TaskConvergenceMetrics,
}
