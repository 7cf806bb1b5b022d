//! Staging's routes: the build's staging output, the buildpacks and
//! stacks there are; for the cells and the BBS, the package download and
//! the staging Task's completion callback.

use super::Ctx;
use crate::blobs::BlobKind;
use crate::error::{ApiError, ApiResult};
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use models::capi::{self, List};

/// `GET /v3/builds/:guid/logs[?follow=true]`: the staging Task's output
/// (404 until a cell runs it).
pub async fn build_logs(
    State(c): State<Ctx>,
    Path(guid): Path<String>,
    Query(q): Query<super::logs::LogQuery>,
) -> ApiResult<Response> {
    let s = c.api.build_logs(&guid, q.follow).await?;
    Ok(Response::new(Body::from_stream(s)))
}

pub async fn buildpacks(State(c): State<Ctx>) -> ApiResult<Json<List<capi::Buildpack>>> {
    Ok(Json(List::of(c.api.buildpacks().await?)))
}

pub async fn stacks(State(c): State<Ctx>) -> ApiResult<Json<List<capi::Stack>>> {
    Ok(Json(List::of(c.api.stacks().await?)))
}

/// The package's bits, for the staging Task (package guids are
/// unguessable, as droplets').
pub async fn package_download(
    State(c): State<Ctx>,
    Path(guid): Path<String>,
) -> ApiResult<Response> {
    if guid.contains('/') || guid.contains("..") || !c.api.blobs.exists(BlobKind::Package, &guid) {
        return Err(ApiError::NotFound(format!("package {guid} not found")));
    }
    super::internal::blob_response(&c, BlobKind::Package, &guid).await
}

pub async fn build_completed(
    State(c): State<Ctx>,
    Path(guid): Path<String>,
    body: Bytes,
) -> ApiResult<StatusCode> {
    c.api.staging_completed(&guid, &body).await?;
    Ok(StatusCode::OK)
}
