//! Container lifecycle events for the rep.

use crate::container::Container;

#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// Allocated and holding resources.
    Reserved(Container),
    /// The backend container exists (ours; Diego's rep re-claims on it).
    Created(Container),
    /// The action started and the startup checks passed (again when
    /// readiness changes `routable`).
    Running(Container),
    /// Finished; see `run_result`.
    Completed(Container),
}

impl Event {
    pub fn container(&self) -> &Container {
        match self {
            Event::Reserved(c) | Event::Created(c) | Event::Running(c) | Event::Completed(c) => c,
        }
    }

    /// Diego's event type names.
    pub fn event_type(&self) -> &'static str {
        match self {
            Event::Reserved(_) => "container_reserved",
            Event::Created(_) => "container_created",
            Event::Running(_) => "container_running",
            Event::Completed(_) => "container_complete",
        }
    }
}
