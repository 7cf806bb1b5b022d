//! Diego's file server: serves a directory of blobs (droplets, lifecycle
//! tarballs, app bits pushed in dev mode) under `GET /v1/static/`, which the
//! executor's Download actions fetch.
//!
//! Files are served with Last-Modified, Range and conditional GET support
//! (the executor's download cache revalidates with them); directories are
//! not listed; paths cannot leave the static directory.

pub mod config;

use axum::Router;
use std::net::SocketAddr;
use std::path::Path;
use tower_http::services::ServeDir;

pub use config::FileServerConfig;

/// The route prefix of Diego's file server.
pub const STATIC_ROUTE: &str = "/v1/static";

/// The file server's routes over `static_directory`.
pub fn router(static_directory: &Path) -> Router {
    Router::new().nest_service(STATIC_ROUTE, ServeDir::new(static_directory))
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
    let app = router(dir);
    tracing::info!(%addr, static_directory = %dir.display(), "file-server listening");
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
    });
    Ok(Running { addr, task })
}

/// The URL a blob at `relative_path` of the static directory is served at.
pub fn blob_url(addr: &SocketAddr, relative_path: &str) -> String {
    format!(
        "http://{addr}{STATIC_ROUTE}/{}",
        relative_path.trim_start_matches('/')
    )
}
