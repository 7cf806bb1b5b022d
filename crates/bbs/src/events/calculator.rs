//! Which events an actual-LRP change produces, on the group hub (deprecated
//! `actual_lrp_*`) and on the instance hub, with Diego's rules: running
//! and crash events first, group events resolved from all rows of an index.

use super::{Event, Hubs};
use models::actual_lrp::Presence;
use models::actual_lrp_state::{CLAIMED, CRASHED, RUNNING, UNCLAIMED};
use models::{
    ActualLrp, ActualLrpChangedEvent, ActualLrpCrashedEvent, ActualLrpCreatedEvent, ActualLrpGroup,
    ActualLrpInstanceChangedEvent, ActualLrpInstanceCreatedEvent, ActualLrpInstanceKey,
    ActualLrpInstanceRemovedEvent, ActualLrpKey, ActualLrpRemovedEvent,
};

/// The rows of one (process_guid, index) as they change; None marks a
/// removed row.
pub type LrpSet = Vec<Option<ActualLrp>>;

pub fn set_of(lrps: &[ActualLrp]) -> LrpSet {
    lrps.iter().cloned().map(Some).collect()
}

/// Replaces the row holding `before`'s instance key by `after` (or appends
/// `after` when no row matches).
pub fn record_change(
    before: Option<&ActualLrp>,
    after: Option<ActualLrp>,
    lrps: &LrpSet,
) -> LrpSet {
    let mut found = false;
    let mut out: LrpSet = Vec::with_capacity(lrps.len() + 1);
    for l in lrps {
        match (l, before) {
            (None, _) => out.push(None),
            (Some(l), Some(b)) if l.instance_key() == b.instance_key() => {
                out.push(after.clone());
                found = true;
            }
            (Some(l), _) => out.push(Some(l.clone())),
        }
    }
    if !found {
        out.push(after);
    }
    out
}

/// The group of one index (instance + evacuating) from its rows.
pub fn resolve_group(lrps: &[ActualLrp]) -> ActualLrpGroup {
    models::resolve_actual_lrp_groups(lrps)
        .into_iter()
        .next()
        .unwrap_or_default()
}

/// Diego's ActualLRPGroup.Resolve: the record a group stands for.
pub fn resolve(group: &ActualLrpGroup) -> Option<&ActualLrp> {
    match (&group.instance, &group.evacuating) {
        (None, None) => None,
        (None, Some(e)) => Some(e),
        (Some(i), None) => Some(i),
        (Some(i), Some(e)) => {
            if i.state == RUNNING || i.state == CRASHED {
                Some(i)
            } else {
                Some(e)
            }
        }
    }
}

fn group_of(lrp: &ActualLrp) -> ActualLrpGroup {
    lrp.to_group()
}

pub fn instance_changed(
    before: Option<&ActualLrp>,
    after: Option<&ActualLrp>,
    trace_id: &str,
) -> Event {
    let mut key = ActualLrpKey::default();
    let mut instance_key = ActualLrpInstanceKey::default();
    for l in [before, after].into_iter().flatten() {
        if l.key() != ActualLrpKey::default() {
            key = l.key();
        }
        if l.instance_key() != ActualLrpInstanceKey::default() {
            instance_key = l.instance_key();
        }
    }
    Event::ActualLrpInstanceChanged(ActualLrpInstanceChangedEvent {
        actual_lrp_key: Some(key),
        actual_lrp_instance_key: Some(instance_key),
        before: before.map(|l| l.to_info()),
        after: after.map(|l| l.to_info()),
        trace_id: trace_id.to_string(),
    })
}

pub fn instance_created(lrp: &ActualLrp, trace_id: &str) -> Event {
    Event::ActualLrpInstanceCreated(ActualLrpInstanceCreatedEvent {
        actual_lrp: Some(lrp.clone()),
        trace_id: trace_id.to_string(),
    })
}

pub fn instance_removed(lrp: &ActualLrp, trace_id: &str) -> Event {
    Event::ActualLrpInstanceRemoved(ActualLrpInstanceRemovedEvent {
        actual_lrp: Some(lrp.clone()),
        trace_id: trace_id.to_string(),
    })
}

pub fn crashed(before: &ActualLrp, after: &ActualLrp) -> Event {
    Event::ActualLrpCrashed(ActualLrpCrashedEvent {
        actual_lrp_key: Some(after.key()),
        actual_lrp_instance_key: Some(before.instance_key()),
        crash_count: after.crash_count,
        crash_reason: after.crash_reason.clone(),
        since: after.since,
    })
}

pub fn group_created(group: ActualLrpGroup) -> Event {
    Event::ActualLrpCreated(ActualLrpCreatedEvent {
        actual_lrp_group: Some(group),
    })
}

pub fn group_removed(group: ActualLrpGroup) -> Event {
    Event::ActualLrpRemoved(ActualLrpRemovedEvent {
        actual_lrp_group: Some(group),
    })
}

pub fn group_changed(before: ActualLrpGroup, after: ActualLrpGroup) -> Event {
    Event::ActualLrpChanged(ActualLrpChangedEvent {
        before: Some(before),
        after: Some(after),
    })
}

/// Ordering weight: crash events first, then events about running records.
pub fn event_score(e: &Event) -> u8 {
    let running = |l: Option<&ActualLrp>| l.map(|l| l.state == RUNNING).unwrap_or(false);
    match e {
        Event::ActualLrpCrashed(_) => 2,
        Event::ActualLrpCreated(ev) => {
            running(ev.actual_lrp_group.as_ref().and_then(resolve)) as u8
        }
        Event::ActualLrpChanged(ev) => running(ev.after.as_ref().and_then(resolve)) as u8,
        Event::ActualLrpInstanceCreated(ev) => running(ev.actual_lrp.as_ref()) as u8,
        Event::ActualLrpInstanceChanged(ev) => ev
            .after
            .as_ref()
            .map(|a| (a.state == RUNNING) as u8)
            .unwrap_or(0),
        _ => 0,
    }
}

fn sort_events(events: &mut [Event]) {
    events.sort_by_key(|e| std::cmp::Reverse(event_score(e)));
}

fn lrp_instance_events(
    before: Option<&ActualLrp>,
    after: Option<&ActualLrp>,
    trace_id: &str,
) -> Vec<Event> {
    match (before, after) {
        (None, None) => vec![],
        (Some(b), Some(a)) if b == a => vec![],
        (Some(b), None) => vec![instance_removed(b, trace_id)],
        (None, Some(a)) => vec![instance_created(a, trace_id)],
        (Some(b), Some(a)) => match a.state.as_str() {
            UNCLAIMED => {
                if b.state == UNCLAIMED {
                    vec![instance_changed(Some(b), Some(a), trace_id)]
                } else {
                    vec![instance_created(a, trace_id), instance_removed(b, trace_id)]
                }
            }
            CLAIMED | RUNNING => vec![instance_changed(Some(b), Some(a), trace_id)],
            CRASHED => vec![crashed(b, a), instance_changed(Some(b), Some(a), trace_id)],
            _ => vec![],
        },
    }
}

fn lrp_group_events(before: Option<&ActualLrp>, after: Option<&ActualLrp>) -> Vec<Event> {
    match (before, after) {
        (None, None) => vec![],
        (Some(b), Some(a)) if b == a => vec![],
        (Some(b), None) => vec![group_removed(group_of(b))],
        (None, Some(a)) => vec![group_created(group_of(a))],
        (Some(b), Some(a)) => match a.state.as_str() {
            UNCLAIMED => vec![group_changed(group_of(b), group_of(a))],
            CLAIMED | RUNNING => {
                let bk = b.instance_key();
                if !bk.is_empty() && a.instance_key() != bk {
                    vec![group_created(group_of(a)), group_removed(group_of(b))]
                } else {
                    vec![group_changed(group_of(b), group_of(a))]
                }
            }
            CRASHED => vec![crashed(b, a), group_changed(group_of(b), group_of(a))],
            _ => vec![],
        },
    }
}

fn present(set: &LrpSet) -> Vec<ActualLrp> {
    set.iter().flatten().cloned().collect()
}

/// Emits the events for a change of one index's rows from `before` to `after`.
pub fn emit_events(hubs: &Hubs, trace_id: &str, before: &LrpSet, after: &LrpSet) {
    let before_group = resolve_group(&present(before));
    let after_group = resolve_group(&present(after));
    let mut group_events = lrp_group_events(
        before_group.instance.as_ref(),
        after_group.instance.as_ref(),
    );
    group_events.extend(lrp_group_events(
        before_group.evacuating.as_ref(),
        after_group.evacuating.as_ref(),
    ));
    sort_events(&mut group_events);
    for e in group_events {
        hubs.actual.emit(e);
    }

    let mut events = Vec::new();
    for (i, a) in after.iter().enumerate() {
        let b = before.get(i).cloned().flatten();
        events.extend(lrp_instance_events(b.as_ref(), a.as_ref(), trace_id));
    }
    sort_events(&mut events);
    for e in events {
        hubs.actual_instance.emit(e);
    }
}

/// Emits the events of a crash (Diego's EmitCrashEvents): the crash event
/// goes with the change even when the instance was restarted at once.
pub fn emit_crash_events(hubs: &Hubs, trace_id: &str, before: &LrpSet, after: &LrpSet) {
    let before_group = resolve_group(&present(before));
    let after_group = resolve_group(&present(after));
    let mut group_events = Vec::new();
    for (b, a) in [
        (
            before_group.instance.as_ref(),
            after_group.instance.as_ref(),
        ),
        (
            before_group.evacuating.as_ref(),
            after_group.evacuating.as_ref(),
        ),
    ] {
        if b == a {
            continue;
        }
        match (b, a) {
            (Some(b), None) => group_events.push(group_removed(group_of(b))),
            (None, Some(a)) => group_events.push(group_created(group_of(a))),
            (Some(b), Some(a)) => {
                group_events.push(crashed(b, a));
                group_events.push(group_changed(before_group.clone(), after_group.clone()));
            }
            (None, None) => {}
        }
    }
    sort_events(&mut group_events);
    for e in group_events {
        hubs.actual.emit(e);
    }

    let mut events = Vec::new();
    for (i, a) in after.iter().enumerate() {
        let b = before.get(i).cloned().flatten();
        match (b.as_ref(), a.as_ref()) {
            (b, a) if b == a => {}
            (Some(b), None) => events.push(instance_removed(b, trace_id)),
            (None, Some(a)) => events.push(instance_created(a, trace_id)),
            (Some(b), Some(a)) if a.state == CRASHED => {
                events.push(crashed(b, a));
                events.push(instance_changed(Some(b), Some(a), trace_id));
            }
            (Some(b), Some(a)) => {
                events.push(crashed(b, a));
                events.push(instance_created(a, trace_id));
                events.push(instance_removed(b, trace_id));
            }
            (None, None) => {}
        }
    }
    sort_events(&mut events);
    for e in events {
        hubs.actual_instance.emit(e);
    }
}

/// Is an event's instance (maybe unset: cell "") on `cell_id`?
fn lrp_on_cell(l: &Option<ActualLrp>, cell_id: &str) -> bool {
    l.as_ref().map(|l| l.cell_id()).unwrap_or("") == cell_id
}

/// Is an event's instance key (maybe unset: cell "") on `cell_id`?
fn key_on_cell(k: &Option<ActualLrpInstanceKey>, cell_id: &str) -> bool {
    k.as_ref().map(|k| k.cell_id.as_str()).unwrap_or("") == cell_id
}

/// Does an instance-hub event concern `cell_id` (Diego's lrp_instances filter)?
pub fn instance_event_matches_cell(cell_id: &str, e: &Event) -> bool {
    match e {
        Event::ActualLrpInstanceCreated(ev) => lrp_on_cell(&ev.actual_lrp, cell_id),
        Event::ActualLrpInstanceChanged(ev) => key_on_cell(&ev.actual_lrp_instance_key, cell_id),
        Event::ActualLrpInstanceRemoved(ev) => lrp_on_cell(&ev.actual_lrp, cell_id),
        Event::ActualLrpCrashed(ev) => key_on_cell(&ev.actual_lrp_instance_key, cell_id),
        _ => true,
    }
}

/// Does a group-hub event concern `cell_id` (the deprecated stream's filter)?
pub fn group_event_matches_cell(cell_id: &str, e: &Event) -> bool {
    let cell_of = |g: Option<&ActualLrpGroup>| g.and_then(resolve).map(|l| l.cell_id().to_string());
    match e {
        Event::ActualLrpCreated(ev) => {
            cell_of(ev.actual_lrp_group.as_ref()).as_deref() == Some(cell_id)
        }
        Event::ActualLrpChanged(ev) => {
            cell_of(ev.before.as_ref()).as_deref() == Some(cell_id)
                || cell_of(ev.after.as_ref()).as_deref() == Some(cell_id)
        }
        Event::ActualLrpRemoved(ev) => {
            cell_of(ev.actual_lrp_group.as_ref()).as_deref() == Some(cell_id)
        }
        Event::ActualLrpCrashed(ev) => key_on_cell(&ev.actual_lrp_instance_key, cell_id),
        _ => true,
    }
}

/// Is this row an evacuating one?
pub fn is_evacuating(l: &ActualLrp) -> bool {
    l.presence() == Presence::Evacuating
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lrp(state: &str, ig: &str) -> ActualLrp {
        let mut l = ActualLrp::new_unclaimed(ActualLrpKey::new("pg", 0, "d"), 1);
        l.state = state.into();
        if !ig.is_empty() {
            l.actual_lrp_instance_key = Some(ActualLrpInstanceKey::new(ig, "cell"));
        }
        l
    }

    fn drain(rx: &mut crate::events::EventReceiver) -> Vec<&'static str> {
        let mut out = vec![];
        while let Ok(e) = rx.try_recv() {
            out.push(e.event_type());
        }
        out
    }

    #[test]
    fn claim_emits_changed_events() {
        let hubs = Hubs::new();
        let mut inst = hubs.actual_instance.subscribe().unwrap();
        let mut grp = hubs.actual.subscribe().unwrap();
        let before = set_of(&[lrp(UNCLAIMED, "")]);
        let after = record_change(before[0].as_ref(), Some(lrp(CLAIMED, "ig")), &before);
        emit_events(&hubs, "", &before, &after);
        assert_eq!(drain(&mut inst), vec!["actual_lrp_instance_changed"]);
        assert_eq!(drain(&mut grp), vec!["actual_lrp_changed"]);
    }

    #[test]
    fn crash_with_restart_emits_crash_created_removed() {
        let hubs = Hubs::new();
        let mut inst = hubs.actual_instance.subscribe().unwrap();
        let before = set_of(&[lrp(RUNNING, "ig")]);
        let after = record_change(before[0].as_ref(), Some(lrp(UNCLAIMED, "")), &before);
        emit_crash_events(&hubs, "", &before, &after);
        assert_eq!(
            drain(&mut inst),
            vec![
                "actual_lrp_crashed",
                "actual_lrp_instance_created",
                "actual_lrp_instance_removed"
            ]
        );
    }

    #[test]
    fn record_change_appends_new_rows() {
        let before: LrpSet = vec![];
        let after = record_change(None, Some(lrp(UNCLAIMED, "")), &before);
        assert_eq!(after.len(), 1);
        let hubs = Hubs::new();
        let mut inst = hubs.actual_instance.subscribe().unwrap();
        emit_events(&hubs, "", &before, &after);
        assert_eq!(drain(&mut inst), vec!["actual_lrp_instance_created"]);
    }
}
