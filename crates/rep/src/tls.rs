//! Serving over mutual TLS, as Diego's rep always does: the listener
//! presents `cert_file`/`key_file` and accepts only clients whose
//! certificate `ca_cert_file` signed (the auctioneer, the BBS); the
//! configuration comes from [`tlsconfig::mutual_tls_server_config`].

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::watch;

async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// Serves `app` on `listener` over TLS until `stop` turns true.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    tls: Arc<rustls::ServerConfig>,
    mut stop: watch::Receiver<bool>,
) {
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    loop {
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!(error = %e, "accept-failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stopped(&mut stop) => return,
        };
        let (app, acceptor, mut stop) = (app.clone(), acceptor.clone(), stop.clone());
        tokio::spawn(async move {
            let stream = match acceptor.accept(stream).await {
                Ok(s) => s,
                Err(e) => {
                    tracing::info!(%peer, error = %e, "tls-handshake-failed");
                    return;
                }
            };
            let service = hyper::service::service_fn(
                move |req: axum::extract::Request<hyper::body::Incoming>| {
                    let mut app = app.clone();
                    async move {
                        use tower::Service;
                        app.call(req.map(axum::body::Body::new)).await
                    }
                },
            );
            let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            tokio::select! {
                _ = builder.serve_connection(TokioIo::new(stream), service) => {}
                _ = stopped(&mut stop) => {}
            }
        });
    }
}
