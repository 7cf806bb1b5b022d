//! The JSON line cfdot prints for each BBS event: `{"type":...,"data":...}`.

use models::events::Event;
use models::json::{go_quote, GoJson};

/// The line cfdot prints for an event (`{"type":T,"data":EVENT}` + `\n`).
pub fn event_line(event: &Event) -> String {
    let data = match event {
        Event::DesiredLrpCreated(e) => e.to_go_json(),
        Event::DesiredLrpChanged(e) => e.to_go_json(),
        Event::DesiredLrpRemoved(e) => e.to_go_json(),
        Event::ActualLrpCreated(e) => e.to_go_json(),
        Event::ActualLrpChanged(e) => e.to_go_json(),
        Event::ActualLrpRemoved(e) => e.to_go_json(),
        Event::ActualLrpCrashed(e) => e.to_go_json(),
        Event::ActualLrpInstanceCreated(e) => e.to_go_json(),
        Event::ActualLrpInstanceChanged(e) => e.to_go_json(),
        Event::ActualLrpInstanceRemoved(e) => e.to_go_json(),
        Event::TaskCreated(e) => e.to_go_json(),
        Event::TaskChanged(e) => e.to_go_json(),
        Event::TaskRemoved(e) => e.to_go_json(),
    };
    format!(
        "{{\"type\":{},\"data\":{data}}}\n",
        go_quote(event.event_type())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_task_event_like_cfdot() {
        let ev = Event::TaskRemoved(models::TaskRemovedEvent {
            task: Some(models::Task {
                task_guid: "g".into(),
                ..Default::default()
            }),
        });
        let line = event_line(&ev);
        assert!(line.starts_with("{\"type\":\"task_removed\",\"data\":{\"task\":{"));
        assert!(line.ends_with("}}\n"));
    }
}
