//! `diego api`: the app lifecycle API (Cloud Controller's role beside
//! Diego). Apps, packages (bits uploaded through the API), builds and
//! droplets, processes, revisions and deployments live in SQL (SQLite by
//! default, PostgreSQL); the API desires LRPs on the BBS through
//! `bbs-client` and keeps them in sync; deployments replace an app's
//! instances without downtime; crashes become audit events.
//!
//! See `routes` for the HTTP API, `service` for what each operation does,
//! `store` for the schema and `lrp` for the LRPs it desires.

pub mod blobs;
pub mod clock;
pub mod config;
pub mod error;
pub mod image_config;
pub mod lrp;
pub mod routes;
pub mod service;
pub mod store;
pub mod views;

pub use config::ApiConfig;

use anyhow::Context as _;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

/// A running API.
pub struct RunningApi {
    pub addr: SocketAddr,
    pub api: Arc<service::Api>,
    stop: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<()>,
    loops: Vec<tokio::task::JoinHandle<()>>,
}

impl RunningApi {
    pub async fn shutdown(self) {
        for l in &self.loops {
            l.abort();
        }
        let _ = self.stop.send(());
        let _ = self.server.await;
    }
}

/// The tokens requests may carry: the configured ones and the token
/// file's (made, random, mode 600, when missing).
pub fn tokens(cfg: &ApiConfig) -> anyhow::Result<Vec<String>> {
    let mut tokens: Vec<String> = cfg
        .auth_tokens
        .iter()
        .filter(|t| !t.is_empty())
        .cloned()
        .collect();
    if !cfg.token_file.is_empty() {
        tokens.push(token_file(Path::new(&cfg.token_file))?);
    }
    anyhow::ensure!(
        !tokens.is_empty(),
        "no auth_tokens and no token_file: the API would refuse every request"
    );
    Ok(tokens)
}

/// The token in `path`, made first if the file is missing or empty.
pub fn token_file(path: &Path) -> anyhow::Result<String> {
    if let Ok(t) = std::fs::read_to_string(path) {
        let t = t.trim().to_string();
        if !t.is_empty() {
            return Ok(t);
        }
    }
    let token = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    f.write_all(token.as_bytes())?;
    Ok(token)
}

pub async fn start(cfg: &ApiConfig) -> anyhow::Result<RunningApi> {
    let tokens = tokens(cfg)?;
    let mut store = store::open(&cfg.database_url()?, cfg.max_open_database_connections).await?;
    if let Some(sender) = cfg.app_log_sender() {
        store = service::app_log::Logged::wrap(store, sender);
    }
    let blobs = blobs::Blobs::open(Path::new(&cfg.blobstore_directory))?;
    let bbs: Arc<dyn bbs_client::BbsClient> = Arc::new(cfg.bbs_client()?);
    let listener = tokio::net::TcpListener::bind(&cfg.listen_address)
        .await
        .with_context(|| format!("listening on {}", cfg.listen_address))?;
    let addr = listener.local_addr()?;
    let external_url = if cfg.external_url.is_empty() {
        format!("http://{addr}")
    } else {
        cfg.external_url.trim_end_matches('/').to_string()
    };
    let sync_every = cfg
        .sync_interval
        .0
        .max(std::time::Duration::from_millis(100));
    let settings = service::Settings {
        external_url,
        app_domain: cfg.app_domain.clone(),
        default_stack: cfg.default_stack.clone(),
        default_memory_mb: cfg.default_memory_mb,
        default_disk_mb: cfg.default_disk_mb,
        max_package_bytes: cfg.max_package_mb * 1024 * 1024,
        // Fresh while syncs come; stale (no destructive convergence) soon
        // after they stop, as Cloud Controller's domain TTL.
        domain_ttl: (sync_every * 3).max(std::time::Duration::from_secs(120)),
        logs_api_url: cfg.logs_api_url.clone(),
    };
    let staging = service::StagingSettings {
        file_server_url: cfg.file_server_url.clone(),
        buildpacks: cfg.buildpacks.clone(),
        unstaged_stacks: cfg.unstaged_stacks.clone(),
        memory_mb: cfg.staging_memory_mb,
        disk_mb: cfg.staging_disk_mb,
    };
    let api = service::Api::new(settings, staging, store::Repo::new(store), bbs, blobs)?;
    if let Err(e) = api.sync().await {
        tracing::warn!(error = %e, "first sync failed (retried every sync_interval)");
    }
    let loops = vec![
        tokio::spawn(service::sync_loop(api.clone(), sync_every)),
        tokio::spawn(service::deployment_loop(
            api.clone(),
            cfg.deployment_interval
                .0
                .max(std::time::Duration::from_millis(50)),
        )),
        tokio::spawn(service::watch_crashes(api.clone())),
    ];
    let app = routes::router(routes::Ctx {
        api: api.clone(),
        tokens: Arc::new(tokens),
    });
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    // Package uploads stream to disk (no room in the buffered budget) and
    // are the largest bodies; JSON bodies stop at axum's 2 MB.
    let settings = httpserve::ServerSettings {
        max_request_body_bytes: usize::try_from(cfg.max_package_mb * 1024 * 1024)
            .unwrap_or(usize::MAX),
        ..cfg.server.clone()
    };
    let rejector: httpserve::Rejector = Arc::new(|r| {
        use axum::response::IntoResponse;
        match r {
            httpserve::Rejection::BodyTooLarge { limit } => error::ApiError::TooLarge(format!(
                "the request body exceeds the limit of {limit} bytes (max_package_mb)"
            )),
            httpserve::Rejection::Busy => {
                error::ApiError::Unavailable("the API is busy: try again".into())
            }
        }
        .into_response()
    });
    let server = httpserve::Server::new(settings)
        .name("api")
        .streams_bodies()
        .rejector(rejector);
    let server = tokio::spawn(server.serve(listener, app, async move {
        let _ = stopped.await;
    }));
    Ok(RunningApi {
        addr,
        api,
        stop,
        server,
        loops,
    })
}
