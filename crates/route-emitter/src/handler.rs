//! How each BBS event changes the routing table (Diego's route handler):
//! only RUNNING, routable instances are endpoints; an instance that starts
//! evacuating stays routable under its evacuating key until removed.

use crate::events::LrpEvent;
use crate::routing_table::{is_routable, RoutingTable};
use models::actual_lrp::Presence;
use models::actual_lrp_state::RUNNING;

/// The process an event is about.
pub fn process_guid(ev: &LrpEvent) -> &str {
    match ev {
        LrpEvent::DesiredCreated(d) | LrpEvent::DesiredRemoved(d) => &d.process_guid,
        LrpEvent::DesiredChanged { after, .. } => &after.process_guid,
        LrpEvent::InstanceCreated(a) | LrpEvent::InstanceRemoved(a) => a.process_guid(),
        LrpEvent::InstanceChanged { after, .. } => after.process_guid(),
    }
}

/// A RUNNING, routable instance the event makes routable (whose desired
/// routes the table may need to fetch first).
pub fn running_instance(ev: &LrpEvent) -> Option<&models::ActualLrp> {
    match ev {
        LrpEvent::InstanceCreated(a) if is_routable(a) => Some(a),
        LrpEvent::InstanceChanged { after, .. } if is_routable(after) => Some(after),
        _ => None,
    }
}

pub fn apply(table: &mut RoutingTable, ev: &LrpEvent) {
    match ev {
        LrpEvent::DesiredCreated(d) => table.set_desired(d),
        LrpEvent::DesiredChanged { after, .. } => table.set_desired(after),
        LrpEvent::DesiredRemoved(d) => table.remove_desired(d),
        LrpEvent::InstanceCreated(a) => {
            if is_routable(a) {
                table.add_endpoint(a);
            }
        }
        LrpEvent::InstanceChanged { before, after } => {
            if after.state == RUNNING {
                if is_routable(after) {
                    table.add_endpoint(after);
                } else {
                    table.remove_endpoint(after);
                }
                let evacuating = Presence::Evacuating as i32;
                if before.state == RUNNING
                    && before.presence != evacuating
                    && after.presence == evacuating
                {
                    table.remove_endpoint(before);
                }
            } else if before.state == RUNNING {
                table.remove_endpoint(before);
            }
        }
        LrpEvent::InstanceRemoved(a) => {
            if a.state == RUNNING {
                table.remove_endpoint(a);
            }
        }
    }
}
