//! Mutual TLS for the gRPC ingress with [`tlsconfig`]'s server config:
//! handshakes run per connection, so a slow or bad client holds up no one.

use std::sync::Arc;
use tokio::net::TcpListener;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;
use tokio_stream::wrappers::ReceiverStream;

/// Accepted connections that completed their handshake.
pub fn incoming(
    listener: TcpListener,
    mut cfg: Arc<rustls::ServerConfig>,
) -> ReceiverStream<std::io::Result<TlsStream<tokio::net::TcpStream>>> {
    Arc::make_mut(&mut cfg).alpn_protocols = vec![b"h2".to_vec()];
    let acceptor = TlsAcceptor::from(cfg);
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    tokio::spawn(async move {
        loop {
            let (tcp, peer) = match listener.accept().await {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "log-ingress-accept-failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            };
            let _ = tcp.set_nodelay(true);
            let (acceptor, tx) = (acceptor.clone(), tx.clone());
            tokio::spawn(async move {
                let hs =
                    tokio::time::timeout(std::time::Duration::from_secs(10), acceptor.accept(tcp))
                        .await;
                match hs {
                    Ok(Ok(tls)) => {
                        let _ = tx.send(Ok(tls)).await;
                    }
                    Ok(Err(e)) => {
                        tracing::warn!(%peer, error = %e, "log-ingress-tls-handshake-failed")
                    }
                    Err(_) => tracing::warn!(%peer, "log-ingress-tls-handshake-timed-out"),
                }
            });
        }
    });
    ReceiverStream::new(rx)
}
