//! Tasks (Diego's task.proto and task_requests.proto).

use super::codec::Named;
use super::enums::TaskStateName;
use crate::pb::*;

go_struct!(TaskDefinition, "TaskDefinition", {
    ["rootfs" => root_fs],
    ["env" => environment_variables, omitempty],
    ["action" => action, omitempty],
    ["disk_mb" => disk_mb],
    ["memory_mb" => memory_mb],
    ["cpu_weight" => cpu_weight],
    ["privileged" => privileged],
    ["log_source" => log_source],
    ["log_guid" => log_guid],
    ["metrics_guid" => metrics_guid],
    ["result_file" => result_file],
    ["completion_callback_url" => completion_callback_url, omitempty],
    ["annotation" => annotation, omitempty],
    ["egress_rules" => egress_rules, omitempty],
    ["cached_dependencies" => cached_dependencies, omitempty],
    ["legacy_download_user" => legacy_download_user, omitempty],
    ["trusted_system_certificates_path" => trusted_system_certificates_path, omitempty],
    ["volume_mounts" => volume_mounts, omitempty],
    ["network" => network, omitempty],
    ["placement_tags" => placement_tags, omitempty],
    ["max_pids" => max_pids],
    ["certificate_properties" => certificate_properties, omitempty],
    ["image_username" => image_username],
    ["image_password" => image_password],
    ["image_layers" => image_layers, omitempty],
    ["log_rate_limit" => log_rate_limit, omitempty],
    ["metric_tags" => metric_tags, omitempty],
    // Newer than the reference cfdot: only written when set (see `compat`).
    ["volume_mounted_files" => volume_mounted_files, omitempty],
});

// The task definition is an embedded pointer: its members are promoted
// (and skipped entirely when it is nil).
go_struct!(Task, "Task", {
    [embed_ptr task_definition: TaskDefinition],
    ["task_guid" => task_guid],
    ["domain" => domain],
    ["created_at" => created_at],
    ["updated_at" => updated_at],
    ["first_completed_at" => first_completed_at],
    ["state" => state as Named<TaskStateName>],
    ["cell_id" => cell_id],
    ["result" => result],
    ["failed" => failed],
    ["failure_reason" => failure_reason],
    ["rejection_count" => rejection_count],
    ["rejection_reason" => rejection_reason],
});

go_struct!(DesireTaskRequest, "DesireTaskRequest", {
    ["task_definition" => task_definition],
    ["task_guid" => task_guid],
    ["domain" => domain],
});

// What the BBS POSTs to a task's completion_callback_url.
go_struct!(TaskCallbackResponse, "TaskCallbackResponse", {
    ["task_guid" => task_guid],
    ["failed" => failed],
    ["failure_reason" => failure_reason],
    ["result" => result],
    ["annotation" => annotation, omitempty],
    ["created_at" => created_at],
});
