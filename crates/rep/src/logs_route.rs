//! `GET /v1/lrps/{process_guid}/logs[?follow=true]`: the log lines of an
//! LRP's instances on this cell, for `diego logs`; and
//! `GET /v1/tasks/{task_guid}/logs[?follow=true]`: a task's (staging's
//! output), followed until its container is gone. Not Diego routes (Diego
//! ships logs through loggregator); plain text, one line per log line,
//! labelled as `cf logs` labels them: `[SOURCE/INDEX] OUT|ERR text`.

use crate::delegate::Context;
use crate::tags;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use executor::logs::{InstanceLog, LogLine, Stream};
use futures::stream::{self, StreamExt};
use serde::Deserialize;
use std::collections::HashSet;
use std::convert::Infallible;
use std::sync::Arc;
use tokio::sync::{broadcast, mpsc};

#[derive(Deserialize)]
pub struct LogsQuery {
    #[serde(default)]
    follow: bool,
}

fn render(index: &str, line: &LogLine) -> Bytes {
    let stream = match line.stream {
        Stream::Stdout => "OUT",
        Stream::Stderr => "ERR",
    };
    Bytes::from(format!(
        "[{}/{index}] {stream} {}\n",
        line.source, line.text
    ))
}

/// How often a follower looks for new instances (restarts, scale-ups).
const RESCAN: std::time::Duration = std::time::Duration::from_secs(1);

/// The LRP's containers with a log: (container guid, index, log).
async fn instance_logs(
    ctx: &Context,
    process_guid: &str,
) -> Vec<(String, String, Arc<InstanceLog>)> {
    let containers = match ctx.executor.list_containers().await {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "failed-to-list-containers");
            return vec![];
        }
    };
    containers
        .into_iter()
        .filter(|c| {
            c.tags.get(tags::LIFECYCLE).map(String::as_str) == Some(tags::LRP_LIFECYCLE)
                && c.tags.get(tags::PROCESS_GUID).map(String::as_str) == Some(process_guid)
        })
        .filter_map(|c| {
            let log = ctx.executor.instance_log(&c.guid)?;
            let index = c.tags.get(tags::PROCESS_INDEX).cloned().unwrap_or_default();
            Some((c.guid, index, log))
        })
        .collect()
}

/// Forwards one container's new lines; a follower too slow for the
/// buffer skips what it missed rather than stopping.
fn forward(index: String, mut rx: broadcast::Receiver<LogLine>, tx: mpsc::Sender<Bytes>) {
    tokio::spawn(async move {
        loop {
            match rx.recv().await {
                Ok(line) => {
                    if tx.send(render(&index, &line)).await.is_err() {
                        return;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    });
}

/// The routes, served next to the rep's network routes.
pub fn routes(ctx: Context) -> Router {
    Router::new()
        .route("/v1/lrps/{process_guid}/logs", get(lrp_logs))
        .route("/v1/tasks/{task_guid}/logs", get(task_logs))
        .with_state(ctx)
}

async fn lrp_logs(
    State(ctx): State<Context>,
    Path(process_guid): Path<String>,
    Query(q): Query<LogsQuery>,
) -> Response {
    let (tx, rx) = mpsc::channel::<Bytes>(256);
    let mut history = Vec::new();
    let mut known = HashSet::new();
    for (guid, index, log) in instance_logs(&ctx, &process_guid).await {
        let (lines, follower) = log.history_and_follow();
        history.extend(
            lines
                .into_iter()
                .map(|l| (l.timestamp_ns, index.clone(), l)),
        );
        if q.follow {
            forward(index, follower, tx.clone());
        }
        known.insert(guid);
    }
    if q.follow {
        // Instances that start later (restarts after a crash, scale-ups)
        // join the stream with their whole log.
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(RESCAN).await;
                if tx.is_closed() {
                    return;
                }
                for (guid, index, log) in instance_logs(&ctx, &process_guid).await {
                    if !known.insert(guid) {
                        continue;
                    }
                    let (lines, follower) = log.history_and_follow();
                    for l in lines {
                        if tx.send(render(&index, &l)).await.is_err() {
                            return;
                        }
                    }
                    forward(index, follower, tx.clone());
                }
            }
        });
    } else {
        drop(tx);
    }
    // Instances interleaved in time order, as one app log.
    history.sort_by_key(|(t, _, _)| *t);
    let past = stream::iter(
        history
            .into_iter()
            .map(|(_, index, line)| render(&index, &line)),
    );
    let live = stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|b| (b, rx)) });
    let body = past.chain(live).map(Ok::<_, Infallible>);
    (
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        Body::from_stream(body),
    )
        .into_response()
}

/// A task's log: what it wrote so far and, with `follow`, what it writes
/// until its container is deleted. 404 when the task has no container here.
async fn task_logs(
    State(ctx): State<Context>,
    Path(task_guid): Path<String>,
    Query(q): Query<LogsQuery>,
) -> Response {
    let Some(log) = ctx.executor.instance_log(&task_guid) else {
        return (
            axum::http::StatusCode::NOT_FOUND,
            "no such task on this cell\n",
        )
            .into_response();
    };
    let (lines, follower) = log.history_and_follow();
    drop(log);
    let (tx, rx) = mpsc::channel::<Bytes>(256);
    if q.follow {
        forward("0".into(), follower, tx);
    } else {
        drop(tx);
    }
    let past = stream::iter(lines.into_iter().map(|l| render("0", &l)));
    let live = stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|b| (b, rx)) });
    let body = past.chain(live).map(Ok::<_, Infallible>);
    (
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        Body::from_stream(body),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_labelled_as_cf_logs_labels_them() {
        let line = |stream, text: &str| LogLine {
            source: "APP/PROC/WEB".into(),
            stream,
            text: text.into(),
            timestamp_ns: 1,
        };
        assert_eq!(
            render("3", &line(Stream::Stdout, "listening")),
            "[APP/PROC/WEB/3] OUT listening\n"
        );
        assert_eq!(
            render("0", &line(Stream::Stderr, "boom")),
            "[APP/PROC/WEB/0] ERR boom\n"
        );
    }
}
