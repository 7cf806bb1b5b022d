//! Routes for Diego's components, without a token: droplet downloads
//! for the cells (droplet guids are unguessable), the BBS's task
//! completion callbacks and the log component's drain poll.

use super::Ctx;
use crate::blobs::BlobKind;
use crate::error::{ApiError, ApiResult};
use crate::service::TaskCallback;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::Response;
use axum::Json;
use models::capi::Info;

pub async fn info(State(c): State<Ctx>) -> Json<Info> {
    Json(Info {
        name: "diego api".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        app_domain: c.api.settings.app_domain.clone(),
    })
}

pub async fn droplet_download(
    State(c): State<Ctx>,
    Path(guid): Path<String>,
) -> ApiResult<Response> {
    if guid.contains('/') || guid.contains("..") || !c.api.blobs.exists(BlobKind::Droplet, &guid) {
        return Err(ApiError::NotFound(format!("droplet {guid} not found")));
    }
    blob_response(&c, BlobKind::Droplet, &guid).await
}

/// A blob as a gzip download.
pub async fn blob_response(c: &Ctx, kind: BlobKind, guid: &str) -> ApiResult<Response> {
    let file = tokio::fs::File::open(c.api.blobs.path(kind, guid)).await?;
    let len = file.metadata().await?.len();
    let stream = tokio_util_stream(file);
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/gzip")
        .header(header::CONTENT_LENGTH, len)
        .body(Body::from_stream(stream))
        .map_err(|e| ApiError::Internal(e.to_string()))
}

/// The file as a stream of chunks.
fn tokio_util_stream(
    file: tokio::fs::File,
) -> impl futures::Stream<Item = std::io::Result<bytes::Bytes>> {
    use tokio::io::AsyncReadExt;
    futures::stream::unfold(file, |mut f| async move {
        let mut buf = vec![0u8; 64 * 1024];
        match f.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(bytes::Bytes::from(buf)), f))
            }
            Err(e) => Some((Err(e), f)),
        }
    })
}

pub async fn task_completed(
    State(c): State<Ctx>,
    Path(guid): Path<String>,
    super::Body(cb): super::Body<TaskCallback>,
) -> ApiResult<StatusCode> {
    if cb.task_guid != guid {
        return Err(ApiError::Unprocessable("task guid mismatch".into()));
    }
    c.api.task_completed(cb).await?;
    Ok(StatusCode::OK)
}

#[derive(serde::Deserialize)]
pub struct DrainPage {
    #[serde(default = "default_batch")]
    batch_size: usize,
    #[serde(default)]
    next_id: usize,
}

fn default_batch() -> usize {
    50
}

/// Cloud Controller's `GET /internal/v4/syslog_drain_urls` (polled by the
/// log component as by Loggregator's syslog binding cache).
pub async fn syslog_drain_urls(
    State(c): State<Ctx>,
    axum::extract::Query(q): axum::extract::Query<DrainPage>,
) -> ApiResult<Json<serde_json::Value>> {
    let batch = q.batch_size.clamp(1, 1000);
    Ok(Json(c.api.syslog_drain_urls(batch, q.next_id).await?))
}
