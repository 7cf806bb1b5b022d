//! Diego's file server: serves a directory of blobs (droplets, lifecycle
//! tarballs, app bits pushed in dev mode) under `GET /v1/static/`, which the
//! executor's Download actions fetch; and takes staging's droplet and build
//! artifacts uploads (cc-uploader's `POST /v1/droplet/{guid}` and
//! `/v1/build_artifacts/{app_guid}`, see [`upload`]) into that directory.
//!
//! Files are served with Last-Modified, Range and conditional GET support
//! (the executor's download cache revalidates with them); directories are
//! not listed; paths cannot leave the static directory.

pub mod config;
pub mod upload;

use axum::Router;
use std::net::SocketAddr;
use std::path::Path;
use tower_http::services::ServeDir;

pub use config::FileServerConfig;

/// The route prefix of Diego's file server.
pub const STATIC_ROUTE: &str = "/v1/static";

/// The file server's routes over `static_directory`, uploads up to
/// [`config::DEFAULT_MAX_UPLOAD_BYTES`].
pub fn router(static_directory: &Path) -> Router {
    router_with_limit(static_directory, config::DEFAULT_MAX_UPLOAD_BYTES)
}

pub fn router_with_limit(static_directory: &Path, max_upload_bytes: u64) -> Router {
    use axum::routing::post;
    let uploads = upload::Uploads {
        static_dir: static_directory.to_path_buf(),
        max_bytes: max_upload_bytes,
    };
    Router::new()
        .nest_service(STATIC_ROUTE, ServeDir::new(static_directory))
        .route(upload::DROPLET_ROUTE, post(upload::droplet))
        .route(upload::BUILD_ARTIFACTS_ROUTE, post(upload::build_artifacts))
        // Uploads stream to disk and check their own size.
        .layer(axum::extract::DefaultBodyLimit::disable())
        .with_state(uploads)
}

/// A file server listening, and its address.
pub struct Running {
    pub addr: SocketAddr,
    pub task: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// Binds `config.server_address` and serves until `shutdown` completes.
pub async fn start(
    config: &FileServerConfig,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<Running> {
    let dir = Path::new(&config.static_directory);
    anyhow::ensure!(
        dir.is_dir(),
        "static_directory {} is not a directory",
        dir.display()
    );
    let listener = tokio::net::TcpListener::bind(&config.server_address).await?;
    let addr = listener.local_addr()?;
    let app = router_with_limit(dir, config.max_upload_bytes);
    tracing::info!(%addr, static_directory = %dir.display(), "file-server listening");
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
    });
    Ok(Running { addr, task })
}

/// The URL staging uploads a droplet to (cc-uploader's route).
pub fn droplet_upload_url(addr: &SocketAddr, guid: &str) -> String {
    format!("http://{addr}/v1/droplet/{guid}")
}

/// The URL staging uploads a build artifacts cache to.
pub fn build_artifacts_upload_url(addr: &SocketAddr, app_guid: &str) -> String {
    format!("http://{addr}/v1/build_artifacts/{app_guid}")
}

/// The URL a blob at `relative_path` of the static directory is served at.
pub fn blob_url(addr: &SocketAddr, relative_path: &str) -> String {
    format!(
        "http://{addr}{STATIC_ROUTE}/{}",
        relative_path.trim_start_matches('/')
    )
}
