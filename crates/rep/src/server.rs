//! The rep's HTTP API (Diego's `rep:routes.go`), JSON bodies.
//!
//! Network routes (the auctioneer's and BBS's): `GET /state`,
//! `GET /container_metrics`, `POST /work`, `PUT /v2/lrps/{process_guid}/instances/{instance_guid}`
//! (and `/v1/...`), `POST /v1/lrps/{process_guid}/instances/{instance_guid}/stop`,
//! `POST /v1/tasks/{task_guid}/cancel`, `POST /sim/reset`, and ours:
//! `GET /v1/lrps/{process_guid}/logs` and `GET /v1/tasks/{task_guid}/logs`
//! (see [`crate::logs_route`]).
//! Localhost routes: `GET /ping`, `POST /evacuate`.

use crate::cell::CellInfo;
use crate::delegate::Context;
use crate::perform::{perform, PerformError};
use crate::state::cell_state;
use crate::tags;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use models::rep::{LrpUpdate, Work};
use std::sync::Arc;

#[derive(Clone)]
pub struct Api {
    pub cell: Arc<CellInfo>,
    pub ctx: Context,
}

async fn state(State(api): State<Api>) -> Response {
    let evacuating = api.ctx.evacuation.evacuating();
    match cell_state(&api.cell, api.ctx.executor.as_ref(), evacuating).await {
        Ok((s, true)) => Json(s).into_response(),
        Ok((s, false)) => {
            tracing::info!("cell-not-healthy");
            (StatusCode::SERVICE_UNAVAILABLE, Json(s)).into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, "failed-to-fetch-state");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

async fn container_metrics(State(api): State<Api>) -> Response {
    match crate::container_metrics::collect(&api.cell.cell_id, api.ctx.executor.as_ref()).await {
        Ok(m) => Json(m).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "failed-to-fetch-container-metrics");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

async fn work(State(api): State<Api>, body: Bytes) -> Response {
    let work: Work = match serde_json::from_slice(&body) {
        Ok(w) => w,
        Err(e) => {
            tracing::error!(error = %e, "failed-to-unmarshal");
            return StatusCode::BAD_REQUEST.into_response();
        }
    };
    tracing::info!(
        lrp_starts = work.lrps.len(),
        tasks = work.tasks.len(),
        "auction-work"
    );
    let evacuating = api.ctx.evacuation.evacuating();
    match perform(&api.cell, api.ctx.executor.as_ref(), evacuating, work).await {
        Ok(failed) => Json(failed).into_response(),
        Err(e @ PerformError::CellIdMismatch) | Err(e @ PerformError::Executor(_)) => {
            tracing::error!(error = %e, "failed-to-perform-work");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

async fn stop_lrp(
    State(api): State<Api>,
    Path((process_guid, instance_guid)): Path<(String, String)>,
) -> StatusCode {
    let guid = tags::lrp_container_guid(&process_guid, &instance_guid);
    match api.ctx.executor.stop_container(&guid).await {
        Ok(()) => StatusCode::ACCEPTED,
        Err(e) => {
            tracing::error!(guid, error = %e, "failed-to-stop-container");
            StatusCode::INTERNAL_SERVER_ERROR
        }
    }
}

async fn cancel_task(State(api): State<Api>, Path(task_guid): Path<String>) -> StatusCode {
    // Answered at once; the container goes in the background.
    tokio::spawn(async move {
        api.ctx.delete_container(&task_guid).await;
    });
    StatusCode::ACCEPTED
}

async fn update_lrp(
    Path((process_guid, instance_guid)): Path<(String, String)>,
    body: Bytes,
) -> StatusCode {
    match serde_json::from_slice::<LrpUpdate>(&body) {
        Ok(u) => {
            // The executor keeps no internal routes or metric tags to
            // update; the next StartActualLRP reports the originals.
            tracing::info!(process_guid, instance_guid, routes = ?u.internal_routes, "update-lrp-instance");
            StatusCode::ACCEPTED
        }
        Err(e) => {
            tracing::error!(error = %e, "failed-to-unmarshal");
            StatusCode::BAD_REQUEST
        }
    }
}

async fn sim_reset() -> StatusCode {
    tracing::error!("not-a-simulation-rep");
    StatusCode::INTERNAL_SERVER_ERROR
}

async fn ping() -> StatusCode {
    StatusCode::OK
}

async fn evacuate(State(api): State<Api>) -> Response {
    api.ctx.evacuation.evacuate();
    (
        StatusCode::ACCEPTED,
        Json(serde_json::json!({"ping_path": "/ping"})),
    )
        .into_response()
}

/// The routes the auctioneer and BBS call.
pub fn network_routes(api: Api) -> Router {
    Router::new()
        .route("/state", get(state))
        .route("/container_metrics", get(container_metrics))
        .route("/work", post(work))
        .route(
            "/v2/lrps/{process_guid}/instances/{instance_guid}",
            put(update_lrp),
        )
        .route(
            "/v1/lrps/{process_guid}/instances/{instance_guid}",
            put(update_lrp),
        )
        .route(
            "/v1/lrps/{process_guid}/instances/{instance_guid}/stop",
            post(stop_lrp),
        )
        .route("/v1/tasks/{task_guid}/cancel", post(cancel_task))
        .route("/sim/reset", post(sim_reset))
        .with_state(api.clone())
        .merge(crate::logs_route::routes(api.ctx))
}

/// The routes for the cell itself (drain script, monit).
pub fn local_routes(api: Api) -> Router {
    Router::new()
        .route("/ping", get(ping))
        .route("/evacuate", post(evacuate))
        .with_state(api)
}
