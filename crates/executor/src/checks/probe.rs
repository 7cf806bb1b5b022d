//! One TCP or HTTP check of an instance, with the texts of Diego's
//! healthcheck program. The executor probes from the cell, at the
//! container's internal address.

use std::time::{Duration, Instant};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    Tcp {
        port: u16,
        timeout: Duration,
    },
    Http {
        port: u16,
        path: String,
        timeout: Duration,
    },
}

impl Probe {
    pub async fn check(&self, ip: &str, http: &reqwest::Client) -> Result<(), String> {
        match self {
            Probe::Tcp { port, timeout } => tcp(ip, *port, *timeout).await,
            Probe::Http {
                port,
                path,
                timeout,
            } => http_get(http, ip, *port, path, *timeout).await,
        }
    }
}

async fn tcp(ip: &str, port: u16, timeout: Duration) -> Result<(), String> {
    let addr = format!("{ip}:{port}");
    match tokio::time::timeout(timeout, tokio::net::TcpStream::connect(&addr)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(format!(
            "failed to make TCP connection to {addr}: dial tcp {addr}: connect: {}",
            io_text(&e)
        )),
        Err(_) => Err(format!(
            "failed to make TCP connection to {addr}: timed out after {:.2} seconds",
            timeout.as_secs_f64()
        )),
    }
}

/// Go's wording of common connect errors.
fn io_text(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::ConnectionRefused => "connection refused".into(),
        std::io::ErrorKind::ConnectionReset => "connection reset by peer".into(),
        _ => {
            let s = e.to_string();
            // "No route to host (os error 113)" -> "no route to host"
            let s = s.split(" (os error").next().unwrap_or(&s);
            s.to_lowercase()
        }
    }
}

async fn http_get(
    http: &reqwest::Client,
    ip: &str,
    port: u16,
    path: &str,
    timeout: Duration,
) -> Result<(), String> {
    let url = format!("http://{ip}:{port}{path}");
    let start = Instant::now();
    let resp = http
        .get(&url)
        .timeout(timeout)
        .header("User-Agent", "diego-healthcheck")
        .header("X-Forwarded-Proto", "https")
        .send()
        .await;
    match resp {
        Ok(r) => {
            let status = r.status().as_u16();
            // Read the body so the server sees a complete exchange.
            let _ = r.bytes().await;
            if status == 200 {
                Ok(())
            } else {
                Err(format!(
                    "failed to make HTTP request to '{path}' on port {port}: received status code {status} in {}ms",
                    start.elapsed().as_millis()
                ))
            }
        }
        Err(e) if e.is_timeout() => Err(format!(
            "failed to make HTTP request to '{path}' on port {port}: timed out after {:.2} seconds",
            timeout.as_secs_f64()
        )),
        Err(_) => Err(format!(
            "failed to make HTTP request to '{path}' on port {port}: connection refused"
        )),
    }
}
