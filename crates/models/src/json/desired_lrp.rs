//! Desired LRPs, their scheduling/run halves and updates (Diego's
//! desired_lrp.proto).

use super::oneof::{UpdateAnnotation, UpdateImagePassword, UpdateImageUsername, UpdateInstances};
use super::routes::{RoutesPtr, RoutesValue};
use crate::pb::*;

go_struct!(DesiredLrpKey, "DesiredLRPKey", {
    ["process_guid" => process_guid],
    ["domain" => domain],
    ["log_guid" => log_guid],
});

go_struct!(DesiredLrpResource, "DesiredLRPResource", {
    ["memory_mb" => memory_mb],
    ["disk_mb" => disk_mb],
    ["rootfs" => root_fs],
    ["max_pids" => max_pids],
});

go_struct!(DesiredLrpSchedulingInfo, "DesiredLRPSchedulingInfo", {
    [embed desired_lrp_key: DesiredLrpKey],
    ["annotation" => annotation],
    ["instances" => instances],
    [embed desired_lrp_resource: DesiredLrpResource],
    ["routes" => routes as RoutesValue],
    [embed modification_tag: ModificationTag],
    ["volume_placement" => volume_placement, omitempty],
    ["placement_tags" => placement_tags, omitempty],
});

go_struct!(DesiredLrpRunInfo, "DesiredLRPRunInfo", {
    [embed desired_lrp_key: DesiredLrpKey],
    ["env" => environment_variables],
    ["setup" => setup, omitempty],
    ["action" => action, omitempty],
    ["monitor" => monitor, omitempty],
    ["start_timeout" => deprecated_start_timeout_s, omitempty],
    ["privileged" => privileged],
    ["cpu_weight" => cpu_weight],
    ["ports" => ports, omitempty],
    ["egress_rules" => egress_rules],
    ["log_source" => log_source],
    ["metrics_guid" => metrics_guid],
    ["created_at" => created_at],
    ["cached_dependencies" => cached_dependencies, omitempty],
    ["legacy_download_user" => legacy_download_user, omitempty],
    ["trusted_system_certificates_path" => trusted_system_certificates_path, omitempty],
    ["volume_mounts" => volume_mounts, omitempty],
    ["network" => network, omitempty],
    ["start_timeout_ms" => start_timeout_ms],
    ["certificate_properties" => certificate_properties, omitempty],
    ["image_username" => image_username, omitempty],
    ["image_password" => image_password, omitempty],
    ["check_definition" => check_definition, omitempty],
    ["image_layers" => image_layers, omitempty],
    ["metric_tags" => metric_tags, omitempty],
    ["sidecars" => sidecars, omitempty],
    ["log_rate_limit" => log_rate_limit, omitempty],
    // Newer than the reference cfdot: only written when set (see `compat`).
    ["volume_mounted_files" => volume_mounted_files, omitempty],
});

// Go field order, not field-number order: start_timeout_ms (27) follows action.
go_struct!(DesiredLrp, "DesiredLRP", {
    ["process_guid" => process_guid],
    ["domain" => domain],
    ["rootfs" => root_fs],
    ["instances" => instances],
    ["env" => environment_variables],
    ["setup" => setup, omitempty],
    ["action" => action, omitempty],
    ["start_timeout_ms" => start_timeout_ms],
    ["deprecated_timeout_ns" => deprecated_start_timeout_s, omitempty],
    ["monitor" => monitor, omitempty],
    ["disk_mb" => disk_mb],
    ["memory_mb" => memory_mb],
    ["cpu_weight" => cpu_weight],
    ["privileged" => privileged],
    ["ports" => ports, omitempty],
    ["routes" => routes as RoutesPtr, omitempty],
    ["log_source" => log_source],
    ["log_guid" => log_guid],
    ["metrics_guid" => metrics_guid],
    ["annotation" => annotation],
    ["egress_rules" => egress_rules, omitempty],
    ["modification_tag" => modification_tag, omitempty],
    ["cached_dependencies" => cached_dependencies, omitempty],
    ["legacy_download_user" => legacy_download_user, omitempty],
    ["trusted_system_certificates_path" => trusted_system_certificates_path, omitempty],
    ["volume_mounts" => volume_mounts, omitempty],
    ["network" => network, omitempty],
    ["placement_tags" => placement_tags, omitempty],
    ["max_pids" => max_pids],
    ["certificate_properties" => certificate_properties, omitempty],
    ["image_username" => image_username, omitempty],
    ["image_password" => image_password, omitempty],
    ["check_definition" => check_definition, omitempty],
    ["image_layers" => image_layers, omitempty],
    ["metric_tags" => metric_tags, omitempty],
    ["sidecars" => sidecars, omitempty],
    ["log_rate_limit" => log_rate_limit, omitempty],
    // Newer than the reference cfdot: only written when set (see `compat`).
    ["volume_mounted_files" => volume_mounted_files, omitempty],
    ["update_strategy" => update_strategy, omitempty],
});

// Diego marshals updates through a private struct of pointers: a member is
// written exactly when its oneof (or the routes/metric tags) is set.
go_struct!(DesiredLrpUpdate, "internalDesiredLRPUpdate", {
    ["instances" => optional_instances as UpdateInstances, omitempty],
    ["routes" => routes as RoutesPtr, omitempty],
    ["annotation" => optional_annotation as UpdateAnnotation, omitempty],
    ["metric_tags" => metric_tags, omitempty],
    ["image_username" => optional_image_username as UpdateImageUsername, omitempty],
    ["image_password" => optional_image_password as UpdateImagePassword, omitempty],
});
