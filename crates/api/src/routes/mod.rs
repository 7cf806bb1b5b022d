//! The HTTP API: Cloud Controller v3's routes and JSON (see
//! `models::capi`), behind a bearer token; `/internal/` serves the cells
//! (droplet and package downloads) and the BBS (task and staging
//! callbacks) without one.

mod apps;
mod bits;
mod deployments;
mod internal;
mod logs;
mod processes;
mod staging;

use crate::error::ApiError;
use crate::service::Api;
use axum::extract::{FromRequest, Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::{get, patch, post};
use axum::Router;
use serde::de::DeserializeOwned;
use std::sync::Arc;

#[derive(Clone)]
pub struct Ctx {
    pub api: Arc<Api>,
    pub tokens: Arc<Vec<String>>,
}

/// Who made a request (audit events name it).
pub const ACTOR: &str = "cli";

/// A JSON body; malformed ones are Cloud Controller's MessageParseError.
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| ApiError::BadRequest(format!("reading the body: {e}")))?;
        let bytes = if bytes.is_empty() {
            axum::body::Bytes::from_static(b"{}")
        } else {
            bytes
        };
        serde_json::from_slice(&bytes)
            .map(Body)
            .map_err(|e| ApiError::BadRequest(format!("the request body is not valid: {e}")))
    }
}

/// Constant-time comparison, so a token cannot be guessed byte by byte.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn authenticate(
    State(ctx): State<Ctx>,
    req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let given = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        });
    match given {
        Some(t)
            if ctx
                .tokens
                .iter()
                .any(|ok| same(ok.as_bytes(), t.as_bytes())) =>
        {
            Ok(next.run(req).await)
        }
        _ => Err(ApiError::Unauthenticated),
    }
}

pub fn router(ctx: Ctx) -> Router {
    let v3 = Router::new()
        .route("/v3/apps", get(apps::list).post(apps::create))
        .route(
            "/v3/apps/{guid}",
            get(apps::show).patch(apps::update).delete(apps::destroy),
        )
        .route("/v3/apps/{guid}/actions/{action}", post(apps::action))
        .route(
            "/v3/apps/{guid}/environment_variables",
            get(apps::env).patch(apps::patch_env),
        )
        .route(
            "/v3/apps/{guid}/relationships/current_droplet",
            patch(apps::set_droplet),
        )
        .route("/v3/apps/{guid}/processes", get(processes::of_app))
        .route("/v3/apps/{guid}/revisions", get(apps::revisions))
        .route("/v3/apps/{guid}/droplets", get(bits::droplets_of_app))
        .route("/v3/apps/{guid}/packages", get(bits::packages_of_app))
        .route(
            "/v3/apps/{guid}/tasks",
            get(apps::tasks).post(apps::create_task),
        )
        .route("/v3/apps/{guid}/logs", get(logs::logs))
        .route("/v3/packages", post(bits::create_package))
        .route("/v3/packages/{guid}", get(bits::package))
        .route(
            "/v3/packages/{guid}/upload",
            post(bits::upload).layer(axum::extract::DefaultBodyLimit::disable()),
        )
        .route("/v3/builds", post(bits::create_build))
        .route("/v3/builds/{guid}", get(bits::build))
        .route("/v3/builds/{guid}/logs", get(staging::build_logs))
        .route("/v3/buildpacks", get(staging::buildpacks))
        .route("/v3/stacks", get(staging::stacks))
        .route("/v3/droplets/{guid}", get(bits::droplet))
        .route(
            "/v3/processes/{guid}",
            get(processes::show).patch(processes::update),
        )
        .route("/v3/processes/{guid}/actions/scale", post(processes::scale))
        .route("/v3/processes/{guid}/stats", get(processes::stats))
        .route("/v3/revisions/{guid}", get(apps::revision))
        .route(
            "/v3/deployments",
            get(deployments::list).post(deployments::create),
        )
        .route("/v3/deployments/{guid}", get(deployments::show))
        .route(
            "/v3/deployments/{guid}/actions/{action}",
            post(deployments::action),
        )
        .route("/v3/audit_events", get(apps::events))
        .route_layer(axum::middleware::from_fn_with_state(
            ctx.clone(),
            authenticate,
        ));
    Router::new()
        .route("/", get(internal::info))
        .route(
            "/internal/v3/droplets/{guid}/download",
            get(internal::droplet_download),
        )
        .route(
            "/internal/v3/packages/{guid}/download",
            get(staging::package_download),
        )
        .route(
            "/internal/v3/staging/{guid}/build_completed",
            post(staging::build_completed),
        )
        .route(
            "/internal/v4/syslog_drain_urls",
            get(internal::syslog_drain_urls),
        )
        .route(
            "/internal/v3/tasks/{guid}/completed",
            post(internal::task_completed),
        )
        .merge(v3)
        .fallback(|| async { ApiError::NotFound("no such route".into()) })
        .with_state(ctx)
}

/// Comma-separated query values (`?names=a,b`).
pub fn csv(v: &Option<String>) -> Vec<String> {
    v.as_deref()
        .map(|s| {
            s.split(',')
                .filter(|x| !x.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}
