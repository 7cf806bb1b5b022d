//! The BBS API's routes (Diego's `bbs/routes.go`): name, method and path,
//! shared by the server that serves them and the client that calls them.

/// One route of the BBS API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// Diego's route name (what the BBS's request metrics are labelled by).
    pub name: &'static str,
    pub method: &'static str,
    pub path: &'static str,
}

macro_rules! routes {
    ($($konst:ident = $method:literal $path:literal $name:literal;)*) => {
        $(pub const $konst: Route = Route { name: $name, method: $method, path: $path };)*

        /// Every route, in Diego's order.
        pub const ROUTES: &[Route] = &[$($konst),*];
    };
}

routes! {
    PING = "POST" "/v1/ping" "Ping";
    DOMAINS = "POST" "/v1/domains/list" "Domains";
    UPSERT_DOMAIN = "POST" "/v1/domains/upsert" "UpsertDomain";

    ACTUAL_LRPS = "POST" "/v1/actual_lrps/list" "ActualLRPs";
    ACTUAL_LRPS_BY_PROCESS_GUIDS = "POST" "/v1/actual_lrps/list_by_process_guids" "ActualLRPsByProcessGuids";
    ACTUAL_LRP_GROUPS = "POST" "/v1/actual_lrp_groups/list" "ActualLRPGroups";
    ACTUAL_LRP_GROUPS_BY_PROCESS_GUID = "POST" "/v1/actual_lrp_groups/list_by_process_guid" "ActualLRPGroupsByProcessGuid";
    ACTUAL_LRP_GROUP_BY_PROCESS_GUID_AND_INDEX = "POST" "/v1/actual_lrp_groups/get_by_process_guid_and_index" "ActualLRPGroupsByProcessGuidAndIndex";

    CLAIM_ACTUAL_LRP = "POST" "/v1/actual_lrps/claim" "ClaimActualLRP";
    START_ACTUAL_LRP = "POST" "/v1/actual_lrps/start.r1" "StartActualLRP";
    START_ACTUAL_LRP_R0 = "POST" "/v1/actual_lrps/start" "StartActualLRP_r0";
    CRASH_ACTUAL_LRP = "POST" "/v1/actual_lrps/crash" "CrashActualLRP";
    FAIL_ACTUAL_LRP = "POST" "/v1/actual_lrps/fail" "FailActualLRP";
    REMOVE_ACTUAL_LRP = "POST" "/v1/actual_lrps/remove" "RemoveActualLRP";
    RETIRE_ACTUAL_LRP = "POST" "/v1/actual_lrps/retire" "RetireActualLRP";

    REMOVE_EVACUATING_ACTUAL_LRP = "POST" "/v1/actual_lrps/remove_evacuating" "RemoveEvacuatingActualLRP";
    EVACUATE_CLAIMED_ACTUAL_LRP = "POST" "/v1/actual_lrps/evacuate_claimed" "EvacuateClaimedActualLRP";
    EVACUATE_CRASHED_ACTUAL_LRP = "POST" "/v1/actual_lrps/evacuate_crashed" "EvacuateCrashedActualLRP";
    EVACUATE_STOPPED_ACTUAL_LRP = "POST" "/v1/actual_lrps/evacuate_stopped" "EvacuateStoppedActualLRP";
    EVACUATE_RUNNING_ACTUAL_LRP = "POST" "/v1/actual_lrps/evacuate_running.r1" "EvacuateRunningActualLRP";
    EVACUATE_RUNNING_ACTUAL_LRP_R0 = "POST" "/v1/actual_lrps/evacuate_running" "EvacuateRunningActualLRP_r0";

    DESIRED_LRP_SCHEDULING_INFOS = "POST" "/v1/desired_lrp_scheduling_infos/list" "DesiredLRPSchedulingInfos";
    DESIRED_LRP_SCHEDULING_INFO_BY_PROCESS_GUID = "POST" "/v1/desired_lrp_scheduling_infos/get_by_process_guid" "DesiredLRPSchedulingInfoByProcessGuid";
    DESIRED_LRP_ROUTING_INFOS = "POST" "/v1/desired_lrp_routing_infos/list" "DesiredLRPRoutingInfos";
    DESIRED_LRPS = "POST" "/v1/desired_lrps/list.r3" "DesiredLRPs";
    DESIRED_LRP_BY_PROCESS_GUID = "POST" "/v1/desired_lrps/get_by_process_guid.r3" "DesiredLRPByProcessGuid";
    DESIRED_LRPS_R2 = "POST" "/v1/desired_lrps/list.r2" "DesiredLRPs_r2";
    DESIRED_LRP_BY_PROCESS_GUID_R2 = "POST" "/v1/desired_lrps/get_by_process_guid.r2" "DesiredLRPByProcessGuid_r2";

    DESIRE_DESIRED_LRP = "POST" "/v1/desired_lrp/desire.r2" "DesireDesiredLRP";
    UPDATE_DESIRED_LRP = "POST" "/v1/desired_lrp/update" "UpdateDesireLRP";
    REMOVE_DESIRED_LRP = "POST" "/v1/desired_lrp/remove" "RemoveDesiredLRP";

    TASKS = "POST" "/v1/tasks/list.r3" "Tasks";
    TASK_BY_GUID = "POST" "/v1/tasks/get_by_task_guid.r3" "TaskByGuid";
    TASKS_R2 = "POST" "/v1/tasks/list.r2" "Tasks_r2";
    TASK_BY_GUID_R2 = "POST" "/v1/tasks/get_by_task_guid.r2" "TaskByGuid_r2";

    DESIRE_TASK = "POST" "/v1/tasks/desire.r2" "DesireTask";
    START_TASK = "POST" "/v1/tasks/start" "StartTask";
    CANCEL_TASK = "POST" "/v1/tasks/cancel" "CancelTask";
    FAIL_TASK = "POST" "/v1/tasks/fail" "FailTask";
    REJECT_TASK = "POST" "/v1/tasks/reject" "RejectTask";
    COMPLETE_TASK = "POST" "/v1/tasks/complete" "CompleteTask";
    RESOLVING_TASK = "POST" "/v1/tasks/resolving" "ResolvingTask";
    DELETE_TASK = "POST" "/v1/tasks/delete" "DeleteTask";

    LRP_GROUP_EVENT_STREAM = "GET" "/v1/events.r1" "EventStream";
    TASK_EVENT_STREAM = "POST" "/v1/events/tasks.r1" "TaskEventStream";
    LRP_INSTANCE_EVENT_STREAM = "POST" "/v1/events/lrp_instances.r1" "LRPInstanceEventStream";
    EVENT_STREAM_R0 = "GET" "/v1/events" "EventStream_r0";
    TASK_EVENT_STREAM_R0 = "POST" "/v1/events/tasks" "TaskEventStream_r0";
    LRP_INSTANCE_EVENT_STREAM_R0 = "POST" "/v1/events/lrp_instances" "LrpInstanceEventStream_r0";

    CELLS = "POST" "/v1/cells/list.r1" "Cells";
}

impl Route {
    /// Whether the route answers with an event stream.
    pub fn is_event_stream(&self) -> bool {
        self.path.starts_with("/v1/events")
    }
}

/// The route serving `path`.
pub fn by_path(path: &str) -> Option<&'static Route> {
    ROUTES.iter().find(|r| r.path == path)
}
