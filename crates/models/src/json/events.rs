//! Event payloads (Diego's events.proto) and their event type names.

use super::codec::{Named, NonNull};
use super::enums::PresenceName;
use super::oneof::InfoRoutable;
use crate::pb::*;

/// An event message and the type name Diego's event streams give it.
pub trait DiegoEvent {
    const EVENT_TYPE: &'static str;
}

macro_rules! event_type {
    ($($ty:ty => $name:literal),* $(,)?) => {$(
        impl DiegoEvent for $ty {
            const EVENT_TYPE: &'static str = $name;
        }
    )*};
}

event_type!(
    DesiredLrpCreatedEvent => "desired_lrp_created",
    DesiredLrpChangedEvent => "desired_lrp_changed",
    DesiredLrpRemovedEvent => "desired_lrp_removed",
    ActualLrpCreatedEvent => "actual_lrp_created",
    ActualLrpChangedEvent => "actual_lrp_changed",
    ActualLrpRemovedEvent => "actual_lrp_removed",
    ActualLrpCrashedEvent => "actual_lrp_crashed",
    ActualLrpInstanceCreatedEvent => "actual_lrp_instance_created",
    ActualLrpInstanceChangedEvent => "actual_lrp_instance_changed",
    ActualLrpInstanceRemovedEvent => "actual_lrp_instance_removed",
    TaskCreatedEvent => "task_created",
    TaskChangedEvent => "task_changed",
    TaskRemovedEvent => "task_removed",
);

go_struct!(ActualLrpCreatedEvent, "ActualLRPCreatedEvent", {
    ["actual_lrp_group" => actual_lrp_group, omitempty],
});

go_struct!(ActualLrpChangedEvent, "ActualLRPChangedEvent", {
    ["before" => before, omitempty],
    ["after" => after, omitempty],
});

go_struct!(ActualLrpRemovedEvent, "ActualLRPRemovedEvent", {
    ["actual_lrp_group" => actual_lrp_group, omitempty],
});

go_struct!(ActualLrpInstanceCreatedEvent, "ActualLRPInstanceCreatedEvent", {
    ["actual_lrp" => actual_lrp, omitempty],
    ["trace_id" => trace_id],
});

go_struct!(ActualLrpInfo, "ActualLRPInfo", {
    [embed actual_lrp_net_info: ActualLrpNetInfo],
    ["crash_count" => crash_count],
    ["crash_reason" => crash_reason, omitempty],
    ["state" => state],
    ["placement_error" => placement_error, omitempty],
    ["since" => since],
    ["modification_tag" => modification_tag as NonNull],
    ["presence" => presence as Named<PresenceName>],
    ["OptionalRoutable" => optional_routable as InfoRoutable],
    ["availability_zone" => availability_zone],
});

go_struct!(ActualLrpInstanceChangedEvent, "ActualLRPInstanceChangedEvent", {
    [embed actual_lrp_key: ActualLrpKey],
    [embed actual_lrp_instance_key: ActualLrpInstanceKey],
    ["before" => before, omitempty],
    ["after" => after, omitempty],
    ["trace_id" => trace_id],
});

go_struct!(ActualLrpInstanceRemovedEvent, "ActualLRPInstanceRemovedEvent", {
    ["actual_lrp" => actual_lrp, omitempty],
    ["trace_id" => trace_id],
});

go_struct!(DesiredLrpCreatedEvent, "DesiredLRPCreatedEvent", {
    ["desired_lrp" => desired_lrp, omitempty],
    ["trace_id" => trace_id],
});

go_struct!(DesiredLrpChangedEvent, "DesiredLRPChangedEvent", {
    ["before" => before, omitempty],
    ["after" => after, omitempty],
    ["trace_id" => trace_id],
});

go_struct!(DesiredLrpRemovedEvent, "DesiredLRPRemovedEvent", {
    ["desired_lrp" => desired_lrp, omitempty],
    ["trace_id" => trace_id],
});

go_struct!(ActualLrpCrashedEvent, "ActualLRPCrashedEvent", {
    [embed actual_lrp_key: ActualLrpKey],
    [embed actual_lrp_instance_key: ActualLrpInstanceKey],
    ["crash_count" => crash_count],
    ["crash_reason" => crash_reason, omitempty],
    ["since" => since],
});

go_struct!(EventsByCellId, "EventsByCellId", {
    ["cell_id" => cell_id],
});

go_struct!(TaskCreatedEvent, "TaskCreatedEvent", {
    ["task" => task, omitempty],
});

go_struct!(TaskChangedEvent, "TaskChangedEvent", {
    ["before" => before, omitempty],
    ["after" => after, omitempty],
});

go_struct!(TaskRemovedEvent, "TaskRemovedEvent", {
    ["task" => task, omitempty],
});
