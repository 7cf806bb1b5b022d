//! The one client of the log component (Loggregator and Log Cache's role
//! here): [`ingress::Sender`], the cell's (and router's) buffered envelope
//! sender over gRPC `loggregator.v2.Ingress/BatchSender`, and
//! [`reader::Reader`], which reads an app's recent envelopes (Log Cache's
//! `GET /api/v1/read/:source_id`) and follows new ones (the RLP gateway's
//! `GET /v2/read` server-sent events). [`envelope`] builds envelopes and
//! holds their JSON form and `cf logs` rendering.

pub mod envelope;
pub mod ingress;
pub mod reader;

pub use ingress::{IngressConfig, Sender, SenderStats};
pub use models::loggregator::v2 as pb;
pub use reader::Reader;

/// The generated `loggregator.v2.Ingress` client and server.
#[allow(clippy::all, clippy::pedantic)]
pub mod grpc {
    include!(concat!(env!("OUT_DIR"), "/loggregator.v2.rs"));
}

use anyhow::Context;
use std::time::Duration;
use tonic::transport::{Channel, Endpoint};

/// A connected HTTP/2 channel to `address` (`host:port`); with `tls`,
/// mutual TLS from [`tlsconfig`] (ALPN h2), verified against the server
/// name in the address.
pub async fn grpc_channel(
    address: &str,
    tls: Option<&tlsconfig::ClientTls>,
) -> anyhow::Result<Channel> {
    let address = address
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .to_string();
    let endpoint = Endpoint::from_shared(format!("http://{address}"))
        .context("invalid log ingress address")?
        .connect_timeout(Duration::from_secs(5))
        .tcp_nodelay(true)
        .http2_keep_alive_interval(Duration::from_secs(30))
        .keep_alive_while_idle(true);
    let Some(tls) = tls else {
        return Ok(endpoint.connect().await?);
    };
    let mut cfg = tls.client_config()?;
    cfg.alpn_protocols = vec![b"h2".to_vec()];
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(cfg));
    let host = address
        .rsplit_once(':')
        .map_or(address.as_str(), |(h, _)| h)
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let server_name = rustls::pki_types::ServerName::try_from(host.clone())
        .with_context(|| format!("invalid server name {host}"))?;
    let connect = tower::service_fn(move |_: tonic::transport::Uri| {
        let (connector, server_name, address) =
            (connector.clone(), server_name.clone(), address.clone());
        async move {
            let tcp = tokio::net::TcpStream::connect(&address).await?;
            tcp.set_nodelay(true)?;
            let tls = connector.connect(server_name, tcp).await?;
            Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(tls))
        }
    });
    Ok(endpoint.connect_with_connector(connect).await?)
}
