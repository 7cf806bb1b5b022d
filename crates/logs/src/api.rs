//! The component's HTTP API:
//! - `GET /api/v1/read/:source_id` (Log Cache's read: `start_time`,
//!   `end_time`, `limit` (default 100, at most 1000), `envelope_types`,
//!   `descending`) → `{"envelopes":{"batch":[...]}}`;
//! - `GET /api/v1/meta` → every source's count, bytes, expired;
//! - `GET /v2/read?source_id=X[&log][&gauge][&counter]` (the RLP gateway's
//!   stream): server-sent events, `data: {"batch":[...]}` per batch;
//! - `GET /v1/containers/metrics/:source_id` → the latest container
//!   metrics of its instances;
//! - `PUT /v1/drains/:source_id` `{"urls":[...]}` binds syslog drains,
//!   `GET /v1/drains` lists them with their figures;
//! - `GET /metrics` (Prometheus text).

use crate::store::Query;
use crate::Hub;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use futures::stream::Stream;
use logs_client::envelope::{batch_to_json, kind};
use serde_json::json;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;

const MAX_LIMIT: usize = 1000;

pub fn routes(hub: Arc<Hub>) -> Router {
    Router::new()
        .route("/api/v1/read/{source_id}", get(read))
        .route("/api/v1/meta", get(meta))
        .route("/v2/read", get(stream))
        .route("/v1/containers/metrics/{source_id}", get(container_metrics))
        .route("/v1/drains", get(list_drains))
        .route("/v1/drains/{source_id}", put(set_drains))
        .route("/metrics", get(metrics))
        .with_state(hub)
}

fn bad_request(msg: String) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({ "error": msg }))).into_response()
}

fn pairs(raw: &Option<String>) -> Vec<(String, String)> {
    raw.as_deref()
        .map(|q| {
            reqwest::Url::parse(&format!("http://x/?{q}"))
                .map(|u| u.query_pairs().into_owned().collect())
                .unwrap_or_default()
        })
        .unwrap_or_default()
}

async fn read(
    State(hub): State<Arc<Hub>>,
    Path(source_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let mut q = Query {
        limit: Some(100),
        ..Default::default()
    };
    for (k, v) in pairs(&raw) {
        let int = |v: &str| v.parse::<i64>().map_err(|_| format!("invalid {k}: {v:?}"));
        let r = match k.as_str() {
            "start_time" => int(&v).map(|t| q.start_time = Some(t)),
            "end_time" => int(&v).map(|t| q.end_time = Some(t)),
            "limit" => int(&v).and_then(|l| {
                if l < 0 || l as usize > MAX_LIMIT {
                    Err(format!("invalid limit {l}: 0 to {MAX_LIMIT}"))
                } else {
                    q.limit = Some(l as usize);
                    Ok(())
                }
            }),
            "envelope_types" => {
                let t = v.to_uppercase();
                if ["LOG", "COUNTER", "GAUGE", "TIMER", "EVENT", "ANY"].contains(&t.as_str()) {
                    if t != "ANY" {
                        q.envelope_types.push(t);
                    }
                    Ok(())
                } else {
                    Err(format!("invalid envelope_types {v:?}"))
                }
            }
            "descending" => {
                q.descending = v == "true";
                Ok(())
            }
            _ => Ok(()),
        };
        if let Err(e) = r {
            return bad_request(e);
        }
    }
    let envs = hub.store.read(&source_id, &q);
    Json(json!({ "envelopes": batch_to_json(envs.iter().map(|e| e.as_ref())) })).into_response()
}

async fn meta(State(hub): State<Arc<Hub>>) -> Response {
    let meta: serde_json::Map<String, serde_json::Value> = hub
        .store
        .meta()
        .into_iter()
        .map(|m| (m.source_id.clone(), json!(m)))
        .collect();
    Json(json!({ "meta": meta })).into_response()
}

async fn stream(
    State(hub): State<Arc<Hub>>,
    RawQuery(raw): RawQuery,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, Response> {
    let mut sources = Vec::new();
    let mut kinds = Vec::new();
    for (k, v) in pairs(&raw) {
        match k.as_str() {
            "source_id" => sources.push(v),
            "log" | "gauge" | "counter" | "timer" | "event" => kinds.push(k.to_uppercase()),
            _ => {}
        }
    }
    if sources.is_empty() {
        return Err(bad_request("source_id is required".into()));
    }
    let rx = hub.store.subscribe();
    let events = futures::stream::unfold(
        (rx, sources, kinds),
        |(mut rx, sources, kinds)| async move {
            loop {
                let mut batch = Vec::new();
                let first = match rx.recv().await {
                    Ok(e) => e,
                    // A reader too slow for the live buffer skips ahead.
                    Err(RecvError::Lagged(n)) => {
                        tracing::warn!(skipped = n, "log-stream-lagged");
                        continue;
                    }
                    Err(RecvError::Closed) => return None,
                };
                let wanted = |e: &logs_client::pb::Envelope| {
                    sources.contains(&e.source_id)
                        && (kinds.is_empty() || kinds.iter().any(|k| k == kind(e)))
                };
                if wanted(&first) {
                    batch.push(first);
                }
                // Whatever else is waiting goes in the same event.
                while batch.len() < 100 {
                    match rx.try_recv() {
                        Ok(e) if wanted(&e) => batch.push(e),
                        Ok(_) | Err(tokio::sync::broadcast::error::TryRecvError::Lagged(_)) => {}
                        Err(_) => break,
                    }
                }
                if batch.is_empty() {
                    continue;
                }
                let data = batch_to_json(batch.iter().map(|e| e.as_ref())).to_string();
                return Some((Ok(Event::default().data(data)), (rx, sources, kinds)));
            }
        },
    );
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

async fn container_metrics(State(hub): State<Arc<Hub>>, Path(source_id): Path<String>) -> Response {
    Json(json!({ "instances": hub.metrics.instances(&source_id) })).into_response()
}

async fn list_drains(State(hub): State<Arc<Hub>>) -> Response {
    Json(json!({ "drains": hub.drains.list() })).into_response()
}

#[derive(serde::Deserialize)]
struct DrainBody {
    urls: Vec<String>,
}

async fn set_drains(
    State(hub): State<Arc<Hub>>,
    Path(source_id): Path<String>,
    body: Result<Json<DrainBody>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let Ok(Json(body)) = body else {
        return bad_request("body must be {\"urls\": [...]}".into());
    };
    match hub.drains.set(&source_id, &body.urls) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => bad_request(e),
    }
}

async fn metrics(State(hub): State<Arc<Hub>>) -> Response {
    use std::sync::atomic::Ordering;
    let (sources, envelopes, bytes) = hub.store.totals();
    let mut extra = vec![
        ("logs_store_sources", "Sources held", vec![], sources as f64),
        (
            "logs_store_envelopes",
            "Envelopes held",
            vec![],
            envelopes as f64,
        ),
        (
            "logs_store_bytes",
            "Encoded bytes of the envelopes held",
            vec![],
            bytes as f64,
        ),
        (
            "logs_store_evicted_envelopes",
            "Envelopes pushed out by the store's bounds",
            vec![],
            hub.store.evicted.load(Ordering::Relaxed) as f64,
        ),
    ];
    for d in hub.drains.list() {
        let labels = vec![("source_id", d.source_id.clone()), ("url", d.url.clone())];
        extra.push((
            "logs_drain_sent_envelopes",
            "Envelopes a syslog drain took",
            labels.clone(),
            d.sent as f64,
        ));
        extra.push((
            "logs_drain_dropped_envelopes",
            "Envelopes a syslog drain dropped (slow, away, failing)",
            labels,
            d.dropped as f64,
        ));
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        hub.metrics.render(&extra),
    )
        .into_response()
}
