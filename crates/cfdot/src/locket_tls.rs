//! Mutual TLS to locket with server verification turned off
//! (`--skipCertVerify`), which tonic's own TLS settings cannot express: a
//! connector doing the rustls handshake itself, still presenting the client
//! certificate (locket requires one).

use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tlsconfig::{ClientTls, Pem};
use tonic::transport::{Endpoint, Uri};

use crate::error::{go_os_error_text, Failure};

fn component(message: impl Into<String>) -> Failure {
    Failure {
        message: message.into(),
        exit_code: 4,
        usage: false,
    }
}

fn read(path: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("open {path}: {}", go_os_error_text(&e)))
}

/// The client half of the TLS config (identity from files), worded as
/// Diego's tlsconfig reports problems.
fn client_config(
    cfg: &locket::client::ClientLocketConfig,
) -> Result<rustls::ClientConfig, Failure> {
    let tls = ClientTls {
        ca: None,
        identity: Some((
            Pem::file(&cfg.locket_client_cert_file),
            Pem::file(&cfg.locket_client_key_file),
        )),
        skip_verify: true,
    };
    // The keypair is checked first, as Diego's tlsconfig does.
    tlsconfig::Identity::load(
        &Pem::file(&cfg.locket_client_cert_file),
        &Pem::file(&cfg.locket_client_key_file),
    )
    .map_err(|e| component(e.to_string()))?;
    // The CA file is still read (and must exist) even though unused.
    let ca = &cfg.locket_ca_cert_file;
    read(ca).map_err(|e| {
        component(format!(
            "failed to read certificate(s) at path {}: {e}",
            crate::cli::go_quote_simple(ca)
        ))
    })?;
    let mut tls = tls.client_config().map_err(|e| component(e.to_string()))?;
    tls.alpn_protocols = vec![b"h2".to_vec()];
    Ok(tls)
}

/// Connects over mutual TLS without verifying the server, waiting up to
/// `deadline` for the connection as cfdot does.
pub async fn connect_skip_verify(
    cfg: &locket::client::ClientLocketConfig,
    deadline: Duration,
) -> Result<locket::client::LocketClient, Failure> {
    let tls = Arc::new(client_config(cfg)?);
    let addr = cfg
        .locket_address
        .trim_start_matches("https://")
        .to_string();
    let endpoint = Endpoint::from_shared(format!("http://{addr}"))
        .map_err(|e| component(e.to_string()))?
        .tcp_nodelay(true);
    let until = Instant::now() + deadline;
    let mut backoff = Duration::from_millis(200);
    loop {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(component("context deadline exceeded"));
        }
        let tls = tls.clone();
        let connector = tower::service_fn(move |uri: Uri| {
            let tls = tls.clone();
            async move {
                let host = uri
                    .host()
                    .unwrap_or("")
                    .trim_matches(['[', ']'])
                    .to_string();
                let port = uri.port_u16().unwrap_or(443);
                let tcp = tokio::net::TcpStream::connect((host.as_str(), port)).await?;
                tcp.set_nodelay(true)?;
                let name = ServerName::try_from(host)
                    .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
                let stream = tokio_rustls::TlsConnector::from(tls)
                    .connect(name, tcp)
                    .await?;
                Ok::<_, std::io::Error>(TokioIo::new(stream))
            }
        });
        if let Ok(Ok(ch)) =
            tokio::time::timeout(left, endpoint.connect_with_connector(connector)).await
        {
            return Ok(locket::client::LocketClient::new(ch));
        }
        let left = until.saturating_duration_since(Instant::now());
        tokio::time::sleep(backoff.min(left)).await;
        backoff = (backoff * 2).min(Duration::from_secs(2));
    }
}
