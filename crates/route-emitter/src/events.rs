//! The BBS LRP instance events (read by `bbs_client`) as the routing table
//! needs them: desired LRPs and whole actual LRPs before and after.

use models::events::Event;

#[derive(Debug, Clone)]
pub enum LrpEvent {
    DesiredCreated(Box<models::DesiredLrp>),
    DesiredChanged {
        before: Box<models::DesiredLrp>,
        after: Box<models::DesiredLrp>,
    },
    DesiredRemoved(Box<models::DesiredLrp>),
    InstanceCreated(models::ActualLrp),
    InstanceChanged {
        before: Box<models::ActualLrp>,
        after: Box<models::ActualLrp>,
    },
    InstanceRemoved(models::ActualLrp),
}

fn actual_from_info(
    key: Option<models::ActualLrpKey>,
    instance_key: Option<models::ActualLrpInstanceKey>,
    info: models::ActualLrpInfo,
) -> models::ActualLrp {
    models::ActualLrp {
        actual_lrp_key: key,
        actual_lrp_instance_key: instance_key,
        actual_lrp_net_info: info.actual_lrp_net_info,
        crash_count: info.crash_count,
        crash_reason: info.crash_reason,
        state: info.state,
        placement_error: info.placement_error,
        since: info.since,
        modification_tag: info.modification_tag,
        presence: info.presence,
        optional_routable: info.optional_routable.map(|r| match r {
            models::actual_lrp_info::OptionalRoutable::Routable(b) => {
                models::actual_lrp::OptionalRoutable::Routable(b)
            }
        }),
        availability_zone: info.availability_zone,
        ..Default::default()
    }
}

impl LrpEvent {
    /// The routing table's view of an event; None for events the
    /// route-emitter ignores (crashes are also sent as instance changes).
    pub fn from_event(event: Event) -> Option<LrpEvent> {
        Some(match event {
            Event::DesiredLrpCreated(e) => {
                LrpEvent::DesiredCreated(e.desired_lrp.map(Box::new).unwrap_or_default())
            }
            Event::DesiredLrpChanged(e) => LrpEvent::DesiredChanged {
                before: Box::new(e.before.unwrap_or_default()),
                after: Box::new(e.after.unwrap_or_default()),
            },
            Event::DesiredLrpRemoved(e) => {
                LrpEvent::DesiredRemoved(e.desired_lrp.map(Box::new).unwrap_or_default())
            }
            Event::ActualLrpInstanceCreated(e) => {
                LrpEvent::InstanceCreated(e.actual_lrp.unwrap_or_default())
            }
            Event::ActualLrpInstanceChanged(e) => {
                let (Some(before), Some(after)) = (e.before, e.after) else {
                    return None;
                };
                LrpEvent::InstanceChanged {
                    before: Box::new(actual_from_info(
                        e.actual_lrp_key.clone(),
                        e.actual_lrp_instance_key.clone(),
                        before,
                    )),
                    after: Box::new(actual_from_info(
                        e.actual_lrp_key,
                        e.actual_lrp_instance_key,
                        after,
                    )),
                }
            }
            Event::ActualLrpInstanceRemoved(e) => {
                LrpEvent::InstanceRemoved(e.actual_lrp.unwrap_or_default())
            }
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_instance_changed_with_routable() {
        let ev = models::ActualLrpInstanceChangedEvent {
            actual_lrp_key: Some(models::ActualLrpKey::new("pg", 1, "d")),
            actual_lrp_instance_key: Some(models::ActualLrpInstanceKey::new("ig", "cell")),
            before: Some(models::ActualLrpInfo {
                state: "CLAIMED".into(),
                ..Default::default()
            }),
            after: Some(models::ActualLrpInfo {
                state: "RUNNING".into(),
                optional_routable: Some(models::actual_lrp_info::OptionalRoutable::Routable(false)),
                ..Default::default()
            }),
            trace_id: String::new(),
        };
        let Some(LrpEvent::InstanceChanged { before, after }) =
            LrpEvent::from_event(Event::ActualLrpInstanceChanged(ev))
        else {
            panic!("not a change");
        };
        assert_eq!(before.state, "CLAIMED");
        assert_eq!(after.routable(), Some(false));
        assert_eq!(after.instance_key().instance_guid, "ig");
    }
}
