//! Event stream routes (SSE). The LRP instance stream multiplexes desired
//! LRP and instance events; an optional `EventsByCellId` body keeps only the
//! instance events of that cell (desired events always pass). The
//! deprecated group stream does the same over ActualLRPGroup events. A body
//! that does not parse answers 500, as Diego.

use super::{read_body, App};
use crate::events::calculator::{group_event_matches_cell, instance_event_matches_cell};
use crate::events::sse::{event_stream, EventMap};
use crate::events::{Event, EventReceiver, Hub, Published};
use crate::versioning::{desired_lrp_version_down_to, task_version_down_to, Version};
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use models::{
    DesiredLrpChangedEvent, DesiredLrpCreatedEvent, DesiredLrpRemovedEvent, EventsByCellId,
    TaskChangedEvent, TaskCreatedEvent, TaskRemovedEvent,
};
use prost::Message;
use std::sync::Arc;

/// The event as a stream of version `v` writes it: the same `Arc` when
/// nothing changes (V3, or an event of another kind).
fn versioned(
    e: &Arc<Published>,
    v: Version,
    down: fn(&Event, Version) -> Option<Event>,
) -> Arc<Published> {
    if v == Version::V3 {
        return e.clone();
    }
    match down(e.event(), v) {
        Some(changed) => Arc::new(Published::new(changed)),
        None => e.clone(),
    }
}

fn version_desired(e: &Event, v: Version) -> Option<Event> {
    let down =
        |d: &Option<models::DesiredLrp>| d.as_ref().map(|d| desired_lrp_version_down_to(d, v));
    Some(match e {
        Event::DesiredLrpCreated(ev) => Event::DesiredLrpCreated(DesiredLrpCreatedEvent {
            desired_lrp: down(&ev.desired_lrp),
            trace_id: ev.trace_id.clone(),
        }),
        Event::DesiredLrpChanged(ev) => Event::DesiredLrpChanged(DesiredLrpChangedEvent {
            before: down(&ev.before),
            after: down(&ev.after),
            trace_id: ev.trace_id.clone(),
        }),
        Event::DesiredLrpRemoved(ev) => Event::DesiredLrpRemoved(DesiredLrpRemovedEvent {
            desired_lrp: down(&ev.desired_lrp),
            trace_id: ev.trace_id.clone(),
        }),
        _ => return None,
    })
}

fn version_task(e: &Event, v: Version) -> Option<Event> {
    let down = |t: &Option<models::Task>| t.as_ref().map(|t| task_version_down_to(t, v));
    Some(match e {
        Event::TaskCreated(ev) => Event::TaskCreated(TaskCreatedEvent {
            task: down(&ev.task),
        }),
        Event::TaskChanged(ev) => Event::TaskChanged(TaskChangedEvent {
            before: down(&ev.before),
            after: down(&ev.after),
        }),
        Event::TaskRemoved(ev) => Event::TaskRemoved(TaskRemovedEvent {
            task: down(&ev.task),
        }),
        _ => return None,
    })
}

fn sse_response(sources: Vec<(EventReceiver, EventMap)>) -> Response {
    let mut resp = Response::new(Body::from_stream(event_stream(sources)));
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream; charset=utf-8"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, no-store, must-revalidate"),
    );
    h.insert(header::CONNECTION, HeaderValue::from_static("keep-alive"));
    resp
}

async fn cell_filter(app: &App, body: Body) -> Result<String, StatusCode> {
    let bytes = read_body(body, app.max_body_bytes)
        .await
        .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
    EventsByCellId::decode(bytes.as_ref())
        .map(|r| r.cell_id)
        .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)
}

fn subscribe(hub: &Hub) -> Result<EventReceiver, StatusCode> {
    hub.subscribe().ok_or(StatusCode::INTERNAL_SERVER_ERROR)
}

async fn lrp_stream(app: Arc<App>, body: Body, version: Version, instances: bool) -> Response {
    let cell_id = match cell_filter(&app, body).await {
        Ok(c) => c,
        Err(r) => return r.into_response(),
    };
    tracing::info!(cell_id = %cell_id, instances, "subscribed to LRP event stream");
    let desired = match subscribe(&app.hubs.desired) {
        Ok(r) => r,
        Err(r) => return r.into_response(),
    };
    let actual_hub = if instances {
        &app.hubs.actual_instance
    } else {
        &app.hubs.actual
    };
    let actual = match subscribe(actual_hub) {
        Ok(r) => r,
        Err(r) => return r.into_response(),
    };
    let desired_map: EventMap = Box::new(move |e| Some(versioned(e, version, version_desired)));
    let actual_map: EventMap = Box::new(move |e| {
        if cell_id.is_empty() {
            return Some(e.clone());
        }
        let keep = if instances {
            instance_event_matches_cell(&cell_id, e.event())
        } else {
            group_event_matches_cell(&cell_id, e.event())
        };
        keep.then(|| e.clone())
    });
    sse_response(vec![(desired, desired_map), (actual, actual_map)])
}

async fn task_stream(app: Arc<App>, version: Version) -> Response {
    let tasks = match subscribe(&app.hubs.task) {
        Ok(r) => r,
        Err(r) => return r.into_response(),
    };
    let map: EventMap = Box::new(move |e| Some(versioned(e, version, version_task)));
    sse_response(vec![(tasks, map)])
}

pub async fn lrp_instance_events_r1(State(app): State<Arc<App>>, body: Body) -> Response {
    lrp_stream(app, body, Version::V3, true).await
}

pub async fn lrp_instance_events_r0(State(app): State<Arc<App>>, body: Body) -> Response {
    lrp_stream(app, body, Version::V0, true).await
}

pub async fn lrp_group_events_r1(State(app): State<Arc<App>>, body: Body) -> Response {
    lrp_stream(app, body, Version::V3, false).await
}

pub async fn lrp_group_events_r0(State(app): State<Arc<App>>, body: Body) -> Response {
    lrp_stream(app, body, Version::V0, false).await
}

pub async fn task_events_r1(State(app): State<Arc<App>>) -> Response {
    task_stream(app, Version::V3).await
}

pub async fn task_events_r0(State(app): State<Arc<App>>) -> Response {
    task_stream(app, Version::V0).await
}
