//! Request and response envelopes whose JSON form is plain `encoding/json`
//! (the BBS speaks protobuf; these are for logs, tools and tests).

use super::oneof::{EvacuateRoutable, RequestIndex, StartRoutable};
use crate::pb::*;

// Diego marshals this through a private struct with `index` as a pointer.
go_struct!(ActualLrPsRequest, "internalActualLRPsRequest", {
    ["domain" => domain],
    ["cell_id" => cell_id],
    ["process_guid" => process_guid],
    ["index" => optional_index as RequestIndex, omitempty],
});

go_struct!(ActualLrPsResponse, "ActualLRPsResponse", {
    ["error" => error, omitempty],
    ["actual_lrps" => actual_lrps, omitempty],
});

go_struct!(ActualLrpGroupsResponse, "ActualLRPGroupsResponse", {
    ["error" => error, omitempty],
    ["actual_lrp_groups" => actual_lrp_groups, omitempty],
});

go_struct!(ActualLrpLifecycleResponse, "ActualLRPLifecycleResponse", {
    ["error" => error, omitempty],
});

go_struct!(StartActualLrpRequest, "StartActualLRPRequest", {
    ["actual_lrp_key" => actual_lrp_key, omitempty],
    ["actual_lrp_instance_key" => actual_lrp_instance_key, omitempty],
    ["actual_lrp_net_info" => actual_lrp_net_info, omitempty],
    ["actual_lrp_internal_routes" => actual_lrp_internal_routes, omitempty],
    ["metric_tags" => metric_tags, omitempty],
    ["OptionalRoutable" => optional_routable as StartRoutable],
    ["availability_zone" => availability_zone],
});

go_struct!(EvacuateRunningActualLrpRequest, "EvacuateRunningActualLRPRequest", {
    ["actual_lrp_key" => actual_lrp_key, omitempty],
    ["actual_lrp_instance_key" => actual_lrp_instance_key, omitempty],
    ["actual_lrp_net_info" => actual_lrp_net_info, omitempty],
    ["actual_lrp_internal_routes" => actual_lrp_internal_routes, omitempty],
    ["metric_tags" => metric_tags, omitempty],
    ["OptionalRoutable" => optional_routable as EvacuateRoutable],
    ["availability_zone" => availability_zone],
});

go_struct!(DesiredLrPsResponse, "DesiredLRPsResponse", {
    ["error" => error, omitempty],
    ["desired_lrps" => desired_lrps, omitempty],
});

go_struct!(DesiredLrpResponse, "DesiredLRPResponse", {
    ["error" => error, omitempty],
    ["desired_lrp" => desired_lrp, omitempty],
});

go_struct!(DesiredLrpSchedulingInfosResponse, "DesiredLRPSchedulingInfosResponse", {
    ["error" => error, omitempty],
    ["desired_lrp_scheduling_infos" => desired_lrp_scheduling_infos, omitempty],
});

go_struct!(DesireLrpRequest, "DesireLRPRequest", {
    ["desired_lrp" => desired_lrp, omitempty],
});

go_struct!(UpdateDesiredLrpRequest, "UpdateDesiredLRPRequest", {
    ["process_guid" => process_guid],
    ["update" => update, omitempty],
});

go_struct!(DesiredLrpLifecycleResponse, "DesiredLRPLifecycleResponse", {
    ["error" => error, omitempty],
});

go_struct!(TasksResponse, "TasksResponse", {
    ["error" => error, omitempty],
    ["tasks" => tasks, omitempty],
});

go_struct!(TaskResponse, "TaskResponse", {
    ["error" => error, omitempty],
    ["task" => task, omitempty],
});

go_struct!(TaskLifecycleResponse, "TaskLifecycleResponse", {
    ["error" => error, omitempty],
});

go_struct!(DomainsResponse, "DomainsResponse", {
    ["error" => error, omitempty],
    ["domains" => domains, omitempty],
});

go_struct!(CellsResponse, "CellsResponse", {
    ["error" => error, omitempty],
    ["cells" => cells, omitempty],
});
