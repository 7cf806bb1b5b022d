//! garden-server run in the test's own process: the one starter every
//! test binary uses.

use std::sync::Arc;
use tokio::sync::oneshot;

/// A server listening until `stop`.
pub struct Serving {
    /// Where it listens: `host:port`, or the unix socket's path.
    pub addr: String,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

/// Serves `backend` with `cfg`; resolves once it listens.
pub async fn serve(cfg: garden_server::GardenConfig, backend: Arc<dyn garden::Backend>) -> Serving {
    let (addr_tx, addr_rx) = oneshot::channel();
    let (stop, stop_rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        garden_server::serve(
            &cfg,
            backend,
            |a| {
                let _ = addr_tx.send(a);
            },
            async {
                let _ = stop_rx.await;
            },
        )
        .await
    });
    let addr = addr_rx.await.expect("garden listens");
    Serving { addr, stop, task }
}

/// Serves the backend `cfg` names.
#[allow(dead_code)] // not every test binary makes its backend from a config
pub async fn serve_configured(cfg: garden_server::GardenConfig) -> Serving {
    let backend = cfg.backend().await.expect("the configured backend");
    serve(cfg, backend).await
}

impl Serving {
    /// Stops it and waits until it has, with no error.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        self.task.await.unwrap().unwrap();
    }
}
