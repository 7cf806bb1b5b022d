//! Actual LRPs and their groups (Diego's actual_lrp.proto).

use super::codec::{Named, NonNull};
use super::enums::{PreferredAddressName, PresenceName};
use super::oneof::LrpRoutable;
use crate::pb::*;

go_struct!(ActualLrpGroup, "ActualLRPGroup", {
    ["instance" => instance, omitempty],
    ["evacuating" => evacuating, omitempty],
});

go_struct!(PortMapping, "PortMapping", {
    ["container_port" => container_port],
    ["host_port" => host_port],
    ["container_tls_proxy_port" => container_tls_proxy_port],
    ["host_tls_proxy_port" => host_tls_proxy_port],
});

go_struct!(ActualLrpKey, "ActualLRPKey", {
    ["process_guid" => process_guid],
    ["index" => index],
    ["domain" => domain],
});

go_struct!(ActualLrpInstanceKey, "ActualLRPInstanceKey", {
    ["instance_guid" => instance_guid],
    ["cell_id" => cell_id],
});

go_struct!(ActualLrpNetInfo, "ActualLRPNetInfo", {
    ["address" => address],
    ["ports" => ports],
    ["instance_address" => instance_address, omitempty],
    ["preferred_address" => preferred_address as Named<PreferredAddressName>],
    ["instance_ipv6_address" => instance_ipv6_address, omitempty],
});

go_struct!(ActualLrpInternalRoute, "ActualLRPInternalRoute", {
    ["hostname" => hostname],
});

go_struct!(ActualLrp, "ActualLRP", {
    [embed actual_lrp_key: ActualLrpKey],
    [embed actual_lrp_instance_key: ActualLrpInstanceKey],
    [embed actual_lrp_net_info: ActualLrpNetInfo],
    ["crash_count" => crash_count],
    ["crash_reason" => crash_reason, omitempty],
    ["state" => state],
    ["placement_error" => placement_error, omitempty],
    ["since" => since],
    ["modification_tag" => modification_tag as NonNull],
    ["presence" => presence as Named<PresenceName>],
    ["actual_lrp_internal_routes" => actual_lrp_internal_routes, omitempty],
    ["metric_tags" => metric_tags, omitempty],
    ["OptionalRoutable" => optional_routable as LrpRoutable],
    ["availability_zone" => availability_zone],
});
