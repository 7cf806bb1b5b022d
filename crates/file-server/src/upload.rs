//! Droplet and build artifacts uploads (cc-uploader's routes): the staging
//! task's upload actions POST `/tmp/droplet` to `/v1/droplet/{guid}` and the
//! build artifacts cache to `/v1/build_artifacts/{app_guid}`. Where Diego's
//! cc-uploader passes them on to Cloud Controller's blobstore, this file
//! server is the blobstore: the blob is kept under the static directory
//! (`droplets/<guid>.tgz`, `build_artifacts/<app_guid>.tgz`) and served
//! from `/v1/static/` like any other, with its SHA-256 beside it
//! (`<blob>.sha256`, hex) for the checksum of the download that uses it.
//!
//! The body is streamed to a temp file and checked against the
//! executor's Content-MD5 and Content-Digest headers before it replaces the
//! blob, so a failed or corrupt upload never leaves half a droplet behind.
//! The `cc-droplet-upload-uri` / `cc-build-artifacts-upload-uri` and
//! `timeout` parameters Cloud Controller adds are accepted and not needed.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use futures::StreamExt;
use sha2::Digest;
use std::path::PathBuf;
use tokio::io::AsyncWriteExt;

pub const DROPLET_ROUTE: &str = "/v1/droplet/{guid}";
pub const BUILD_ARTIFACTS_ROUTE: &str = "/v1/build_artifacts/{app_guid}";

/// Where uploads go and how big they may be.
#[derive(Clone)]
pub struct Uploads {
    pub static_dir: PathBuf,
    pub max_bytes: u64,
}

/// What a stored upload is, in the response body.
#[derive(serde::Serialize)]
struct Stored {
    path: String,
    size: u64,
    sha256: String,
}

pub async fn droplet(
    State(u): State<Uploads>,
    Path(guid): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    // cc-uploader answers a droplet upload 201 Created.
    store(&u, "droplets", &guid, headers, body, StatusCode::CREATED).await
}

pub async fn build_artifacts(
    State(u): State<Uploads>,
    Path(guid): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    // ... and a build artifacts upload 200 OK.
    store(&u, "build_artifacts", &guid, headers, body, StatusCode::OK).await
}

/// The relative path of a blob, e.g. `droplets/<guid>.tgz`.
pub fn blob_path(kind: &str, guid: &str) -> String {
    format!("{kind}/{guid}.tgz")
}

fn valid_guid(g: &str) -> bool {
    !g.is_empty()
        && g.len() <= 128
        && !g.starts_with('.')
        && g.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

fn fail(status: StatusCode, message: impl Into<String>) -> Response {
    let message = message.into();
    tracing::info!(status = status.as_u16(), "upload refused: {message}");
    (status, message).into_response()
}

async fn store(
    u: &Uploads,
    kind: &str,
    guid: &str,
    headers: HeaderMap,
    body: Body,
    ok: StatusCode,
) -> Response {
    if !valid_guid(guid) {
        return fail(StatusCode::BAD_REQUEST, format!("invalid guid: {guid:?}"));
    }
    let length = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    if length == 0 {
        return fail(StatusCode::LENGTH_REQUIRED, "Missing Content Length");
    }
    if length > u.max_bytes {
        return fail(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "upload of {length} bytes exceeds the limit of {}",
                u.max_bytes
            ),
        );
    }
    let expected_md5 = header(&headers, "content-md5");
    let expected_sha256 = header(&headers, "content-digest").and_then(|d| {
        d.split(',')
            .find_map(|part| part.trim().strip_prefix("sha-256=:"))
            .and_then(|rest| rest.strip_suffix(':'))
            .map(str::to_string)
    });

    let dir = u.static_dir.join(kind);
    if let Err(e) = tokio::fs::create_dir_all(&dir).await {
        return fail(StatusCode::INTERNAL_SERVER_ERROR, e.to_string());
    }
    let tmp = match tempfile::NamedTempFile::new_in(&dir) {
        Ok(t) => t,
        Err(e) => return fail(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    let mut file = match tokio::fs::File::create(tmp.path()).await {
        Ok(f) => f,
        Err(e) => return fail(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    let mut md5 = md5::Md5::new();
    let mut sha256 = sha2::Sha256::new();
    let mut size = 0u64;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => return fail(StatusCode::BAD_REQUEST, format!("reading the upload: {e}")),
        };
        size += chunk.len() as u64;
        if size > u.max_bytes {
            return fail(StatusCode::PAYLOAD_TOO_LARGE, "upload exceeds the limit");
        }
        md5.update(&chunk);
        sha256.update(&chunk);
        if let Err(e) = file.write_all(&chunk).await {
            return fail(StatusCode::INTERNAL_SERVER_ERROR, e.to_string());
        }
    }
    if size != length {
        return fail(
            StatusCode::BAD_REQUEST,
            format!("expected {length} bytes, received {size}"),
        );
    }
    let b64 = base64::engine::general_purpose::STANDARD;
    let md5 = md5.finalize();
    let sha256 = sha256.finalize();
    if expected_md5.is_some_and(|m| m != b64.encode(md5)) {
        return fail(
            StatusCode::BAD_REQUEST,
            "Content-MD5 does not match the upload",
        );
    }
    if expected_sha256.is_some_and(|s| s != b64.encode(sha256)) {
        return fail(
            StatusCode::BAD_REQUEST,
            "Content-Digest does not match the upload",
        );
    }
    if let Err(e) = file.sync_all().await {
        return fail(StatusCode::INTERNAL_SERVER_ERROR, e.to_string());
    }
    drop(file);
    let sha256_hex: String = sha256.iter().map(|b| format!("{b:02x}")).collect();
    let relative = blob_path(kind, guid);
    let target = u.static_dir.join(&relative);
    // The checksum first: a reader that finds the blob finds its checksum.
    if let Err(e) = write_atomically(&dir, &target.with_extension("tgz.sha256"), &sha256_hex).await
    {
        return fail(StatusCode::INTERNAL_SERVER_ERROR, e.to_string());
    }
    if let Err(e) = tmp.persist(&target) {
        return fail(StatusCode::INTERNAL_SERVER_ERROR, e.to_string());
    }
    tracing::info!(path = %relative, size, sha256 = %sha256_hex, "upload stored");
    let stored = Stored {
        path: relative,
        size,
        sha256: sha256_hex,
    };
    (ok, axum::Json(stored)).into_response()
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

async fn write_atomically(
    dir: &std::path::Path,
    target: &std::path::Path,
    text: &str,
) -> std::io::Result<()> {
    let tmp = tempfile::NamedTempFile::new_in(dir)?;
    tokio::fs::write(tmp.path(), text).await?;
    tmp.persist(target).map_err(|e| e.error)?;
    Ok(())
}
